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
 * @module
 */

/** How long, in ms, connections may run before the loop must turn: a few ms of others' wait at most. */
export const TURN_BUDGET_MS = 2;

let armedAt: number | undefined;
/** Made only when {@linkcode settled} is asked for, so that arming costs no promise. */
let whenTurned: PromiseWithResolvers<void> | undefined;

function turned(): void {
  armedAt = undefined;
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
    setTimeout(turned, 0);
    return false;
  }
  return now - armedAt > TURN_BUDGET_MS;
}

/** Settles at the loop's next turn, once it has polled for I/O and run its timers. */
export function nextTurn(): Promise<void> {
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
