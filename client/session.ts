/**
 * What the client's two modes share: how a session ends (an exit status from
 * `cli/exit_status.ts`'s table and a line for people), sending, disconnecting
 * politely, and telling the server's `ERROR` lines from replies.
 *
 * @module
 */

import { DISCONNECT_COMMAND, errorLineKind, isErrorLine, type Message } from "../protocol.ts";
import { withTimeout, writeAll } from "../io/socket.ts";
import { EXIT } from "../cli/exit_status.ts";
import type { ReplyStream } from "./replies.ts";

/** How long the client waits for the server to close after `DESCONEXION`, in ms. */
export const CLOSE_WAIT_MS = 1_000;

/** Ends the session with an exit status and, for errors, a line for people. */
export class SessionEnd extends Error {
  /** Makes the end of a session; `message` is empty when there is nothing to say. */
  constructor(readonly status: number, message = "") {
    super(message);
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const DISCONNECT_BYTES = encoder.encode(DISCONNECT_COMMAND);

/**
 * Sends the disconnect command bare, shuts the write side and waits briefly for
 * the server to close. Bare, so that servers comparing it exactly recognise it.
 */
export async function disconnect(conn: Deno.Conn, replies: ReplyStream): Promise<void> {
  if (replies.endReason !== undefined) return;
  try {
    await writeAll(conn, DISCONNECT_BYTES);
    await conn.closeWrite();
  } catch {
    return; // The server is already gone: there is nothing left to close politely.
  }
  await withTimeout(replies.ended, CLOSE_WAIT_MS);
}

/**
 * The end of a session whose server went away; `when` says at which point,
 * and `reason` why, when the server's side has not ended (it stayed silent).
 * A server that answered in TLS is no server for this connection: exit 3.
 */
export function connectionLost(replies: ReplyStream, when: string, reason?: string): SessionEnd {
  if (replies.spokeTls) {
    return new SessionEnd(
      EXIT.NO_SERVER,
      "The server speaks TLS, and this client does not: connect with --tls (and --ca for a private authority)",
    );
  }
  const why = reason ?? replies.endReason ?? "the server closed the connection";
  return new SessionEnd(EXIT.CONNECTION_LOST, `Connection lost ${when}: ${why}`);
}

/**
 * Whether `reply` is the server's line for a client over its connection
 * limit, or its limit per address, which says to try again later, rather
 * than the reply to `sentText`.
 */
export function turnedAway(reply: Message, sentText: string): boolean {
  const text = decoder.decode(reply.bytes);
  const kind = errorLineKind(text);
  return isErrorLine(text, sentText) &&
    (kind === "tooManyConnections" || kind === "tooManyFromAddress");
}

/**
 * Ends the session if `reply` is the server's `ERROR` line, as the protocol
 * tells them apart (`isErrorLine`).
 *
 * @throws {SessionEnd} With {@linkcode EXIT.SERVER_ERROR}.
 */
export function checkForServerError(reply: Message, sentText: string): void {
  const text = decoder.decode(reply.bytes);
  if (isErrorLine(text, sentText)) {
    throw new SessionEnd(EXIT.SERVER_ERROR, `The server refused the message: ${text}`);
  }
}
