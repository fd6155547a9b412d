/**
 * The uppercase TCP server: it answers every message with the message in
 * UPPERCASE and closes a client's connection when the client sends
 * `DESCONEXION`, while it keeps serving everyone else.
 *
 * Try it: `deno task server`, then `echo "hola servidor" | nc 127.0.0.1 5000`.
 *
 * The protocol itself lives in `protocol.ts`; this module does the I/O:
 * accepting, reading, writing, timing the quiet pause, logging and stopping.
 *
 * @module
 */

import {
  type CloseReason,
  DEFAULT_FLUSH_DELAY_MS,
  DEFAULT_HOSTNAME,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_PORT,
  ServerConversation,
  type Turn,
} from "./protocol.ts";
import {
  closeGracefully,
  closeQuietly,
  describeNetworkError,
  DRAIN_MS,
  TIMED_OUT,
  withTimeout,
  writeAll,
} from "./io.ts";
import { integerFlag, parseFlags, reportUsageError, UsageError, VERSION } from "./cli.ts";

/** How long {@linkcode UppercaseServer.stop} lets connections finish before cutting them, in ms. */
export const STOP_GRACE_MS = 1_000;

/** Default most connections served at once. */
export const DEFAULT_MAX_CONNECTIONS = 10_000;

// Small, so an idle connection costs little; a read that fills it grows it.
const FIRST_READ_BUFFER_BYTES = 128;
const MAX_READ_BUFFER_BYTES = 64 * 1024;
const FIRST_ACCEPT_BACKOFF_MS = 5;
const MAX_ACCEPT_BACKOFF_MS = 1_000;

/** Options of {@linkcode serve}. */
export interface ServeOptions {
  /**
   * The address to listen on. `Deno.listen` alone would bind every interface.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The port to listen on; 0 picks a free one.
   *
   * @default {5000}
   */
  port?: number;
  /**
   * Quiet pause, in ms, after which unterminated bytes are answered; 0 turns it off.
   *
   * @default {50}
   */
  flushDelayMs?: number;
  /**
   * Longest message in bytes, terminator not counted.
   *
   * @default {1048576}
   */
  maxMessageBytes?: number;
  /**
   * Most connections served at once; one more gets an `ERROR` line and is closed.
   *
   * @default {10000}
   */
  maxConnections?: number;
  /**
   * Close a connection after this many ms without a byte from the client, or
   * without progress writing to it; 0 never does.
   *
   * @default {0}
   */
  idleTimeoutMs?: number;
  /**
   * Where connection log lines go; `null` for none.
   *
   * @default {console.error}
   */
  log?: ((line: string) => void) | null;
}

/** The address of a TCP socket; it can be passed to `Deno.connect` as it is. */
export type TcpAddr = Deno.NetAddr & { transport: "tcp" };

/** A running server, as returned by {@linkcode serve}. */
export interface UppercaseServer extends AsyncDisposable {
  /** The address the server is bound to; its port is the real one when 0 was asked for. */
  readonly addr: TcpAddr;
  /** Settles once the server has stopped and every connection is closed. */
  readonly finished: Promise<void>;
  /** How many connections are being served now. */
  readonly connections: number;
  /**
   * Stops accepting, lets each connection finish the write in progress, closes
   * every connection (cutting those still busy after {@linkcode STOP_GRACE_MS}).
   *
   * @returns {@linkcode finished}.
   */
  stop(): Promise<void>;
}

/**
 * Starts the server.
 *
 * @example Answering one message
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "./server.ts";
 *
 * await using server = serve({ port: 0, log: null });
 * using conn = await Deno.connect(server.addr);
 * await conn.write(new TextEncoder().encode("hola servidor\n"));
 * const buffer = new Uint8Array(64);
 * const n = await conn.read(buffer);
 * assert.equal(new TextDecoder().decode(buffer.subarray(0, n!)), "HOLA SERVIDOR\n");
 * ```
 *
 * @param options Where to listen and the protocol's limits.
 * @returns The running server.
 * @throws {Deno.errors.AddrInUse} When the address is taken, and the other errors of `Deno.listen`.
 */
export function serve(options: ServeOptions = {}): UppercaseServer {
  const listener = Deno.listen({
    hostname: options.hostname ?? DEFAULT_HOSTNAME,
    port: options.port ?? DEFAULT_PORT,
  });
  return new Server(listener, {
    flushDelayMs: options.flushDelayMs ?? DEFAULT_FLUSH_DELAY_MS,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    idleTimeoutMs: options.idleTimeoutMs || undefined,
    log: options.log === undefined ? console.error : options.log ?? undefined,
  });
}

