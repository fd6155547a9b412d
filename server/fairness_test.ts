/**
 * Tests of sharing the event loop: a connection is told to yield only once
 * the loop has not turned for the budget, and not again after it turned.
 *
 * @module
 */

import assert from "node:assert/strict";
import { mustYield, nextTurn, settled, TURN_BUDGET_MS } from "./fairness.ts";

Deno.test("mustYield says no while the loop turns, and yes once it has been held past the budget", async () => {
  await nextTurn();
  assert.equal(mustYield(), false, "just after a turn");
  const held = performance.now();
  while (performance.now() - held <= TURN_BUDGET_MS) {
    // Holding the loop, as a connection whose data is always ready does.
  }
  assert.equal(mustYield(), true, "held past the budget");
  await nextTurn();
  assert.equal(mustYield(), false, "after the loop turned");
  await settled();
});
