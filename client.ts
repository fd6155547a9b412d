/**
 * The uppercase TCP client, for people at a terminal and for scripts.
 *
 * At a terminal it shows where it is connected, prompts for a message (with
 * line editing and history), sends it and prints the reply. In a pipeline it
 * prints only the replies, one per line, so `deno task client < in.txt > out.txt`
 * uppercases a file. `DESCONEXION`, end of input or Ctrl-D send `DESCONEXION`
 * bare, shut the write side and exit 0; Ctrl-C does the same and exits 130.
 *
 * It talks to any server of this exercise: a reply ends at its newline, or
 * after a quiet pause for servers that send none; and the disconnect command is
 * sent with no terminator, so servers that compare it exactly recognise it.
 *
 * @module
 */

import * as readline from "node:readline";
import { Readable, Writable } from "node:stream";
import {
  concat,
  DEFAULT_HOSTNAME,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_PORT,
  DISCONNECT_COMMAND,
  isDisconnectCommand,
  type Message,
  MessageFramer,
} from "./protocol.ts";
import { describeNetworkError, startRead, TIMED_OUT, withTimeout, writeAll } from "./io.ts";
import { integerFlag, parseFlags, reportUsageError, UsageError, VERSION } from "./cli.ts";

/** Quiet pause, in ms, that ends a reply from servers that send no newline. */
export const DEFAULT_REPLY_QUIET_MS = 150;

/** Most messages a pipeline keeps unanswered at once. */
export const MAX_IN_FLIGHT = 128;

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
} as const;

/** Options of {@linkcode runClient}. */
export interface ClientOptions {
  /**
   * The server's address.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The server's port.
   *
   * @default {5000}
   */
  port?: number;
  /** Where messages come from: typed keys, or the lines of a file. */
  input: ReadableStream<Uint8Array>;
  /** Where replies go (and, when interactive, the banner and the prompt). Closed on return. */
  output: WritableStream<Uint8Array>;
  /** Where messages for people and errors go. Closed on return. */
  errors: WritableStream<Uint8Array>;
  /**
   * Terminal mode: banner, prompt, line editing and history; empty lines are not sent.
   * Otherwise pipeline mode: replies only, many messages in flight.
   *
   * @default {false}
   */
  interactive?: boolean;
  /**
   * Colour the replies and errors.
   *
   * @default {false}
   */
  color?: boolean;
  /**
   * Quiet pause, in ms, that ends a reply without a newline.
   *
   * @default {150}
   */
  replyQuietMs?: number;
  /**
   * Longest message or reply, in bytes.
   *
   * @default {1048576}
   */
  maxMessageBytes?: number;
}

