/**
 * The client's connection to its server, and its replies, kept up. Without
 * `--reconnect` it is one connection, and losing it ends the session. With
 * it, a lost connection (closed, reset, refused at the start, or turned away
 * at the server's connection limit) is made again, waiting 50 ms, doubling to
 * 2 s, each wait a random point in the upper half of its step, until
 * `--retry-for` has passed without a working connection. People are told once
 * per outage, on stderr.
 *
 * @module
 */

import {
  describeNetworkError,
  formatAddress,
  sleep,
  TIMED_OUT,
  withTimeout,
  writeAll,
} from "../io.ts";
import { EXIT } from "../cli/exit_status.ts";
import { CannotConnect, connect, type ServerAddress } from "./connect.ts";
import { type ReplyFraming, ReplyStream } from "./replies.ts";
import { SessionEnd } from "./session.ts";

/** The first wait before connecting again, in ms. */
export const FIRST_RETRY_MS = 50;
/** The longest wait between two attempts, in ms. */
export const MAX_RETRY_MS = 2_000;
/** How long a new connection must stay open, with nothing to answer, to count as made again, in ms. */
const SETTLE_MS = 250;

/**
 * How long to wait before attempt `attempt` (from 0): 50 ms doubling to 2 s,
 * a random point in the upper half of that step, so that clients cut off
 * together do not all come back at once.
 *
 * @example The first waits
 * ```ts
 * import assert from "node:assert/strict";
 * import { retryDelay } from "./link.ts";
 *
 * assert.equal(retryDelay(0, () => 1), 50);
 * assert.equal(retryDelay(0, () => 0), 25);
 * assert.equal(retryDelay(10, () => 1), 2_000);
 * ```
 *
 * @param attempt How many attempts have failed in this outage.
 * @param random A number from 0 to 1, as `Math.random` gives.
 * @returns The wait, in ms.
 */
export function retryDelay(attempt: number, random: () => number = Math.random): number {
  const step = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** attempt);
  return step / 2 + random() * step / 2;
}

/** How the client connects again, with `--reconnect`. */
export interface Reconnecting {
  /** How long to go on trying without a working connection, in ms. */
  retryForMs: number;
  /** Tells people about an outage and its end, one line each. */
  notify(line: string): Promise<void>;
}

/**
 * The connection was lost before the client was done: the server's side
 * ended, the server turned the client away at its connection limit, or a
 * write failed. With `--reconnect` it is made again.
 */
export class ConnectionLost extends Error {
  override name = "ConnectionLost";

  /** @param writeFailure Why a write failed, when that is how the loss showed. */
  constructor(readonly writeFailure?: string) {
    super(writeFailure ?? "the server's side ended");
  }

  /** When the loss happened, for people: while sending, if a write failed, or `otherwise`. */
  when(otherwise: string): string {
    return this.writeFailure ? `while sending (${this.writeFailure})` : otherwise;
  }
}

/** The client's connection to its server, made again when lost if it may be. */
export class Link {
  readonly #server: ServerAddress;
  readonly #framing: ReplyFraming;
  readonly #reconnecting: Reconnecting | undefined;
  #conn: Deno.TcpConn | Deno.TlsConn;
  #replies: ReplyStream;
  /** When the current outage began, on the `performance.now()` clock; `undefined` while the connection works. */
  #outageSince: number | undefined;
  /** The line that ends the outage's notice, once people were told of one. */
  #ending: string | undefined;
  #everWorked = false;
  /** Aborted by {@linkcode close}: an attempt to connect again under way gives up. */
  readonly #closing = new AbortController();

  private constructor(
    server: ServerAddress,
    framing: ReplyFraming,
    reconnecting: Reconnecting | undefined,
    conn: Deno.TcpConn | Deno.TlsConn,
  ) {
    this.#server = server;
    this.#framing = framing;
    this.#reconnecting = reconnecting;
    this.#conn = conn;
    this.#replies = this.#read(conn);
  }

  /**
   * Connects; with `reconnecting`, goes on trying while there is no server
   * yet, as after a lost connection.
   *
   * @throws {SessionEnd} When it cannot connect (3), or gives up trying (3).
   */
  static async open(
    server: ServerAddress,
    framing: ReplyFraming,
    reconnecting?: Reconnecting,
  ): Promise<Link> {
    try {
      return new Link(server, framing, reconnecting, await connect(server));
    } catch (error) {
      if (!reconnecting || !(error instanceof CannotConnect) || !error.retryable) throw error;
      const started = performance.now();
      const at = formatAddress(server);
      await reconnecting.notify(`No server at ${at} yet; waiting for one...`);
      const conn = await connectAgain(
        server,
        reconnecting,
        started,
        false,
        new AbortController().signal,
      );
      const link = new Link(server, framing, reconnecting, conn);
      link.#outageSince = started;
      link.#ending = "Connected.";
      return link;
    }
  }

