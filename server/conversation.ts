/**
 * The server's side of one connection (the rules of `protocol.ts`) as a pure
 * state machine: bytes and pauses in, the bytes to write and when to close out.
 * No I/O, so every step can be tested byte by byte.
 *
 * @module
 */

import {
  ERROR_LINES,
  type FramingOptions,
  type Message,
  MessageFramer,
  uppercaseReply,
} from "../protocol.ts";
import { isDisconnectMessage, mayHoldDisconnectCommand } from "../protocol/command.ts";
import type { CloseReason } from "./stats.ts";
import {
  concat,
  copyUppercaseAscii,
  uppercaseAsciiInPlace,
  uppercaseUtf8,
  wholeCharactersEnd,
} from "../protocol/text.ts";

const EMPTY = new Uint8Array(0);
const LF = 0x0a;
// From this size, a chunk is uppercased whole first: below it, making the
// 32-bit view costs more than it saves.
const WHOLE_CHUNK_BYTES = 256;
const CR = 0x0d;
const encoder = new TextEncoder();

/** Options of a {@linkcode ServerConversation}. */
export interface ConversationOptions extends FramingOptions {
  /**
   * How many bytes of a message still unterminated are uppercased at a time,
   * as they arrive, rather than all at its end: a long message then costs the
   * server many short pieces of work, not one long one, so that it can let
   * other connections in between.
   *
   * @default {65536}
   */
  pieceBytes?: number;
}

/** What the server must do after a step of a {@linkcode ServerConversation}. */
export interface Turn {
  /** Bytes to write, possibly empty: replies in order, then any `ERROR` line. */
  reply: Uint8Array;
  /** Set when the connection must be closed once `reply` is written: why, as metrics and log say. */
  close?: CloseReason;
}

/**
 * The server's side of one connection (rules 1 to 6) as a pure state machine:
 * bytes and pauses in, the bytes to write and when to close out.
 *
 * @example Answering, then disconnecting
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServerConversation } from "./conversation.ts";
 *
 * const conversation = new ServerConversation();
 * const turn = conversation.receiveInPlace(new TextEncoder().encode("hola\nDESCONEXION\nignored\n"));
 * assert.equal(new TextDecoder().decode(turn.reply), "HOLA\n");
 * assert.equal(turn.close, "disconnect_command");
 * ```
 */
export class ServerConversation {
  readonly #framer: MessageFramer;
  readonly #pieceBytes: number;
  #closed = false;
  #messages = 0;
  // An unterminated message is uppercased ahead of its end: its held bytes up to
  // #asciiBytes are ASCII, uppercased where they lie; from there up to
  // #headBytes, the pieces in #head stand for them.
  #asciiBytes = 0;
  #head: Uint8Array[] = [];
  #headBytes = 0;

  /** Starts a conversation with the given limit. */
  constructor(options: ConversationOptions = {}) {
    this.#framer = new MessageFramer(options);
    this.#pieceBytes = options.pieceBytes ?? 65_536;
  }

  /** How many messages have been answered: the disconnect command is not one, nor a line over the limit. */
  get messages(): number {
    return this.#messages;
  }

