/**
 * The uppercase line protocol: pure functions and one small stateful framer,
 * with no I/O, so every rule below can be tested byte by byte.
 *
 * ## Specification
 *
 * 1. Text is UTF-8. A message ends at `\n`; a `\r` directly before it belongs
 *    to the terminator (`\r\n`). Empty messages are messages.
 * 2. A message also ends when the input goes quiet: bytes arrived without a
 *    terminator and no further byte came for the flush delay
 *    ({@linkcode DEFAULT_FLUSH_DELAY_MS}; 0 turns this off). The pause never
 *    ends a message inside an incomplete UTF-8 sequence, unless the input then
 *    stays quiet for {@linkcode INCOMPLETE_CHARACTER_GRACE_MS} more.
 * 3. A message also ends at end of input: the unterminated rest is the last
 *    message.
 * 4. The reply is the message uppercased with `String.prototype.toUpperCase`
 *    (`ñandú` → `ÑANDÚ`, `straße` → `STRASSE`) followed by exactly the
 *    message's terminator (`\n`, `\r\n` or none). Bytes that are not valid
 *    UTF-8 are returned unchanged; only the valid text around them is
 *    uppercased. Replies keep the order of the messages.
 * 5. A message that, trimmed, equals {@linkcode DISCONNECT_COMMAND} ignoring
 *    case and accents is the disconnect command: no reply, the replies already
 *    due are written, the connection is closed and anything after it ignored.
 * 6. A message longer than the limit ({@linkcode DEFAULT_MAX_MESSAGE_BYTES},
 *    terminator not counted) is answered with the replies already due, then
 *    one `ERROR` line, and the connection is closed. At most the limit plus one
 *    byte is held.
 * 7. The server may also end a connection with one `ERROR` line, and no reply
 *    to anything after it: when it already serves as many clients as it may,
 *    and, if it is set to, when a client has sent nothing for too long.
 *    {@linkcode ERROR_LINES} lists every such line. Each starts with `ERROR`
 *    and ends with `\n`. A client tells one from a reply
 *    ({@linkcode isErrorLine}): a reply starts with `ERROR` only when its
 *    message, uppercased, does too. (A client that reads none of its replies
 *    for that long is cut without a line: nothing more can reach it.)
 *
 * @module
 */

import { concat, copyUppercaseAscii, endsInsideCharacter, uppercaseUtf8 } from "./protocol/text.ts";

export { DISCONNECT_COMMAND, isDisconnectCommand } from "./protocol/command.ts";
export { ERROR_LINES, errorLineKind, isErrorLine } from "./protocol/error_lines.ts";

/** The address the server listens on and the client connects to: IPv4 loopback, which
 * every localhost client reaches, IPv4-only ones included. */
export const DEFAULT_HOSTNAME = "127.0.0.1";

/** The port the server listens on and the client connects to. */
export const DEFAULT_PORT = 5000;

/** Default longest message, in bytes, terminator not counted (1 MiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_576;

/** Default quiet pause, in milliseconds, after which unterminated bytes form a message. */
export const DEFAULT_FLUSH_DELAY_MS = 50;

/**
 * How many times longer, in UTF-8 bytes, uppercasing can make a text: `ΐ`
 * (U+0390, 2 bytes) becomes `Ϊ́` (3 characters, 6 bytes).
 */
export const MAX_UPPERCASE_GROWTH = 3;

// Room for the longest ERROR line, whatever the limits in it.
const ERROR_LINE_ROOM = 256;

/**
 * The longest reply to a message within `maxMessageBytes`: the message
 * uppercased ({@linkcode MAX_UPPERCASE_GROWTH}), or an `ERROR` line.
 *
 * @example A client's reply limit
 * ```ts
 * import assert from "node:assert/strict";
 * import { replyLimit } from "./protocol.ts";
 *
 * assert.equal(replyLimit(1_048_576), 3_145_728);
 * assert.equal(replyLimit(8), 256);
 * ```
 *
 * @param maxMessageBytes The longest message.
 * @returns The longest reply, in bytes, terminator not counted.
 */
export function replyLimit(maxMessageBytes: number): number {
  return Math.max(maxMessageBytes * MAX_UPPERCASE_GROWTH, ERROR_LINE_ROOM);
}

/** Extra quiet time, in milliseconds, before a message may end inside an incomplete character. */
export const INCOMPLETE_CHARACTER_GRACE_MS = 1_000;

/** How a message ended on the wire; its reply ends the same way. */
export type Terminator = "\n" | "\r\n" | "";

/** One framed message: its bytes without the terminator, and the terminator. */
export interface Message {
  /**
   * The message's bytes, followed in their buffer by its terminator's. May be a view
   * into the chunk given to `push`: copy it to keep it.
   */
  bytes: Uint8Array;
  /** The terminator the message had; `""` when it ended by a pause or end of input. */
  terminator: Terminator;
}

