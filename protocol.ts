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
 *    terminator not counted) is answered with one line starting with `ERROR`
 *    and the connection is closed. At most the limit plus one byte is held.
 *
 * @module
 */

/** The address the server listens on and the client connects to: IPv4 loopback, which
 * every localhost client reaches, IPv4-only ones included. */
export const DEFAULT_HOSTNAME = "127.0.0.1";

/** The port the server listens on and the client connects to. */
export const DEFAULT_PORT = 5000;

/** The message that asks the server to close the connection. */
export const DISCONNECT_COMMAND = "DESCONEXION";

/** Default longest message, in bytes, terminator not counted (1 MiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_576;

/** Default quiet pause, in milliseconds, after which unterminated bytes form a message. */
export const DEFAULT_FLUSH_DELAY_MS = 50;

/**
 * How many times longer, in UTF-8 bytes, uppercasing can make a text: `ΐ`
 * (U+0390, 2 bytes) becomes `Ϊ́` (3 characters, 6 bytes).
 */
export const MAX_UPPERCASE_GROWTH = 3;

/** Room for one of the server's `ERROR` lines, in bytes. */
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
  /** The message's bytes. May be a view into the chunk given to `push`: copy it to keep it. */
  bytes: Uint8Array;
  /** The terminator the message had; `""` when it ended by a pause or end of input. */
  terminator: Terminator;
}