  /**
   * Takes the next bytes from the client, and uppercases them where they lie:
   * `chunk` is changed, and the reply may be a view of it. The server gains a
   * buffer and a copy per read that way; in return, a read buffer passed here
   * must not be read into again until the reply is written.
   *
   * @param chunk Bytes as read from the connection; changed in place.
   * @returns The replies they complete, and whether to close.
   */
  receiveInPlace(chunk: Uint8Array): Turn {
    if (this.#closed) return { reply: EMPTY };
    const turn = this.#receive(chunk);
    // Bytes held after the conversation's end are never answered: no work ahead for them.
    if (!turn.close) this.#uppercaseHeld();
    return turn;
  }

  #receive(chunk: Uint8Array): Turn {
    if (this.#framer.pendingBytes === 0) return this.#receiveLines(chunk);
    // A line cut by the last read ends in this one, as in most reads of pipelined
    // traffic: only that line needs the framer; the lines after it take the fast path.
    const lf = chunk.indexOf(LF);
    if (lf === -1) return this.#answer(this.#framer.push(chunk));
    const cut = this.#answer(this.#framer.push(chunk.subarray(0, lf + 1)));
    if (cut.close || lf + 1 === chunk.length) return cut;
    const rest = this.#receiveLines(chunk.subarray(lf + 1));
    return { reply: concat([cut.reply, rest.reply]), close: rest.close };
  }

  /** {@linkcode receiveInPlace} for a chunk that starts a line. */
  #receiveLines(chunk: Uint8Array): Turn {
    // Fast path, the same scanner: whole ASCII lines are answered in place, in
    // one pass, with no new buffer (their terminators are their replies'
    // terminators). The first line that is not plain ASCII or is over the limit,
    // and everything after it, take the general path. That line may be left
    // partly uppercased, which changes nothing: uppercasing goes character by
    // character and leaves capitals as they are, and the command ignores case.
    // A large chunk is uppercased in one pass, four bytes at a time. If it is
    // all ASCII, no longer than the limit (so no line in it can be over the
    // limit), and no line in it may be the command, its lines need no
    // scanning: their replies are the chunk up to its last newline, as it now stands.
    const scanner = this.#framer.scanner;
    const newlines = chunk.length >= WHOLE_CHUNK_BYTES && chunk.length <= scanner.maxMessageBytes
      ? uppercaseAsciiInPlace(chunk)
      : -1;
    if (newlines >= 0 && !mayHoldDisconnectCommand(chunk)) {
      const end = chunk.lastIndexOf(LF) + 1;
      this.#messages += newlines;
      if (end < chunk.length) this.#framer.push(chunk.subarray(end));
      return { reply: chunk.subarray(0, end) };
    }
    let start = 0;
    while (
      scanner.scan(chunk, start) === "line" && copyUppercaseAscii(chunk, chunk, start, scanner.next)
    ) {
      if (isDisconnectMessage(chunk, start, scanner.bodyEnd)) {
        return this.#close([chunk.subarray(0, start)], "disconnect_command");
      }
      this.#messages++;
      start = scanner.next;
    }
    if (start === chunk.length) return { reply: chunk.subarray(0, start) };
    // The lines after, not all ASCII, are uppercased together in one pass, from
    // their first byte to the last one's terminator: a character never spans a
    // newline, so that is every reply in turn. The first line over the limit or
    // that may be the command, and what follows it, take the framer's path.
    let end = start;
    while (
      scanner.scan(chunk, end) === "line" && !isDisconnectMessage(chunk, end, scanner.bodyEnd)
    ) {
      this.#messages++;
      end = scanner.next;
    }
    const replies = [chunk.subarray(0, start), uppercaseUtf8(chunk.subarray(start, end))];
    if (end === chunk.length) return { reply: concat(replies) };
    const rest = this.#answer(this.#framer.push(chunk.subarray(end)));
    return { reply: concat([...replies, rest.reply]), close: rest.close };
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
    return { reply: turn.reply, close: turn.close ?? "end_of_input" };
  }

  /** Milliseconds of quiet after which to call {@linkcode quiet}, or `undefined` for none. */
  quietDelay(flushDelayMs: number): number | undefined {
    return this.#closed ? undefined : this.#framer.quietDelay(flushDelayMs);
  }

  /**
   * Uppercases the held bytes of an unterminated message once a piece of them
   * is waiting, up to a final CR (which may begin the terminator) or a
   * character cut off. ASCII is uppercased where it lies, which changes neither
   * framing nor the disconnect command; other text goes into new arrays, and
   * the held bytes stay, for the command to be judged on the whole message.
   */
  #uppercaseHeld(): void {
    if (this.#framer.pendingBytes - this.#headBytes < this.#pieceBytes) return;
    const held = this.#framer.held;
    const end = wholeCharactersEnd(
      held,
      held[held.length - 1] === CR ? held.length - 1 : held.length,
    );
    const piece = held.subarray(this.#headBytes, end);
    if (uppercaseAsciiInPlace(piece) < 0) this.#head.push(uppercaseUtf8(piece));
    else if (this.#head.length === 0) this.#asciiBytes = end;
    else this.#head.push(piece.slice());
    this.#headBytes = end;
  }

  /** The reply to `message`, whose first bytes may be uppercased already. */
  #reply(message: Message): Uint8Array {
    if (this.#headBytes === 0) return uppercaseReply(message);
    const { bytes, terminator } = message;
    const rest = bytes.subarray(this.#headBytes);
    let reply;
    if (this.#head.length === 0 && uppercaseAsciiInPlace(rest) >= 0) {
      // All ASCII, now uppercased where it lies: the reply is the message and its terminator.
      reply = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length + terminator.length);
    } else {
      const restReply = uppercaseReply({ bytes: rest, terminator });
      reply = concat([bytes.subarray(0, this.#asciiBytes), ...this.#head, restReply]);
    }
    this.#asciiBytes = this.#headBytes = 0;
    this.#head = [];
    return reply;
  }

  #answer(messages: Message[]): Turn {
    const replies: Uint8Array[] = [];
    for (const message of messages) {
      if (isDisconnectMessage(message.bytes)) {
        return this.#close(replies, "disconnect_command");
      }
      this.#messages++;
      replies.push(this.#reply(message));
    }
    if (this.#framer.exceeded) {
      replies.push(
        encoder.encode(ERROR_LINES.messageTooLong(this.#framer.scanner.maxMessageBytes)),
      );
      return this.#close(replies, "message_too_long");
    }
    return { reply: concat(replies) };
  }

  #close(replies: Uint8Array[], reason: CloseReason): Turn {
    this.#closed = true;
    this.#head = [];
    return { reply: concat(replies), close: reason };
  }
}
