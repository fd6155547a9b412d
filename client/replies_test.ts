/**
 * Tests of the client's view of the replies: framed at their newlines, ended
 * by a quiet pause when a server sends none, taken all at once, and an end
 * with its reason when the server closes, resets or sends too much.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MAX_QUEUED_REPLY_BYTES, ReplyStream } from "./replies.ts";
import { fakeServer } from "../testing/peers.ts";
import { TIMED_OUT, withTimeout } from "../io/socket.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Connects to `server` and reads its replies. */
async function repliesFrom(
  server: Deno.NetAddr,
  framing = { maxReplyBytes: 1024, quietMs: 20 },
) {
  const conn = await Deno.connect({ hostname: server.hostname, port: server.port });
  return { conn, replies: new ReplyStream(conn, framing) };
}

Deno.test("ReplyStream frames replies at their newlines and hands over all that have arrived", async () => {
  await using server = await fakeServer((socket) => socket.end("UNO\nDOS\r\nTRES\n"));
  const { conn, replies } = await repliesFrom(server);
  const got: [string, string][] = [];
  for (let batch; (batch = await replies.take()).length > 0;) {
    got.push(...batch.map((reply): [string, string] => [text(reply.bytes), reply.terminator]));
  }
  assert.deepEqual(got, [["UNO", "\n"], ["DOS", "\r\n"], ["TRES", "\n"]]);
  assert.equal(await replies.ended, "the server closed the connection");
  assert.equal(replies.endReason, "the server closed the connection");
  conn.close();
});

Deno.test("ReplyStream ends a reply without a newline after the quiet pause", async () => {
  await using server = await fakeServer((socket) => socket.write("SIN SALTO"));
  const { conn, replies } = await repliesFrom(server);
  const [reply] = await replies.take();
  assert.deepEqual([text(reply.bytes), reply.terminator], ["SIN SALTO", ""]);
  conn.close();
  await replies.ended;
});

Deno.test("ReplyStream ends with the reason when the server resets the connection", async () => {
  await using server = await fakeServer((socket) =>
    socket.on("data", () => socket.resetAndDestroy())
  );
  const { conn, replies } = await repliesFrom(server);
  await conn.write(new TextEncoder().encode("hola\n"));
  assert.deepEqual(await replies.take(), []);
  assert.equal(await replies.ended, "connection reset by peer");
  conn.close();
});

Deno.test("ReplyStream ends a stream whose reply is over the limit, keeping the replies before it", async () => {
  await using server = await fakeServer((socket) => socket.write("OK\n" + "X".repeat(100) + "\n"));
  const { conn, replies } = await repliesFrom(server, { maxReplyBytes: 10, quietMs: 20 });
  const [reply] = await replies.take();
  assert.equal(text(reply.bytes), "OK");
  assert.equal(await replies.ended, "the server sent a reply over the length limit");
  assert.deepEqual(await replies.take(), []);
  conn.close();
});

Deno.test("ReplyStream stops reading while its untaken replies pass the bound, so that the server is held back, and reads on once they are taken", async () => {
  const line = "X".repeat(64 * 1024 - 1) + "\n";
  let written = 0, streaming = true;
  let blocked = Promise.withResolvers<void>();
  await using server = await fakeServer((socket) => {
    socket.on("error", () => streaming = false);
    (async () => {
      while (streaming && !socket.destroyed) {
        written += line.length;
        if (!socket.write(line)) {
          blocked.resolve(); // the kernel's buffers are full: the client reads no more
          await new Promise((resolve) => socket.once("drain", resolve));
        }
      }
    })();
  });
  const { conn, replies } = await repliesFrom(server, { maxReplyBytes: 128 * 1024, quietMs: 20 });
  // Nothing is taken: what the server could write is the bound and the kernel's buffers.
  // Stalled: blocked, and no room made for half a second (a window, as the measure is one).
  const most = 64 * 1024 * 1024; // the bound (4 MiB), and room for the kernel buffers
  for (let moved = true; moved && written < most;) {
    await blocked.promise;
    blocked = Promise.withResolvers<void>();
    moved = await withTimeout(blocked.promise, 500) !== TIMED_OUT;
  }
  assert(written < most, `${written} bytes written`);
  const taken = (await replies.take()).length;
  assert(taken * line.length >= MAX_QUEUED_REPLY_BYTES, `${taken} replies were queued`);
  await blocked.promise; // taking made room: the server writes again
  streaming = false;
  conn.close();
  replies.cancel();
  await replies.ended;
});
