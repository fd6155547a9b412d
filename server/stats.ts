/**
 * What a server has done, for `--metrics`: connections accepted, refused and
 * closed (each by reason), accepts skipped or failed, messages answered,
 * bytes in and out, and how late the event loop runs.
 *
 * Serving a message adds to nothing shared: each connection keeps its own
 * counts, as it always has for its log line, and adds them to its server's
 * totals when it closes; a snapshot adds the open connections' counts when
 * someone asks. Each worker counts its own; a snapshot is a plain object that
 * crosses threads, and snapshots add up.
 *
 * @module
 */

/** Why a connection closed, as the metrics and the JSON log name it. */
export type CloseReason =
  | "disconnect_command"
  | "end_of_input"
  | "reset"
  | "message_too_long"
  | "idle_timeout"
  | "peer_unreachable"
  | "server_stopping"
  | "proxy_header"
  | "tls_handshake"
  | "max_connections_per_address"
  | "other";

/** Every {@linkcode CloseReason}, in the order the metrics list them. */
export const CLOSE_REASONS: readonly CloseReason[] = [
  "disconnect_command",
  "end_of_input",
  "reset",
  "message_too_long",
  "idle_timeout",
  "peer_unreachable",
  "server_stopping",
  "proxy_header",
  "tls_handshake",
  "max_connections_per_address",
  "other",
];

/** Why a connection was refused, as the metrics and the JSON log name it. */
export type RefuseReason = "max_connections" | "max_connections_per_address" | "untrusted_proxy";

/** Every {@linkcode RefuseReason}, in the order the metrics list them. */
export const REFUSE_REASONS: readonly RefuseReason[] = [
  "max_connections",
  "max_connections_per_address",
  "untrusted_proxy",
];

/**
 * The upper bounds, in seconds, of the event-loop delay histogram's buckets:
 * from a millisecond, where a healthy loop stays, to seconds, where clients
 * wait.
 */
export const LOOP_DELAY_BUCKETS = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
] as const;

/** Counts, as plain data: what {@linkcode ServerStats.snapshot} gives and what crosses threads. */
export interface StatsSnapshot {
  /** Connections accepted and served. */
  accepted: number;
  /** Connections refused at once, by why. */
  refused: Record<RefuseReason, number>;
  /** Connections closed, by why. */
  closed: Record<CloseReason, number>;
  /** Connections whose client left before they were accepted. */
  skipped: number;
  /** Accepts that failed for want of resources, or for a reason the loop cannot name. */
  acceptErrors: number;
  /** Messages answered: lines, not `DESCONEXION`. */
  messages: number;
  /** Bytes received from clients. */
  receivedBytes: number;
  /** Bytes sent to clients, `ERROR` lines included. */
  sentBytes: number;
  /** How late the event loop ran: counts per bucket of {@linkcode LOOP_DELAY_BUCKETS} (not cumulative), then over the last. */
  loopDelayBuckets: number[];
  /** The sum of every measure of how late the event loop ran, in seconds. */
  loopDelaySum: number;
  /** How many measures of the event loop's lateness were taken. */
  loopDelayCount: number;
}

const zeros = <K extends string>(keys: readonly K[]) =>
  Object.fromEntries(keys.map((key) => [key, 0])) as Record<K, number>;

/** One server's counts, kept in plain fields and added to as connections come, talk and go. */
export class ServerStats implements StatsSnapshot {
  /** As in {@linkcode StatsSnapshot}. */
  accepted = 0;
  /** As in {@linkcode StatsSnapshot}. */
  refused: Record<RefuseReason, number> = zeros(REFUSE_REASONS);
  /** As in {@linkcode StatsSnapshot}. */
  closed: Record<CloseReason, number> = zeros(CLOSE_REASONS);
  /** As in {@linkcode StatsSnapshot}. */
  skipped = 0;
  /** As in {@linkcode StatsSnapshot}. */
  acceptErrors = 0;
  /** As in {@linkcode StatsSnapshot}. */
  messages = 0;
  /** As in {@linkcode StatsSnapshot}. */
  receivedBytes = 0;
  /** As in {@linkcode StatsSnapshot}. */
  sentBytes = 0;
  /** As in {@linkcode StatsSnapshot}. */
  loopDelayBuckets: number[] = new Array(LOOP_DELAY_BUCKETS.length + 1).fill(0);
  /** As in {@linkcode StatsSnapshot}. */
  loopDelaySum = 0;
  /** As in {@linkcode StatsSnapshot}. */
  loopDelayCount = 0;

  /** Counts one measure of how late the event loop ran, in seconds. */
  observeLoopDelay(seconds: number): void {
    let bucket = 0;
    while (bucket < LOOP_DELAY_BUCKETS.length && seconds > LOOP_DELAY_BUCKETS[bucket]) bucket++;
    this.loopDelayBuckets[bucket]++;
    this.loopDelaySum += seconds;
    this.loopDelayCount++;
  }

  /** The counts now, as plain data. */
  snapshot(): StatsSnapshot {
    return structuredClone({ ...this });
  }
}

/**
 * Adds up snapshots, such as every worker's.
 *
 * @example Two workers' counts
 * ```ts
 * import assert from "node:assert/strict";
 * import { addSnapshots, ServerStats } from "./stats.ts";
 *
 * const [a, b] = [new ServerStats(), new ServerStats()];
 * a.accepted = 2;
 * b.accepted = 3;
 * b.closed.reset = 1;
 * const total = addSnapshots([a.snapshot(), b.snapshot()]);
 * assert.equal(total.accepted, 5);
 * assert.equal(total.closed.reset, 1);
 * ```
 */
export function addSnapshots(snapshots: StatsSnapshot[]): StatsSnapshot {
  const total = new ServerStats().snapshot();
  for (const s of snapshots) {
    total.accepted += s.accepted;
    total.skipped += s.skipped;
    total.acceptErrors += s.acceptErrors;
    total.messages += s.messages;
    total.receivedBytes += s.receivedBytes;
    total.sentBytes += s.sentBytes;
    total.loopDelaySum += s.loopDelaySum;
    total.loopDelayCount += s.loopDelayCount;
    for (const reason of REFUSE_REASONS) total.refused[reason] += s.refused[reason];
    for (const reason of CLOSE_REASONS) total.closed[reason] += s.closed[reason];
    s.loopDelayBuckets.forEach((count, i) => total.loopDelayBuckets[i] += count);
  }
  return total;
}

/** Connections open now: accepted, and not closed yet. */
export function openConnections(snapshot: StatsSnapshot): number {
  return CLOSE_REASONS.reduce((open, reason) => open - snapshot.closed[reason], snapshot.accepted);
}

/** How often the event loop's lateness is measured, in ms. */
const LOOP_DELAY_INTERVAL_MS = 100;

/**
 * Measures how late the event loop runs, every `LOOP_DELAY_INTERVAL_MS`, into `stats`: a timer
 * that fires late means the loop was busy. It does not keep the process alive.
 *
 * @returns A function that stops it.
 */
export function watchLoopDelay(stats: ServerStats): () => void {
  let timer: ReturnType<typeof setTimeout>;
  const schedule = () => {
    const due = performance.now() + LOOP_DELAY_INTERVAL_MS;
    timer = setTimeout(() => {
      stats.observeLoopDelay(Math.max(0, performance.now() - due) / 1000);
      schedule();
    }, LOOP_DELAY_INTERVAL_MS);
    Deno.unrefTimer(Number(timer));
  };
  schedule();
  return () => clearTimeout(timer);
}
