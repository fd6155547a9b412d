/**
 * The client's pipeline mode, for scripts: the input's lines go to the server
 * as they come, with up to {@linkcode MAX_IN_FLIGHT} unanswered, and only the
 * replies are printed, one per line, so `client < in.txt > out.txt` uppercases
 * a file.
 *
 * One loop drives it and waits on whichever of its two sources moves first,
 * the input or the server. So it notices at once that the server has gone,
 * even while the input is still open, and it reads no more input than it may
 * send.
 *
 * @module
 */

import { isDisconnectCommand, type Message, MessageFramer, type Terminator } from "../protocol.ts";
import { concat } from "../protocol/text.ts";
import { EXIT } from "../cli/exit_status.ts";
import type { ReplyStream } from "./replies.ts";
import { checkForServerError, connectionLost, disconnect, send, SessionEnd } from "./session.ts";

/** Most messages a pipeline keeps unanswered at once. */
export const MAX_IN_FLIGHT = 128;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const LINE_ENDS: Record<Terminator, Uint8Array> = {
  "\n": encoder.encode("\n"),
  "\r\n": encoder.encode("\r\n"),
  // Sent, and printed, as a line like the others.
  "": encoder.encode("\n"),
};

type Event =
  | { input: ReadableStreamReadResult<Uint8Array> }
  | { replies: Message[] };

/** One run of pipeline mode over one connection. */
export class Pipeline {
  readonly #conn: Deno.Conn;
  readonly #replies: ReplyStream;
  readonly #output: WritableStreamDefaultWriter<Uint8Array>;
  readonly #framer: MessageFramer;
  /** Messages read from the input and not sent yet. */
  #unsent: Message[] = [];
  /** The start of each message sent and not answered yet, to tell its reply from an ERROR line. */
  readonly #unanswered: string[] = [];
  /**
   * Most messages unanswered at once. It stays 1 until a reply shows that the
   * server ends its replies with a newline: servers that take one read as one
   * message need that.
   */
  #window = 1;
  /** Set at the end of the input, or at a `DESCONEXION` line. */
  #inputEnded = false;

  /**
   * Prepares a pipeline over `conn`, whose replies `replies` reads, printing to `output`.
   *
   * @param options `maxMessageBytes`: the longest line it sends.
   */
  constructor(
    conn: Deno.Conn,
    replies: ReplyStream,
    output: WritableStreamDefaultWriter<Uint8Array>,
    options: { maxMessageBytes: number },
  ) {
    this.#conn = conn;
    this.#replies = replies;
    this.#output = output;
    this.#framer = new MessageFramer(options);
  }

  /**
   * Sends the input's lines and prints the replies until the input ends (or
   * says `DESCONEXION`) and every line is answered; then disconnects.
   *
   * @param input The lines to send.
   * @returns {@linkcode EXIT.OK}.
   * @throws {SessionEnd} When the session ends any other way: the server went
   *   away or sent an `ERROR` line, a line is too long, the output was closed.
   */
  async run(input: ReadableStream<Uint8Array>): Promise<number> {
    const reader = input.getReader();
    let reading: Promise<Event> | undefined;
    const nextReplies = () => this.#replies.take().then((replies): Event => ({ replies }));
    let answering = nextReplies();
    try {
      for (;;) {
        await this.#sendWhatFits();
        const answered = this.#unanswered.length === 0 && this.#unsent.length === 0;
        if (this.#inputEnded && answered) break;
        // More input only once everything read so far is sent.
        if (!this.#inputEnded && this.#unsent.length === 0) {
          reading ??= reader.read().then((input): Event => ({ input }));
        }
        const event = await Promise.race(reading ? [answering, reading] : [answering]);
        if ("input" in event) {
          reading = undefined;
          this.#read(event.input);
        } else {
          answering = nextReplies();
          await this.#print(event.replies);
        }
      }
    } finally {
      // Stops a read still waiting for input that will not be sent.
      reader.cancel().catch(() => {});
    }
    await disconnect(this.#conn, this.#replies);
    return EXIT.OK;
  }

  #read(result: ReadableStreamReadResult<Uint8Array>): void {
    const messages = result.done
      ? [this.#framer.flush()].filter((message) => message !== undefined)
      : this.#framer.push(result.value);
    if (this.#framer.exceeded) {
      throw new SessionEnd(
        EXIT.FAILURE,
        `Cannot send a line longer than ${this.#framer.scanner.maxMessageBytes} bytes`,
      );
    }
    this.#inputEnded = result.done;
    for (const message of messages) {
      if (isDisconnectCommand(decoder.decode(message.bytes))) {
        this.#inputEnded = true;
        break;
      }
      this.#unsent.push(message);
    }
  }

  async #sendWhatFits(): Promise<void> {
    const room = this.#window - this.#unanswered.length;
    if (room <= 0 || this.#unsent.length === 0) return;
    const batch = this.#unsent.splice(0, room);
    const parts: Uint8Array[] = [];
    for (const message of batch) {
      this.#unanswered.push(decoder.decode(message.bytes.subarray(0, 16)));
      parts.push(message.bytes, LINE_ENDS[message.terminator]);
    }
    await send(this.#conn, this.#replies, concat(parts));
  }

  async #print(replies: Message[]): Promise<void> {
    if (replies.length === 0) {
      const unanswered = this.#unanswered.length > 0 || this.#unsent.length > 0;
      throw connectionLost(
        this.#replies,
        unanswered ? "before answering every line" : "before the input ended",
      );
    }
    const parts: Uint8Array[] = [];
    try {
      for (const reply of replies) {
        const sent = this.#unanswered.shift();
        if (sent === undefined) continue; // more replies than messages: none of them is ours
        checkForServerError(reply, sent);
        if (reply.terminator !== "") this.#window = MAX_IN_FLIGHT;
        parts.push(reply.bytes, LINE_ENDS[reply.terminator]);
      }
    } finally {
      // The replies before an ERROR line are printed before the session ends.
      await this.#write(concat(parts));
    }
  }

  async #write(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return;
    try {
      await this.#output.write(bytes);
    } catch (error) {
      // Like cat in `cat big.txt | head -1`: the reader has all it wanted.
      if (error instanceof Deno.errors.BrokenPipe) throw new SessionEnd(EXIT.OUTPUT_CLOSED);
      throw new SessionEnd(
        EXIT.FAILURE,
        `Cannot write the replies: ${error instanceof Error ? error.message : error}`,
      );
    }
  }
}