/** Ends the session with an exit status and, for errors, a line for people. */
class SessionEnd extends Error {
  constructor(readonly status: number, message = "") {
    super(message);
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const DISCONNECT_BYTES = encoder.encode(DISCONNECT_COMMAND);

/**
 * Runs one session against a server, until the user or the input disconnects.
 *
 * @example Uppercasing two lines in pipeline mode
 * ```ts ignore
 * import { runClient } from "./client.ts";
 *
 * const status = await runClient({
 *   input: ReadableStream.from([new TextEncoder().encode("hola\nservidor\n")]),
 *   output: Deno.stdout.writable,
 *   errors: Deno.stderr.writable,
 * });
 * // prints HOLA and SERVIDOR; status is 0
 * ```
 *
 * @param options The server, the streams and the mode.
 * @returns The exit status, one of {@linkcode EXIT}.
 */
export async function runClient(options: ClientOptions): Promise<number> {
  const out = Writable.fromWeb(options.output);
  const err = Writable.fromWeb(options.errors);
  const style = options.color ? COLORS : PLAIN;
  const address = `${options.hostname ?? DEFAULT_HOSTNAME}:${options.port ?? DEFAULT_PORT}`;
  let status: number;
  try {
    const conn = await connect(options.hostname ?? DEFAULT_HOSTNAME, options.port ?? DEFAULT_PORT);
    const settings = {
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      quietMs: options.replyQuietMs ?? DEFAULT_REPLY_QUIET_MS,
    };
    const replies = new ReplyStream(conn, settings);
    try {
      status = options.interactive
        ? await converse(conn, replies, { input: options.input, out, style, address, ...settings })
        : await pipeline(conn, replies, { input: options.input, out, ...settings });
    } finally {
      conn.close();
      await replies.ended;
    }
  } catch (error) {
    if (!(error instanceof SessionEnd)) throw error;
    if (error.message) err.write(style.error(error.message) + "\n");
    status = error.status;
  }
  await Promise.all([finish(out), finish(err)]);
  return status;
}

async function connect(hostname: string, port: number): Promise<Deno.TcpConn> {
  try {
    const conn = await Deno.connect({ hostname, port });
    conn.setNoDelay(true);
    return conn;
  } catch (error) {
    const action = `Cannot connect to ${hostname}:${port}`;
    if (error instanceof Deno.errors.ConnectionRefused) {
      throw new SessionEnd(
        EXIT.NO_SERVER,
        `${action}: no server is listening there. Start one with "deno task server", or pick another with --host and --port`,
      );
    }
    throw new SessionEnd(EXIT.NO_SERVER, `${action}: ${describeNetworkError(error)}`);
  }
}

/**
 * The server's replies, framed as they arrive: a reply ends at its newline or
 * after a quiet pause. {@linkcode ended} settles when the server closes.
 */
class ReplyStream {
  readonly ended: Promise<string>;
  readonly #queue: Message[] = [];
  readonly #arrived = new Signal();
  #endReason: string | undefined;

  constructor(conn: Deno.Conn, settings: { maxMessageBytes: number; quietMs: number }) {
    this.ended = this.#pump(conn, new MessageFramer(settings), settings.quietMs);
  }

  /** Why the server's side ended, once it has. */
  get endReason(): string | undefined {
    return this.#endReason;
  }

  /** The next reply, or `undefined` once the server's side has ended. */
  async next(): Promise<Message | undefined> {
    while (this.#queue.length === 0 && this.#endReason === undefined) await this.#arrived.wait();
    return this.#queue.shift();
  }

  async #pump(conn: Deno.Conn, framer: MessageFramer, quietMs: number): Promise<string> {
    const buffer = new Uint8Array(64 * 1024);
    let reason = "the server closed the connection";
    try {
      for (let read = startRead(conn, buffer);;) {
        const result = await withTimeout(read, framer.quietDelay(quietMs));
        if (result === TIMED_OUT || result === null) this.#deliver(framer.flush());
        if (result === null) break;
        if (result === TIMED_OUT) continue;
        for (const reply of framer.push(buffer.subarray(0, result))) {
          this.#deliver({ bytes: reply.bytes.slice(), terminator: reply.terminator });
        }
        if (framer.exceeded) {
          reason = "the server sent a reply over the length limit";
          break;
        }
        read = startRead(conn, buffer);
      }
    } catch (error) {
      reason = describeNetworkError(error);
    }
    this.#endReason = reason;
    this.#arrived.notify();
    return reason;
  }

  #deliver(reply: Message | undefined): void {
    if (!reply) return;
    this.#queue.push(reply);
    this.#arrived.notify();
  }
}

interface Style {
  reply(text: string): string;
  error(text: string): string;
  info(text: string): string;
}

const PLAIN: Style = { reply: (t) => t, error: (t) => t, info: (t) => t };
const COLORS: Style = {
  reply: (t) => `\x1b[1;32m${t}\x1b[0m`,
  error: (t) => `\x1b[1;31m${t}\x1b[0m`,
  info: (t) => `\x1b[2m${t}\x1b[0m`,
};

type InputEvent = { kind: "line"; text: string } | { kind: "end" };

/** Terminal mode: one message at a time, typed with line editing and history. */
async function converse(
  conn: Deno.Conn,
  replies: ReplyStream,
  session: {
    input: ReadableStream<Uint8Array>;
    out: Writable;
    style: Style;
    address: string;
    maxMessageBytes: number;
  },
): Promise<number> {
  const { out, style } = session;
  const keys = Readable.fromWeb(session.input);
  const lines = readline.createInterface({
    input: keys,
    output: out,
    terminal: true,
    prompt: "> ",
    historySize: 1000,
  });
  const typed: InputEvent[] = [];
  const input = new Signal();
  const arrive = (event: InputEvent) => {
    typed.push(event);
    input.notify();
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
    ) +
      "\n",
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
      const reply = await Promise.race([replies.next(), interrupted]);
      if (reply === "interrupt") return await leave(EXIT.INTERRUPTED);
      if (!reply) throw connectionLost(replies, "before it answered");
      checkForServerError(reply, event.text);
      out.write(style.reply(decoder.decode(reply.bytes)) + "\n");
    }
  } finally {
    lines.close();
    keys.destroy();
  }
}

