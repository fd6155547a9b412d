/**
 * Helpers for the tests: waits with a deadline, a log and in-memory streams
 * that can be awaited, the server started in-process, and a keyboard for
 * driving the client. Peers are in `peers.ts`, programs in `processes.ts`.
 *
 * @module
 */

import { serve, type ServeOptions, type UppercaseServer } from "../server.ts";
import { type ClientOptions, runClient } from "../client.ts";

/** The project's root folder, where the programs run from, as `deno task` runs them. */
export const PROJECT_ROOT = new URL("..", import.meta.url).pathname;

const encoder = new TextEncoder();

/**
 * How long a test waits for an event before it fails, in ms: long enough for a
 * loaded 2-core machine, short enough that a broken wait fails the test, with
 * what it saw, instead of holding the run until CI's timeout.
 */
export const WAIT_DEADLINE_MS = 60_000;

/**
 * Waits for `event`, or fails after `timeoutMs` with what was awaited and what was seen.
 *
 * @param event What to wait for.
 * @param what What it is, for the failure: such as `/HOLA/ in the client's output`.
 * @param seen What there was to see so far, called only on failure.
 */
export async function withDeadline<T>(
  event: Promise<T>,
  what: string,
  seen: () => string,
  timeoutMs = WAIT_DEADLINE_MS,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const text = seen();
      const tail = text.length > 2_000 ? "..." + text.slice(-2_000) : text;
      reject(new Error(`Waited ${timeoutMs} ms for ${what}; saw:\n${tail}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([event, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What a hostile server sends to take over a client's terminal: set the
 * window's title, clear the screen, write the clipboard (OSC 52), make the
 * terminal answer a query into the input (DCS), and an 8-bit CSI (C1).
 */
export const TERMINAL_ATTACKS: readonly string[] = [
  "\x1b]0;owned\x07",
  "\x1b[2J",
  "\x1b]52;c;b3duZWQ=\x07",
  "\x1bP$q m\x1b\\",
  "\x9b6n",
];

/**
 * Polls `condition` every few ms until it holds, for state that no event
 * announces; fails after a deadline, saying what it waited for.
 *
 * @param condition What must become true.
 * @param what What it is, for the failure.
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = WAIT_DEADLINE_MS,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!await condition()) {
    if (performance.now() > deadline) throw new Error(`Waited ${timeoutMs} ms for ${what}`);
    await sleep(5);
  }
}

/**
 * Waits `ms` milliseconds: for a scenario's own timing (a server back a second
 * later) or the pace of a polling loop, never to let something happen.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** How {@linkcode WaitableLog.waitFor} and a collector's `waitFor` wait. */
export interface WaitOptions {
  /**
   * How many matches to wait for.
   *
   * @default {1}
   */
  count?: number;
  /**
   * How long to wait before failing with what was seen.
   *
   * @default {WAIT_DEADLINE_MS}
   */
  timeoutMs?: number;
}

/** A log whose lines can be awaited, so tests synchronise on events, not sleeps. */
export class WaitableLog {
  readonly lines: string[] = [];
  #waiters: { pattern: RegExp; count: number; resolve: (line: string) => void }[] = [];

  /** Records one line; pass as the server's `log` option. */
  readonly write = (line: string): void => {
    this.lines.push(line);
    this.#waiters = this.#waiters.filter((waiter) => !this.#satisfies(waiter));
  };

  /**
   * Settles with the `count`-th line, past or future, that matches `pattern`;
   * fails after `timeoutMs` with the lines seen.
   *
   * @param pattern What the line looks like.
   */
  waitFor(pattern: RegExp, { count = 1, timeoutMs }: WaitOptions = {}): Promise<string> {
    const line = new Promise<string>((resolve) => {
      const waiter = { pattern, count, resolve };
      if (!this.#satisfies(waiter)) this.#waiters.push(waiter);
    });
    const seen = () => this.lines.join("\n");
    return withDeadline(line, `${count} × ${pattern} in the log`, seen, timeoutMs);
  }

  #satisfies(waiter: { pattern: RegExp; count: number; resolve: (line: string) => void }): boolean {
    const matching = this.lines.filter((line) => waiter.pattern.test(line));
    if (matching.length < waiter.count) return false;
    waiter.resolve(matching[waiter.count - 1]);
    return true;
  }
}

/** Starts a server on 127.0.0.1, on a free port, logging into a {@linkcode WaitableLog}. */
export function startServer(options: ServeOptions = {}): UppercaseServer & { log: WaitableLog } {
  const log = new WaitableLog();
  const server = serve({ hostname: "127.0.0.1", port: 0, log: log.write, ...options });
  return Object.assign(server, { log });
}

/** An in-memory writable stream whose text can be read and awaited. */
export function collector(): {
  stream: WritableStream<Uint8Array>;
  text: () => string;
  waitFor: (pattern: RegExp, options?: WaitOptions) => Promise<void>;
} {
  const decoder = new TextDecoder();
  let text = "";
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  const stream = new WritableStream<Uint8Array>({
    write(chunk) {
      text += decoder.decode(chunk, { stream: true });
      wake();
    },
  });
  return {
    stream,
    text: () => text,
    /** Settles once the text matches `pattern` `count` times (lines, with the `m` flag); fails after `timeoutMs`. */
    waitFor(pattern, { count = 1, timeoutMs } = {}) {
      const all = new RegExp(pattern.source, pattern.flags.replace("g", "") + "g");
      const matches = () =>
        count === 1 ? pattern.test(text) : (text.match(all)?.length ?? 0) >= count;
      const matched = (async () => {
        while (!matches()) await new Promise<void>((resolve) => waiters.push(resolve));
      })();
      return withDeadline(matched, `${count} × ${pattern}`, () => text, timeoutMs);
    },
  };
}

/**
 * Runs the client in pipeline mode, in-process, on `port`, its input the given
 * text (pieces arrive as separate chunks).
 *
 * @param options More options of `runClient`, such as `maxMessageBytes`, or an `output` of the test's own.
 * @returns The exit status, and the text written to the output and the errors stream.
 */
export async function runPipelineClient(
  port: number,
  input: string | string[],
  options: Partial<ClientOptions> = {},
): Promise<{ status: number; output: string; errors: string }> {
  const output = collector(), errors = collector();
  const status = await runClient({
    port,
    input: textStream(...[input].flat()),
    output: output.stream,
    errors: errors.stream,
    ...options,
  });
  return { status, output: output.text(), errors: errors.text() };
}

/** A readable stream that yields the given pieces of text, then ends. */
export function textStream(...pieces: string[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(pieces.map((piece) => encoder.encode(piece)));
}

/** A keyboard for the client's terminal mode: type keys at chosen moments, then end. */
export function keyboard(): {
  stream: ReadableStream<Uint8Array>;
  type: (keys: string) => void;
  end: () => void;
} {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  return {
    stream,
    type: (keys) => controller.enqueue(encoder.encode(keys)),
    end: () => controller.close(),
  };
}