/** Options of {@linkcode MessageFramer}. */
export interface FramingOptions {
  /**
   * Longest message, in bytes, terminator not counted.
   *
   * @default {1048576}
   */
  maxMessageBytes?: number;
}

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = new Uint8Array(0);
const RETAINED_PENDING_BYTES = 4096;

/** What {@linkcode LineScanner.scan} found where it looked. */
export type LineScan = "line" | "too long" | "unterminated";

/**
 * The one scanning step of the protocol (rule 1 and the limit of rule 6): where
 * the line that starts at an offset ends, with which terminator, and whether
 * it fits the limit. {@linkcode MessageFramer} frames with it, and so does the
 * server's in-place fast path, so these rules are written once. It keeps its
 * answer in its fields rather than in a new object: scanning allocates nothing.
 *
 * @example Scanning the lines of a chunk
 * ```ts
 * import assert from "node:assert/strict";
 * import { LineScanner } from "./protocol.ts";
 *
 * const bytes = new TextEncoder().encode("uno\r\ndos");
 * const scanner = new LineScanner();
 * assert.equal(scanner.scan(bytes, 0), "line");
 * assert.deepEqual([scanner.bodyEnd, scanner.terminator, scanner.next], [3, "\r\n", 5]);
 * assert.equal(scanner.scan(bytes, scanner.next), "unterminated");
 * ```
 */
export class LineScanner {
  /** The longest line body allowed, in bytes. */
  readonly maxMessageBytes: number;
  /** Where the line found by the last {@linkcode scan} ends, its terminator excluded. */
  bodyEnd = 0;
  /** The terminator of the line found by the last {@linkcode scan}. */
  terminator: Terminator = "\n";
  /** Where the line after the one found by the last {@linkcode scan} starts. */
  next = 0;

  /** Makes a scanner for the given limit. */
  constructor(options: FramingOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  /**
   * Looks for the end of the line that starts at `bytes[start]`. When it ends
   * in `bytes`, {@linkcode bodyEnd}, {@linkcode terminator} and {@linkcode next}
   * say where and how.
   *
   * @param bytes Where to look.
   * @param start Where the line starts.
   * @returns `"line"` when it ends within the limit, `"too long"` when its body
   *   is over the limit, `"unterminated"` when `bytes` end first.
   */
  scan(bytes: Uint8Array, start: number): LineScan {
    const lf = bytes.indexOf(LF, start);
    if (lf === -1) return "unterminated";
    const crlf = lf > start && bytes[lf - 1] === CR;
    this.bodyEnd = crlf ? lf - 1 : lf;
    this.terminator = crlf ? "\r\n" : "\n";
    this.next = lf + 1;
    return this.bodyEnd - start > this.maxMessageBytes ? "too long" : "line";
  }
}

/**
 * Splits a byte stream into messages (rules 1 to 3 and the limit of rule 6)
 * with a {@linkcode LineScanner}, in linear time whatever the chunking.
 *
 * @example Framing CRLF split across chunks
 * ```ts
 * import assert from "node:assert/strict";
 * import { MessageFramer } from "./protocol.ts";
 *
 * const framer = new MessageFramer();
 * const text = (m: { bytes: Uint8Array }) => new TextDecoder().decode(m.bytes);
 * assert.equal(framer.push(new TextEncoder().encode("hola\r")).length, 0);
 * const [message] = framer.push(new TextEncoder().encode("\n"));
 * assert.deepEqual([text(message), message.terminator], ["hola", "\r\n"]);
 * ```
 */
export class MessageFramer {
  readonly #scanner: LineScanner;
  #pending: Uint8Array = EMPTY;
  #pendingLength = 0;
  #exceeded = false;

  /** Makes a framer that holds at most `maxMessageBytes + 1` bytes. */
  constructor(options: FramingOptions = {}) {
    this.#scanner = new LineScanner(options);
  }

  /** The scanner it frames with, for a caller that scans the same stream between its pushes. */
  get scanner(): LineScanner {
    return this.#scanner;
  }

  /** True once a message went over the limit; the framer then ignores all input. */
  get exceeded(): boolean {
    return this.#exceeded;
  }

  /** How many bytes of an unterminated message are held. */
  get pendingBytes(): number {
    return this.#pendingLength;
  }

  /**
   * The bytes of the unterminated message held so far, as a view: read them
   * before the next {@linkcode push} or {@linkcode flush}, and do not change them.
   */
  get held(): Uint8Array {
    return this.#pending.subarray(0, this.#pendingLength);
  }

