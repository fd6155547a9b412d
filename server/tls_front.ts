/**
 * TLS behind a front of our own: clients connect to a plain TCP listener, and
 * each connection is relayed over loopback to a `Deno.listenTls` listener that
 * only this process uses. The server speaks TLS on the relayed connection as
 * it would on the client's, and the front owns the client's socket.
 *
 * Why: Deno 2.9.6 keeps the socket of a TLS connection that was closed before
 * its handshake completed (its TLS stream lingers to finish the handshake and
 * send `close_notify`, with no deadline). A client that never sends its
 * ClientHello would keep that file handle for as long as it stays. Here,
 * closing such a connection closes the client's socket at once, and the inner
 * one follows when the relay closes its end. The client's socket also gets what
 * Deno's TLS sockets lack: TCP_NODELAY and keepalive. The cost is a loopback
 * socket pair per connection and a copy of each byte.
 *
 * @module
 */

import { closeQuietly, DRAIN_MS, type Stream, withTimeout, writeAll } from "../io/socket.ts";
import { mustYield, nextTurn } from "./fairness.ts";

// Where the relayed connections go: loopback, so that only this host can reach them.
const INNER_HOST = "127.0.0.1";

// Small, so an idle connection costs little; a read that fills it doubles it.
// TLS records hold at most 16 KiB of text, a little more on the wire.
const FIRST_RELAY_BUFFER_BYTES = 2 * 1024;
const MAX_RELAY_BUFFER_BYTES = 32 * 1024;

// How many bytes a direction copies between two looks at whether it must let
// the loop turn, as a connection does (server/connection.ts).
const FAIRNESS_CHECK_BYTES = 64 * 1024;

/** A TLS connection as the server accepts it: its handshake still to come, its peer the client. */
export interface AcceptedTls extends Stream {
  /** The client's address. */
  readonly remoteAddr: Deno.Addr;
  /** Completes the handshake; it fails when the client speaks no TLS or leaves. */
  handshake(): Promise<unknown>;
}

/** Where the front listens, and the certificate and key the server presents. */
export interface TlsFrontOptions {
  /** The address clients connect to, as `Deno.listen` takes it. */
  address: Deno.TcpListenOptions;
  /** The PEM certificate chain. */
  cert: string;
  /** The PEM private key. */
  key: string;
}

/**
 * A listener of TLS connections whose `close()` frees the client's socket,
 * handshake or not. It is what `Deno.listenTls` would be, for the accept loop.
 */
export class TlsFront {
  /** The address clients connect to. */
  readonly addr: Deno.NetAddr;
  readonly #outer: Deno.TcpListener;
  readonly #inner: Deno.TlsListener;
  readonly #relays = new Set<Relay>();

  /**
   * Listens for clients, and on a loopback port chosen by the system for the
   * relayed connections.
   *
   * @throws {Deno.errors.InvalidData} When the certificate or the key is not valid.
   * @throws {Deno.errors.AddrInUse} When the address is taken, and the other errors of `Deno.listen`.
   */
  constructor({ address, cert, key }: TlsFrontOptions) {
    this.#inner = Deno.listenTls({ hostname: INNER_HOST, port: 0, cert, key });
    try {
      this.#outer = Deno.listen(address);
    } catch (error) {
      this.#inner.close();
      throw error;
    }
    this.addr = this.#outer.addr;
  }

