/**
 * The server's accept loop: it takes connections from a listener, hands each
 * to a `Connection`, refuses those over the connection limit, sorts failed
 * accepts by what they mean, and stops cleanly.
 *
 * @module
 */

import {
  closeGracefully,
  closeQuietly,
  describeNetworkError,
  formatAddress,
  sleep,
  TIMED_OUT,
  withTimeout,
  writeAll,
} from "../io/socket.ts";
import { ERROR_LINES } from "../protocol.ts";
import { type AcceptedConn, Connection, type ConnectionContext } from "./connection.ts";
import { Logger } from "./log.ts";
import { type RefuseReason, ServerStats, type StatsSnapshot } from "./stats.ts";
import type { Settings } from "./settings.ts";
import { type ConnectionSlots, LocalSlots } from "./slots.ts";
import { settled } from "./fairness.ts";
import { acceptBackoff, classifyAcceptError } from "./accept_errors.ts";
import { AddressCounts, overAddressLimit } from "./address_counts.ts";

/** How long {@linkcode UppercaseServer.stop} lets connections finish before cutting them, in ms. */
export const STOP_GRACE_MS = 1_000;

// How often, at most, the loop logs the accepts it lost to clients that left first, in ms.
const CLIENT_GONE_SUMMARY_MS = 1_000;

/**
 * How many accepts in a row may fail in a way the loop cannot name before it
 * gives up, each retried after {@linkcode acceptBackoff}'s wait. A listener broken for good then
 * reaches a supervisor, as net/http's `Serve` returns such errors.
 */
export const MAX_UNEXPECTED_ACCEPT_FAILURES = 10;

/**
 * The server stopped because it cannot go on: its listener kept failing in a
 * way the loop cannot name, or, with workers, a worker failed. A supervisor
 * should start it again.
 */
export class ServerFailedError extends Error {
  /** The error's name, for its message and logs. */
  override name = "ServerFailedError";
}

/** The address of a TCP socket; it can be passed to `Deno.connect` as it is. */
export type TcpAddr = Deno.NetAddr & { transport: "tcp" };

/** A running server, as returned by `serve()`. */
export interface UppercaseServer extends AsyncDisposable {
  /** The address the server is bound to; its port is the real one when 0 was asked for. */
  readonly addr: TcpAddr;
  /**
   * Settles once the server has stopped and every connection is closed. It
   * rejects with a {@linkcode ServerFailedError} when the server stopped
   * because its listener kept failing.
   */
  readonly finished: Promise<void>;
  /** How many connections are being served now. */
  readonly connections: number;
  /** Whether it still accepts connections: false from the moment it starts stopping. */
  readonly accepting: boolean;
  /** What it has done so far, its connections still open included, for `--metrics`. */
  snapshot(): StatsSnapshot;
  /**
   * Stops accepting, lets each connection finish the write in progress, closes
   * every connection (cutting those still busy after {@linkcode STOP_GRACE_MS}).
   *
   * @returns {@linkcode finished}.
   */
  stop(): Promise<void>;
}

/** What the accept loop needs of a listener: a `Deno.TcpListener`, a `TlsFront`, or a test's stand-in. */
export interface ConnectionSource {
  /** The address listened on. */
  readonly addr: Deno.Addr;
  /** The next connection. */
  accept(): Promise<AcceptedConn>;
  /** Stops listening; a pending `accept()` then fails with `BadResource`. */
  close(): void;
  /** Settles once the sockets the source opened for its connections are closed, for a source that opens any. */
  drained?(): Promise<void>;
}

/** Counts accepts lost to clients that left first, and logs them as one line at most every {@linkcode CLIENT_GONE_SUMMARY_MS}. */
class ClientGoneSummary {
  readonly #logger: Logger;
  #count = 0;
  #lastError = "";
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  record(error: unknown): void {
    this.#count++;
    this.#lastError = error instanceof Error ? error.message : String(error);
    this.#timer ??= setTimeout(() => this.flush(), CLIENT_GONE_SUMMARY_MS);
  }

