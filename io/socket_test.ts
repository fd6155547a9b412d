/**
 * Tests of the socket helpers on their own: writing everything through
 * partial writes, giving up on a stalled write, timing out without leaving a
 * timer, closing without losing the last bytes, and naming addresses and
 * failures.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  closeGracefully,
  closeQuietly,
  describeNetworkError,
  DRAIN_MS,
  formatAddress,
  quantity,
  TIMED_OUT,
  withTimeout,
  writeAll,
  WriteStalled,
} from "./socket.ts";

const encoder = new TextEncoder();

/** A connection whose writes take at most `perWrite` bytes, recording what they took. */
function trickleConn(perWrite: number): Deno.Conn & { written: number[] } {
  const written: number[] = [];
  return {
    written,
    write: (bytes: Uint8Array) => {
      const n = Math.min(perWrite, bytes.length);
      written.push(...bytes.subarray(0, n));
      return Promise.resolve(n);
    },
  } as unknown as Deno.Conn & { written: number[] };
}

/** A listener on 127.0.0.1 and one connection to it, from both ends. */
async function socketPair() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  listener.close();
  return { client, server };
}

Deno.test("writeAll writes every byte when each write takes only part of the buffer", async () => {
  const conn = trickleConn(3);
  await writeAll(conn, encoder.encode("hola servidor"));
  assert.deepEqual(conn.written, [...encoder.encode("hola servidor")]);
});

Deno.test("writeAll gives up with TimedOut when the peer stops reading for stallMs", async () => {
  const { client, server } = await socketPair();
  using _client = client, _server = server;
  // The client never reads: once the kernel's buffers are full, writes stall.
  const big = new Uint8Array(64 * 1024 * 1024);
  await assert.rejects(
    () => writeAll(server, big, 50),
    (error) => error instanceof WriteStalled && /stopped reading/.test(error.message),
  );
});

Deno.test("withTimeout returns the value when it comes first, TIMED_OUT otherwise, and leaves no timer", async () => {
  assert.equal(await withTimeout(Promise.resolve("hola"), 1_000), "hola");
  assert.equal(await withTimeout(new Promise(() => {}), 1), TIMED_OUT);
  const forever = Promise.resolve(7);
  assert.equal(withTimeout(forever, undefined), forever, "no limit: the same promise, no timer");
  // The op sanitizer fails this test if either call left its timer running.
});

Deno.test("closeGracefully shuts its write side first and drains the peer's input until the peer closes", async () => {
  const { client, server } = await socketPair();
  await writeAll(server, encoder.encode("ÚLTIMA\n"));
  let closed = false;
  const closing = closeGracefully(server).then(() => closed = true);
  const buffer = new Uint8Array(64);
  const n = await client.read(buffer);
  assert.equal(new TextDecoder().decode(buffer.subarray(0, n!)), "ÚLTIMA\n");
  assert.equal(await client.read(buffer), null, "the write side is shut: end of stream");
  // The socket is still open and reading: late input is taken, not answered with a reset.
  await writeAll(client, encoder.encode("tarde\n"));
  assert.equal(closed, false, "still draining while the peer's side is open");
  client.close();
  await closing;
});

Deno.test("closeGracefully gives up after DRAIN_MS when the peer never closes", async () => {
  const { client, server } = await socketPair();
  const started = performance.now();
  await closeGracefully(server);
  const elapsed = performance.now() - started;
  assert(
    elapsed >= DRAIN_MS - 5,
    `returned after ${elapsed.toFixed(0)} ms, before the drain ended`,
  );
  assert.equal(await client.read(new Uint8Array(1)), null, "the connection is closed");
  client.close();
});

Deno.test("closeQuietly closes a connection once, and ignores a second close", async () => {
  const { client, server } = await socketPair();
  closeQuietly(server);
  closeQuietly(server);
  assert.equal(await client.read(new Uint8Array(1)), null, "the peer sees the close");
  client.close();
});

Deno.test("quantity names one thing in the singular and any other count in the plural", () => {
  assert.equal(quantity(1, "connection"), "1 connection");
  assert.equal(quantity(0, "connection"), "0 connections");
  assert.equal(quantity(2, "message"), "2 messages");
});

Deno.test("formatAddress puts an IPv6 host in brackets", () => {
  const table: [Deno.NetAddr | { hostname: string; port: number }, string][] = [
    [{ hostname: "127.0.0.1", port: 5000 }, "127.0.0.1:5000"],
    [{ hostname: "::1", port: 5000 }, "[::1]:5000"],
    [{ hostname: "fe80::1%eth0", port: 1 }, "[fe80::1%eth0]:1"],
    [{ hostname: "localhost", port: 80 }, "localhost:80"],
  ];
  for (const [addr, want] of table) assert.equal(formatAddress(addr), want);
});

Deno.test("describeNetworkError names each failure in a few words", () => {
  const table: [unknown, string][] = [
    [new Deno.errors.ConnectionReset("os error 104"), "connection reset by peer"],
    [new Deno.errors.BrokenPipe("os error 32"), "peer stopped reading (broken pipe)"],
    [new Deno.errors.ConnectionAborted(), "connection aborted"],
    [new WriteStalled(100), "timed out: no progress writing for 100 ms: the peer stopped reading"],
    [
      new Deno.errors.TimedOut("Connection timed out (os error 110)"),
      "the other host stopped answering (connection timed out, or host unreachable)",
    ],
    [new Deno.errors.Interrupted(), "connection closed"],
    [new Deno.errors.BadResource(), "connection closed"],
    [new Error("something else"), "something else"],
    ["a string", "a string"],
  ];
  for (const [error, want] of table) assert.equal(describeNetworkError(error), want);
});