/** Options of {@linkcode MessageFramer} and {@linkcode ServerConversation}. */
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
const encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF in the text, so it comes back in the reply.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Splits a byte stream into messages (rules 1 to 3 and the limit of rule 6),
 * in linear time whatever the chunking.
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
  readonly #maxMessageBytes: number;
  #pending: Uint8Array = EMPTY;
  #pendingLength = 0;
  #exceeded = false;

  /** Makes a framer that holds at most `maxMessageBytes + 1` bytes. */
  constructor(options: FramingOptions = {}) {
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
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
   * Frames the messages that `chunk` completes.
   *
   * @param chunk The next bytes of the stream.
   * @returns The completed messages, in order; they stop before a message over the limit.
   */
  push(chunk: Uint8Array): Message[] {
    const messages: Message[] = [];
    if (this.#exceeded) return messages;
    let start = 0;
    for (let end = chunk.indexOf(LF); end !== -1; end = chunk.indexOf(LF, start)) {
      const line = this.#pendingLength === 0
        ? chunk.subarray(start, end)
        : this.#takePending(chunk.subarray(start, end));
      start = end + 1;
      const crlf = line.length > 0 && line[line.length - 1] === CR;
      const bytes = crlf ? line.subarray(0, line.length - 1) : line;
      if (!this.#fits(bytes.length)) return messages;
      messages.push({ bytes, terminator: crlf ? "\r\n" : "\n" });
    }
    this.#hold(chunk.subarray(start));
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
    const held = this.#pending.subarray(0, this.#pendingLength);
    return endsInsideCharacter(held) ? flushDelayMs + INCOMPLETE_CHARACTER_GRACE_MS : flushDelayMs;
  }

  #fits(length: number): boolean {
    if (length <= this.#maxMessageBytes) return true;
    this.#exceeded = true;
    this.#pending = EMPTY;
    this.#pendingLength = 0;
    return false;
  }

  #takePending(tail: Uint8Array): Uint8Array {
    const line = new Uint8Array(this.#pendingLength + tail.length);
    line.set(this.#pending.subarray(0, this.#pendingLength));
    line.set(tail, this.#pendingLength);
    this.#pendingLength = 0;
    // Keep a small buffer for the next partial message; give a large one back.
    if (this.#pending.length > RETAINED_PENDING_BYTES) this.#pending = EMPTY;
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
        this.#maxMessageBytes + 1,
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
 * Tells whether a message is the disconnect command (rule 5): trimmed, it equals
 * `DESCONEXION` ignoring case and accents.
 *
 * @example Recognising the command
 * ```ts
 * import assert from "node:assert/strict";
 * import { isDisconnectCommand } from "./protocol.ts";
 *
 * assert(isDisconnectCommand(" Desconexión\r\n"));
 * assert(!isDisconnectCommand("DESCONEXION ya"));
 * ```
 */
export function isDisconnectCommand(text: string): boolean {
  const bare = text.trim().normalize("NFD").replace(/\p{M}/gu, "");
  return bare.toUpperCase() === DISCONNECT_COMMAND;
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
  const ascii = new Uint8Array(bytes.length);
  const body = copyUppercaseAscii(bytes, 0, bytes.length, ascii) ? ascii : uppercaseUtf8(bytes);
  if (terminator === "") return body;
  const reply = new Uint8Array(body.length + terminator.length);
  reply.set(body);
  if (terminator === "\r\n") reply[body.length] = CR;
  reply[reply.length - 1] = LF;
  return reply;
}

/** Why a {@linkcode ServerConversation} wants its connection closed. */
export type CloseReason = "disconnect command" | "message too long" | "end of input";

/** What the server must do after a step of a {@linkcode ServerConversation}. */
export interface Turn {
  /** Bytes to write, possibly empty: replies in order, then any `ERROR` line. */
  reply: Uint8Array;
  /** Set when the connection must be closed once `reply` is written. */
  close?: CloseReason;
}

/**
 * The server's side of one connection (rules 1 to 6) as a pure state machine:
 * bytes and pauses in, the bytes to write and when to close out.
 *
 * @example Answering, then disconnecting
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServerConversation } from "./protocol.ts";
 *
 * const conversation = new ServerConversation();
 * const turn = conversation.receive(new TextEncoder().encode("hola\nDESCONEXION\nignored\n"));
 * assert.equal(new TextDecoder().decode(turn.reply), "HOLA\n");
 * assert.equal(turn.close, "disconnect command");
 * ```
 */
export class ServerConversation {
  readonly #framer: MessageFramer;
  readonly #maxMessageBytes: number;
  #closed = false;
  #messages = 0;

  /** Starts a conversation with the given limit. */
  constructor(options: FramingOptions = {}) {
    this.#framer = new MessageFramer(options);
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** How many messages have been received, the disconnect command included. */
  get messages(): number {
    return this.#messages;
  }

  /**
   * Takes the next bytes from the client.
   *
   * @param chunk Bytes as read from the connection. They are uppercased where
   *   they lie and the reply may be a view of them, so a read buffer passed here
   *   must not be read into again until the reply is written.
   * @returns The replies they complete, and whether to close.
   */
  receive(chunk: Uint8Array): Turn {
    if (this.#closed) return { reply: EMPTY };
    if (this.#framer.pendingBytes > 0) return this.#answer(this.#framer.push(chunk));
    // Fast path, the same rules: whole ASCII lines are answered in place, in one
    // pass, with no new buffer (their terminators are their replies'
    // terminators). The first line that is not plain ASCII or is over the limit,
    // and everything after it, take the general path. That line may be left
    // partly uppercased, which changes nothing: uppercasing goes character by
    // character and leaves capitals as they are, and the command ignores case.
    let start = 0;
    for (let end = chunk.indexOf(LF); end !== -1; end = chunk.indexOf(LF, start)) {
      if (!copyUppercaseAscii(chunk, start, end + 1, chunk)) break;
      const crlf = end > start && chunk[end - 1] === CR;
      if (end - start - (crlf ? 1 : 0) > this.#maxMessageBytes) break;
      this.#messages++;
      if (isDisconnectMessage(chunk, start, end)) {
        return this.#close([chunk.subarray(0, start)], "disconnect command");
      }
      start = end + 1;
    }
    if (start === chunk.length) return { reply: chunk.subarray(0, start) };
    const rest = this.#answer(this.#framer.push(chunk.subarray(start)));
    return { reply: concat([chunk.subarray(0, start), rest.reply]), close: rest.close };
  }

  /**
   * Ends the held bytes as a message because the input went quiet (rule 2).
   * Call it only after {@linkcode quietDelay} has passed without input.
   */
  quiet(): Turn {
    if (this.#closed) return { reply: EMPTY };
    const message = this.#framer.flush();
    return this.#answer(message ? [message] : []);
  }

  /** Ends the conversation at end of input (rule 3): the held bytes are the last message. */
  end(): Turn {
    const turn = this.quiet();
    this.#closed = true;
    return { reply: turn.reply, close: turn.close ?? "end of input" };
  }

  /** Milliseconds of quiet after which to call {@linkcode quiet}, or `undefined` for none. */
  quietDelay(flushDelayMs: number): number | undefined {
    return this.#closed ? undefined : this.#framer.quietDelay(flushDelayMs);
  }

  #answer(messages: Message[]): Turn {
    const replies: Uint8Array[] = [];
    for (const message of messages) {
      this.#messages++;
      if (isDisconnectMessage(message.bytes, 0, message.bytes.length)) {
        return this.#close(replies, "disconnect command");
      }
      replies.push(uppercaseReply(message));
    }
    if (this.#framer.exceeded) {
      replies.push(
        encoder.encode(`ERROR message too long (limit ${this.#maxMessageBytes} bytes)\n`),
      );
      return this.#close(replies, "message too long");
    }
    return { reply: concat(replies) };
  }

  #close(replies: Uint8Array[], reason: CloseReason): Turn {
    this.#closed = true;
    return { reply: concat(replies), close: reason };
  }
}

/** Joins byte arrays into one, without copying when there is only one. */
export function concat(parts: Uint8Array[]): Uint8Array {
  parts = parts.filter((part) => part.length > 0);
  if (parts.length === 0) return EMPTY;
  if (parts.length === 1) return parts[0];
  let length = 0;
  for (const part of parts) length += part.length;
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

/**
 * Length of the well-formed UTF-8 sequence starting at `bytes[start]`
 * (Unicode table 3-7): its length when complete, 0 when the bytes there can
 * start no character, or -1 when they are a valid start cut off by `end`.
 */
function sequenceLength(bytes: Uint8Array, start: number, end: number): number {
  const lead = bytes[start];
  if (lead < 0x80) return 1;
  let length: number, low = 0x80, high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead === 0xe0) low = 0xa0;
    if (lead === 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead === 0xf0) low = 0x90;
    if (lead === 0xf4) high = 0x8f;
  } else return 0;
  for (let i = 1; i < length; i++) {
    if (start + i >= end) return -1;
    const byte = bytes[start + i];
    if (byte < low || byte > high) return 0;
    low = 0x80;
    high = 0xbf;
  }
  return length;
}

function endsInsideCharacter(bytes: Uint8Array): boolean {
  for (let start = Math.max(0, bytes.length - 3); start < bytes.length; start++) {
    if (sequenceLength(bytes, start, bytes.length) === -1) return true;
  }
  return false;
}

/**
 * Copies `bytes[start..end)` to the same place in `target` (which may be
 * `bytes` itself), uppercased, if they are all ASCII; returns false, having
 * copied part at most, if they are not.
 */
function copyUppercaseAscii(
  bytes: Uint8Array,
  start: number,
  end: number,
  target: Uint8Array,
): boolean {
  for (let i = start; i < end; i++) {
    const byte = bytes[i];
    if (byte >= 0x80) return false;
    target[i] = byte >= 0x61 && byte <= 0x7a ? byte - 0x20 : byte;
  }
  return true;
}

function uppercaseUtf8(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let i = 0;
  while (i < bytes.length) {
    const textStart = i;
    for (let length; i < bytes.length && (length = sequenceLength(bytes, i, bytes.length)) > 0;) {
      i += length;
    }
    if (textStart < i) parts.push(uppercaseText(bytes.subarray(textStart, i)));
    const invalidStart = i;
    while (i < bytes.length && sequenceLength(bytes, i, bytes.length) <= 0) i++;
    // A copy, not a view: the reply must not share memory with the caller's read buffer.
    if (invalidStart < i) parts.push(bytes.slice(invalidStart, i));
  }
  return concat(parts);
}

function uppercaseText(validUtf8: Uint8Array): Uint8Array {
  return encoder.encode(decoder.decode(validUtf8).toUpperCase());
}

const isAsciiSpace = (byte: number) => byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);

/** Rule 5 on the bytes `bytes[start..end)`, decoding them only when a cheap test allows it. */
function isDisconnectMessage(bytes: Uint8Array, start: number, end: number): boolean {
  return mayBeDisconnectCommand(bytes, start, end) &&
    isDisconnectCommand(decoder.decode(bytes.subarray(start, end)));
}

/**
 * Cheap byte test that rules out almost every ordinary message before the full
 * check decodes it: once ASCII whitespace is skipped, the command can only
 * start with `D`, `d` or a non-ASCII byte (`Ď` and the like) and end likewise with `N`.
 */
function mayBeDisconnectCommand(bytes: Uint8Array, start: number, end: number): boolean {
  let first = start;
  while (first < end && isAsciiSpace(bytes[first])) first++;
  let last = end - 1;
  while (last > first && isAsciiSpace(bytes[last])) last--;
  if (first >= last) return false;
  const head = bytes[first] | 0x20, tail = bytes[last] | 0x20;
  return (head === 0x64 || bytes[first] >= 0x80) && (tail === 0x6e || bytes[last] >= 0x80);
}
