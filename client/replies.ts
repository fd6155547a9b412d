/**
 * The server's replies as the client sees them: framed as they arrive, a reply
 * ending at its newline or, from servers that send none, after a quiet pause.
 *
 * @module
 */

import { type Message, MessageFramer } from "../protocol.ts";
import { describeNetworkError, startRead, TIMED_OUT, withTimeout } from "../io/socket.ts";

/** Wakes everyone waiting, each time something happens. */
export class Wakeup {
  #wake: (() => void) | undefined;
  #next: Promise<void> | undefined;

  /** Settles at the next {@linkcode wake}. */
  wait(): Promise<void> {
    return this.#next ??= new Promise((resolve) => this.#wake = resolve);
  }

  /** Wakes every {@linkcode wait} made since the last wake. */
  wake(): void {
    this.#wake?.();
    this.#next = this.#wake = undefined;
  }
}

/** How {@linkcode ReplyStream} frames replies. */
export interface ReplyFraming {
  /** Longest reply, in bytes; a longer one ends the stream. */
  maxReplyBytes: number;
  /** Quiet pause, in ms, that ends a reply without a newline. */
  quietMs: number;
  /**
   * What becomes of bytes with no newline and no pause after them when the
   * server's side ends: the last reply (`true`), or a reply cut in the middle,
   * thrown away so that its line can be sent again (`false`).
   *
   * @default {true}
   */
  keepCutReply?: boolean;
}

/**
 * Most bytes of replies queued and not yet taken: past it, the stream stops
 * reading the connection until some are taken, so that a reader that is slow
 * (a blocked stdout) slows the server through TCP's flow control, and a server
 * that sends without end cannot fill the client's memory. One reply may be
 * longer: it is queued whole, and reading waits until it is taken.
 */
export const MAX_QUEUED_REPLY_BYTES = 4 * 1024 * 1024;

/**
 * The server's replies, read from the connection as they arrive and queued,
 * at most {@linkcode MAX_QUEUED_REPLY_BYTES} ahead of the reader.
 * {@linkcode ended} settles, with the reason, when the server's side ends.
 */
export class ReplyStream {
  /** Settles with why the server's side ended: closed, reset, or a reply too long. */
  readonly ended: Promise<string>;
  readonly #queue: Message[] = [];
  #queuedBytes = 0;
  readonly #arrived = new Wakeup();
  readonly #taken = new Wakeup();
  #cancelled = false;
  #endReason: string | undefined;
  #spokeTls = false;
  #heardAt = performance.now();

  /** Starts reading replies from `conn`. */
  constructor(conn: Deno.Conn, framing: ReplyFraming) {
    const framer = new MessageFramer({ maxMessageBytes: framing.maxReplyBytes });
    this.ended = this.#pump(conn, {
      framer,
      quietMs: framing.quietMs,
      keepCutReply: framing.keepCutReply ?? true,
    });
  }

  /** Why the server's side ended, once it has. */
  get endReason(): string | undefined {
    return this.#endReason;
  }

  /** True when the server's first bytes were a TLS record: it speaks TLS, and this connection does not. */
  get spokeTls(): boolean {
    return this.#spokeTls;
  }

  /**
   * When the server was last heard from, on the `performance.now()` clock: the
   * last bytes read, or the last replies taken, whichever is later (a reader
   * that takes its replies late must not make the server look silent).
   */
  get heardAt(): number {
    return this.#heardAt;
  }

  /** Every reply queued, once there is one; an empty array once the server's side has ended. */
  async take(): Promise<Message[]> {
    while (this.#queue.length === 0 && this.#endReason === undefined) await this.#arrived.wait();
    if (this.#queue.length > 0) this.#heardAt = performance.now();
    this.#queuedBytes = 0;
    this.#taken.wake();
    return this.#queue.splice(0);
  }

  /** Stops reading, for a connection being closed: a read waiting for room gives up. */
  cancel(): void {
    this.#cancelled = true;
    this.#taken.wake();
  }

  async #pump(
    conn: Deno.Conn,
    { framer, quietMs, keepCutReply }: {
      framer: MessageFramer;
      quietMs: number;
      keepCutReply: boolean;
    },
  ): Promise<string> {
    const buffer = new Uint8Array(64 * 1024);
    let reason = "the server closed the connection";
    try {
      for (let read = startRead(conn, buffer), first = true;; first = false) {
        const result = await withTimeout(read, framer.quietDelay(quietMs));
        if (first && typeof result === "number" && isTlsRecord(buffer.subarray(0, result))) {
          this.#spokeTls = true;
          reason = "the server speaks TLS";
          break;
        }
        if (result === TIMED_OUT || (result === null && keepCutReply)) {
          this.#deliver(framer.flush());
        }
        if (result === null) break;
        if (result === TIMED_OUT) continue;
        this.#heardAt = performance.now();
        for (const reply of framer.push(buffer.subarray(0, result))) {
          this.#deliver({ bytes: reply.bytes.slice(), terminator: reply.terminator });
        }
        if (framer.exceeded) {
          reason = "the server sent a reply over the length limit";
          break;
        }
        // Room first: the replies not taken yet bound what is read next.
        while (this.#queuedBytes > MAX_QUEUED_REPLY_BYTES && !this.#cancelled) {
          await this.#taken.wait();
        }
        if (this.#cancelled) break;
        read = startRead(conn, buffer);
      }
    } catch (error) {
      reason = describeNetworkError(error);
    }
    this.#endReason = reason;
    this.#arrived.wake();
    return reason;
  }

  #deliver(reply: Message | undefined): void {
    if (!reply) return;
    this.#queue.push(reply);
    this.#queuedBytes += reply.bytes.length;
    this.#arrived.wake();
  }
}

/**
 * Whether bytes start like a TLS record: an alert (21) or a handshake (22),
 * then version 3.x. A TLS server answers a plain client's text with an alert;
 * no text a person sends starts with these control bytes.
 */
function isTlsRecord(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && (bytes[0] === 21 || bytes[0] === 22) && bytes[1] === 3 &&
    bytes[2] <= 4;
}
