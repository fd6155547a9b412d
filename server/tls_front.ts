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

// Where the relayed connections go: loopback, so that only this host can reach them.
const INNER_HOST = "127.0.0.1";

// TLS records hold at most 16 KiB of text, a little more on the wire.
const RELAY_BUFFER_BYTES = 17 * 1024;

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
   * The next client, over TLS.
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
  readonly #innerEnd: Deno.TcpConn;

  constructor(client: Deno.TcpConn, innerEnd: Deno.TcpConn) {
    this.client = client;
    this.#innerEnd = innerEnd;
    client.setNoDelay(true);
    client.setKeepAlive(true);
    innerEnd.setNoDelay(true);
    this.done = Promise.all([copy(client, innerEnd), copy(innerEnd, client)])
      .then(() => this.close());
  }

  /** Closes both sockets now. */
  close(): void {
    closeQuietly(this.client);
    closeQuietly(this.#innerEnd);
  }

  /** Lets what is on its way finish, for {@linkcode DRAIN_MS} at most, then closes both sockets. */
  async finish(): Promise<void> {
    await withTimeout(this.done, DRAIN_MS);
    this.close();
  }
}

/** Copies `from` into `to` until end of input, which it passes on; a failure closes both. */
async function copy(from: Deno.TcpConn, to: Deno.TcpConn): Promise<void> {
  const buffer = new Uint8Array(RELAY_BUFFER_BYTES);
  try {
    for (let read; (read = await from.read(buffer)) !== null;) {
      await writeAll(to, buffer.subarray(0, read));
    }
    await to.closeWrite();
  } catch {
    // A reset, or the other direction closed both: nothing more can pass.
    closeQuietly(from);
    closeQuietly(to);
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
    const info = await this.#tls.handshake();
    this.#handshaken = true;
    return info;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    return this.#tls.read(buffer);
  }

  write(bytes: Uint8Array): Promise<number> {
    return this.#tls.write(bytes);
  }

  closeWrite(): Promise<void> {
    return this.#tls.closeWrite();
  }

  /** Closes the TLS connection; the client's socket goes at once if no handshake completed. */
  close(): void {
    if (this.#handshaken) this.#relay.finish();
    else this.#relay.close();
    this.#tls.close();
  }
}