  /** The connection now. */
  get conn(): Deno.TcpConn | Deno.TlsConn {
    return this.#conn;
  }

  /** The replies on the connection now. */
  get replies(): ReplyStream {
    return this.#replies;
  }

  /** Whether a lost connection is made again (`--reconnect`). */
  get reconnects(): boolean {
    return this.#reconnecting !== undefined;
  }

  /**
   * Sends bytes on the connection now.
   *
   * @throws {ConnectionLost} When the connection fails.
   */
  async send(bytes: Uint8Array): Promise<void> {
    try {
      await writeAll(this.#conn, bytes);
    } catch (error) {
      throw new ConnectionLost(describeNetworkError(error));
    }
  }

  /** The server answered on this connection: it works, and any outage is over. */
  async worked(): Promise<void> {
    this.#everWorked = true;
    this.#outageSince = undefined;
    await this.#announce();
  }

  /**
   * Tells people that the outage is over, if they were told of one, while
   * nothing waits for an answer: once the server has kept the connection for
   * {@linkcode SETTLE_MS}, as one that turns clients away closes at once.
   */
  async connected(): Promise<void> {
    if (this.#ending === undefined) return;
    if (await withTimeout(this.#replies.ended, SETTLE_MS) !== TIMED_OUT) return;
    await this.#announce();
  }

  async #announce(): Promise<void> {
    const ending = this.#ending;
    this.#ending = undefined;
    if (ending) await this.#reconnecting!.notify(ending);
  }

  /**
   * Makes the connection again after it was lost (`--reconnect` only). The
   * replies of the lost one are over: what they held in full was taken.
   *
   * @throws {SessionEnd} When `--retry-for` passes without a working connection:
   *   3 if none ever worked, 4 if it lost the server and could not get it back.
   */
  async reconnect(): Promise<void> {
    const reconnecting = this.#reconnecting!;
    this.#outageSince ??= performance.now();
    if (this.#ending === undefined) {
      await reconnecting.notify("Connection lost; reconnecting...");
      this.#ending = this.#everWorked ? "Reconnected." : "Connected.";
    }
    this.#closeConnection();
    await this.#replies.ended;
    this.#conn = await connectAgain(
      this.#server,
      reconnecting,
      this.#outageSince,
      this.#everWorked,
      this.#closing.signal,
    );
    this.#replies = this.#read(this.#conn);
  }

  /** Closes the connection for good, gives up connecting again, and waits for the replies to end. */
  async close(): Promise<void> {
    this.#closing.abort();
    this.#closeConnection();
    await this.#replies.ended;
  }

  #closeConnection(): void {
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
  }

  #read(conn: Deno.Conn): ReplyStream {
    // With --reconnect, a reply cut off by a lost connection is thrown away: its line is sent again.
    return new ReplyStream(conn, { ...this.#framing, keepCutReply: !this.#reconnecting });
  }
}

/**
 * Tries to connect, waiting longer each time, until it does or `--retry-for`
 * has passed since `since`.
 */
async function connectAgain(
  server: ServerAddress,
  reconnecting: Reconnecting,
  since: number,
  everWorked: boolean,
  closing: AbortSignal,
): Promise<Deno.TcpConn | Deno.TlsConn> {
  const deadline = since + reconnecting.retryForMs;
  let why = "";
  for (let attempt = 0;; attempt++) {
    await sleep(Math.min(retryDelay(attempt), deadline - performance.now()), closing);
    const left = deadline - performance.now();
    if (closing.aborted) throw new SessionEnd(EXIT.CONNECTION_LOST);
    if (left <= 0) throw giveUp(server, reconnecting.retryForMs, everWorked, why);
    const connecting = connect(server);
    try {
      const conn = await withTimeout(connecting, left);
      if (conn !== TIMED_OUT) return conn;
      connecting.then((late) => late.close(), () => {});
    } catch (error) {
      if (!(error instanceof CannotConnect) || !error.retryable) throw error;
      why = error.message.slice(error.message.indexOf(": ") + 2);
    }
  }
}

function giveUp(
  server: ServerAddress,
  retryForMs: number,
  everWorked: boolean,
  why: string,
): SessionEnd {
  const within = `within ${retryForMs / 1000} s (--retry-for)`;
  const because = why ? `: ${why}` : "";
  return everWorked
    ? new SessionEnd(
      EXIT.CONNECTION_LOST,
      `Connection lost, and not made again ${within}${because}`,
    )
    : new SessionEnd(
      EXIT.NO_SERVER,
      `Cannot connect to ${formatAddress(server)} ${within}${because}`,
    );
}
