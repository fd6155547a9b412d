/**
 * One client's connection: it completes the TLS handshake first when the
 * server speaks TLS, or reads the PROXY header first when it is behind a
 * proxy, then reads, answers through `ServerConversation`, times
 * the quiet pause and the idle limit, logs, and closes without losing the last
 * bytes.
 *
 * @module
 */

import { ERROR_LINES } from "../protocol.ts";
import { ServerConversation, type Turn } from "./conversation.ts";
import {
  closeGracefully,
  closeQuietly,
  describeNetworkError,
  DRAIN_MS,
  formatAddress,
  isHostUnreachable,
  TIMED_OUT,
  withTimeout,
  writeAll,
  WriteStalled,
} from "../io/socket.ts";
import type { Settings } from "./settings.ts";
import type { Logger } from "./log.ts";
import type { CloseReason, ServerStats, StatsSnapshot } from "./stats.ts";
import { parseProxyHeader, type ProxiedAddress } from "./proxy_header.ts";
import { FAIRNESS_CHECK_BYTES, mustYield, nextTurn, settled } from "./fairness.ts";
import { overAddressLimit } from "./address_counts.ts";
import { concat } from "../protocol/text.ts";
import type { AcceptedTls } from "./tls_front.ts";

// Small, so an idle connection costs little; a read that fills it grows it.
const FIRST_READ_BUFFER_BYTES = 128;
const MAX_READ_BUFFER_BYTES = 64 * 1024;

/** A connection as the server accepts it: plain TCP, or TLS whose handshake is still to come. */
export type AcceptedConn = Deno.TcpConn | AcceptedTls;

/** What a {@linkcode Connection} shares with the other connections of its server, and tells it. */
export interface ConnectionContext {
  settings: Settings;
  /** Where it logs; `undefined` for no log. */
  logger: Logger | undefined;
  /** Where it adds its counts (bytes, messages, why it closed) once it has closed. */
  stats: ServerStats;
  /** The conversation is over: its slot is free, though the socket is still draining. */
  conversationOver(): void;
  /**
   * Counts a connection from `address` against `--max-connections-per-address`.
   *
   * @returns Whether it may be served; one that may must {@linkcode leave} when it closes.
   */
  admit(address: string): boolean;
  /** A connection {@linkcode admit}ted from `address` has closed. */
  leave(address: string): void;
  /** The socket is closed. */
  closed(connection: Connection): void;
}

/** What a {@linkcode Connection} starts with besides its socket. */
export interface ConnectionStart {
  /** The id its server gave it, as the log shows it. */
  id: number;
  /** What it shares with its server. */
  context: ConnectionContext;
  /**
   * The client's address, when its server has admitted it already; behind a
   * proxy, the connection admits the address its PROXY header gives.
   */
  admitted?: string;
}

/** Why a connection closed: the reason the metrics and the JSON log give, and the words the text log gives. */
interface Closing {
  reason: CloseReason;
  detail: string;
}

/** One client's connection: reads, answers through a {@linkcode ServerConversation}, logs. */
export class Connection {
  readonly closed: Promise<void>;
  readonly #id: number;
  readonly #conn: AcceptedConn;
  /** The client's address as a PROXY header gave it, if one did; otherwise the socket's stands. */
  #proxiedSource: ProxiedAddress | undefined;
  readonly #context: ConnectionContext;
  readonly #conversation: ServerConversation;
  // Whole milliseconds, which V8 keeps in the object rather than boxed apart.
  readonly #openedAt = Math.floor(performance.now());
  #lastInputAt = this.#openedAt;
  #buffer = new Uint8Array(FIRST_READ_BUFFER_BYTES);
  #read: Promise<number | null> | undefined;
  #writing = false;
  #stopping = false;
  #finished = false;
  #cutTimer: ReturnType<typeof setTimeout> | undefined;
  #bytesIn = 0;
  #bytesOut = 0;
  #nextFairnessCheck = FAIRNESS_CHECK_BYTES;

  /** The client's address as counted against `--max-connections-per-address`, once admitted. */
  #admitted: string | undefined;

