/**
 * Tests of what the client's modes share: the polite disconnect (the command
 * bare, then a half-close), a lost connection worded for people, and the
 * server's ERROR line told from a reply.
 *
 * @module
 */

import assert from "node:assert/strict";
import { EXIT } from "../cli/exit_status.ts";
import { ReplyStream } from "./replies.ts";
import { checkForServerError, connectionLost, disconnect, SessionEnd } from "./session.ts";
import { fakeServer } from "../testing/peers.ts";

const encoder = new TextEncoder();

/** Connects to `server`, reading its replies. */
async function session(server: Deno.NetAddr) {
  const conn = await Deno.connect({ hostname: server.hostname, port: server.port });
  return { conn, replies: new ReplyStream(conn, { maxReplyBytes: 1024, quietMs: 20 }) };
}

Deno.test("disconnect sends DESCONEXION bare, half-closes, and waits for the server to close", async () => {
  const received = Promise.withResolvers<string>();
  await using server = await fakeServer((socket) => {
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => text += chunk);
    socket.on("end", () => {
      received.resolve(text);
      socket.end();
    });
  });
  const { conn, replies } = await session(server);
  await disconnect(conn, replies);
  assert.equal(await received.promise, "DESCONEXION", "no newline, then end of input");
  assert.equal(replies.endReason, "the server closed the connection", "waited for the close");
  conn.close();
});

Deno.test("connectionLost says when and why in one line", async () => {
  await using server = await fakeServer((socket) => socket.end());
  const { conn, replies } = await session(server);
  await replies.ended;
  const lost = connectionLost(replies, "before it answered");
  assert.equal(lost.status, EXIT.CONNECTION_LOST);
  assert.equal(
    lost.message,
    "Connection lost before it answered: the server closed the connection",
  );
  conn.close();
});

Deno.test("checkForServerError ends the session on an ERROR line, but not on a reply to error", () => {
  const reply = (text: string) => ({ bytes: encoder.encode(text), terminator: "\n" as const });
  assert.throws(
    () => checkForServerError(reply("ERROR message too long (limit 8 bytes)"), "demasiado"),
    (error) =>
      error instanceof SessionEnd && error.status === EXIT.SERVER_ERROR &&
      error.message === "The server refused the message: ERROR message too long (limit 8 bytes)",
  );
  checkForServerError(reply("ERROR 404"), "error 404");
  checkForServerError(reply("HOLA"), "hola");
});
