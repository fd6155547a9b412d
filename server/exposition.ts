/**
 * The server's counts in Prometheus' text exposition format, version 0.0.4:
 * what `GET /metrics` answers. Pure: the counts and the process's figures in,
 * the text out. The metric names, types and labels are a contract, written
 * once as data ({@linkcode METRICS}); `docs/monitoring.md` lists them.
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

/** Everything a scrape reports: the counts, the server's facts and the process's figures. */
export interface Figures {
  stats: StatsSnapshot;
  server: ServerFacts;
  process: ProcessFigures;
}

/** One sample: its value, its labels, and what follows the metric's name (a histogram's `_bucket`). */
type Sample = { value: number; labels?: Record<string, string>; suffix?: string };

/** One metric of the contract, and where its samples come from. */
export interface MetricDefinition {
  name: string;
  type: "counter" | "gauge" | "histogram";
  help: string;
  /** Its samples, or `undefined` where the process cannot tell (file descriptors without `/proc`). */
  samples(figures: Figures): Sample[] | undefined;
}

const one = (value: number | undefined): Sample[] | undefined =>
  value === undefined ? undefined : [{ value }];

const byReason = <R extends string>(reasons: readonly R[], counts: Record<R, number>): Sample[] =>
  reasons.map((reason) => ({ value: counts[reason], labels: { reason } }));

/** The event-loop delay histogram's samples: cumulative buckets, then the sum and the count. */
function loopDelaySamples(s: StatsSnapshot): Sample[] {
  let cumulative = 0;
  const buckets = LOOP_DELAY_BUCKETS.map((bound, i) => {
    cumulative += s.loopDelayBuckets[i];
    return { value: cumulative, labels: { le: String(bound) }, suffix: "_bucket" };
  });
  return [
    ...buckets,
    { value: s.loopDelayCount, labels: { le: "+Inf" }, suffix: "_bucket" },
    { value: s.loopDelaySum, suffix: "_sum" },
    { value: s.loopDelayCount, suffix: "_count" },
  ];
}

/**
 * Every metric the endpoint writes, in order: the contract, which `docs/monitoring.md`'s table
 * names (a test holds them together). Every reason label is written from the start, at 0, so that
 * `rate()` works from the first scrape.
 */
export const METRICS: readonly MetricDefinition[] = [
  {
    name: "uppercase_connections_accepted_total",
    type: "counter",
    help: "Connections accepted and served; refused ones are counted apart.",
    samples: ({ stats }) => one(stats.accepted),
  },
  {
    name: "uppercase_connections_open",
    type: "gauge",
    help: "Connections open now.",
    samples: ({ stats }) => one(openConnections(stats)),
  },
  {
    name: "uppercase_connections_refused_total",
    type: "counter",
    help: "Connections refused at once: over --max-connections, or not from a trusted proxy.",
    samples: ({ stats }) => byReason(REFUSE_REASONS, stats.refused),
  },
  {
    name: "uppercase_connections_closed_total",
    type: "counter",
    help: "Connections closed, by why.",
    samples: ({ stats }) => byReason(CLOSE_REASONS, stats.closed),
  },
  {
    name: "uppercase_accepts_skipped_total",
    type: "counter",
    help: "Connections whose client left before they were accepted (scanners, health checks).",
    samples: ({ stats }) => one(stats.skipped),
  },
  {
    name: "uppercase_accept_errors_total",
    type: "counter",
    help: "Accepts that failed for want of resources, or for a reason the server cannot name.",
    samples: ({ stats }) => one(stats.acceptErrors),
  },
  {
    name: "uppercase_messages_total",
    type: "counter",
    help: "Messages answered: lines, not DESCONEXION.",
    samples: ({ stats }) => one(stats.messages),
  },
  {
    name: "uppercase_received_bytes_total",
    type: "counter",
    help: "Bytes received from clients.",
    samples: ({ stats }) => one(stats.receivedBytes),
  },
  {
    name: "uppercase_sent_bytes_total",
    type: "counter",
    help: "Bytes sent to clients.",
    samples: ({ stats }) => one(stats.sentBytes),
  },
  {
    name: "uppercase_event_loop_delay_seconds",
    type: "histogram",
    help: "How late the event loop ran a timer: an early warning of saturation.",
    samples: ({ stats }) => loopDelaySamples(stats),
  },
  {
    name: "uppercase_max_connections",
    type: "gauge",
    help: "The --max-connections limit.",
    samples: ({ server }) => one(server.maxConnections),
  },
  {
    name: "uppercase_build_info",
    type: "gauge",
    help: "The server's version and Deno's, as labels.",
    samples: ({ server }) => [{ value: 1, labels: { version: server.version, deno: server.deno } }],
  },
  {
    name: "process_cpu_seconds_total",
    type: "counter",
    help: "Total user and system CPU time spent in seconds.",
    samples: ({ process }) => one(process.cpuSeconds),
  },
  {
    name: "process_resident_memory_bytes",
    type: "gauge",
    help: "Resident memory size in bytes.",
    samples: ({ process }) => one(process.residentBytes),
  },
  {
    name: "process_start_time_seconds",
    type: "gauge",
    help: "Start time of the process since unix epoch in seconds.",
    samples: ({ process }) => one(process.startTimeSeconds),
  },
  {
    name: "process_open_fds",
    type: "gauge",
    help: "Number of open file descriptors.",
    samples: ({ process }) => one(process.openFds),
  },
  {
    name: "process_max_fds",
    type: "gauge",
    help: "Maximum number of open file descriptors.",
    samples: ({ process }) => one(process.maxFds),
  },
];

function labelText(labels: Record<string, string> | undefined): string {
  if (!labels) return "";
  const pairs = Object.entries(labels).map(([key, value]) =>
    `${key}="${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`
  );
  return `{${pairs.join(",")}}`;
}

/**
 * Writes the figures as Prometheus text: each of {@linkcode METRICS} that
 * has samples, with its HELP and TYPE lines.
 *
 * @example The messages answered
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderMetrics } from "./exposition.ts";
 * import { ServerStats } from "./stats.ts";
 *
 * const stats = new ServerStats();
 * stats.messages = 42;
 * const text = renderMetrics({
 *   stats: stats.snapshot(),
 *   server: { maxConnections: 10, version: "1.0.0", deno: "2.9.6" },
 *   process: { cpuSeconds: 1.5, residentBytes: 1e6, startTimeSeconds: 1e9 },
 * });
 * assert.match(text, /^uppercase_messages_total 42$/m);
 * ```
 */
export function renderMetrics(figures: Figures): string {
  const lines: string[] = [];
  for (const { name, type, help, samples } of METRICS) {
    const written = samples(figures);
    if (written === undefined) continue;
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const { value, labels, suffix = "" } of written) {
      lines.push(`${name}${suffix}${labelText(labels)} ${value}`);
    }
  }
  return lines.join("\n") + "\n";
}
