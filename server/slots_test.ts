/**
 * Tests of connection ids and slots: counted alone, or shared through one
 * buffer by several views, as workers share them, with the limit holding
 * across them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ConnectionSlots, LocalSlots, SharedSlots } from "./slots.ts";

/** Takes slots from `slots` in turn until the limit refuses one; gives how many each got. */
function takeUntilFull(slots: ConnectionSlots[], limit: number): number[] {
  const taken = slots.map(() => 0);
  for (let i = 0; slots[i % slots.length].take(limit); i++) taken[i % slots.length]++;
  return taken;
}

Deno.test("LocalSlots gives ids from 1 and at most the limit of slots, and a released slot back", () => {
  const slots = new LocalSlots();
  assert.deepEqual([slots.nextId(), slots.nextId(), slots.nextId()], [1, 2, 3]);
  assert.deepEqual(takeUntilFull([slots], 3), [3]);
  slots.release();
  assert(slots.take(3));
  assert(!slots.take(3));
});

Deno.test("SharedSlots views of one buffer give unique ids and hold one limit between them", () => {
  const buffer = SharedSlots.buffer();
  const views = [new SharedSlots(buffer), new SharedSlots(buffer), new SharedSlots(buffer)];
  const ids = Array.from({ length: 30 }, (_, i) => views[i % 3].nextId());
  assert.deepEqual(ids, Array.from({ length: 30 }, (_, i) => i + 1));
  assert.deepEqual(takeUntilFull(views, 50), [17, 17, 16]);
  views[2].release();
  assert(views[0].take(50), "a slot released by one view is free for another");
  assert(!views[1].take(50));
});

Deno.test("SharedSlots ids go past 2^32 without wrapping", () => {
  const buffer = SharedSlots.buffer();
  new BigInt64Array(buffer, 0, 1)[0] = 2n ** 32n;
  assert.equal(new SharedSlots(buffer).nextId(), 2 ** 32 + 1);
});
