/**
 * Tests of the Prometheus text: every metric of the contract with its type,
 * every reason label from the start, a cumulative histogram, labels escaped,
 * and the process's file descriptors only where they are known.
 *
 * @module
 */

import assert from "node:assert/strict";
import { renderMetrics } from "./exposition.ts";
import { CLOSE_REASONS, ServerStats } from "./stats.ts";

const FACTS = { maxConnections: 50, version: "1.0.0", deno: "2.9.6" };
const PROCESS = { cpuSeconds: 1.25, residentBytes: 50_000_000, startTimeSeconds: 1_796_000_000 };

/** Each metric's TYPE, from the text. */
function types(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
}

Deno.test("renderMetrics writes every metric of the contract, with its type", () => {
  const text = renderMetrics({
    stats: new ServerStats().snapshot(),
    server: FACTS,
    process: PROCESS,
  });
  assert.deepEqual(types(text), {
    uppercase_connections_accepted_total: "counter",
    uppercase_connections_open: "gauge",
    uppercase_connections_refused_total: "counter",
    uppercase_connections_closed_total: "counter",
    uppercase_accepts_skipped_total: "counter",
    uppercase_accept_errors_total: "counter",
    uppercase_messages_total: "counter",
    uppercase_received_bytes_total: "counter",
    uppercase_sent_bytes_total: "counter",
    uppercase_event_loop_delay_seconds: "histogram",
    uppercase_max_connections: "gauge",
    uppercase_build_info: "gauge",
    process_cpu_seconds_total: "counter",
    process_resident_memory_bytes: "gauge",
    process_start_time_seconds: "gauge",
  });
  assert(text.endsWith("\n"));
  assert.match(text, /^uppercase_build_info\{version="1\.0\.0",deno="2\.9\.6"\} 1$/m);
  assert.match(text, /^uppercase_max_connections 50$/m);
  assert.match(text, /^process_cpu_seconds_total 1\.25$/m);
});

Deno.test("renderMetrics writes every reason from the start, at 0, and the counts given", () => {
  const stats = new ServerStats();
  stats.accepted = 7;
  stats.closed.disconnect_command = 4;
  stats.closed.reset = 2;
  stats.refused.max_connections = 3;
  const text = renderMetrics({ stats: stats.snapshot(), server: FACTS, process: PROCESS });
  for (const reason of CLOSE_REASONS) {
    assert.match(
      text,
      new RegExp(`^uppercase_connections_closed_total\\{reason="${reason}"\\} \\d+$`, "m"),
    );
  }
  assert.match(text, /^uppercase_connections_closed_total\{reason="disconnect_command"\} 4$/m);
  assert.match(text, /^uppercase_connections_refused_total\{reason="untrusted_proxy"\} 0$/m);
  assert.match(text, /^uppercase_connections_refused_total\{reason="max_connections"\} 3$/m);
  assert.match(text, /^uppercase_connections_open 1$/m, "7 accepted, 6 closed");
});

Deno.test("renderMetrics writes the event-loop histogram with cumulative buckets, +Inf, sum and count", () => {
  const stats = new ServerStats();
  for (const seconds of [0.0001, 0.003, 0.003, 10]) stats.observeLoopDelay(seconds);
  const text = renderMetrics({ stats: stats.snapshot(), server: FACTS, process: PROCESS });
  assert.match(text, /^uppercase_event_loop_delay_seconds_bucket\{le="0\.001"\} 1$/m);
  assert.match(text, /^uppercase_event_loop_delay_seconds_bucket\{le="0\.005"\} 3$/m);
  assert.match(text, /^uppercase_event_loop_delay_seconds_bucket\{le="2\.5"\} 3$/m);
  assert.match(text, /^uppercase_event_loop_delay_seconds_bucket\{le="\+Inf"\} 4$/m);
  assert.match(text, /^uppercase_event_loop_delay_seconds_count 4$/m);
  assert.match(text, /^uppercase_event_loop_delay_seconds_sum 10\.0061/m);
});

Deno.test("renderMetrics writes the file descriptors only where they are known, and escapes label values", () => {
  const snapshot = new ServerStats().snapshot();
  const without = renderMetrics({ stats: snapshot, server: FACTS, process: PROCESS });
  assert.doesNotMatch(without, /process_open_fds|process_max_fds/);
  const known = renderMetrics({
    stats: snapshot,
    server: { ...FACTS, version: 'a"b\\c' },
    process: { ...PROCESS, openFds: 12, maxFds: 1024 },
  });
  assert.match(known, /^process_open_fds 12$/m);
  assert.match(known, /^process_max_fds 1024$/m);
  assert.match(known, /^uppercase_build_info\{version="a\\"b\\\\c",deno="2\.9\.6"\} 1$/m);
});