interface Settings {
  flushDelayMs: number;
  maxMessageBytes: number;
  maxConnections: number;
  idleTimeoutMs?: number;
  log?: (line: string) => void;
}

class Server implements UppercaseServer {
  readonly addr: TcpAddr;
  readonly finished: Promise<void>;
  readonly #listener: Deno.TcpListener;
  readonly #settings: Settings;
  readonly #connections = new Set<Connection>();
  readonly #refusals = new Set<Promise<void>>();
  readonly #stopping = new AbortController();
  #serving = 0;
  #nextId = 1;
  // One pair of callbacks for every connection, rather than two closures each.
  readonly #lifecycle: ConnectionLifecycle = {
    conversationOver: () => this.#serving--,
    closed: (connection) => this.#connections.delete(connection),
  };

  constructor(listener: Deno.TcpListener, settings: Settings) {
    this.#listener = listener;
    this.#settings = settings;
    this.addr = listener.addr as TcpAddr;
    this.finished = this.#acceptLoop();
  }

  get connections(): number {
    return this.#serving;
  }

  async stop(): Promise<void> {
    if (!this.#stopping.signal.aborted) {
      this.#stopping.abort();
      closeQuietly(this.#listener);
      for (const connection of this.#connections) connection.stop();
      const allClosed = Promise.all([...this.#connections].map((c) => c.closed));
      if (await withTimeout(allClosed, STOP_GRACE_MS) === TIMED_OUT) {
        for (const connection of this.#connections) connection.cut();
      }
    }
    return await this.finished;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #acceptLoop(): Promise<void> {
    let backoffMs = 0;
    while (!this.#stopping.signal.aborted) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
        backoffMs = 0;
      } catch (error) {
        if (this.#stopping.signal.aborted) break;
        // Like net/http: a failing accept (out of file handles, say) is waited out, never fatal.
        backoffMs = Math.min(
          Math.max(backoffMs * 2, FIRST_ACCEPT_BACKOFF_MS),
          MAX_ACCEPT_BACKOFF_MS,
        );
        this.#settings.log?.(
          `Cannot accept a connection: ${describeNetworkError(error)}; retrying in ${backoffMs} ms`,
        );
        await sleep(backoffMs, this.#stopping.signal);
        continue;
      }
      const id = this.#nextId++;
      if (this.#serving >= this.#settings.maxConnections) {
        this.#refuse(id, conn);
        continue;
      }
      // The slot is freed when the conversation is over, before the drain, so a
      // client that has seen its connection end finds its slot free.
      this.#serving++;
      this.#connections.add(new Connection(id, conn, this.#settings, this.#lifecycle));
    }
    await Promise.all([...this.#connections].map((c) => c.closed));
    await Promise.all(this.#refusals);
  }

  #refuse(id: number, conn: Deno.TcpConn): void {
    const limit = this.#settings.maxConnections;
    this.#settings.log?.(`#${id} ${peerOf(conn)} refused: too many connections (limit ${limit})`);
    const line = encoder.encode(`ERROR too many connections (limit ${limit}), try again later\n`);
    // A few bytes into a new socket's empty buffer: the write cannot block.
    const refusal = writeAll(conn, line).catch(() => {}).then(() => closeGracefully(conn));
    this.#refusals.add(refusal);
    refusal.then(() => this.#refusals.delete(refusal));
  }
}

/** A protocol turn, or the server's own decision to close an idle connection. */
type ConnectionTurn = Omit<Turn, "close"> & { close?: CloseReason | "idle timeout" };

/** What a {@linkcode Connection} tells its server, in this order. */
interface ConnectionLifecycle {
  /** The conversation is over: its slot is free, though the socket is still draining. */
  conversationOver(): void;
  /** The socket is closed. */
  closed(connection: Connection): void;
}

/** One client's connection: reads, answers through a {@linkcode ServerConversation}, logs. */
class Connection {
  readonly closed: Promise<void>;
  readonly #id: number;
  readonly #conn: Deno.TcpConn;
  readonly #settings: Settings;
  readonly #conversation: ServerConversation;
  readonly #lifecycle: ConnectionLifecycle;
  readonly #openedAt = performance.now();
  #lastInputAt = this.#openedAt;
  #buffer = new Uint8Array(FIRST_READ_BUFFER_BYTES);
  #read: Promise<number | null> | undefined;
  #writing = false;
  #stopping = false;
  #finished = false;
  #cutTimer: ReturnType<typeof setTimeout> | undefined;
  #bytesIn = 0;
  #bytesOut = 0;

  constructor(
    id: number,
    conn: Deno.TcpConn,
    settings: Settings,
    lifecycle: ConnectionLifecycle,
  ) {
    this.#id = id;
    this.#conn = conn;
    this.#settings = settings;
    this.#lifecycle = lifecycle;
    this.#conversation = new ServerConversation({ maxMessageBytes: settings.maxMessageBytes });
    this.#settings.log?.(`#${id} ${peerOf(conn)} connected`);
    this.closed = this.#run();
  }

  /** Asks the connection to close once the write in progress, if any, is done. */
  stop(): void {
    this.#stopping = true;
    if (this.#writing || this.#finished) return;
    // An idle connection is told at once: the peer sees end of input and may close
    // its side, which ends the pending read; a peer that stays is cut after the drain.
    this.#conn.closeWrite().catch(() => {});
    this.#cutTimer = setTimeout(() => this.cut(), DRAIN_MS);
  }

  /** Closes the connection now, whatever it is doing. */
  cut(): void {
    closeQuietly(this.#conn);
  }

  // A connection's whole life is this one async function, so an idle
  // connection is a single suspended frame, waiting for its read.
  async #run(): Promise<void> {
    let reason: string | undefined;
    try {
      this.#conn.setNoDelay(true);
      const idleMs = this.#settings.idleTimeoutMs;
      while (reason === undefined && !this.#stopping) {
        // Awaited at once, so a read that fails is always handled.
        this.#read ??= this.#conn.read(this.#buffer);
        const quietMs = this.#conversation.quietDelay(this.#settings.flushDelayMs);
        const idleLeftMs = idleMs === undefined
          ? undefined
          : this.#lastInputAt + idleMs - performance.now();
        const result = await withTimeout(this.#read, earliest(quietMs, idleLeftMs));
        if (this.#stopping) break;
        // Emptied once used: a suspended frame keeps what its variables hold,
        // and an idle connection has no use for its last reply.
        let turn: ConnectionTurn | undefined = this.#turnAfter(result, quietMs, idleLeftMs);
        // Written here rather than in a helper: one promise fewer per message.
        if (turn.reply.length > 0) {
          this.#writing = true;
          // Most replies go out in one write: only a partial write, or a stall
          // limit, needs writeAll's loop and timers.
          const written = idleMs === undefined ? await this.#conn.write(turn.reply) : 0;
          if (written < turn.reply.length) {
            await writeAll(this.#conn, turn.reply.subarray(written), idleMs);
          }
          this.#writing = false;
          this.#bytesOut += turn.reply.length;
        }
        reason = turn.close;
        turn = undefined;
      }
    } catch (error) {
      if (!this.#stopping) reason = describeNetworkError(error);
    }
    reason ??= "server stopping";
    this.#finished = true;
    this.#lifecycle.conversationOver();
    await closeGracefully(this.#conn, this.#read);
    clearTimeout(this.#cutTimer);
    this.#logClosed(reason);
    this.#lifecycle.closed(this);
  }

  #logClosed(reason: string): void {
    const seconds = ((performance.now() - this.#openedAt) / 1000).toFixed(3);
    this.#settings.log?.(
      `#${this.#id} ${
        peerOf(this.#conn)
      } closed (${reason}) after ${this.#conversation.messages} messages, ` +
        `${this.#bytesIn} bytes in, ${this.#bytesOut} bytes out, ${seconds} s`,
    );
  }

  /** What to answer after a read, a quiet pause, or the idle limit. */
  #turnAfter(
    result: number | null | typeof TIMED_OUT,
    quietMs: number | undefined,
    idleLeftMs: number | undefined,
  ): ConnectionTurn {
    if (result !== TIMED_OUT) return this.#take(result);
    if (idleLeftMs !== undefined && idleLeftMs <= (quietMs ?? Infinity)) return this.#idleTimeout();
    return this.#conversation.quiet();
  }

  #idleTimeout(): ConnectionTurn {
    const seconds = this.#settings.idleTimeoutMs! / 1000;
    const line = `ERROR idle timeout (nothing received for ${seconds} s)\n`;
    return { reply: encoder.encode(line), close: "idle timeout" };
  }

  #take(bytesRead: number | null) {
    this.#read = undefined;
    if (bytesRead === null) return this.#conversation.end();
    this.#bytesIn += bytesRead;
    if (this.#settings.idleTimeoutMs !== undefined) this.#lastInputAt = performance.now();
    // The reply may be a view of the read buffer, which is why #run reads into it
    // again only once the reply is written.
    const turn = this.#conversation.receive(this.#buffer.subarray(0, bytesRead));
    // A full buffer means a busy client: read bigger chunks from now on.
    if (bytesRead === this.#buffer.length && this.#buffer.length < MAX_READ_BUFFER_BYTES) {
      this.#buffer = new Uint8Array(Math.min(this.#buffer.length * 4, MAX_READ_BUFFER_BYTES));
    }
    return turn;
  }
}

const encoder = new TextEncoder();

function peerOf(conn: Deno.Conn): string {
  const { hostname, port } = conn.remoteAddr as Deno.NetAddr;
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

const USAGE = `uppercase-tcp server ${VERSION}: answers each line with the line in UPPERCASE.

Usage:
  deno task server [options]
  deno run --allow-net server.ts [options]

Options:
  --host <address>            Address to listen on (default ${DEFAULT_HOSTNAME})
  --port <n>                  Port to listen on; 0 picks a free one (default ${DEFAULT_PORT})
  --flush-delay <ms>          Answer unterminated input after this quiet pause;
                              0 waits for a newline (default ${DEFAULT_FLUSH_DELAY_MS})
  --max-message-bytes <n>     Longest message; longer ones get an ERROR line and
                              the connection is closed (default ${DEFAULT_MAX_MESSAGE_BYTES})
  --max-connections <n>       Most clients served at once; one more gets an
                              ERROR line and is closed (default ${DEFAULT_MAX_CONNECTIONS})
  --idle-timeout <seconds>    Close a connection that sends nothing, or reads
                              none of its replies, for this long; 0 never does
                              (default 0)
  --quiet                     Do not log connections on stderr
  -h, --help                  Show this help
  -V, --version               Show the version

Examples:
  deno task server --port 6000
  echo "hola servidor" | nc 127.0.0.1 5000      # prints HOLA SERVIDOR

Stop it with Ctrl-C (or SIGTERM): it closes every connection and exits 0.`;

/** Exit status when the server cannot listen (address in use, no permission). */
export const EXIT_CANNOT_LISTEN = 3;

/**
 * Runs the server's command line until SIGINT or SIGTERM.
 *
 * @param args The command-line arguments.
 * @returns The exit status.
 */
export async function main(args: string[]): Promise<number> {
  let options: ServeOptions;
  try {
    const flags = parseFlags(args, {
      host: { type: "string" },
      port: { type: "string" },
      "flush-delay": { type: "string" },
      "max-message-bytes": { type: "string" },
      "max-connections": { type: "string" },
      "idle-timeout": { type: "string" },
      quiet: { type: "boolean" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "V" },
    });
    if (flags.help) return print(USAGE);
    if (flags.version) return print(VERSION);
    options = {
      hostname: flags.host ?? DEFAULT_HOSTNAME,
      port: integerFlag("port", flags.port, { fallback: DEFAULT_PORT, min: 0, max: 65535 }),
      flushDelayMs: integerFlag("flush-delay", flags["flush-delay"], {
        fallback: DEFAULT_FLUSH_DELAY_MS,
        min: 0,
        max: 60_000,
      }),
      maxMessageBytes: integerFlag("max-message-bytes", flags["max-message-bytes"], {
        fallback: DEFAULT_MAX_MESSAGE_BYTES,
        min: 1,
        max: 1024 * 1024 * 1024,
      }),
      maxConnections: integerFlag("max-connections", flags["max-connections"], {
        fallback: DEFAULT_MAX_CONNECTIONS,
        min: 1,
        max: 1_000_000,
      }),
      idleTimeoutMs: 1000 * integerFlag("idle-timeout", flags["idle-timeout"], {
        fallback: 0,
        min: 0,
        max: 7 * 24 * 3600,
      }),
      log: flags.quiet ? null : undefined,
    };
  } catch (error) {
    if (error instanceof UsageError) return reportUsageError(error);
    throw error;
  }

  let server: UppercaseServer;
  try {
    server = serve(options);
  } catch (error) {
    console.error(describeListenError(error, `${options.hostname}:${options.port}`));
    return EXIT_CANNOT_LISTEN;
  }
  console.log(`Listening on ${server.addr.hostname}:${server.addr.port} (Ctrl-C to stop)`);
  const stop = () => void server.stop();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  await server.finished;
  for (const signal of signals) Deno.removeSignalListener(signal, stop);
  return 0;
}

function describeListenError(error: unknown, address: string): string {
  const action = `Cannot listen on ${address}`;
  if (error instanceof Deno.errors.AddrInUse) {
    return `${action}: address already in use. Stop the program using it, or pick another port with --port`;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return `${action}: permission denied. Ports below 1024 need privileges; pick another with --port`;
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return `${action}: no such address on this machine. Check --host`;
  }
  if (error instanceof Deno.errors.NotCapable) {
    return `${action}: network access not granted. Run it with deno task server, or deno run --allow-net`;
  }
  return `${action}: ${error instanceof Error ? error.message : error}`;
}

function print(text: string): number {
  console.log(text);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
