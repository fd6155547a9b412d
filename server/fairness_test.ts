/**
 * Tests of sharing the event loop: a connection is told to yield only once
 * the loop has not turned for the budget, not again after it turned, and a
 * yield lets the loop serve other sockets.
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

Deno.test("nextTurn lets the loop serve other sockets: a read that is ready completes while a task only spins and yields", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using accepted = await listener.accept();
  await client.write(new Uint8Array([0x61]));
  let served = false;
  const read = accepted.read(new Uint8Array(1)).then(() => served = true);
  for (let turns = 0; !served && turns < 1_000; turns++) {
    const spun = performance.now();
    while (performance.now() - spun < TURN_BUDGET_MS) {
      // Holding the loop, as a flooding connection does between its yields.
    }
    await nextTurn();
  }
  assert.equal(served, true, "the other socket's read completed");
  await read;
  await settled();
});