/** Pipeline mode: lines streamed with up to {@linkcode MAX_IN_FLIGHT} unanswered, replies only. */
async function pipeline(
  conn: Deno.Conn,
  replies: ReplyStream,
  session: { input: ReadableStream<Uint8Array>; out: Writable; maxMessageBytes: number },
): Promise<number> {
  const framer = new MessageFramer({ maxMessageBytes: session.maxMessageBytes });
  // The start of each unanswered message, to tell its reply from an ERROR line.
  const unanswered: string[] = [];
  // One message at a time until a reply shows that the server ends replies with
  // a newline: servers that take one read as one message need that.
  let window = 1;
  let failure: unknown;
  const answered = new Signal();
  // Runs until the connection closes; it catches everything, so nothing need await it.
  (async () => {
    try {
      for (let reply; (reply = await replies.next()) !== undefined;) {
        const sent = unanswered.shift();
        if (sent === undefined) continue;
        checkForServerError(reply, sent);
        if (reply.terminator !== "") window = MAX_IN_FLIGHT;
        await writeLine(session.out, reply);
        answered.notify();
      }
      failure = connectionLost(replies, "before answering every line");
    } catch (error) {
      failure = error;
    }
    answered.notify();
  })();
  const waitUntil = async (condition: () => boolean) => {
    while (!condition()) {
      if (failure) throw failure;
      await answered.wait();
    }
  };

  const reader = session.input.getReader();
  for (let ended = false; !ended;) {
    const chunk = await reader.read();
    const messages = chunk.done
      ? [framer.flush()].filter((m) => m !== undefined)
      : framer.push(chunk.value);
    if (framer.exceeded) {
      throw new SessionEnd(
        EXIT.FAILURE,
        `Cannot send a line longer than ${session.maxMessageBytes} bytes`,
      );
    }
    ended = chunk.done;
    const batch: Uint8Array[] = [];
    for (const message of messages) {
      if (isDisconnectCommand(decoder.decode(message.bytes))) {
        ended = true;
        break;
      }
      if (unanswered.length >= window) {
        await send(conn, replies, concat(batch.splice(0)));
        await waitUntil(() => unanswered.length < window);
      }
      unanswered.push(decoder.decode(message.bytes.subarray(0, 16)));
      batch.push(message.bytes, message.terminator === "\r\n" ? CRLF : LF);
    }
    await send(conn, replies, concat(batch));
  }
  reader.releaseLock();
  await waitUntil(() => unanswered.length === 0);
  await disconnect(conn, replies);
  return EXIT.OK;
}

/** Wakes everyone waiting, each time something happens. */
class Signal {
  #wake: (() => void) | undefined;
  #next: Promise<void> | undefined;

  /** Settles at the next {@linkcode notify}. */
  wait(): Promise<void> {
    return this.#next ??= new Promise((resolve) => this.#wake = resolve);
  }

  /** Wakes every {@linkcode wait} made since the last notify. */
  notify(): void {
    this.#wake?.();
    this.#next = this.#wake = undefined;
  }
}

const LF = encoder.encode("\n");
const CRLF = encoder.encode("\r\n");