  /**
   * The next client, over TLS. Call it one call at a time, as the accept loop
   * does: each call takes the relayed connection its own loopback connect made.
   *
   * @throws What the client's `accept()` throws, or the loopback `connect()` (out of file handles).
   */
  async accept(): Promise<AcceptedTls> {
    const client = await this.#outer.accept();
    let innerEnd: Deno.TcpConn | undefined;
    try {
      innerEnd = await Deno.connect({ hostname: INNER_HOST, port: this.#inner.addr.port });
      const tls = await this.#acceptFrom(innerEnd.localAddr.port);
      const relay = new Relay(client, innerEnd);
      this.#relays.add(relay);
      relay.done.then(() => this.#relays.delete(relay));
      return new RelayedTls(tls, relay);
    } catch (error) {
      closeQuietly(client);
      if (innerEnd) closeQuietly(innerEnd);
      throw error;
    }
  }

  /** Stops listening; a pending `accept()` then fails with `BadResource`. */
  close(): void {
    closeQuietly(this.#outer);
    closeQuietly(this.#inner);
  }

  /** Settles once every relay has closed both its sockets. */
  async drained(): Promise<void> {
    await Promise.all([...this.#relays].map((relay) => relay.done));
  }

  /**
   * The relayed connection whose inner end is on `port`. Any other came from
   * someone else on this host, not through the front, and is closed.
   */
  async #acceptFrom(port: number): Promise<Deno.TlsConn> {
    for (;;) {
      const tls = await this.#inner.accept();
      if ((tls.remoteAddr as Deno.NetAddr).port === port) return tls;
      closeQuietly(tls);
    }
  }
}

/** Copies bytes both ways between a client's socket and its inner end, half-closes included. */
class Relay {
  /** Settles once both sockets are closed. */
  readonly done: Promise<void>;
  readonly client: Deno.TcpConn;
  /** What ended the relay early: a reset, or keepalive finding the client's host gone. */
  failure: unknown;
  readonly #innerEnd: Deno.TcpConn;
  #closed = false;

  constructor(client: Deno.TcpConn, innerEnd: Deno.TcpConn) {
    this.client = client;
    this.#innerEnd = innerEnd;
    client.setNoDelay(true);
    client.setKeepAlive(true);
    innerEnd.setNoDelay(true);
    this.done = Promise.all([this.#copy(client, innerEnd), this.#copy(innerEnd, client)])
      .then(() => this.close());
  }

  /** Closes both sockets now. */
  close(): void {
    this.#closed = true;
    closeQuietly(this.client);
    closeQuietly(this.#innerEnd);
  }

  /** Lets what is on its way finish, for {@linkcode DRAIN_MS} at most, then closes both sockets. */
  async finish(): Promise<void> {
    await withTimeout(this.done, DRAIN_MS);
    this.close();
  }

  /** Copies `from` into `to` until end of input, which it passes on; a failure closes both. */
  async #copy(from: Deno.TcpConn, to: Deno.TcpConn): Promise<void> {
    let buffer = new Uint8Array(FIRST_RELAY_BUFFER_BYTES);
    let sinceCheck = 0;
    try {
      for (let read; (read = await from.read(buffer)) !== null;) {
        const written = await to.write(buffer.subarray(0, read));
        if (written < read) await writeAll(to, buffer.subarray(written, read));
        if (read === buffer.length && read < MAX_RELAY_BUFFER_BYTES) {
          buffer = new Uint8Array(2 * read);
        }
        // A client that floods must not hold the loop here either.
        if ((sinceCheck += read) >= FAIRNESS_CHECK_BYTES) {
          sinceCheck = 0;
          if (mustYield()) await nextTurn();
        }
      }
      await to.closeWrite();
    } catch (error) {
      // Once we closed the sockets, their pending reads fail: that is no news.
      if (!this.#closed) this.failure ??= error;
      this.close();
    }
  }
}

/** The TLS connection the server speaks on, seen as the client's. */
class RelayedTls implements AcceptedTls {
  readonly #tls: Deno.TlsConn;
  readonly #relay: Relay;
  #handshaken = false;

  constructor(tls: Deno.TlsConn, relay: Relay) {
    this.#tls = tls;
    this.#relay = relay;
  }

  get remoteAddr(): Deno.Addr {
    return this.#relay.client.remoteAddr;
  }

  async handshake(): Promise<Deno.TlsHandshakeInfo> {
    const info = await this.#tls.handshake().catch(this.#explain);
    this.#handshaken = true;
    return info;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    return this.#tls.read(buffer).catch(this.#explain);
  }

  write(bytes: Uint8Array): Promise<number> {
    return this.#tls.write(bytes).catch(this.#explain);
  }

  closeWrite(): Promise<void> {
    return this.#tls.closeWrite();
  }

  /**
   * When the relay failed first, its error, not what the inner TLS saw of it
   * (an end of input without close_notify): so a reset, or keepalive finding
   * the client's host gone, is logged and counted as such.
   */
  readonly #explain = (error: unknown): never => {
    throw this.#relay.failure ?? error;
  };

  /** Closes the TLS connection; the client's socket goes at once if no handshake completed. */
  close(): void {
    if (this.#handshaken) this.#relay.finish();
    else this.#relay.close();
    this.#tls.close();
  }
}
