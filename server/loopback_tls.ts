/**
 * The TLS front's loopback side: a `Deno.listenTls` listener on 127.0.0.1,
 * and links to it, each paired with the TLS connection the listener accepted
 * from it. Anyone on this host can connect to that port too: what does not
 * come from a link is closed, and a loop that accepts all the time keeps such
 * connections from filling the listener's queue. Making a link is bounded, so
 * that nothing here can hold up the accept loop.
 *
 * @module
 */

import { closeQuietly, TIMED_OUT, withTimeout } from "../io/socket.ts";
import { acceptPatiently } from "./accept_errors.ts";

// Loopback only, so that no other host can reach the listener.
const LOOPBACK_HOST = "127.0.0.1";

/**
 * How long making a link may take, in ms. On loopback it takes well under a
 * millisecond; only a listener whose queue others have filled takes longer.
 */
export const LINK_TIMEOUT_MS = 1_000;

/** A link: our end of a loopback connection, and the TLS connection the listener accepted from it. */
export interface Link {
  end: Deno.TcpConn;
  tls: Deno.TlsConn;
}

/** A connection the listener accepted before its link asked for it, and the timer that closes it if none does. */
interface Unclaimed {
  tls: Deno.TlsConn;
  timer: ReturnType<typeof setTimeout>;
}

/** The loopback TLS listener, and the links made to it. */
export class LoopbackTls {
  /** Where the listener is: 127.0.0.1, on a port the system chose. */
  readonly addr: Deno.NetAddr;
  /** Settles once the listener is closed and every connection it accepted is handed over or closed. */
  readonly closed: Promise<void>;
  readonly #listener: Deno.TlsListener;
  readonly #closing = new AbortController();
  /** Accepted, by the port of the connection's other end, before its link asked. */
  readonly #unclaimed = new Map<number, Unclaimed>();
  /** Asked for by a link, by the port of its end, before the listener accepted it; `undefined` once closed. */
  readonly #claims = new Map<number, (tls: Deno.TlsConn | undefined) => void>();

  /**
   * Listens on 127.0.0.1 with the certificate and key given.
   *
   * @throws {Deno.errors.InvalidData} When the certificate or the key is not valid.
   */
  constructor(credentials: { cert: string; key: string }) {
    this.#listener = Deno.listenTls({ hostname: LOOPBACK_HOST, port: 0, ...credentials });
    this.addr = this.#listener.addr;
    this.closed = this.#acceptAll();
  }

  /**
   * Makes a link: connects, and takes the TLS connection accepted from it.
   *
   * @throws {Deno.errors.ConnectionAborted} When that took over {@linkcode LINK_TIMEOUT_MS}.
   * @throws {Deno.errors.BadResource} When the listener was closed meanwhile.
   * @throws What `Deno.connect` throws (out of file handles).
   */
  async link(): Promise<Link> {
    const connecting = Deno.connect({ hostname: LOOPBACK_HOST, port: this.addr.port });
    const end = await withTimeout(connecting, LINK_TIMEOUT_MS);
    if (end === TIMED_OUT) {
      connecting.then(closeQuietly, () => {});
      throw notLinked("connect");
    }
    const port = end.localAddr.port;
    const early = this.#unclaimed.get(port);
    if (early) {
      this.#unclaimed.delete(port);
      clearTimeout(early.timer);
      return { end, tls: early.tls };
    }
    const claimed = new Promise<Deno.TlsConn | undefined>((resolve) => {
      this.#claims.set(port, resolve);
    });
    const tls = await withTimeout(claimed, LINK_TIMEOUT_MS);
    if (tls === TIMED_OUT || tls === undefined) {
      this.#claims.delete(port);
      closeQuietly(end);
      throw tls === undefined
        ? new Deno.errors.BadResource("listener closed")
        : notLinked("accept");
    }
    return { end, tls };
  }

  /** Stops listening, and closes what was accepted and not handed over. */
  close(): void {
    this.#closing.abort();
    closeQuietly(this.#listener);
  }

  /** Accepts until closed, handing each connection to its link, or closing it if none asks in time. */
  async #acceptAll(): Promise<void> {
    const closing = this.#closing.signal;
    for (let tls; (tls = await acceptPatiently(this.#listener, closing)) !== undefined;) {
      const { hostname, port } = tls.remoteAddr as Deno.NetAddr;
      // A link comes from 127.0.0.1; 127.0.0.2 and the like are someone else.
      if (hostname !== LOOPBACK_HOST) {
        closeQuietly(tls);
        continue;
      }
      const claim = this.#claims.get(port);
      if (claim) {
        this.#claims.delete(port);
        claim(tls);
        continue;
      }
      // Its link may not have asked yet; if none does, it came from elsewhere.
      this.#drop(port);
      const timer = setTimeout(() => this.#drop(port), LINK_TIMEOUT_MS);
      this.#unclaimed.set(port, { tls, timer });
    }
    for (const port of [...this.#unclaimed.keys()]) this.#drop(port);
    for (const claim of this.#claims.values()) claim(undefined);
    this.#claims.clear();
  }

  /** Closes the connection accepted from `port` and not handed over, if there is one. */
  #drop(port: number): void {
    const unclaimed = this.#unclaimed.get(port);
    if (!unclaimed) return;
    this.#unclaimed.delete(port);
    clearTimeout(unclaimed.timer);
    closeQuietly(unclaimed.tls);
  }
}

/** A link not made in time: this client is dropped, as one that left before it was accepted. */
function notLinked(step: "connect" | "accept"): Deno.errors.ConnectionAborted {
  return new Deno.errors.ConnectionAborted(
    `the TLS front's loopback link was not made within ${LINK_TIMEOUT_MS / 1000} s (${step})`,
  );
}
