/**
 * Tests of the relay: bytes both ways with each half-close passed on, and a
 * finish that closes both sockets within its bound when the client stays.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Relay } from "./relay.ts";
import { DRAIN_MS } from "../io/socket.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Two connected sockets on 127.0.0.1: the near end and the far end. */
async function socketPair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [near, far] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  return [near, far];
}

/** Everything `conn` gives until end of input. */
async function readAll(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(1024);
  let text = "";
  for (let n; (n = await conn.read(buffer)) !== null;) {
    text += decoder.decode(buffer.subarray(0, n));
  }
  return text;
}

Deno.test("Relay copies bytes both ways and passes each half-close on", async () => {
  const [client, clientSide] = await socketPair();
  const [otherSide, other] = await socketPair();
  using _client = client, _other = other;
  const relay = new Relay(clientSide, otherSide);
  await client.write(encoder.encode("hola"));
  await client.closeWrite();
  assert.equal(await readAll(other), "hola");
  // The other direction is still open after the client's half-close.
  await other.write(encoder.encode("HOLA"));
  await other.closeWrite();
  assert.equal(await readAll(client), "HOLA");
  await relay.done;
  assert.equal(relay.failure, undefined);
});

Deno.test("Relay.finish closes both sockets within DRAIN_MS when the client never closes", async () => {
  const [client, clientSide] = await socketPair();
  const [otherSide, other] = await socketPair();
  using _client = client, _other = other;
  const relay = new Relay(clientSide, otherSide);
  const started = performance.now();
  await relay.finish();
  const took = performance.now() - started;
  assert(took >= DRAIN_MS - 5 && took < DRAIN_MS + 1_000, `finished after ${took} ms`);
  assert.equal(await readAll(client), "", "the client sees its connection end");
  assert.equal(await readAll(other), "");
  await relay.done;
});
