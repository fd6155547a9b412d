/**
 * Tests of `serve()`, the server's library entry point: where it listens by
 * default, what it throws for a taken port, how it counts connections, and
 * that stopping it settles `finished`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { serve } from "./server.ts";
import { Peer } from "./testing/peers.ts";

Deno.test("serve listens on 127.0.0.1, not every interface, and reports the port it got", async () => {
  await using server = serve({ port: 0, log: null });
  assert.equal(server.addr.hostname, "127.0.0.1");
  assert.equal(server.addr.transport, "tcp");
  assert(server.addr.port > 0);
});

Deno.test("serve throws AddrInUse for a port another listener holds", () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  assert.throws(() => serve({ port: taken.addr.port, log: null }), Deno.errors.AddrInUse);
});

Deno.test("serve counts the connections it serves, and stop() settles finished", async () => {
  const server = serve({ port: 0, log: null });
  const peers = await Promise.all([1, 2].map(() => Peer.connect(server.addr)));
  for (const peer of peers) {
    await peer.send("hola\n");
    assert.equal(await peer.readLine(), "HOLA\n");
  }
  assert.equal(server.connections, 2);
  await server.stop();
  await server.finished;
  assert.equal(server.connections, 0);
  for (const peer of peers) {
    assert.equal(await peer.readToEnd(), "");
    peer[Symbol.dispose]();
  }
});
