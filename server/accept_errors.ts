/**
 * What a failed `accept()` means, and what to do about it: the policy every
 * listener follows, the protocol's (`accept_loop.ts`), the metrics endpoint's
 * (`http_endpoint.ts`) and the TLS front's loopback (`loopback_tls.ts`). A
 * client that left is skipped at once; a shortage is waited out with a growing
 * pause; anything else too, but not for ever.
 *
 * @module
 */

import { sleep } from "../io/socket.ts";

const FIRST_ACCEPT_BACKOFF_MS = 5;
const MAX_ACCEPT_BACKOFF_MS = 1_000;

/**
 * What a failed `accept()` means, and so what the loop does next.
 *
 * - `listener closed`: nothing more will arrive; the loop ends (as net/http's
 *   `Serve` returns once its listener is closed).
 * - `client gone`: one client left before it was accepted. The loop retries at
 *   once, counts it, and logs a summary now and then (`accept_loop.ts`).
 * - `out of resources`: the process or the system is short of file handles or
 *   memory. The loop logs it and waits ({@linkcode acceptBackoff}) for as
 *   long as it lasts: connections closing will free what it needs.
 * - `unexpected`: anything else. The loop waits as for `out of resources`, as
 *   a failure we cannot name may repeat at once and must not spin the loop;
 *   after `MAX_UNEXPECTED_ACCEPT_FAILURES` in a row (`accept_loop.ts`) it gives
 *   up: the server stops, and `finished` rejects with a `ServerFailedError`.
 */
export type AcceptFailure = "listener closed" | "client gone" | "out of resources" | "unexpected";

// Errors that belong to one connection, not to the listener. Linux's accept(2)
// passes errors already pending on the new socket to accept() and asks callers
// to retry at once, as for EAGAIN (it names EPROTO, among others); Go's
// internal/poll FD.Accept retries ECONNABORTED at once and silently. Deno's
// accept() also asks for the peer's address after accept(2), which fails with
// ENOTCONN (NotConnected) for a client that reset while it waited in the queue:
// a port scanner, or a load balancer's connect-then-reset health check.
const CLIENT_GONE_ERRORS = [
  Deno.errors.NotConnected,
  Deno.errors.ConnectionAborted,
  Deno.errors.ConnectionReset,
  Deno.errors.Interrupted,
];
const CLIENT_GONE_CODES = new Set(["EPROTO", "ECONNABORTED"]);
// Shortages that last until something else frees resources; net/http's Serve
// waits them out, with a wait that doubles, rather than spinning on them.
const RESOURCE_CODES = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]);

/**
 * Sorts a failed `accept()` into its {@linkcode AcceptFailure} class.
 *
 * @example Sorting the error of a client that reset before it was accepted
 * ```ts
 * import assert from "node:assert/strict";
 * import { classifyAcceptError } from "./accept_errors.ts";
 *
 * assert.equal(classifyAcceptError(new Deno.errors.NotConnected()), "client gone");
 * assert.equal(classifyAcceptError(new Deno.errors.BadResource()), "listener closed");
 * ```
 *
 * @param error What `accept()` threw.
 * @returns The class, which decides what the loop does next.
 */
export function classifyAcceptError(error: unknown): AcceptFailure {
  if (error instanceof Deno.errors.BadResource) return "listener closed";
  const code = (error as { code?: unknown } | null)?.code;
  if (CLIENT_GONE_ERRORS.some((type) => error instanceof type)) return "client gone";
  if (typeof code !== "string") return "unexpected";
  if (CLIENT_GONE_CODES.has(code)) return "client gone";
  return RESOURCE_CODES.has(code) ? "out of resources" : "unexpected";
}

/**
 * The wait after a failed accept that a client leaving does not explain:
 * {@linkcode FIRST_ACCEPT_BACKOFF_MS}, doubling with each failure in a row up
 * to {@linkcode MAX_ACCEPT_BACKOFF_MS}.
 *
 * @param lastMs The wait after the last failure, 0 after an accept that worked.
 * @returns The wait now, in ms.
 */
export function acceptBackoff(lastMs: number): number {
  return Math.min(Math.max(lastMs * 2, FIRST_ACCEPT_BACKOFF_MS), MAX_ACCEPT_BACKOFF_MS);
}

/**
 * The next connection from `listener`, under the policy, for a listener that
 * counts and logs nothing of its failures: a client that left is skipped at
 * once, and any other failure waited out with {@linkcode acceptBackoff}'s
 * growing pause.
 *
 * @param listener Where connections come from.
 * @param stopping Ends the wait, and the accepting.
 * @returns The connection, or `undefined` once the listener is closed or `stopping` aborted.
 */
export async function acceptPatiently<C>(
  listener: { accept(): Promise<C> },
  stopping: AbortSignal,
): Promise<C | undefined> {
  for (let backoffMs = 0; !stopping.aborted;) {
    try {
      return await listener.accept();
    } catch (error) {
      const failure = classifyAcceptError(error);
      if (stopping.aborted || failure === "listener closed") return undefined;
      if (failure === "client gone") continue;
      backoffMs = acceptBackoff(backoffMs);
      await sleep(backoffMs, stopping);
    }
  }
  return undefined;
}
