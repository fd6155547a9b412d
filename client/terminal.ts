/**
 * The client's terminal mode, for people: a banner, a prompt with line editing
 * and history (`node:readline`), one message at a time, each reply printed
 * (in colour when asked). `DESCONEXION`, Ctrl-D and Ctrl-C leave; a server that
 * goes away while the user types is reported at once.
 *
 * @module
 */

import * as readline from "node:readline";
import { Readable, Writable } from "node:stream";
import { isDisconnectCommand } from "../protocol.ts";
import { type ReplyStream, Wakeup } from "./replies.ts";
import { EXIT } from "../cli/exit_status.ts";
import { checkForServerError, connectionLost, disconnect, send, SessionEnd } from "./session.ts";

/** How text for people is shown. */
export interface Style {
  /** A reply from the server. */
  reply(text: string): string;
  /** An error. */
  error(text: string): string;
  /** Where the client is, and how to leave. */
  info(text: string): string;
}

const PLAIN: Style = { reply: (t) => t, error: (t) => t, info: (t) => t };
const COLORS: Style = {
  reply: (t) => `\x1b[1;32m${t}\x1b[0m`,
  error: (t) => `\x1b[1;31m${t}\x1b[0m`,
  info: (t) => `\x1b[2m${t}\x1b[0m`,
};

/**
 * The style to show text in.
 *
 * @param color Whether to use colours (bold green replies, bold red errors).
 */
export function styleFor(color: boolean): Style {
  return color ? COLORS : PLAIN;
}

/** What a terminal session needs besides the connection. */
export interface TerminalSession {
  /** The keys the user types. */
  input: ReadableStream<Uint8Array>;
  /** The screen: the banner, the prompt and the replies. */
  output: WritableStreamDefaultWriter<Uint8Array>;
  style: Style;
  /** The server's address, for the banner. */
  address: string;
  /** The longest message the client sends. */
  maxMessageBytes: number;
}

type InputEvent = { kind: "line"; text: string } | { kind: "end" };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Runs terminal mode until the user leaves.
 *
 * @returns {@linkcode EXIT.OK}, or {@linkcode EXIT.INTERRUPTED} after Ctrl-C.
 * @throws {SessionEnd} When the server goes away or answers with an `ERROR` line.
 */
export async function runTerminal(
  conn: Deno.Conn,
  replies: ReplyStream,
  session: TerminalSession,
): Promise<number> {
  const { style } = session;
  const out = screen(session.output);
  const keys = Readable.fromWeb(session.input);
  const lines = readline.createInterface({
    input: keys,
    output: out,
    terminal: true,
    prompt: "> ",
    historySize: 1000,
  });
  const typed: InputEvent[] = [];
  const input = new Wakeup();
  const arrive = (event: InputEvent) => {
    typed.push(event);
    input.wake();
  };
  lines.on("line", (text) => arrive({ kind: "line", text }));
  let inputClosed = false;
  lines.on("close", () => {
    inputClosed = true;
    arrive({ kind: "end" });
  });
  const interrupted = new Promise<"interrupt">((resolve) =>
    lines.on("SIGINT", () => resolve("interrupt"))
  );
  const serverGone = replies.ended.then(() => "gone" as const);
  const leave = async (status: number) => {
    lines.close();
    await disconnect(conn, replies);
    out.write(style.info("Connection closed.") + "\n");
    return status;
  };

  out.write(
    style.info(
      `Connected to ${session.address}. Type a message and press Enter; DESCONEXION or Ctrl-D to leave.`,
    ) + "\n",
  );
  try {
    for (;;) {
      if (!inputClosed) lines.prompt();
      while (typed.length === 0) {
        const event = await Promise.race([input.wait(), interrupted, serverGone]);
        if (event === "gone") {
          // Leave the prompt's line first, on the same stream as the message, so they stay in order.
          const lost = connectionLost(replies, "while you were typing");
          throw new SessionEnd(lost.status, `\n${lost.message}`);
        }
        if (event === "interrupt") return await leave(EXIT.INTERRUPTED);
      }
      const event = typed.shift()!;
      if (event.kind === "end") return await leave(EXIT.OK);
      if (event.text.trim() === "") continue;
      if (isDisconnectCommand(event.text)) return await leave(EXIT.OK);
      const message = encoder.encode(event.text + "\n");
      if (message.length - 1 > session.maxMessageBytes) {
        out.write(
          style.error(`Not sent: the message is longer than ${session.maxMessageBytes} bytes`) +
            "\n",
        );
        continue;
      }
      await send(conn, replies, message);
      const answer = await Promise.race([replies.take(), interrupted]);
      if (answer === "interrupt") return await leave(EXIT.INTERRUPTED);
      if (answer.length === 0) throw connectionLost(replies, "before it answered");
      for (const reply of answer) {
        checkForServerError(reply, event.text);
        out.write(style.reply(decoder.decode(reply.bytes)) + "\n");
      }
    }
  } finally {
    lines.close();
    keys.destroy();
    // Everything shown reaches the screen before the caller writes more.
    await new Promise((resolve) => out.end(resolve));
  }
}

/** The screen as the node stream `readline` draws on, writing through `output`. */
function screen(output: WritableStreamDefaultWriter<Uint8Array>): Writable {
  return new Writable({
    write(chunk, _encoding, written) {
      // A terminal that went away also ends the input, which ends the session.
      output.write(chunk).then(() => written(), () => written());
    },
  });
}