  /** Logs what was counted, if anything, now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#count === 0) return;
    this.#logger.log({ event: "skipped", count: this.#count, detail: this.#lastError });
    this.#count = 0;
  }
}

/** A connection turned away: which, why (as the metrics count it), and the words the log gives. */
interface Refused {
  id: number;
  conn: AcceptedConn;
  reason: RefuseReason;
  detail: string;
}

/**
 * An accept loop over a listener, with the connections it accepted and serves:
 * what `serve()` returns, seen as an {@linkcode UppercaseServer}.
 */
export class AcceptLoop implements UppercaseServer {
  readonly addr: TcpAddr;
  readonly finished: Promise<void>;
  readonly #listener: ConnectionSource;
  readonly #settings: Settings;
  readonly #connections = new Set<Connection>();
  /** Connections turned away at the limit, while their ERROR line goes out; by connection, so a stop can cut them. */
  readonly #refusals = new Map<AcceptedConn, Promise<void>>();
  readonly #stopping = new AbortController();
  readonly #clientsGone: ClientGoneSummary | undefined;
  readonly #slots: ConnectionSlots;
  readonly #logger: Logger | undefined;
  readonly #stats = new ServerStats();
  readonly #perAddress = new AddressCounts();
  #serving = 0;
  // One context for every connection, rather than closures for each.
  readonly #context: ConnectionContext;

  /** Starts accepting from `listener` at once. */
  constructor(listener: ConnectionSource, settings: Settings) {
    this.#listener = listener;
    this.#settings = settings;
    this.#slots = settings.slots ?? new LocalSlots();
    this.#logger = settings.log && new Logger(settings.log, settings.logFormat, settings.worker);
    this.#clientsGone = this.#logger && new ClientGoneSummary(this.#logger);
    this.#context = {
      settings,
      logger: this.#logger,
      stats: this.#stats,
      conversationOver: () => {
        this.#serving--;
        this.#slots.release();
      },
      admit: (address) => {
        const limit = settings.maxConnectionsPerAddress;
        return limit === undefined || this.#perAddress.take(address, limit);
      },
      leave: (address) => this.#perAddress.release(address),
      closed: (connection) => this.#connections.delete(connection),
    };
    this.addr = listener.addr as TcpAddr;
    this.finished = this.#acceptLoop();
  }

  get connections(): number {
    return this.#serving;
  }

  get accepting(): boolean {
    return !this.#stopping.signal.aborted;
  }

  /** The counts of what has ended (closed connections, refusals, accepts), and the event-loop delay. */
  get stats(): ServerStats {
    return this.#stats;
  }

