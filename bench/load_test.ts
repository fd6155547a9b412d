/**
 * Tests of the bench's load scenarios on Deno's sockets: each counts the
 * replies of a server that answers as the rules say, and reports a wrong reply
 * as a ReplyMismatch, never a figure.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startServer } from "../testing/helpers.ts";
import { echoingServer } from "../testing/peers.ts";
import { check, idle, LINE, pingPong, pipelined, ReplyMismatch } from "./load.ts";

const SHORT_RUN = { warmupSeconds: 0, seconds: 0.2 };

Deno.test("pingPong counts round trips and their latencies on a server that answers right", async () => {
  await using server = startServer({ log: null });
  const measurement = await pingPong(server.addr, { ...SHORT_RUN, connections: 3 });
  assert.equal(measurement.scenario, "ping-pong");
  assert.equal(measurement.connections, 3);
  assert(measurement.messages > 0, JSON.stringify(measurement));
  assert(
    measurement.latencyMs!.p50 > 0 && measurement.latencyMs!.p99 >= measurement.latencyMs!.p50,
  );
});

Deno.test("pipelined counts the replies of many lines in flight", async () => {
  await using server = startServer({ log: null });
  const measurement = await pipelined(server.addr, { ...SHORT_RUN, connections: 2, depth: 16 });
  assert.equal(measurement.scenario, "pipelined");
  assert(measurement.messages > 16, JSON.stringify(measurement));
});

Deno.test("idle holds connections open and proves each alive with a round trip", async () => {
  await using server = startServer({ log: null });
  const measurement = await idle(server.addr, { connections: 20 });
  assert.equal(measurement.scenario, "idle");
  assert.equal(measurement.messages, 20);
  assert.equal(measurement.serverKibPerConnection, undefined, "no PID, no memory figure");
});

Deno.test("check accepts the expected replies at any offset and rejects the first wrong byte", () => {
  const expected = new TextEncoder().encode(new TextDecoder().decode(LINE).toUpperCase());
  check(expected, 0);
  check(expected.subarray(10), 10);
  check(Uint8Array.of(...expected, ...expected).subarray(5, 80), 5);
  assert.throws(
    () => check(LINE, 0),
    (error) =>
      error instanceof ReplyMismatch && /reply byte 0 is 0x68, expected 0x48/.test(error.message),
  );
});

Deno.test("pingPong reports a server that echoes without uppercasing as a ReplyMismatch", async () => {
  await using echo = echoingServer();
  await assert.rejects(
    pingPong(echo.addr, { ...SHORT_RUN, connections: 1 }),
    (error) => error instanceof ReplyMismatch,
  );
});

Deno.test("pipelined with small writes tops up one line per write and counts the replies", async () => {
  await using server = startServer({ log: null });
  const measurement = await pipelined(server.addr, {
    ...SHORT_RUN,
    connections: 2,
    depth: 16,
    smallWrites: true,
  });
  assert.equal(measurement.scenario, "small-writes");
  assert(measurement.messages > 16, JSON.stringify(measurement));
});