async function send(conn: Deno.Conn, replies: ReplyStream, bytes: Uint8Array): Promise<void> {
  try {
    await writeAll(conn, bytes);
  } catch (error) {
    throw connectionLost(replies, `while sending (${describeNetworkError(error)})`);
  }
}

/** Sends the disconnect command bare, shuts the write side and waits briefly for the server to close. */
async function disconnect(conn: Deno.Conn, replies: ReplyStream): Promise<void> {
  if (replies.endReason !== undefined) return;
  try {
    await writeAll(conn, DISCONNECT_BYTES);
    await conn.closeWrite();
  } catch {
    return; // The server is already gone: there is nothing left to close politely.
  }
  await withTimeout(replies.ended, CLOSE_WAIT_MS);
}

function connectionLost(replies: ReplyStream, when: string): SessionEnd {
  const reason = replies.endReason ?? "the server closed the connection";
  return new SessionEnd(EXIT.CONNECTION_LOST, `Connection lost ${when}: ${reason}`);
}

/**
 * An `ERROR` line is the server's, not a reply, unless the message itself
 * uppercases to something starting with `ERROR` ("error 404", say).
 */
function checkForServerError(reply: Message, sentText: string): void {
  const text = decoder.decode(reply.bytes);
  if (text.startsWith("ERROR") && !sentText.toUpperCase().startsWith("ERROR")) {
    throw new SessionEnd(EXIT.SERVER_ERROR, `The server refused the message: ${text}`);
  }
}

async function writeLine(out: Writable, reply: Message): Promise<void> {
  out.write(reply.bytes);
  // write() returning false asks for a pause, not a retry: the bytes are queued either way.
  if (!out.write(reply.terminator === "" ? LF : encoder.encode(reply.terminator))) {
    await new Promise((resolve) => out.once("drain", resolve));
  }
}

function finish(stream: Writable): Promise<void> {
  return new Promise((resolve) => stream.end(() => resolve()));
}

const USAGE =
  `uppercase-tcp client ${VERSION}: sends messages to an uppercase server and prints the replies.

Usage:
  deno task client [options]
  deno run --allow-net client.ts [options]

Options:
  --host <address>   Server address (default ${DEFAULT_HOSTNAME})
  --port <n>         Server port (default ${DEFAULT_PORT})
  -h, --help         Show this help
  -V, --version      Show the version

At a terminal it prompts for messages, with line editing and history (Up, Down).
DESCONEXION or Ctrl-D disconnects and exits 0; Ctrl-C disconnects and exits 130.
With piped input it prints only the replies, one per line:
  deno task client < in.txt > out.txt

Exit status: 0 disconnected, 1 bad input, 2 bad flag, 3 no server,
4 connection lost, 5 ERROR from the server, 130 Ctrl-C.`;

/**
 * Runs the client's command line on the process's own terminal or pipes.
 *
 * @param args The command-line arguments.
 * @returns The exit status, one of {@linkcode EXIT}.
 */
export async function main(args: string[]): Promise<number> {
  let hostname: string, port: number;
  try {
    const flags = parseFlags(args, {
      host: { type: "string" },
      port: { type: "string" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "V" },
    });
    if (flags.help || flags.version) {
      console.log(flags.help ? USAGE : VERSION);
      return EXIT.OK;
    }
    hostname = flags.host ?? DEFAULT_HOSTNAME;
    port = integerFlag("port", flags.port, { fallback: DEFAULT_PORT, min: 1, max: 65535 });
  } catch (error) {
    if (error instanceof UsageError) return reportUsageError(error);
    throw error;
  }
  const interactive = Deno.stdin.isTerminal();
  // Raw mode hands every key to the line editor; Ctrl-C arrives as a key, not a signal.
  if (interactive) Deno.stdin.setRaw(true);
  try {
    return await runClient({
      hostname,
      port,
      input: Deno.stdin.readable,
      output: Deno.stdout.writable,
      errors: Deno.stderr.writable,
      interactive,
      color: interactive && Deno.stdout.isTerminal() && !Deno.noColor,
    });
  } finally {
    if (interactive) Deno.stdin.setRaw(false);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
