/**
 * Tests of counting connections per address: the limit per address, other
 * addresses apart, and addresses forgotten once their last connection closes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { AddressCounts } from "./address_counts.ts";

Deno.test("AddressCounts takes up to the limit per address, and forgets an address with none open", () => {
  const counts = new AddressCounts();
  for (let i = 0; i < 3; i++) assert(counts.take("::1", 3), `connection ${i + 1}`);
  assert(!counts.take("::1", 3), "the fourth");
  assert(counts.take("127.0.0.1", 3));
  assert.equal(counts.addresses, 2);
  for (let i = 0; i < 3; i++) counts.release("::1");
  counts.release("127.0.0.1");
  assert.equal(counts.addresses, 0, "no address is kept once it has nothing open");
});