  /**
   * Starts serving `conn`.
   *
   * @param conn The accepted connection.
   * @param start The id its server gave it, what it shares with the server, and
   *   the address admitted for it, if any.
   */
  constructor(conn: AcceptedConn, { id, context, admitted }: ConnectionStart) {
    this.#id = id;
    this.#conn = conn;
    this.#context = context;
    this.#admitted = admitted;
    const { settings, logger } = context;
    this.#conversation = new ServerConversation({ maxMessageBytes: settings.maxMessageBytes });
    // Behind a proxy, the client's address is known once the header has come.
    if (!settings.proxy) logger?.log({ event: "connected", id, peer: this.#peer });
    this.closed = this.#run();
  }

  /**
   * Adds what it has done so far to `stats`: its server adds its open
   * connections' counts when asked, so that serving a message adds to nothing
   * shared, and each connection adds its own once when it closes.
   *
   * @param closed Why it closed, once it has.
   */
  countInto(stats: StatsSnapshot, closed?: CloseReason): void {
    stats.messages += this.#conversation.messages;
    stats.receivedBytes += this.#bytesIn;
    stats.sentBytes += this.#bytesOut;
    if (closed) stats.closed[closed]++;
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
    const { settings, stats } = this.#context;
    let closing: Closing | undefined;
    try {
      // Replies go out as soon as they are written, and a client whose host
      // vanished is found by TCP keepalive. (Deno offers neither switch for TLS.)
      if ("setNoDelay" in this.#conn) {
        this.#conn.setNoDelay(true);
        this.#conn.setKeepAlive(true);
      } else closing = await this.#handshake(this.#conn, settings.tls!.handshakeTimeoutMs);
      const idleMs = settings.idleTimeoutMs;
      // Bytes that came with the PROXY header: the first input, before any read.
      let first: Uint8Array | undefined;
      if (closing === undefined && settings.proxy) {
        const header = await this.#readProxyHeader(settings.proxy.headerTimeoutMs);
        if ("reason" in header) closing = header;
        else {
          if (header.length > 0) first = header;
          closing = await this.#admitProxied();
        }
      }
      while (closing === undefined && !this.#stopping) {
        // Emptied once used: a suspended frame keeps what its variables hold,
        // and an idle connection has no use for its last reply.
        let turn: Turn | undefined;
        if (first) {
          turn = this.#conversation.receiveInPlace(first);
          first = undefined;
        } else {
          // Awaited at once, so a read that fails is always handled.
          this.#read ??= this.#conn.read(this.#buffer);
          const quietMs = this.#conversation.quietDelay(settings.flushDelayMs);
          const idleLeftMs = idleMs === undefined
            ? undefined
            : this.#lastInputAt + idleMs - performance.now();
          const result = await withTimeout(this.#read, earliest(quietMs, idleLeftMs));
          if (this.#stopping) break;
          turn = result === TIMED_OUT ? this.#afterPause(quietMs, idleLeftMs) : this.#take(result);
        }
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
        if (turn.close) closing = { reason: turn.close, detail: turn.close.replaceAll("_", " ") };
        turn = undefined;
        // Fairness: a client whose data is always ready must not hold the loop.
        if (this.#bytesIn >= this.#nextFairnessCheck) {
          this.#nextFairnessCheck = this.#bytesIn + FAIRNESS_CHECK_BYTES;
          if (mustYield()) await nextTurn();
        }
      }
    } catch (error) {
      if (!this.#stopping) closing = closingAfter(error);
    }
    closing ??= { reason: "server_stopping", detail: "server stopping" };
    this.#finished = true;
    this.#context.conversationOver();
    await closeGracefully(this.#conn, this.#read);
    clearTimeout(this.#cutTimer);
    this.countInto(stats, closing.reason);
    this.#logClosed(closing);
    if (this.#admitted !== undefined) this.#context.leave(this.#admitted);
    this.#context.closed(this);
    await settled();
  }

  /**
   * Behind a proxy, counts the client's address from the PROXY header against
   * `--max-connections-per-address`; over it, the client gets the ERROR line.
   *
   * @returns Why the connection is closed, if it is over the limit.
   */
  async #admitProxied(): Promise<Closing | undefined> {
    const address = (this.#proxiedSource ?? this.#conn.remoteAddr as Deno.NetAddr).hostname;
    if (this.#context.admit(address)) {
      this.#admitted = address;
      return undefined;
    }
    const { line, ...refused } = overAddressLimit(
      address,
      this.#context.settings.maxConnectionsPerAddress!,
    );
    const bytes = encoder.encode(line);
    await writeAll(this.#conn, bytes, DRAIN_MS);
    this.#bytesOut += bytes.length;
    return refused;
  }

  /**
   * Completes the TLS handshake, within the time allowed: a client that stays
   * silent or speaks something else must not hold its slot for ever.
   *
   * @returns Why the connection is closed, if the handshake did not complete.
   */
  async #handshake(conn: AcceptedTls, timeoutMs: number): Promise<Closing | undefined> {
    const handshake = conn.handshake();
    try {
      if (await withTimeout(handshake, timeoutMs) !== TIMED_OUT) return undefined;
    } catch (error) {
      return {
        reason: "tls_handshake",
        detail: `TLS handshake failed: ${describeNetworkError(error)}`,
      };
    }
    handshake.catch(() => {}); // it fails when the connection is closed; nobody waits for it
    return { reason: "tls_handshake", detail: `no TLS handshake within ${timeoutMs / 1000} s` };
  }

  /**
   * Reads the PROXY header that must start the connection, and logs the
   * connection with the client's address it gives.
   *
   * @returns The bytes that came after the header, or why the connection is refused.
   */
  async #readProxyHeader(timeoutMs: number): Promise<Uint8Array | Closing> {
    const refused = (detail: string): Closing => ({ reason: "proxy_header", detail });
    const deadline = performance.now() + timeoutMs;
    let received: Uint8Array = new Uint8Array(0);
    for (;;) {
      this.#read ??= this.#conn.read(this.#buffer);
      const bytesRead = await withTimeout(this.#read, deadline - performance.now());
      if (bytesRead === TIMED_OUT) {
        return refused(`no complete PROXY header within ${timeoutMs / 1000} s`);
      }
      this.#read = undefined;
      if (bytesRead === null) return refused("end of input before a complete PROXY header");
      this.#bytesIn += bytesRead;
      // A copy: the read buffer is read into again.
      received = concat([received, this.#buffer.slice(0, bytesRead)]);
      const header = parseProxyHeader(received);
      if (header.status === "invalid") return refused(header.reason);
      if (header.status === "complete") {
        this.#proxiedSource = header.source;
        this.#context.logger?.log({
          event: "connected",
          id: this.#id,
          peer: this.#peer,
          via: this.#via,
          local: header.local,
        });
        return received.subarray(header.length);
      }
    }
  }

  /** The client's address, as the log shows it. */
  get #peer(): string {
    return formatAddress(this.#proxiedSource ?? this.#conn.remoteAddr as Deno.NetAddr);
  }

  /** The proxy's address, when a PROXY header gave the client's. */
  get #via(): string | undefined {
    return this.#proxiedSource && formatAddress(this.#conn.remoteAddr as Deno.NetAddr);
  }

  #logClosed(closing: Closing): void {
    this.#context.logger?.log({
      event: "closed",
      id: this.#id,
      peer: this.#peer,
      via: this.#via,
      ...closing,
      messages: this.#conversation.messages,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      seconds: Math.round(performance.now() - this.#openedAt) / 1000,
    });
  }

  /** What to answer once a read has waited its time: the idle limit reached, or a quiet pause (rule 2). */
  #afterPause(quietMs: number | undefined, idleLeftMs: number | undefined): Turn {
    if (idleLeftMs !== undefined && idleLeftMs <= (quietMs ?? Infinity)) return this.#idleTimeout();
    return this.#conversation.quiet();
  }

  #idleTimeout(): Turn {
    const line = ERROR_LINES.idleTimeout(this.#context.settings.idleTimeoutMs! / 1000);
    return { reply: encoder.encode(line), close: "idle_timeout" };
  }

  #take(bytesRead: number | null) {
    this.#read = undefined;
    if (bytesRead === null) return this.#conversation.end();
    this.#bytesIn += bytesRead;
    if (this.#context.settings.idleTimeoutMs !== undefined) {
      this.#lastInputAt = Math.floor(performance.now());
    }
    // The reply may be a view of the read buffer, which is why #run reads into it
    // again only once the reply is written.
    const turn = this.#conversation.receiveInPlace(this.#buffer.subarray(0, bytesRead));
    // A full buffer means a busy client: read bigger chunks from now on.
    if (bytesRead === this.#buffer.length && this.#buffer.length < MAX_READ_BUFFER_BYTES) {
      this.#buffer = new Uint8Array(Math.min(this.#buffer.length * 4, MAX_READ_BUFFER_BYTES));
    }
    return turn;
  }
}

const encoder = new TextEncoder();

/** Why a connection closed after `error`: the client left, stopped reading, or something else. */
function closingAfter(error: unknown): Closing {
  // Deno's TLS errors have no type of their own: this one is known by its text.
  if (error instanceof Error && /without sending TLS close_notify/.test(error.message)) {
    return { reason: "reset", detail: "the client closed without TLS close_notify" };
  }
  const detail = describeNetworkError(error);
  if (
    error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionAborted
  ) {
    return { reason: "reset", detail };
  }
  // A write that stalled past --idle-timeout: the client stopped reading its replies.
  if (error instanceof WriteStalled) return { reason: "idle_timeout", detail };
  // TCP keepalive (or a write's retries) found nothing at the other end.
  if (isHostUnreachable(error)) return { reason: "peer_unreachable", detail };
  return { reason: "other", detail };
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}
