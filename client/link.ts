/**
 * The client's connection to its server, and its replies, kept up. Without
 * `--reconnect` it is one connection, and losing it ends the session. With
 * it, a lost connection (closed, reset, refused at the start, turned away at
 * the server's connection limit, or silent past the reply timeout) is made
 * again, with the waits of {@linkcode retryDelay}, until `--retry-for` has
 * passed since the loss without a working connection. The waits grow across
 * attempts until the server answers a message, so a crowd of clients turned
 * away by a full server backs off rather than hammering it. People are told
 * once per outage, on stderr.
 *
 * No wait is without a bound: each connect attempt has `--connect-timeout`,
 * and while lines wait for replies, a server silent for `--reply-timeout`
 * counts as lost, as does a write that makes no progress for that long. A
 * host that lost power sends nothing, and nothing else would end the wait.
 *
 * @module
 */

import * as socket from "../io/socket.ts";
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
 * How long to wait before attempt `attempt` (from 0): {@linkcode FIRST_RETRY_MS}
 * doubling to {@linkcode MAX_RETRY_MS}, a random point in the upper half of that step, so that clients cut off
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
export interface ReconnectOptions {
  /** How long to go on trying without a working connection, in ms. */
  retryForMs: number;
  /** Tells people about an outage and its end, one line each. */
  notify(line: string): Promise<void>;
}

/** What a {@linkcode Link} connects to, and how long it waits. */
export interface LinkOptions {
  /** Where the server is, and whether it speaks TLS. */
  server: ServerAddress;
  /** How the server's replies are framed. */
  framing: ReplyFraming;
  /** How long one connect attempt, TLS handshake included, may take, in ms. */
  connectTimeoutMs: number;
  /**
   * How long the server may stay silent while lines wait for replies, and how
   * long a write may make no progress, before the connection counts as lost, in ms.
   */
  replyTimeoutMs: number;
  /** Connect again when the connection is lost (`--reconnect`); one connection when left out. */
  reconnect?: ReconnectOptions;
}

/**
 * The connection was lost before the client was done: the server's side
 * ended, the server turned the client away at its connection limit, a write
 * failed, or the server stayed silent past the reply timeout. With
 * `--reconnect` it is made again.
 */
export class ConnectionLost extends Error {
  override name = "ConnectionLost";
  /** Why a write failed, when that is how the loss showed. */
  readonly writeFailure: string | undefined;
  /** Why the client gave the connection up, when the server's side has not ended. */
  readonly reason: string | undefined;

  /** @param cause How the loss showed, when it was not the server's side ending. */
  constructor(cause: { writeFailure?: string; reason?: string } = {}) {
    super(cause.writeFailure ?? cause.reason ?? "the server's side ended");
    this.writeFailure = cause.writeFailure;
    this.reason = cause.reason;
  }

  /** When the loss happened, for people: while sending, if a write failed, or `otherwise`. */
  when(otherwise: string): string {
    return this.writeFailure ? `while sending (${this.writeFailure})` : otherwise;
  }
}

/** The client's connection to its server, made again when lost if it may be. */
export class Link {
  readonly #options: LinkOptions;
  #conn: Deno.TcpConn | Deno.TlsConn;
  #replies: ReplyStream;
  /** When the current outage began, on the `performance.now()` clock; `undefined` while the connection works. */
  #outageSince: number | undefined;
  /** The line that ends the outage's notice, once people were told of one. */
  #ending: string | undefined;
  #everWorked = false;
  /** Attempts to connect since the server last answered a message: the next wait grows with it. */
  #attempts = 0;
  /** Aborted by {@linkcode close}: an attempt to connect again under way gives up. */
  readonly #closing = new AbortController();

  private constructor(options: LinkOptions, conn: Deno.TcpConn | Deno.TlsConn) {
    this.#options = options;
    this.#conn = conn;
    this.#replies = this.#read(conn);
  }

