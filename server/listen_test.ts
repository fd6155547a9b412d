/**
 * Tests of starting a server from its settings: it listens where they say,
 * shares a port with `reusePort`, and counts with the slots it is given.
 *
 * @module
 */

import assert from "node:assert/strict";
import { listenWith } from "./listen.ts";
import { resolveSettings } from "./settings.ts";
import { SharedSlots } from "./slots.ts";
import { until } from "../testing/helpers.ts";
import { Peer } from "../testing/peers.ts";

Deno.test("listenWith listens where the settings say and answers", async () => {
  await using server = listenWith(resolveSettings({ port: 0, log: null }));
  assert.equal(server.addr.hostname, "127.0.0.1");
  using peer = await Peer.connect(server.addr);
  await peer.send("hola\n");
  assert.equal(await peer.readLine(), "HOLA\n");
});

Deno.test("listenWith with reusePort lets two servers share a port, and shared slots hold one limit", async () => {
  const slots = SharedSlots.buffer();
  const settings = (port: number) => ({
    ...resolveSettings({ port, reusePort: true, maxConnections: 1, log: null }),
    slots: new SharedSlots(slots),
  });
  await using first = listenWith(settings(0));
  await using second = listenWith(settings(first.addr.port));
  assert.equal(second.addr.port, first.addr.port);
  using served = await Peer.connect(first.addr);
  await served.send("hola\n");
  assert.equal(await served.readLine(), "HOLA\n");
  // Whichever of the two takes the next client, the one slot is taken.
  using refused = await Peer.connect(first.addr);
  assert.match(await refused.readLine(), /^ERROR too many connections \(limit 1\)/);
});

Deno.test("A server's snapshot counts its open connections' messages and bytes, and its closed ones' once", async () => {
  await using server = listenWith(resolveSettings({ port: 0, log: null }));
  using open = await Peer.connect(server.addr);
  await open.send("uno\ndos\n");
  assert.equal(await open.readText(8), "UNO\nDOS\n");
  let counts = server.snapshot();
  assert.deepEqual([counts.accepted, counts.messages, counts.receivedBytes, counts.sentBytes], [
    1,
    2,
    8,
    8,
  ]);
  {
    using closing = await Peer.connect(server.addr);
    await closing.send("tres\n");
    assert.equal(await closing.readLine(), "TRES\n");
    await closing.conn.closeWrite();
    assert.equal(await closing.readToEnd(), "");
  }
  await until(() => server.snapshot().closed.end_of_input > 0, "the close to be counted");
  counts = server.snapshot();
  assert.deepEqual([counts.accepted, counts.messages, counts.closed.end_of_input], [2, 3, 1]);
  assert.equal(counts.receivedBytes, 8 + 5, "the closed connection's bytes once, not twice");
});
