/**
 * Socket helpers shared by the server and the client: writing a whole buffer,
 * waiting for a read with a time limit, closing without losing the last bytes,
 * and naming network addresses, failures and counts in words.
 *
 * @module
 */

/** What {@linkcode withTimeout} returns when the time ran out first. */
export const TIMED_OUT: unique symbol = Symbol("timed out");

/** What the helpers here need of a connection: a `Deno.Conn`, or a stream that reads and writes like one. */
export type Stream = Pick<Deno.Conn, "read" | "write" | "closeWrite" | "close">;

/** How long {@linkcode closeGracefully} waits for the peer to finish, in milliseconds. */
export const DRAIN_MS = 250;

const drainBuffer = new Uint8Array(16 * 1024);

/**
 * A write made no progress for its time limit: the peer stopped reading, or
 * its host stopped answering. Our own limit, told apart from the system's
 * `TimedOut` (a peer whose host stopped answering TCP's retries or keepalive).
 */
export class WriteStalled extends Error {
  override name = "WriteStalled";

  /** @param stallMs How long the write made no progress, in ms. */
  constructor(readonly stallMs: number) {
    super(`no progress writing for ${stallMs} ms: the peer stopped reading`);
  }
}

/**
 * Writes all of `bytes`: `write()` may take only part of a buffer.
 *
 * @param conn Where to write.
 * @param bytes What to write.
 * @param stallMs If set, fail when one write makes no progress for this many ms.
 * @throws {WriteStalled} When a write stalls past `stallMs`.
 */
export async function writeAll(
  conn: Stream,
  bytes: Uint8Array,
  stallMs?: number,
): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    const write = conn.write(bytes.subarray(written));
    const result = await withTimeout(write, stallMs);
    if (result === TIMED_OUT) {
      write.catch(() => {}); // it fails when the connection is closed; nobody waits for it
      throw new WriteStalled(stallMs!);
    }
    written += result;
  }
}

/**
 * Starts a read whose failure is always handled: a read still pending when the
 * connection is closed rejects, and an unhandled rejection would end the process.
 *
 * @param conn Where to read from.
 * @param buffer Where the bytes go; leave it alone until the read settles.
 * @returns The number of bytes read, or `null` at end of input.
 */
export function startRead(conn: Stream, buffer: Uint8Array): Promise<number | null> {
  const read = conn.read(buffer);
  read.catch(() => {});
  return read;
}

/**
 * Waits for `promise` or for `ms` milliseconds, whichever comes first, and
 * leaves no timer behind.
 *
 * @param promise What to wait for.
 * @param ms The time limit; `undefined` waits for as long as it takes.
 * @returns The promise's value, or {@linkcode TIMED_OUT}.
 */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number | undefined,
): Promise<T | typeof TIMED_OUT> {
  // The common case, on every read and write: no timer, and no extra promise either.
  return ms === undefined ? promise : raceTimer(promise, ms);
}

async function raceTimer<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(resolve, ms, TIMED_OUT);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Waits `ms` milliseconds, or less if `signal` is aborted first, and leaves no timer behind.
 *
 * @param ms How long; nothing is waited for when it is 0 or less.
 * @param signal Ends the wait early.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/**
 * Closes a connection so that the bytes already written reach the peer.
 * Closing a socket with unread input makes the kernel send a reset, which can
 * destroy the last reply; so the write side is shut first and the input is
 * drained until the peer closes or {@linkcode DRAIN_MS} pass. Never throws.
 *
 * @param conn The connection to close.
 * @param pendingRead A read already started on `conn`, if any.
 */
export async function closeGracefully(
  conn: Stream,
  pendingRead?: Promise<number | null>,
): Promise<void> {
  const deadline = performance.now() + DRAIN_MS;
  try {
    // Bounded too: after a stalled write, shutting the write side waits for that write.
    const shut = conn.closeWrite();
    shut.catch(() => {});
    if (await withTimeout(shut, DRAIN_MS) === TIMED_OUT) return;
    let read = pendingRead ?? startRead(conn, drainBuffer);
    for (;;) {
      const result = await withTimeout(read, deadline - performance.now());
      if (result === null || result === TIMED_OUT) break;
      read = startRead(conn, drainBuffer);
    }
  } catch {
    // A reset while draining: there is nothing left to protect.
  } finally {
    closeQuietly(conn);
  }
}

/** Closes a connection that may already be closed. */
export function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

/**
 * Writes an address as `host:port`, with brackets around an IPv6 host.
 *
 * @example Formatting IPv4 and IPv6 addresses
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatAddress } from "./socket.ts";
 *
 * assert.equal(formatAddress({ hostname: "127.0.0.1", port: 5000 }), "127.0.0.1:5000");
 * assert.equal(formatAddress({ hostname: "::1", port: 5000 }), "[::1]:5000");
 * ```
 *
 * @param addr The address.
 * @returns The address as text.
 */
export function formatAddress(addr: { hostname: string; port: number }): string {
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}

/**
 * Names a count of things for a log line, in the singular when there is one.
 *
 * @example Singular and plural
 * ```ts
 * import assert from "node:assert/strict";
 * import { quantity } from "./socket.ts";
 *
 * assert.equal(quantity(1, "message"), "1 message");
 * assert.equal(quantity(0, "message"), "0 messages");
 * ```
 */
export function quantity(count: number, noun: string): string {
  return count === 1 ? `1 ${noun}` : `${count} ${noun}s`;
}

/**
 * Whether a network operation failed because the other host stopped answering:
 * TCP keepalive or retransmissions timed out (`ETIMEDOUT`), or the host is
 * known to be unreachable. A process that ended would have closed or reset the
 * connection instead; this is a host that lost power, crashed or left the network.
 */
export function isHostUnreachable(error: unknown): boolean {
  if (error instanceof Deno.errors.TimedOut) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EHOSTUNREACH" || code === "ENETUNREACH";
}

/**
 * Says in a few words why a network operation failed.
 *
 * @param error What the operation threw.
 * @returns A short phrase for a log line or a message, such as `connection reset by peer`.
 */
export function describeNetworkError(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionReset) return "connection reset by peer";
  if (error instanceof Deno.errors.BrokenPipe) return "peer stopped reading (broken pipe)";
  if (error instanceof Deno.errors.ConnectionAborted) return "connection aborted";
  if (error instanceof WriteStalled) return `timed out: ${error.message}`;
  if (isHostUnreachable(error)) {
    return "the other host stopped answering (connection timed out, or host unreachable)";
  }
  if (error instanceof Deno.errors.Interrupted || error instanceof Deno.errors.BadResource) {
    return "connection closed";
  }
  return error instanceof Error ? error.message : String(error);
}