  /**
   * Connects; with `reconnect`, goes on trying while there is no server
   * yet, as after a lost connection.
   *
   * @throws {SessionEnd} When it cannot connect (3), or gives up trying (3).
   */
  static async open(options: LinkOptions): Promise<Link> {
    const { server, reconnect } = options;
    const started = performance.now();
    // With --reconnect, the outage starts now, and --retry-for bounds it whole.
    const timeoutMs = Math.min(options.connectTimeoutMs, reconnect?.retryForMs ?? Infinity);
    try {
      return new Link(options, await connect(server, { timeoutMs }));
    } catch (error) {
      if (!reconnect || !(error instanceof CannotConnect) || !error.retryable) throw error;
      await reconnect.notify(
        `No server at ${socket.formatAddress(server)} yet; waiting for one...`,
      );
      const attempt: Attempt = { since: started, attempts: 0, why: error.detail };
      const link = new Link(options, await connectAgain(options, attempt));
      link.#attempts = attempt.attempts;
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
    return this.#options.reconnect !== undefined;
  }

  /**
   * Sends bytes on the connection now.
   *
   * @throws {ConnectionLost} When the connection fails, or a write makes no
   *   progress for the reply timeout.
   */
  async send(bytes: Uint8Array): Promise<void> {
    try {
      await socket.writeAll(this.#conn, bytes, this.#options.replyTimeoutMs);
    } catch (error) {
      throw new ConnectionLost({ writeFailure: socket.describeNetworkError(error) });
    }
  }

  /**
   * Waits for `event` while lines wait for replies: gives the connection up
   * once nothing at all has come from the server for the reply timeout, counted
   * from `since` (when the wait began) or from the last bytes it sent, whichever
   * is later.
   *
   * @throws {ConnectionLost} When the server stayed silent that long.
   */
  async withinReplyTimeout<T>(event: Promise<T>, since: number): Promise<T> {
    const timeoutMs = this.#options.replyTimeoutMs;
    for (;;) {
      const left = Math.max(since, this.#replies.heardAt) + timeoutMs - performance.now();
      if (left <= 0) {
        throw new ConnectionLost({
          reason: `nothing from the server for ${timeoutMs / 1000} s (--reply-timeout)`,
        });
      }
      const result = await socket.withTimeout(event, left);
      if (result !== socket.TIMED_OUT) return result;
    }
  }

  /** The server answered on this connection: it works, and any outage is over. */
  async worked(): Promise<void> {
    this.#everWorked = true;
    this.#outageSince = undefined;
    this.#attempts = 0;
    await this.#announce();
  }

  /**
   * Tells people that the outage is over, if they were told of one, while
   * nothing waits for an answer: once the server has kept the connection for
   * {@linkcode SETTLE_MS}, as one that turns clients away closes at once.
   */
  async connected(): Promise<void> {
    if (this.#ending === undefined) return;
    if (await socket.withTimeout(this.#replies.ended, SETTLE_MS) !== socket.TIMED_OUT) return;
    await this.#announce();
  }

  async #announce(): Promise<void> {
    const ending = this.#ending;
    this.#ending = undefined;
    if (ending) await this.#options.reconnect!.notify(ending);
  }

  /**
   * Makes the connection again after it was lost (`--reconnect` only). The
   * replies of the lost one are over: what they held in full was taken.
   *
   * @throws {SessionEnd} When `--retry-for` passes without a working connection:
   *   3 if none ever worked, 4 if it lost the server and could not get it back.
   */
  async reconnect(): Promise<void> {
    this.#outageSince ??= performance.now();
    if (this.#ending === undefined) {
      await this.#options.reconnect!.notify("Connection lost; reconnecting...");
      this.#ending = this.#everWorked ? "Reconnected." : "Connected.";
    }
    this.#closeConnection();
    await this.#replies.ended;
    const attempt: Attempt = {
      since: this.#outageSince,
      attempts: this.#attempts,
      everWorked: this.#everWorked,
      closing: this.#closing.signal,
    };
    try {
      this.#conn = await connectAgain(this.#options, attempt);
    } finally {
      this.#attempts = attempt.attempts;
    }
    this.#replies = this.#read(this.#conn);
  }

  /** Closes the connection for good, gives up connecting again, and waits for the replies to end. */
  async close(): Promise<void> {
    this.#closing.abort();
    this.#closeConnection();
    await this.#replies.ended;
  }

  #closeConnection(): void {
    this.#replies.cancel();
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
  }

  #read(conn: Deno.Conn): ReplyStream {
    // With --reconnect, a reply cut off by a lost connection is thrown away: its line is sent again.
    return new ReplyStream(conn, { ...this.#options.framing, keepCutReply: !this.reconnects });
  }
}

/** Where an outage stands, for {@linkcode connectAgain}. */
interface Attempt {
  /** When the outage began, on the `performance.now()` clock. */
  since: number;
  /** Attempts made since the server last answered; counted up as it tries. */
  attempts: number;
  /** Whether a connection ever worked: the exit status when it gives up. */
  everWorked?: boolean;
  /** Why the last attempt failed, for the line that gives up. */
  why?: string;
  /** Gives up at once when aborted. */
  closing?: AbortSignal;
}

/**
 * Tries to connect, waiting longer each time, until it does or `--retry-for`
 * has passed since the outage began. Each attempt is bounded by
 * `--connect-timeout` and by the time left.
 */
async function connectAgain(
  options: LinkOptions,
  attempt: Attempt,
): Promise<Deno.TcpConn | Deno.TlsConn> {
  const { server, reconnect } = options;
  const closing = attempt.closing ?? new AbortController().signal;
  const deadline = attempt.since + reconnect!.retryForMs;
  let why = attempt.why ?? "";
  for (;;) {
    await socket.sleep(
      Math.min(retryDelay(attempt.attempts++), deadline - performance.now()),
      closing,
    );
    const left = deadline - performance.now();
    if (closing.aborted) throw new SessionEnd(EXIT.CONNECTION_LOST);
    if (left <= 0) throw giveUp(options, { why, everWorked: attempt.everWorked ?? false });
    const timeoutMs = Math.min(options.connectTimeoutMs, left);
    try {
      return await connect(server, { timeoutMs, signal: closing });
    } catch (error) {
      if (!(error instanceof CannotConnect) || !error.retryable) throw error;
      // An attempt cut short by --retry-for says less than a whole one before it.
      if (why === "" || timeoutMs === options.connectTimeoutMs) why = error.detail;
    }
  }
}

function giveUp(
  options: LinkOptions,
  outage: { why: string; everWorked: boolean },
): SessionEnd {
  const within = `within ${options.reconnect!.retryForMs / 1000} s (--retry-for)`;
  const because = outage.why ? `: ${outage.why}` : "";
  return outage.everWorked
    ? new SessionEnd(
      EXIT.CONNECTION_LOST,
      `Connection lost, and not made again ${within}${because}`,
    )
    : new SessionEnd(
      EXIT.NO_SERVER,
      `Cannot connect to ${socket.formatAddress(options.server)} ${within}${because}`,
    );
}
