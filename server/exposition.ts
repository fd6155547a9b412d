/**
 * The server's counts in Prometheus' text exposition format, version 0.0.4:
 * what `GET /metrics` answers. Pure: the counts and the process's figures in,
 * the text out. The metric names, types and labels are a contract; the
 * README lists them.
 *
 * @module
 */

import {
  CLOSE_REASONS,
  LOOP_DELAY_BUCKETS,
  openConnections,
  REFUSE_REASONS,
  type StatsSnapshot,
} from "./stats.ts";

/** The content type of the text format. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The process's own figures, as Prometheus' client libraries name them. */
export interface ProcessFigures {
  /** User and system CPU time, every thread. */
  cpuSeconds: number;
  /** Resident memory, every thread. */
  residentBytes: number;
  /** When the process started, in seconds since the Unix epoch. */
  startTimeSeconds: number;
  /** Open file descriptors, where `/proc/self/fd` can be read. */
  openFds?: number;
  /** The limit on them, where `/proc/self/limits` can be read. */
  maxFds?: number;
}

/** What the exposition says about the server besides its counts. */
export interface ServerFacts {
  /** `--max-connections`, for alerts on connections near the limit. */
  maxConnections: number;
  version: string;
  deno: string;
}

type Sample = [labels: Record<string, string> | undefined, value: number];

/** One metric: its HELP and TYPE lines and its samples. */
function metric(name: string, type: string, help: string, samples: Sample[]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of samples) lines.push(`${name}${labelText(labels)} ${value}`);
  return lines.join("\n");
}

function labelText(labels: Record<string, string> | undefined): string {
  if (!labels) return "";
  const pairs = Object.entries(labels).map(([key, value]) =>
    `${key}="${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`
  );
  return `{${pairs.join(",")}}`;
}

/** The event-loop delay histogram's samples: cumulative buckets, then the sum and the count. */
function histogram(name: string, help: string, s: StatsSnapshot): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
  let cumulative = 0;
  LOOP_DELAY_BUCKETS.forEach((bound, i) => {
    cumulative += s.loopDelayBuckets[i];
    lines.push(`${name}_bucket{le="${bound}"} ${cumulative}`);
  });
  lines.push(`${name}_bucket{le="+Inf"} ${s.loopDelayCount}`);
  lines.push(`${name}_sum ${s.loopDelaySum}`, `${name}_count ${s.loopDelayCount}`);
  return lines.join("\n");
}

/**
 * Writes the counts and figures as Prometheus text. Every reason label is
 * written from the start, at 0, so that `rate()` works from the first scrape.
 *
 * @example The messages answered
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderMetrics } from "./exposition.ts";
 * import { ServerStats } from "./stats.ts";
 *
 * const stats = new ServerStats();
 * stats.messages = 42;
 * const text = renderMetrics(stats.snapshot(), { maxConnections: 10, version: "1.0.0", deno: "2.9.6" }, {
 *   cpuSeconds: 1.5, residentBytes: 1e6, startTimeSeconds: 1e9,
 * });
 * assert.match(text, /^uppercase_messages_total 42$/m);
 * ```
 */
export function renderMetrics(
  s: StatsSnapshot,
  server: ServerFacts,
  process: ProcessFigures,
): string {
  const byReason = <R extends string>(reasons: readonly R[], counts: Record<R, number>): Sample[] =>
    reasons.map((reason) => [{ reason }, counts[reason]]);
  const parts = [
    metric(
      "uppercase_connections_accepted_total",
      "counter",
      "Connections accepted and served; refused ones are counted apart.",
      [[undefined, s.accepted]],
    ),
    metric("uppercase_connections_open", "gauge", "Connections open now.", [
      [undefined, openConnections(s)],
    ]),
    metric(
      "uppercase_connections_refused_total",
      "counter",
      "Connections refused at once: over --max-connections, or not from a trusted proxy.",
      byReason(REFUSE_REASONS, s.refused),
    ),
    metric(
      "uppercase_connections_closed_total",
      "counter",
      "Connections closed, by why.",
      byReason(CLOSE_REASONS, s.closed),
    ),
    metric(
      "uppercase_accepts_skipped_total",
      "counter",
      "Connections whose client left before they were accepted (scanners, health checks).",
      [[undefined, s.skipped]],
    ),
    metric(
      "uppercase_accept_errors_total",
      "counter",
      "Accepts that failed for want of resources, or for a reason the server cannot name.",
      [[undefined, s.acceptErrors]],
    ),
    metric(
      "uppercase_messages_total",
      "counter",
      "Messages answered: lines, not DESCONEXION.",
      [[undefined, s.messages]],
    ),
    metric("uppercase_received_bytes_total", "counter", "Bytes received from clients.", [
      [undefined, s.receivedBytes],
    ]),
    metric("uppercase_sent_bytes_total", "counter", "Bytes sent to clients.", [
      [undefined, s.sentBytes],
    ]),
    histogram(
      "uppercase_event_loop_delay_seconds",
      "How late the event loop ran a timer: an early warning of saturation.",
      s,
    ),
    metric("uppercase_max_connections", "gauge", "The --max-connections limit.", [
      [undefined, server.maxConnections],
    ]),
    metric("uppercase_build_info", "gauge", "The server's version and Deno's, as labels.", [
      [{ version: server.version, deno: server.deno }, 1],
    ]),
    metric(
      "process_cpu_seconds_total",
      "counter",
      "Total user and system CPU time spent in seconds.",
      [[undefined, process.cpuSeconds]],
    ),
    metric(
      "process_resident_memory_bytes",
      "gauge",
      "Resident memory size in bytes.",
      [[undefined, process.residentBytes]],
    ),
    metric(
      "process_start_time_seconds",
      "gauge",
      "Start time of the process since unix epoch in seconds.",
      [[undefined, process.startTimeSeconds]],
    ),
  ];
  if (process.openFds !== undefined) {
    parts.push(metric("process_open_fds", "gauge", "Number of open file descriptors.", [
      [undefined, process.openFds],
    ]));
  }
  if (process.maxFds !== undefined) {
    parts.push(metric("process_max_fds", "gauge", "Maximum number of open file descriptors.", [
      [undefined, process.maxFds],
    ]));
  }
  return parts.join("\n") + "\n";
}
