/**
 * The server's log: each thing worth telling an operator is an event, written
 * as one line in one of two formats. `text`, the default, is for people and
 * reads as it always has; `json` is one object per line, for log shippers,
 * with keys that are a contract (`docs/monitoring.md` lists them).
 *
 * @module
 */

import { quantity } from "../io/socket.ts";
import type { CloseReason, RefuseReason } from "./stats.ts";

/** How log lines are written. */
export type LogFormat = "text" | "json";

/** The formats, for the command line. */
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

/** Something worth telling an operator. */
export type LogEvent =
  | { event: "listening"; address: string; workers?: number; metrics?: string }
  | { event: "connected"; id: number; peer: string; via?: string; local?: boolean }
  | {
    event: "closed";
    id: number;
    peer: string;
    via?: string;
    reason: CloseReason;
    /** The reason in words, as the text log gives it. */
    detail: string;
    messages: number;
    bytesIn: number;
    bytesOut: number;
    seconds: number;
  }
  | { event: "refused"; id: number; peer: string; reason: RefuseReason; detail: string }
  | { event: "skipped"; count: number; detail: string }
  | { event: "accept_error"; detail: string; retryMs: number }
  | { event: "stopping"; open: number }
  | { event: "stopped" }
  | { event: "failed"; detail: string };

/** Every event's level, and so every event the log writes. */
export const LOG_LEVELS: Readonly<Record<LogEvent["event"], "info" | "warn" | "error">> = {
  listening: "info",
  connected: "info",
  closed: "info",
  refused: "warn",
  skipped: "info",
  accept_error: "warn",
  stopping: "info",
  stopped: "info",
  failed: "error",
};

/**
 * Writes an event as a line of the text log, as the server has always
 * written it, with its worker first when there are workers.
 *
 * @example A connection closing
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatText } from "./log.ts";
 *
 * assert.equal(
 *   formatText({
 *     event: "closed", id: 1, peer: "127.0.0.1:53214", reason: "disconnect_command",
 *     detail: "disconnect command", messages: 1, bytesIn: 26, bytesOut: 14, seconds: 4.21,
 *   }),
 *   "#1 127.0.0.1:53214 closed (disconnect command) after 1 message, 26 bytes in, 14 bytes out, 4.210 s",
 * );
 * ```
 *
 * @returns The line, or `undefined` for the events the text log leaves to stdout or leaves out.
 */
export function formatText(event: LogEvent, worker?: number): string | undefined {
  const line = textLine(event);
  return line === undefined || worker === undefined ? line : `[worker ${worker}] ${line}`;
}

function textLine(e: LogEvent): string | undefined {
  switch (e.event) {
    case "connected":
      return `#${e.id} ${e.peer} connected` +
        (e.via ? ` via ${e.via}` : e.local ? " (the proxy's own connection)" : "");
    case "closed":
      return `#${e.id} ${e.peer} closed (${e.detail}) after ${quantity(e.messages, "message")}, ` +
        `${e.bytesIn} bytes in, ${e.bytesOut} bytes out, ${e.seconds.toFixed(3)} s`;
    case "refused":
      return `#${e.id} ${e.peer} refused: ${e.detail}`;
    case "skipped":
      return `Skipped ${
        quantity(e.count, "connection")
      } that the client closed before it was accepted (${e.detail})`;
    case "accept_error":
      return `Cannot accept a connection: ${e.detail}; retrying in ${e.retryMs} ms`;
    case "stopping":
      return `Stopping: no longer accepting connections; ${e.open} open`;
    case "failed":
      return e.detail;
    default:
      return undefined; // listening is stdout's line; stopped needs no line of its own
  }
}

/**
 * The keys of the JSON log, in the order they are written: a contract, which
 * `docs/monitoring.md` lists.
 */
export const JSON_LOG_KEYS = [
  "time",
  "level",
  "event",
  "id",
  "worker",
  "peer",
  "via",
  "reason",
  "messages",
  "bytes_in",
  "bytes_out",
  "seconds",
  "detail",
  "count",
  "open",
  "retry_ms",
  "local",
  "address",
  "workers",
  "metrics",
] as const;

/**
 * Writes an event as one JSON object: `time` (RFC 3339, in ms), `level`,
 * `event`, then the keys that apply, in the order of {@linkcode JSON_LOG_KEYS}.
 *
 * @example A connection opening, in a worker
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatJson } from "./log.ts";
 *
 * const line = formatJson({ event: "connected", id: 7, peer: "127.0.0.1:4000" }, 2, new Date(0));
 * assert.equal(
 *   line,
 *   '{"time":"1970-01-01T00:00:00.000Z","level":"info","event":"connected","id":7,"worker":2,"peer":"127.0.0.1:4000"}',
 * );
 * ```
 */
export function formatJson(event: LogEvent, worker?: number, now: Date = new Date()): string {
  const e = event as Partial<Record<string, unknown>>;
  const values: Record<string, unknown> = {
    ...e,
    time: now.toISOString(),
    level: LOG_LEVELS[event.event],
    worker,
    bytes_in: e.bytesIn,
    bytes_out: e.bytesOut,
    retry_ms: e.retryMs,
  };
  // Undefined values are left out: only the keys that apply are written.
  return JSON.stringify(Object.fromEntries(JSON_LOG_KEYS.map((key) => [key, values[key]])));
}

/** Writes events as lines, in one format, to one sink, naming the worker if there is one. */
export class Logger {
  readonly #write: (line: string) => void;
  readonly #format: LogFormat;
  readonly #worker: number | undefined;

  /**
   * @param write Where each line goes.
   * @param format How lines are written.
   * @param worker The worker's number, with `--parallel`.
   */
  constructor(write: (line: string) => void, format: LogFormat, worker?: number) {
    this.#write = write;
    this.#format = format;
    this.#worker = worker;
  }

  /** Logs an event. */
  log(event: LogEvent): void {
    const line = this.#format === "json"
      ? formatJson(event, this.#worker)
      : formatText(event, this.#worker);
    if (line !== undefined) this.#write(line);
  }
}
