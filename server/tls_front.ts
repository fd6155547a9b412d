/**
 * TLS behind a front of our own: clients connect to a plain TCP listener, and
 * each connection is relayed (`relay.ts`) over a loopback link to a
 * `Deno.listenTls` listener that only this process means to use
 * (`loopback_tls.ts`). The server speaks TLS on the linked connection as it
 * would on the client's, and the front owns the client's socket.
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

import { closeQuietly, type Stream } from "../io/socket.ts";
import { LoopbackTls } from "./loopback_tls.ts";
import { Relay } from "./relay.ts";

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
  readonly #loopback: LoopbackTls;
  readonly #relays = new Set<Relay>();

  /**
   * Listens for clients, and on a loopback port chosen by the system for the
   * relayed connections.
   *
   * @throws {Deno.errors.InvalidData} When the certificate or the key is not valid.
   * @throws {Deno.errors.AddrInUse} When the address is taken, and the other errors of `Deno.listen`.
   */
  constructor({ address, cert, key }: TlsFrontOptions) {
    this.#loopback = new LoopbackTls({ cert, key });
    try {
      this.#outer = Deno.listen(address);
    } catch (error) {
      this.#loopback.close();
      throw error;
    }
    this.addr = this.#outer.addr;
  }

  /**
   * The next client, over TLS.
   *
   * @throws What the client's `accept()` throws, or the loopback link's (out of file handles,
   *   or `ConnectionAborted` when it was not made in time: that client is dropped).
   */
  async accept(): Promise<AcceptedTls> {
    const client = await this.#outer.accept();
    try {
      const { end, tls } = await this.#loopback.link();
      const relay = new Relay(client, end);
      this.#relays.add(relay);
      relay.done.then(() => this.#relays.delete(relay));
      return new RelayedTls(tls, relay);
    } catch (error) {
      closeQuietly(client);
      throw error;
    }
  }

  /** Stops listening; a pending `accept()` then fails with `BadResource`. */
  close(): void {
    closeQuietly(this.#outer);
    this.#loopback.close();
  }

  /** Settles once the loopback listener is closed and every relay has closed both its sockets. */
  async drained(): Promise<void> {
    await this.#loopback.closed;
    await Promise.all([...this.#relays].map((relay) => relay.done));
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
