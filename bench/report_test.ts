/**
 * Tests of the bench's report: the table shows each measurement's figures, the
 * ratios appear when two servers were measured, and the chart is SVG with one
 * bar per server and scenario.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Measurement } from "./load.ts";
import { renderChart, renderTable, type Results } from "./report.ts";

function pingPong(messagesPerSecond: number, p99: number): Measurement {
  return {
    scenario: "ping-pong",
    connections: 100,
    messages: messagesPerSecond * 3,
    seconds: 3,
    messagesPerSecond,
    megabytesPerSecond: messagesPerSecond * 64 / 1e6,
    latencyMs: { p50: p99 / 2, p99, p999: p99 * 2, max: p99 * 3 },
    generatorCpu: 0.5,
    serverCpu: 0.9,
  };
}

const RESULTS: Results = {
  machine: { cores: 2, pinning: "none" },
  comparisons: [],
  servers: [
    { name: "ours", measurements: [pingPong(150_000, 1)] },
    { name: "baseline", measurements: [pingPong(100_000, 2)] },
  ],
};

Deno.test("renderTable shows each server's figures, then how the first compares with the second", () => {
  const table = renderTable(RESULTS);
  assert.match(table, /^ours +ping-pong +100 +150,000 .* 1\.000 .* 90% .* 50%$/m);
  assert.match(table, /^baseline +ping-pong +100 +100,000 /m);
  assert.match(table, /ping-pong 100: 1\.50× messages\/s, .*p99 1\.000 vs 2\.000 ms/);
});

Deno.test("renderTable shows no ratios for a single server", () => {
  assert.doesNotMatch(renderTable({ ...RESULTS, servers: [RESULTS.servers[0]] }), /against/);
});

Deno.test("renderChart draws one bar per server and scenario, with names escaped", () => {
  const chart = renderChart({
    ...RESULTS,
    servers: [RESULTS.servers[0], { ...RESULTS.servers[1], name: "a <b> & c" }],
  });
  assert.match(chart, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal(chart.match(/<rect x=/g)?.length, 2);
  assert.match(chart, /a &lt;b&gt; &amp; c/);
});

Deno.test("renderTable shows a comparison's figures for every way, then the last against the first", () => {
  const plain = pingPong(100_000, 1), tls = { ...pingPong(80_000, 1.5), serverCpu: 0.9 };
  const table = renderTable({
    ...RESULTS,
    comparisons: [{
      title: "TLS against plain TCP",
      note: "Deno's sockets",
      variants: [{ name: "plain TCP", measurements: [plain] }, {
        name: "TLS",
        measurements: [tls],
      }],
    }],
  });
  assert.match(table, /^TLS against plain TCP \(Deno's sockets\):$/m);
  assert.match(
    table,
    /^ {2}ping-pong 100: plain TCP 100,000 messages\/s, p99 1\.000 ms, 9\.00 µs of server CPU per message; TLS 80,000 messages\/s, p99 1\.500 ms, 11\.25 µs of server CPU per message: 0\.80× messages\/s, 1\.25× server CPU per message$/m,
  );
});

Deno.test("renderTable shows an idle server's memory by workers, and what each worker beyond the first costs", () => {
  const table = renderTable({
    ...RESULTS,
    workerMemory: [
      { workers: 1, rssKib: 40 * 1024, privateKib: 20 * 1024 },
      { workers: 2, rssKib: 55 * 1024, privateKib: 30 * 1024 },
      { workers: 4, rssKib: 85 * 1024, privateKib: 50 * 1024 },
    ],
  });
  assert.match(table, /^ {2}4 workers: 85\.0 MiB, 50\.0 MiB$/m);
  assert.match(table, /^ {2}each worker beyond the first: 15\.0 MiB RSS, 10\.0 MiB private$/m);
});
