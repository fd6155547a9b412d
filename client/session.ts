/**
 * What the client's two modes share: how a session ends (an exit status and a
 * line for people), sending, disconnecting politely, and telling the server's
 * `ERROR` lines from replies.
 *
 * @module
 */

import { DISCONNECT_COMMAND, isErrorLine, type Message } from "../protocol.ts";
import { describeNetworkError, withTimeout, writeAll } from "../io.ts";
import type { ReplyStream } from "./replies.ts";

/** How long the client waits for the server to close after `DESCONEXION`, in ms. */
export const CLOSE_WAIT_MS = 1_000;

/** The client's exit statuses. */
export const EXIT = {
  /** Disconnected as asked (`DESCONEXION`, end of input, Ctrl-D). */
  OK: 0,
  /** A problem with the input, such as a line over the limit, or an unexpected failure. */
  FAILURE: 1,
  /** A bad flag or argument. */
  USAGE: 2,
  /** No server could be reached. */
  NO_SERVER: 3,
  /** The server closed or reset the connection before the client was done. */
  CONNECTION_LOST: 4,
  /** The server answered with an `ERROR` line. */
  SERVER_ERROR: 5,
  /** Interrupted with Ctrl-C. */
  INTERRUPTED: 130,
  /** The output was closed early (`| head`): the status of a filter killed by SIGPIPE. */
  OUTPUT_CLOSED: 141,
} as const;

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
 * Sends bytes to the server.
 *
 * @throws {SessionEnd} When the server has gone.
 */
export async function send(conn: Deno.Conn, replies: ReplyStream, bytes: Uint8Array) {
  try {
    await writeAll(conn, bytes);
  } catch (error) {
    throw connectionLost(replies, `while sending (${describeNetworkError(error)})`);
  }
}

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

/** The end of a session whose server went away; `when` says at which point. */
export function connectionLost(replies: ReplyStream, when: string): SessionEnd {
  const reason = replies.endReason ?? "the server closed the connection";
  return new SessionEnd(EXIT.CONNECTION_LOST, `Connection lost ${when}: ${reason}`);
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
