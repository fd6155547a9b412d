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
 * With `--reconnect`, every line whose reply has not arrived in full is sent
 * again, in order and before any new line, on the new connection: a reply
 * depends only on its line, and the server answers lines in order, so the
 * output is what one unbroken connection would have given.
 *
 * @module
 */

import { isDisconnectCommand, type Message, MessageFramer, type Terminator } from "../protocol.ts";
import { concat } from "../protocol/text.ts";
import { EXIT } from "../cli/exit_status.ts";
import { ConnectionLost, type Link } from "./link.ts";
import * as session from "./session.ts";

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

/** One run of pipeline mode over a link to the server. */
export class Pipeline {
  readonly #link: Link;
  readonly #output: WritableStreamDefaultWriter<Uint8Array>;
  readonly #framer: MessageFramer;
  /** Messages read from the input and not sent yet. */
  #unsent: Message[] = [];
  /** Messages sent whose replies have not arrived in full, in order. */
  #inFlight: Message[] = [];
  /**
   * Most messages unanswered at once. It stays 1 until a reply shows that the
   * server ends its replies with a newline: servers that take one read as one
   * message need that.
   */
  #window = 1;
  /** Set at the end of the input, or at a `DESCONEXION` line. */
  #inputEnded = false;
  /** When lines began to wait for replies, after none did; for the reply timeout. */
  #waitingSince = 0;
  /** Makes the server's text safe to show, where the output is a terminal. */
  readonly #visible: ((text: string) => string) | undefined;

  /**
   * Prepares a pipeline over `link`.
   *
   * @param options Where replies are printed (`output`), the longest line it
   *   sends (`maxMessageBytes`), and how the server's text is made safe to
   *   show, where the output is a terminal (`visible`).
   */
  constructor(
    link: Link,
    options: {
      output: WritableStreamDefaultWriter<Uint8Array>;
      maxMessageBytes: number;
      visible?: (text: string) => string;
    },
  ) {
    this.#link = link;
    this.#output = options.output;
    this.#framer = new MessageFramer(options);
    this.#visible = options.visible;
  }

  /**
   * Sends the input's lines and prints the replies until the input ends (or
   * says `DESCONEXION`) and every line is answered; then disconnects.
   *
   * @param input The lines to send.
   * @returns {@linkcode EXIT.OK}.
   * @throws {session.SessionEnd} When the session ends any other way: the server went
   *   away (and, with `--reconnect`, could not be reached again) or sent an
   *   `ERROR` line, a line is too long, the output was closed.
   */
  async run(input: ReadableStream<Uint8Array>): Promise<number> {
    const reader = input.getReader();
    let reading: Promise<Event> | undefined;
    const nextReplies = () => this.#link.replies.take().then((replies): Event => ({ replies }));
    let answering = nextReplies();
    try {
      for (;;) {
        try {
          await this.#sendWhatFits();
          const answered = this.#inFlight.length === 0 && this.#unsent.length === 0;
          if (this.#inputEnded && answered) break;
          // More input only once everything read so far is sent.
          if (!this.#inputEnded && this.#unsent.length === 0) {
            reading ??= reader.read().then((input): Event => ({ input }));
          }
          const next = Promise.race(reading ? [answering, reading] : [answering]);
          // Only while lines wait for replies may the server's silence mean it is gone.
          const event = this.#inFlight.length > 0
            ? await this.#link.withinReplyTimeout(next, this.#waitingSince)
            : await next;
          if ("input" in event) {
            reading = undefined;
            this.#read(event.input);
          } else {
            answering = nextReplies();
            await this.#print(event.replies);
          }
        } catch (error) {
          if (!(error instanceof ConnectionLost)) throw error;
          await this.#recover(error);
          answering = nextReplies();
        }
      }
    } finally {
      // Stops a read still waiting for input that will not be sent.
      reader.cancel().catch(() => {});
    }
    await session.disconnect(this.#link.conn, this.#link.replies);
    return EXIT.OK;
  }

  /**
   * After the connection was lost: with `--reconnect`, connects again and puts
   * every line whose reply did not arrive in full first in line to be sent;
   * otherwise ends the session, as a filter does.
   */
  async #recover(cause: ConnectionLost): Promise<void> {
    const replies = this.#link.replies;
    if (!this.#link.reconnects || replies.spokeTls) {
      const unanswered = this.#inFlight.length > 0 || this.#unsent.length > 0;
      throw session.connectionLost(
        replies,
        cause.when(unanswered ? "before answering every line" : "before the input ended"),
        cause.reason,
      );
    }
    this.#unsent = [...this.#inFlight, ...this.#unsent];
    this.#inFlight = [];
    // Maybe another server, of another style: it shows again how it ends its replies.
    this.#window = 1;
    await this.#link.reconnect();
    if (this.#unsent.length === 0) await this.#link.connected();
  }

  #read(result: ReadableStreamReadResult<Uint8Array>): void {
    const messages = result.done
      ? [this.#framer.flush()].filter((message) => message !== undefined)
      : this.#framer.push(result.value);
    if (this.#framer.exceeded) {
      throw new session.SessionEnd(
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
    const room = this.#window - this.#inFlight.length;
    if (room <= 0 || this.#unsent.length === 0) return;
    const batch = this.#unsent.splice(0, room);
    if (this.#inFlight.length === 0) this.#waitingSince = performance.now();
    this.#inFlight.push(...batch);
    await this.#link.send(concat(batch.flatMap((m) => [m.bytes, LINE_ENDS[m.terminator]])));
  }

  async #print(replies: Message[]): Promise<void> {
    if (replies.length === 0) throw new ConnectionLost();
    const parts: Uint8Array[] = [];
    try {
      for (const reply of replies) {
        const sent = this.#inFlight[0];
        if (sent === undefined) {
          // A line that answers nothing sent: the server's ERROR line, such as its
          // idle timeout, or a server that does not speak this protocol.
          if (this.#link.reconnects && session.turnedAway(reply, "")) throw new ConnectionLost();
          session.checkForServerError(reply, "");
          throw new session.SessionEnd(
            EXIT.CONNECTION_LOST,
            "The server sent a line that answers nothing this client sent: it does not speak this protocol",
          );
        }
        const sentText = decoder.decode(sent.bytes.subarray(0, 16));
        if (this.#link.reconnects && session.turnedAway(reply, sentText)) {
          throw new ConnectionLost();
        }
        session.checkForServerError(reply, sentText);
        this.#inFlight.shift();
        if (reply.terminator !== "") this.#window = MAX_IN_FLIGHT;
        const shown = this.#visible
          ? encoder.encode(this.#visible(decoder.decode(reply.bytes)))
          : reply.bytes;
        parts.push(shown, LINE_ENDS[reply.terminator]);
      }
      if (parts.length > 0) await this.#link.worked();
    } finally {
      // The replies before an ERROR line, or an outage, are printed first.
      await this.#write(concat(parts));
    }
  }

  async #write(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return;
    try {
      await this.#output.write(bytes);
    } catch (error) {
      // Like cat in `cat big.txt | head -1`: the reader has all it wanted.
      if (error instanceof Deno.errors.BrokenPipe) throw new session.SessionEnd(EXIT.OUTPUT_CLOSED);
      throw new session.SessionEnd(
        EXIT.FAILURE,
        `Cannot write the replies: ${error instanceof Error ? error.message : error}`,
      );
    }
  }
}
