/**
 * The server's counts in Prometheus' text exposition format, version 0.0.4:
 * what `GET /metrics` answers. Pure: the counts and the process's figures in,
 * the text out. The metric names, types and help are a contract, written
 * once as data (`metrics.json`, read into {@linkcode METRICS});
 * `docs/monitoring.md` lists them.
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
import CONTRACT from "./metrics.json" with { type: "json" };

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

/** The metric types the renderer writes. */
const METRIC_TYPES = ["counter", "gauge", "histogram"] as const;

/** One entry of `metrics.json`: a metric's name, type, help, and the figure it reports, if one. */
interface ContractEntry {
  name: string;
  type: MetricDefinition["type"];
  help: string;
  /** Where its one sample comes from, such as `stats.messages`; absent where it is computed. */
  figure?: string;
}

/** One metric of the contract, and where its samples come from. */
export interface MetricDefinition {
  name: string;
  type: typeof METRIC_TYPES[number];
  help: string;
  /** Its samples, or `undefined` where the process cannot tell (file descriptors without `/proc`). */
  samples(figures: Figures): Sample[] | undefined;
}

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
 * The samples of the metrics that are more than one figure read as it is:
 * every other entry of `metrics.json` names its `figure`.
 */
const COMPUTED: Record<string, (figures: Figures) => Sample[]> = {
  uppercase_connections_open: ({ stats }) => [{ value: openConnections(stats) }],
  uppercase_connections_refused_total: ({ stats }) => byReason(REFUSE_REASONS, stats.refused),
  uppercase_connections_closed_total: ({ stats }) => byReason(CLOSE_REASONS, stats.closed),
  uppercase_event_loop_delay_seconds: ({ stats }) => loopDelaySamples(stats),
  uppercase_build_info: ({ server }) => [{ value: 1, labels: versionLabels(server) }],
};

/** The server's version and Deno's, as `uppercase_build_info` labels them. */
function versionLabels({ version, deno }: ServerFacts): Record<string, string> {
  return { version, deno };
}

/** One figure of a scrape, by its place: `stats.messages`, `process.openFds`. */
function figureAt(figures: Figures, place: string): number | undefined {
  const [group, key] = place.split(".") as [keyof Figures, string];
  return (figures[group] as unknown as Record<string, number | undefined>)[key];
}

/**
 * Every metric the endpoint writes, in order: the contract, kept as data in
 * `metrics.json` (name, type, help, and the figure it reports), which
 * `docs/monitoring.md`'s table names (a test holds them together). Every
 * reason label is written from the start, at 0, so that `rate()` works from
 * the first scrape.
 */
export const METRICS: readonly MetricDefinition[] = (CONTRACT as ContractEntry[]).map(
  ({ name, type, help, figure }): MetricDefinition => {
    const computed = COMPUTED[name];
    if (!METRIC_TYPES.includes(type)) {
      throw new Error(`metrics.json: "${name}" has the type "${type}", not one of Prometheus'`);
    }
    if (!computed && figure === undefined) {
      throw new Error(`metrics.json: "${name}" names no figure, and none is computed`);
    }
    const samples = computed ?? ((figures: Figures) => {
      const value = figureAt(figures, figure!);
      return value === undefined ? undefined : [{ value }];
    });
    return { name, type, help, samples };
  },
);

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