  snapshot(): StatsSnapshot {
    const counts = this.#stats.snapshot();
    for (const connection of this.#connections) connection.countInto(counts);
    return counts;
  }

  async stop(): Promise<void> {
    await this.#drain();
    return await this.finished;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Stops accepting and closes every connection: at once when idle, within {@linkcode STOP_GRACE_MS} when busy. */
  async #drain(): Promise<void> {
    if (!this.#stopping.signal.aborted) {
      this.#stopping.abort();
      // At once, so that a load balancer's next attempt is refused and goes elsewhere.
      closeQuietly(this.#listener);
      this.#logger?.log({ event: "stopping", open: this.#connections.size });
      this.#clientsGone?.flush();
      for (const connection of this.#connections) connection.stop();
      const allClosed = Promise.all([
        ...[...this.#connections].map((c) => c.closed),
        ...this.#refusals.values(),
      ]);
      if (await withTimeout(allClosed, STOP_GRACE_MS) === TIMED_OUT) {
        for (const connection of this.#connections) connection.cut();
        for (const conn of this.#refusals.keys()) closeQuietly(conn);
      }
    }
  }

  async #acceptLoop(): Promise<void> {
    let backoffMs = 0, unexpected = 0;
    let failed: ServerFailedError | undefined;
    while (!this.#stopping.signal.aborted) {
      let conn: AcceptedConn;
      try {
        conn = await this.#listener.accept();
        backoffMs = unexpected = 0;
      } catch (error) {
        if (this.#stopping.signal.aborted) break;
        const failure = classifyAcceptError(error);
        if (failure === "listener closed") break;
        if (failure === "client gone") {
          this.#stats.skipped++;
          this.#clientsGone?.record(error);
          continue;
        }
        this.#stats.acceptErrors++;
        const why = describeNetworkError(error);
        if (failure === "unexpected" && ++unexpected === MAX_UNEXPECTED_ACCEPT_FAILURES) {
          failed = new ServerFailedError(
            `Cannot accept connections: ${why}; gave up after ${unexpected} failures in a row`,
          );
          break;
        }
        backoffMs = acceptBackoff(backoffMs);
        this.#logger?.log({ event: "accept_error", detail: why, retryMs: backoffMs });
        await sleep(backoffMs, this.#stopping.signal);
        continue;
      }
      // An accept that completed after stop() began: stop() has already told
      // every connection it knows of, so this one would never be told.
      if (this.#stopping.signal.aborted) {
        closeQuietly(conn);
        break;
      }
      const id = this.#slots.nextId();
      if (!this.#mayConnect(conn)) {
        const trusted = this.#settings.proxy?.trustedText;
        this.#countRefusal({
          id,
          conn,
          reason: "untrusted_proxy",
          detail: `not a trusted proxy (${trusted})`,
        });
        closeQuietly(conn);
        continue;
      }
      // Behind a proxy, the client's address comes with its header: the connection admits it.
      const address = this.#settings.proxy ? undefined : (conn.remoteAddr as Deno.NetAddr).hostname;
      if (address !== undefined && !this.#context.admit(address)) {
        const limit = this.#settings.maxConnectionsPerAddress!;
        this.#refuse({ id, conn, ...overAddressLimit(address, limit) });
        continue;
      }
      // The slot is freed when the conversation is over, before the drain, so a
      // client that has seen its connection end finds its slot free.
      if (!this.#slots.take(this.#settings.maxConnections)) {
        if (address !== undefined) this.#context.leave(address);
        const limit = this.#settings.maxConnections;
        this.#refuse({
          id,
          conn,
          reason: "max_connections",
          detail: `too many connections (limit ${limit})`,
          line: ERROR_LINES.tooManyConnections(limit),
        });
        continue;
      }
      this.#serving++;
      this.#stats.accepted++;
      const admitted = this.#settings.maxConnectionsPerAddress === undefined ? undefined : address;
      this.#connections.add(new Connection(conn, { id, context: this.#context, admitted }));
    }
    if (failed) await this.#drain();
    this.#clientsGone?.flush();
    await Promise.all([...this.#connections].map((c) => c.closed));
    await Promise.all(this.#refusals.values());
    await this.#listener.drained?.();
    await settled(); // a fairness timer armed by a connection that has closed since
    if (failed) throw failed;
  }

  /** Behind a proxy, only trusted proxies may connect: anyone else could claim any address. */
  #mayConnect(conn: AcceptedConn): boolean {
    const proxy = this.#settings.proxy;
    return !proxy || proxy.trusted.includes((conn.remoteAddr as Deno.NetAddr).hostname);
  }

  /** Counts and logs a connection refused at once. */
  #countRefusal({ id, conn, reason, detail }: Refused): void {
    this.#stats.refused[reason]++;
    const peer = formatAddress(conn.remoteAddr as Deno.NetAddr);
    this.#logger?.log({ event: "refused", id, peer, reason, detail });
  }

  /** Turns a connection away at a limit: counted, logged, and told with its ERROR line. */
  #refuse(refused: Refused & { line: string }): void {
    this.#countRefusal(refused);
    const { conn } = refused;
    const sending = this.#sendRefusal(conn, encoder.encode(refused.line));
    this.#refusals.set(conn, sending);
    sending.then(() => this.#refusals.delete(conn));
  }

  /**
   * Sends the refusal's ERROR line and closes. Over TLS the line needs a
   * handshake first, which gets the limit any connection gets: a client that
   * never sends its ClientHello must not hold a file handle for ever.
   */
  async #sendRefusal(conn: AcceptedConn, line: Uint8Array): Promise<void> {
    try {
      if (!("setNoDelay" in conn)) {
        const handshake = conn.handshake();
        handshake.catch(() => {}); // it fails once the connection is closed
        if (await withTimeout(handshake, this.#settings.tls!.handshakeTimeoutMs) === TIMED_OUT) {
          closeQuietly(conn);
          return;
        }
      }
      // A few bytes into a new socket's empty buffer: the write cannot block.
      await writeAll(conn, line);
      this.#stats.sentBytes += line.length;
    } catch {
      // The client left, or its handshake failed: there is no one to tell.
    }
    await closeGracefully(conn);
  }
}

const encoder = new TextEncoder();
