/**
 * Sharing the event loop among connections. Deno's event loop keeps serving a
 * connection whose data is always ready: its reads complete at once, and
 * without a pause nothing else runs, so one client flooding the server would
 * stall every other, the metrics endpoint too. Each connection therefore asks
 * {@linkcode mustYield} after each turn, and when the loop has not turned for
 * {@linkcode TURN_BUDGET_MS}, waits for the next turn with a macrotask (a
 * microtask would not let the loop poll anything else).
 *
 * The check is one clock read: a zero-delay timer, armed once per turn of the
 * loop whoever needs it, shows when the loop last got round to timers. While
 * it is pending and older than the budget, the loop is being held. A server
 * whose connections all wait for input arms nothing.
 *
 * The wait itself is a byte sent to a fresh loopback UDP socket of our own: its
 * arrival can only be learnt by polling the sockets, every client's included,
 * so the loop turns, and in about 40 µs. A zero-delay timer waits 1–2 ms on
 * Deno's millisecond clock, time in which a lone flooding client is not
 * served; an operation that completes on another thread (a digest) is resumed
 * without a poll, and so lets nobody in. Where the socket cannot be had
 * (without `--unstable-net`, or without net access to 127.0.0.1), or its
 * datagram does not arrive, the wait is the timer.
 *
 * @module
 */

import { TIMED_OUT, withTimeout } from "../io/socket.ts";

/** How long, in ms, connections may run before the loop must turn: a few ms of others' wait at most. */
export const TURN_BUDGET_MS = 2;

/**
 * How many bytes a connection, or a relay's direction, moves between two
 * looks at {@linkcode mustYield}: a full read buffer. Looking after every read
 * cost ping-pong a timer per message (9% of its messages per CPU-second); a
 * client that floods fills its buffer at every read, so it is still looked at
 * each time.
 */
export const FAIRNESS_CHECK_BYTES = 64 * 1024;

let armedAt: number | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
/** Made only when {@linkcode settled} is asked for, so that arming costs no promise. */
let whenTurned: PromiseWithResolvers<void> | undefined;
/** The turn being waited for: connections that yield at once share it. */
let turning: Promise<void> | undefined;
const ONE_BYTE = new Uint8Array(1);

function turned(): void {
  clearTimeout(timer);
  armedAt = timer = undefined;
  whenTurned?.resolve();
  whenTurned = undefined;
}

/**
 * Whether the connection that calls it should let the loop turn now: the loop
 * has not run its timers for {@linkcode TURN_BUDGET_MS}.
 *
 * @example A loop that never turns is told to yield within the budget
 * ```ts
 * import assert from "node:assert/strict";
 * import { mustYield, nextTurn, settled, TURN_BUDGET_MS } from "./fairness.ts";
 *
 * const started = performance.now();
 * while (!mustYield()) assert(performance.now() - started < 100 * TURN_BUDGET_MS);
 * await nextTurn();
 * assert.equal(mustYield(), false);
 * await settled();
 * ```
 */
export function mustYield(): boolean {
  const now = performance.now();
  if (armedAt === undefined) {
    armedAt = now;
    timer = setTimeout(turned, 0);
    return false;
  }
  return now - armedAt > TURN_BUDGET_MS;
}

/** Settles at the loop's next turn, once it has polled every socket for I/O. */
export function nextTurn(): Promise<void> {
  turning ??= (canTurnByDatagram() ? turnByDatagram() : turnByTimer()).finally(() => {
    turning = undefined;
    turned();
  });
  return turning;
}

/**
 * How long, in ms, a datagram to ourselves may take before we conclude that
 * something drops them (a firewall's rule on the loopback, say): from then on,
 * the timer.
 */
const DATAGRAM_LOST_MS = 1_000;
/** Whether turns go by datagram: found out at the first turn, given up once a datagram is lost. */
let byDatagram: boolean | undefined;

function canTurnByDatagram(): boolean {
  return byDatagram ??= typeof Deno.listenDatagram === "function" &&
    Deno.permissions.querySync({ name: "net", host: "127.0.0.1" }).state === "granted";
}

async function turnByDatagram(): Promise<void> {
  let socket;
  try {
    // A fresh socket's readiness is unknown until the loop polls for it: a socket
    // kept from an earlier turn could be read at once, without a poll.
    socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const arrived = socket.receive(new Uint8Array(1));
    arrived.catch(() => {}); // should the send fail, the close below ends it
    await socket.send(ONE_BYTE, socket.addr as Deno.NetAddr);
    if (await withTimeout(arrived, DATAGRAM_LOST_MS) === TIMED_OUT) byDatagram = false;
  } catch {
    // Out of file descriptors, say: the connection must not fail for a pause.
    await turnByTimer();
  } finally {
    socket?.close();
  }
}

function turnByTimer(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Settles once no timer of {@linkcode mustYield} is pending: a connection
 * waits for it as it closes, so that nothing it started outlives it.
 */
export function settled(): Promise<void> {
  if (armedAt === undefined) return Promise.resolve();
  return (whenTurned ??= Promise.withResolvers()).promise;
}