  /**
   * Frames the messages that `chunk` completes.
   *
   * @param chunk The next bytes of the stream.
   * @returns The completed messages, in order; they stop before a message over the limit.
   */
  push(chunk: Uint8Array): Message[] {
    const messages: Message[] = [];
    if (this.#exceeded) return messages;
    let start = 0;
    if (this.#pendingLength > 0) {
      // The held bytes and this chunk up to its first newline are one line,
      // joined before scanning so that a CR held from the last chunk is seen.
      const lf = chunk.indexOf(LF);
      if (lf === -1) {
        this.#hold(chunk);
        return messages;
      }
      if (this.#frameLines(this.#takePending(chunk.subarray(0, lf + 1)), messages) < 0) {
        return messages;
      }
      start = lf + 1;
    }
    const lines = chunk.subarray(start);
    const rest = this.#frameLines(lines, messages);
    if (rest >= 0) this.#hold(lines.subarray(rest));
    return messages;
  }

  /**
   * Ends the held bytes as a message with no terminator (rules 2 and 3).
   *
   * @returns The message, or `undefined` when nothing is held or it is over the limit.
   */
  flush(): Message | undefined {
    if (this.#pendingLength === 0) return undefined;
    const bytes = this.#takePending(EMPTY);
    return this.#fits(bytes.length) ? { bytes, terminator: "" } : undefined;
  }

  /**
   * How long the input must stay quiet before {@linkcode flush} may be called (rule 2).
   *
   * @param flushDelayMs The configured quiet pause; 0 means never flush on a pause.
   * @returns Milliseconds to wait, or `undefined` when there is nothing to flush.
   */
  quietDelay(flushDelayMs: number): number | undefined {
    if (flushDelayMs <= 0 || this.#pendingLength === 0) return undefined;
    return endsInsideCharacter(this.held)
      ? flushDelayMs + INCOMPLETE_CHARACTER_GRACE_MS
      : flushDelayMs;
  }

  /**
   * Frames every complete line of `bytes` into `messages`.
   * Returns where the unterminated rest starts, or -1 once a line is over the limit.
   */
  #frameLines(bytes: Uint8Array, messages: Message[]): number {
    const scanner = this.#scanner;
    let start = 0;
    for (let found; (found = scanner.scan(bytes, start)) !== "unterminated"; start = scanner.next) {
      if (found === "too long") {
        this.#exceed();
        return -1;
      }
      messages.push({
        bytes: bytes.subarray(start, scanner.bodyEnd),
        terminator: scanner.terminator,
      });
    }
    return start;
  }

  #fits(length: number): boolean {
    if (length <= this.#scanner.maxMessageBytes) return true;
    this.#exceed();
    return false;
  }

  #exceed(): void {
    this.#exceeded = true;
    this.#pending = EMPTY;
    this.#pendingLength = 0;
  }

  #takePending(tail: Uint8Array): Uint8Array {
    const held = this.#pendingLength;
    const length = held + tail.length;
    this.#pendingLength = 0;
    // A small buffer is kept for the next partial message. A large one is not:
    // when the tail fits in it, it becomes this message, with no copy.
    if (this.#pending.length > RETAINED_PENDING_BYTES) {
      const pending = this.#pending;
      this.#pending = EMPTY;
      if (length <= pending.length) {
        pending.set(tail, held);
        return pending.subarray(0, length);
      }
      return concat([pending.subarray(0, held), tail]);
    }
    const line = new Uint8Array(length);
    line.set(this.#pending.subarray(0, held));
    line.set(tail, held);
    return line;
  }

  #hold(tail: Uint8Array): void {
    if (tail.length === 0) return;
    const length = this.#pendingLength + tail.length;
    // A trailing CR may still become part of the terminator, so it is not counted yet.
    const body = tail[tail.length - 1] === CR ? length - 1 : length;
    if (!this.#fits(body)) return;
    if (length > this.#pending.length) {
      const capacity = Math.min(
        Math.max(length, this.#pending.length * 2, 64),
        this.#scanner.maxMessageBytes + 1,
      );
      const grown = new Uint8Array(capacity);
      grown.set(this.#pending.subarray(0, this.#pendingLength));
      this.#pending = grown;
    }
    this.#pending.set(tail, this.#pendingLength);
    this.#pendingLength = length;
  }
}

/**
 * Builds the reply to a message (rule 4): its bytes uppercased, invalid UTF-8
 * kept as it is, followed by the message's terminator.
 *
 * @example Uppercasing a line
 * ```ts
 * import assert from "node:assert/strict";
 * import { uppercaseReply } from "./protocol.ts";
 *
 * const reply = uppercaseReply({ bytes: new TextEncoder().encode("hola servidor"), terminator: "\n" });
 * assert.equal(new TextDecoder().decode(reply), "HOLA SERVIDOR\n");
 * ```
 */
export function uppercaseReply(message: Message): Uint8Array {
  const { bytes, terminator } = message;
  // ASCII, the common case, is uppercased straight into the reply, terminator and all.
  let reply = new Uint8Array(bytes.length + terminator.length);
  if (!copyUppercaseAscii(bytes, reply)) {
    const body = uppercaseUtf8(bytes);
    if (terminator === "") return body;
    reply = new Uint8Array(body.length + terminator.length);
    reply.set(body);
  }
  if (terminator === "") return reply;
  if (terminator === "\r\n") reply[reply.length - 2] = CR;
  reply[reply.length - 1] = LF;
  return reply;
}
