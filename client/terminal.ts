/**
 * The client's terminal mode, for people: a banner, a prompt with line editing
 * and history (`node:readline`), one message at a time, each reply printed
 * (in colour when asked). `DESCONEXION`, Ctrl-D and Ctrl-C leave; a server that
 * goes away while the user types is reported at once. With `--reconnect`, the
 * connection is made again instead, the message waiting for its reply is sent
 * again, and the prompt and its history stay as they were.
 *
 * @module
 */

import * as readline from "node:readline";
import { Readable, Writable } from "node:stream";
import { isDisconnectCommand } from "../protocol.ts";
import { Wakeup } from "./replies.ts";
import { EXIT } from "../cli/exit_status.ts";
import {
  checkForServerError,
  connectionLost,
  disconnect,
  SessionEnd,
  turnedAway,
} from "./session.ts";
import { ConnectionLost, type Link } from "./link.ts";

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
 * @param options `color`: whether to use colours (bold green replies, bold red errors).
 */
export function styleFor({ color }: { color: boolean }): Style {
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
  /** Makes the server's text safe to show, where the screen is a terminal. */
  visible?: (text: string) => string;
}

type InputEvent = { kind: "line"; text: string } | { kind: "end" };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Runs terminal mode until the user leaves.
 *
 * @returns {@linkcode EXIT.OK}, or {@linkcode EXIT.INTERRUPTED} after Ctrl-C.
 * @throws {SessionEnd} When the server goes away (and, with `--reconnect`,
 *   cannot be reached again) or answers with an `ERROR` line.
 */
export async function runTerminal(link: Link, session: TerminalSession): Promise<number> {
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
  const gone = () => link.replies.ended.then(() => "gone" as const);
  let serverGone = gone();
  const leave = async (status: number) => {
    lines.close();
    await disconnect(link.conn, link.replies);
    out.write(style.info("Connection closed.") + "\n");
    return status;
  };
  /** Connects again after `cause`, or ends the session as without `--reconnect`; false after Ctrl-C. */
  const recover = async (cause: ConnectionLost, when: string): Promise<boolean> => {
    if (!link.reconnects || link.replies.spokeTls) {
      const lost = connectionLost(link.replies, cause.when(when), cause.reason);
      throw when === "while you were typing"
        ? new SessionEnd(lost.status, `\n${lost.message}`)
        : lost;
    }
    const reconnected = link.reconnect().then(() => "connected" as const);
    if (await Promise.race([reconnected, interrupted]) === "interrupt") {
      await link.close();
      await reconnected.catch(() => {});
      return false;
    }
    serverGone = gone();
    return true;
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
          if (link.reconnects) await session.output.write(encoder.encode("\n"));
          if (!await recover(new ConnectionLost(), "while you were typing")) {
            return EXIT.INTERRUPTED;
          }
          await link.connected();
          if (!inputClosed) lines.prompt(true);
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
      // Sent again, on a new connection, until it is answered.
      for (let answered = false; !answered;) {
        try {
          const sentAt = performance.now();
          await link.send(message);
          const answer = await link.withinReplyTimeout(
            Promise.race([link.replies.take(), interrupted]),
            sentAt,
          );
          if (answer === "interrupt") return await leave(EXIT.INTERRUPTED);
          const refused = answer.length > 0 && link.reconnects &&
            turnedAway(answer[0], event.text);
          if (answer.length === 0 || refused) throw new ConnectionLost();
          for (const reply of answer) {
            checkForServerError(reply, event.text);
            const text = decoder.decode(reply.bytes);
            out.write(style.reply(session.visible?.(text) ?? text) + "\n");
          }
          await link.worked();
          answered = true;
        } catch (error) {
          if (!(error instanceof ConnectionLost)) throw error;
          if (!await recover(error, "before it answered")) return EXIT.INTERRUPTED;
        }
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
