/**
 * Tests of the server's side of a conversation: replies in order, the
 * disconnect command, the limit, and properties: any chunking of any byte
 * stream gives the replies the rules give, fast path included.
 *
 * @module
 */

import assert from "node:assert/strict";
import { isDisconnectCommand, uppercaseReply } from "../protocol.ts";
import {
  chunked,
  forAnyLongStream,
  forAnyStream,
  referenceFrames,
  type StreamCase,
} from "../testing/byte_streams.ts";
import { ServerConversation } from "./conversation.ts";

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);
const lenient = new TextDecoder("utf-8", { ignoreBOM: true });
const text = (data: Uint8Array) => lenient.decode(data);

/** Runs a conversation over chunks and end of input; returns everything written and why it closed. */
function converse(chunks: Uint8Array[], options = {}) {
  const conversation = new ServerConversation(options);
  const written: Uint8Array[] = [];
  let close;
  for (const chunk of chunks) {
    const turn = conversation.receiveInPlace(chunk);
    written.push(turn.reply);
    close ??= turn.close;
  }
  const last = conversation.end();
  written.push(last.reply);
  close ??= last.close;
  const bytes = written.flatMap((w) => [...w]);
  return { written: text(Uint8Array.from(bytes)), bytes, close, conversation };
}

Deno.test("ServerConversation answers in order and answers the unterminated rest at end of input", () => {
  const { written, close } = converse([bytes("uno\r\ndos\n"), bytes("tres")]);
  assert.equal(written, "UNO\r\nDOS\nTRES");
  assert.equal(close, "end_of_input");
});

Deno.test("ServerConversation writes the replies due, then closes on DESCONEXION and ignores the rest, counting only what it answered", () => {
  const conversation = new ServerConversation();
  const turn = conversation.receiveInPlace(bytes("a\nb\n desconexión \r\nc\n"));
  assert.equal(text(turn.reply), "A\nB\n");
  assert.equal(turn.close, "disconnect_command");
  assert.equal(conversation.messages, 2, "two lines answered; the command is not a message");
  assert.equal(
    conversation.receiveInPlace(bytes("d\n")).reply.length,
    0,
    "input after the command is ignored",
  );
  assert.equal(conversation.end().reply.length, 0);
});

Deno.test("ServerConversation recognises a bare DESCONEXION at a pause and at end of input", () => {
  const conversation = new ServerConversation();
  assert.equal(
    conversation.receiveInPlace(bytes("hola")).reply.length,
    0,
    "no reply before the pause",
  );
  assert.equal(text(conversation.quiet().reply), "HOLA");
  conversation.receiveInPlace(bytes("DESCONEXION"));
  assert.deepEqual(conversation.quiet(), { reply: new Uint8Array(0), close: "disconnect_command" });
  assert.equal(converse([bytes("DESCONEXION")]).close, "disconnect_command");
});

Deno.test("ServerConversation answers a message over the limit with one ERROR line after the replies due", () => {
  for (const tail of ["\n", ""]) {
    const { written, close } = converse([bytes(`ok\n${"x".repeat(9)}${tail}`), bytes("after\n")], {
      maxMessageBytes: 8,
    });
    assert.equal(written, "OK\nERROR message too long (limit 8 bytes)\n", JSON.stringify(tail));
    assert.equal(close, "message_too_long");
  }
});

Deno.test("ServerConversation gives the same replies for any chunking of any byte stream", () => {
  forAnyStream(({ stream, cuts, limit }) => {
    const whole = converse([stream], { maxMessageBytes: limit });
    const pieces = converse(chunked(stream, cuts), { maxMessageBytes: limit });
    assert.deepEqual([pieces.written, pieces.close], [whole.written, whole.close]);
  });
});

/**
 * Asserts that a conversation over `stream`, cut at `cuts`, does what the
 * rules say, one by one; held bytes are uppercased `pieceBytes` at a time, if given.
 */
function assertFollowsTheRules({ stream, cuts, limit }: StreamCase, pieceBytes?: number): void {
  const { messages, exceeded } = referenceFrames(stream, limit);
  const want: number[] = [];
  let close = exceeded ? "message_too_long" : "end_of_input";
  let answered = 0;
  for (const [body, terminator] of messages) {
    if (isDisconnectCommand(lenient.decode(Uint8Array.from(body)))) {
      close = "disconnect_command";
      break;
    }
    want.push(...uppercaseReply({ bytes: Uint8Array.from(body), terminator }));
    answered++;
  }
  if (close === "message_too_long") {
    want.push(...bytes(`ERROR message too long (limit ${limit} bytes)\n`));
  }
  const got = converse(chunked(stream, cuts), { maxMessageBytes: limit, pieceBytes });
  assert.deepEqual([got.bytes, got.close], [want, close]);
  assert.equal(got.conversation.messages, answered, "messages counts the lines answered");
}

Deno.test("ServerConversation answers every byte stream as the rules say, fast path included", () => {
  forAnyStream(assertFollowsTheRules, 3000);
});

Deno.test("ServerConversation answers long chunks as the rules say, whole-chunk path included", () => {
  forAnyLongStream(assertFollowsTheRules);
});

Deno.test("ServerConversation answers as the rules say when it uppercases held bytes in pieces", () => {
  const inPieces = (input: StreamCase) => {
    for (const pieceBytes of [1, 2, 3, 7]) assertFollowsTheRules(input, pieceBytes);
  };
  forAnyStream(inPieces, 1000);
  forAnyLongStream(inPieces, 200);
});

Deno.test("ServerConversation judges a long message as the disconnect command on all of its bytes", () => {
  const padding = " ".repeat(200_000);
  const command = bytes(`${padding}Desconexión${padding}\n`);
  const got = converse(chunked(command, [65_536, 131_072, 300_000]), { maxMessageBytes: 500_000 });
  assert.deepEqual([got.written, got.close], ["", "disconnect_command"]);
});

Deno.test("ServerConversation answers a long message whose last bytes alone are the command", () => {
  const line = `${"ñ".repeat(40_000)}desconexion\n`;
  const got = converse(chunked(bytes(line), [70_000, 80_000]), { pieceBytes: 1024 });
  assert.deepEqual([got.written, got.close], [line.toUpperCase(), "end_of_input"]);
});
