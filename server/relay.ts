/**
 * A relay between two TCP connections: bytes copied both ways, a half-close
 * passed on, a failure on either side closing both, and a close that lets
 * what is on its way finish within a bound. The TLS front (`tls_front.ts`)
 * relays each client's socket to its loopback link this way.
 *
 * @module
 */

import { closeQuietly, DRAIN_MS, withTimeout, writeAll } from "../io/socket.ts";
import { FAIRNESS_CHECK_BYTES, mustYield, nextTurn } from "./fairness.ts";

// Small, so an idle connection costs little; a read that fills it doubles it.
// TLS records hold at most 16 KiB of text, a little more on the wire.
const FIRST_RELAY_BUFFER_BYTES = 2 * 1024;
const MAX_RELAY_BUFFER_BYTES = 32 * 1024;

/** Copies bytes both ways between a client's socket and another connection, half-closes included. */
export class Relay {
  /** Settles once both sockets are closed. */
  readonly done: Promise<void>;
  /** The client's socket. */
  readonly client: Deno.TcpConn;
  /** What ended the relay early: a reset, or keepalive finding the client's host gone. */
  failure: unknown;
  readonly #other: Deno.TcpConn;
  #closed = false;

  /**
   * Starts relaying between `client`, which gets TCP_NODELAY and keepalive,
   * and `other`, which gets TCP_NODELAY.
   */
  constructor(client: Deno.TcpConn, other: Deno.TcpConn) {
    this.client = client;
    this.#other = other;
    client.setNoDelay(true);
    client.setKeepAlive(true);
    other.setNoDelay(true);
    this.done = Promise.all([this.#copy(client, other), this.#copy(other, client)])
      .then(() => this.close());
  }

  /** Closes both sockets now. */
  close(): void {
    this.#closed = true;
    closeQuietly(this.client);
    closeQuietly(this.#other);
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
