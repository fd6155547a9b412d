/**
 * Tests of the protocol's rules, byte by byte: framing edges, the quiet pause,
 * the limit, the disconnect rule and the reply rule; then properties: any
 * chunking of any byte stream gives the specification's messages, and replies
 * are `toUpperCase` with invalid bytes kept. The server's side of a conversation
 * is tested in `server/conversation_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { chunked, forAnyStream, referenceFrames } from "./testing/byte_streams.ts";
import {
  DEFAULT_FLUSH_DELAY_MS,
  ERROR_LINES,
  INCOMPLETE_CHARACTER_GRACE_MS,
  isDisconnectCommand,
  isErrorLine,
  type LineScan,
  LineScanner,
  MAX_UPPERCASE_GROWTH,
  type Message,
  MessageFramer,
  replyLimit,
  type Terminator,
  uppercaseReply,
} from "./protocol.ts";

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);
// ignoreBOM: a decoder that dropped a leading U+FEFF would hide whether the reply kept it.
const lenient = new TextDecoder("utf-8", { ignoreBOM: true });
const text = (data: Uint8Array) => lenient.decode(data);

/** Messages as `[text, terminator]` pairs, easy to compare and to read in a failure. */
function frame(
  chunks: (string | Uint8Array)[],
  options = {},
): { messages: [string, Terminator][]; framer: MessageFramer } {
  const framer = new MessageFramer(options);
  const messages: [string, Terminator][] = [];
  const keep = (m: Message) => messages.push([text(m.bytes), m.terminator]);
  for (const chunk of chunks) {
    framer.push(typeof chunk === "string" ? bytes(chunk) : chunk).forEach(keep);
  }
  const last = framer.flush();
  if (last) keep(last);
  return { messages, framer };
}

Deno.test("LineScanner finds each line's end, terminator and limit as the specification says", () => {
  const cases: {
    input: string;
    start: number;
    limit: number;
    want: LineScan;
    bodyEnd?: number;
    terminator?: Terminator;
    next?: number;
  }[] = [
    { input: "abc\n", start: 0, limit: 8, want: "line", bodyEnd: 3, terminator: "\n", next: 4 },
    { input: "abc\r\n", start: 0, limit: 8, want: "line", bodyEnd: 3, terminator: "\r\n", next: 5 },
    { input: "a\r\r\n", start: 0, limit: 8, want: "line", bodyEnd: 2, terminator: "\r\n", next: 4 },
    { input: "\n", start: 0, limit: 8, want: "line", bodyEnd: 0, terminator: "\n", next: 1 },
    { input: "\r\n", start: 0, limit: 8, want: "line", bodyEnd: 0, terminator: "\r\n", next: 2 },
    { input: "x\n\r\n", start: 2, limit: 8, want: "line", bodyEnd: 2, terminator: "\r\n", next: 4 },
    { input: "x\nab\n", start: 2, limit: 2, want: "line", bodyEnd: 4, terminator: "\n", next: 5 },
    { input: "abc\r\n", start: 0, limit: 3, want: "line", bodyEnd: 3, terminator: "\r\n", next: 5 },
    { input: "abcd\r\n", start: 0, limit: 3, want: "too long" },
    { input: "x\nabcd\n", start: 2, limit: 3, want: "too long" },
    { input: "abc", start: 0, limit: 8, want: "unterminated" },
    { input: "abc\r", start: 0, limit: 8, want: "unterminated" },
    { input: "abc\n", start: 4, limit: 8, want: "unterminated" },
  ];
  for (const { input, start, limit, want, ...where } of cases) {
    const scanner = new LineScanner({ maxMessageBytes: limit });
    const name = `${JSON.stringify(input)} from ${start}, limit ${limit}`;
    assert.equal(scanner.scan(bytes(input), start), want, name);
    if (want !== "line") continue;
    const { bodyEnd, terminator, next } = scanner;
    assert.deepEqual({ bodyEnd, terminator, next }, where, name);
  }
});

Deno.test("MessageFramer frames each edge case as the specification says", () => {
  const cases: { name: string; chunks: string[]; want: [string, Terminator][] }[] = [
    { name: "LF", chunks: ["a\nb\n"], want: [["a", "\n"], ["b", "\n"]] },
    { name: "CRLF", chunks: ["a\r\nb\r\n"], want: [["a", "\r\n"], ["b", "\r\n"]] },
    {
      name: "LF and CRLF mixed",
      chunks: ["a\nb\r\nc\n"],
      want: [["a", "\n"], ["b", "\r\n"], ["c", "\n"]],
    },
    { name: "empty lines", chunks: ["\n\r\n\n"], want: [["", "\n"], ["", "\r\n"], ["", "\n"]] },
    { name: "CR alone stays in the message", chunks: ["a\rb\n"], want: [["a\rb", "\n"]] },
    {
      name: "CR CR LF: only the last CR is the terminator's",
      chunks: ["a\r\r\n"],
      want: [["a\r", "\r\n"]],
    },
    {
      name: "CRLF split across chunks",
      chunks: ["hola\r", "\nsi\n"],
      want: [["hola", "\r\n"], ["si", "\n"]],
    },
    { name: "chunk ending in CR, then no LF", chunks: ["a\r", "b\n"], want: [["a\rb", "\n"]] },
    { name: "empty chunks", chunks: ["", "a", "", "\n", ""], want: [["a", "\n"]] },
    {
      name: "unterminated rest at end of input",
      chunks: ["a\nrest"],
      want: [["a", "\n"], ["rest", ""]],
    },
    {
      name: "trailing CR at end of input is part of the message",
      chunks: ["a\r"],
      want: [["a\r", ""]],
    },
    { name: "no input, no message", chunks: [], want: [] },
  ];
  for (const { name, chunks, want } of cases) {
    assert.deepEqual(frame(chunks).messages, want, name);
  }
  const oneByteChunks = [...bytes("canción\r\nñandú\n")].map((b) => Uint8Array.of(b));
  assert.deepEqual(
    frame(oneByteChunks).messages,
    [["canción", "\r\n"], ["ñandú", "\n"]],
    "1-byte chunks",
  );
});

Deno.test("MessageFramer joins multi-byte characters split across chunks", () => {
  const whole = bytes("日本 straße\n");
  for (let cut = 0; cut <= whole.length; cut++) {
    assert.deepEqual(frame([whole.subarray(0, cut), whole.subarray(cut)]).messages, [[
      "日本 straße",
      "\n",
    ]], `cut at ${cut}`);
  }
});

Deno.test("MessageFramer frames 20,000 empty lines in one chunk", () => {
  const { messages } = frame(["\n".repeat(20_000)]);
  assert.equal(messages.length, 20_000);
  assert(messages.every(([body, terminator]) => body === "" && terminator === "\n"));
});

Deno.test("MessageFramer returns views of the chunk, copies of held bytes", () => {
  const chunk = bytes("ab\n");
  const framer = new MessageFramer();
  const [message] = framer.push(chunk);
  assert.equal(message.bytes.buffer, chunk.buffer, "a whole line is a view of the chunk");
  framer.push(bytes("c"));
  const [joined] = framer.push(chunk);
  assert.notEqual(joined.bytes.buffer, chunk.buffer, "a line joined across chunks is a copy");
  assert.equal(text(joined.bytes), "cab");
});

Deno.test("MessageFramer.quietDelay waits the flush delay, and 1 s more inside a character", () => {
  const framer = new MessageFramer();
  assert.equal(framer.quietDelay(DEFAULT_FLUSH_DELAY_MS), undefined, "nothing held");
  framer.push(bytes("hola"));
  assert.equal(framer.quietDelay(DEFAULT_FLUSH_DELAY_MS), DEFAULT_FLUSH_DELAY_MS);
  assert.equal(framer.quietDelay(0), undefined, "0 turns the pause off");
  const ene = bytes("ñ");
  framer.push(ene.subarray(0, 1));
  assert.equal(framer.quietDelay(50), 50 + INCOMPLETE_CHARACTER_GRACE_MS, "inside 'ñ'");
  framer.push(ene.subarray(1));
  assert.equal(framer.quietDelay(50), 50, "'ñ' complete");
  const kanji = bytes("日"); // 3 bytes: both 1- and 2-byte prefixes are incomplete
  framer.push(kanji.subarray(0, 2));
  assert.equal(framer.quietDelay(50), 50 + INCOMPLETE_CHARACTER_GRACE_MS, "inside '日'");
  framer.push(Uint8Array.of(0xff));
  assert.equal(framer.quietDelay(50), 50, "invalid bytes cannot become a character: no grace");
  assert.deepEqual(framer.flush()?.bytes, Uint8Array.of(...bytes("holañ"), 0xe6, 0x97, 0xff));
  assert.equal(framer.quietDelay(50), undefined, "flushed");
});

Deno.test("MessageFramer accepts a message exactly at the limit, with any terminator", () => {
  for (const terminator of ["\n", "\r\n"] as const) {
    const { messages, framer } = frame(["x".repeat(8) + terminator], { maxMessageBytes: 8 });
    assert.deepEqual(messages, [["x".repeat(8), terminator]]);
    assert(!framer.exceeded);
  }
  const split = frame(["x".repeat(8) + "\r", "\n"], { maxMessageBytes: 8 });
  assert.deepEqual(split.messages, [["x".repeat(8), "\r\n"]], "CR held past the limit, then LF");
  assert.deepEqual(
    frame(["x".repeat(7)], { maxMessageBytes: 8 }).messages,
    [["x".repeat(7), ""]],
    "under",
  );
  assert.deepEqual(
    frame(["x".repeat(8)], { maxMessageBytes: 8 }).messages,
    [["x".repeat(8), ""]],
    "at, unterminated",
  );
});

Deno.test("MessageFramer stops at a message over the limit, with or without a newline", () => {
  for (
    const chunks of [["ok\n", "x".repeat(9) + "\n", "later\n"], ["ok\n", "x".repeat(9)], [
      "ok\nxxxx",
      "xxxxx",
    ]]
  ) {
    const { messages, framer } = frame(chunks, { maxMessageBytes: 8 });
    assert.deepEqual(messages, [["ok", "\n"]], JSON.stringify(chunks));
    assert(framer.exceeded, JSON.stringify(chunks));
  }
  const trailingCr = frame(["x".repeat(8) + "\r"], { maxMessageBytes: 8 });
  assert(trailingCr.framer.exceeded, "a held CR that never meets its LF counts at end of input");
});

Deno.test("MessageFramer holds at most the limit plus one byte, however much arrives", () => {
  const framer = new MessageFramer({ maxMessageBytes: 1000 });
  for (let i = 0; i < 100 && !framer.exceeded; i++) {
    framer.push(bytes("y".repeat(99)));
    assert(framer.pendingBytes <= 1001, `${framer.pendingBytes} bytes held`);
  }
  assert(framer.exceeded);
  assert.equal(framer.pendingBytes, 0, "the over-long message is let go");
  assert.deepEqual(framer.push(bytes("more\n")), [], "input after the limit is ignored");
});

Deno.test("isDisconnectCommand ignores surrounding whitespace, case and accents", () => {
  const table: [string, boolean][] = [
    ["DESCONEXION", true],
    ["desconexion", true],
    ["Desconexión", true],
    ["DESCONEXIÓN", true],
    ["De\u0301sconexio\u0301n", true], // combining accents
    [" DESCONEXION\r\n", true],
    ["\tdesconexion  ", true],
    ["\u00a0DESCONEXION\u2028", true], // Unicode spaces and line separator
    ["DESCONEXION ya", false],
    ["DESCONEXIONES", false],
    ["DESCONECTAR", false],
    ["DESCO NEXION", false],
    ["", false],
    ["hola servidor", false],
    ["DESCONEXION\u0000", false],
  ];
  for (const [input, want] of table) {
    assert.equal(isDisconnectCommand(input), want, JSON.stringify(input));
  }
});

Deno.test("uppercaseReply uppercases with toUpperCase and keeps the terminator", () => {
  const table: [string, Terminator, string][] = [
    ["hola servidor", "\n", "HOLA SERVIDOR\n"],
    ["hola servidor", "", "HOLA SERVIDOR"],
    ["hola", "\r\n", "HOLA\r\n"],
    ["ñandú", "\n", "ÑANDÚ\n"],
    ["straße", "\n", "STRASSE\n"],
    ["canción 日本 ǆ ﬁ", "\n", "CANCIÓN 日本 Ǆ FI\n"],
    ["ıi", "\n", "II\n"], // locale-independent: no Turkish dotted İ
    ["", "\n", "\n"],
    ["123 !?", "", "123 !?"],
    ["\u0000\u001b\u007f\u2028x", "\n", "\u0000\u001b\u007f\u2028X\n"],
    ["\ufeffbom", "\n", "\ufeffBOM\n"],
  ];
  for (const [input, terminator, want] of table) {
    assert.equal(
      text(uppercaseReply({ bytes: bytes(input), terminator })),
      want,
      JSON.stringify(input),
    );
  }
});

Deno.test("MAX_UPPERCASE_GROWTH bounds how much uppercasing grows every code point, and U+0390 reaches it", () => {
  let most = 0;
  for (let codePoint = 0; codePoint <= 0x10ffff; codePoint++) {
    if (codePoint >= 0xd800 && codePoint <= 0xdfff) continue; // surrogates are not characters
    const character = String.fromCodePoint(codePoint);
    const growth = encoder.encode(character.toUpperCase()).length /
      encoder.encode(character).length;
    assert(growth <= MAX_UPPERCASE_GROWTH, `U+${codePoint.toString(16)} grows ${growth} times`);
    most = Math.max(most, growth);
  }
  assert.equal(most, MAX_UPPERCASE_GROWTH, "the bound is reached, not loose");
  assert.equal(encoder.encode("\u0390".toUpperCase()).length, 6);
});

Deno.test("uppercaseReply returns invalid UTF-8 unchanged and uppercases the text around it", () => {
  const table: [number[], number[]][] = [
    [[0x61, 0xff, 0x62], [0x41, 0xff, 0x42]],
    [[0xc3], [0xc3]], // truncated 'ñ'
    [[0xc3, 0xb1, 0xc3], [0xc3, 0x91, 0xc3]], // 'ñ' then a truncated one
    [[0xed, 0xa0, 0x80, 0x61], [0xed, 0xa0, 0x80, 0x41]], // an encoded surrogate
    [[0xc0, 0xaf, 0x7a], [0xc0, 0xaf, 0x5a]], // an overlong '/'
    [[0xf4, 0x90, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80]], // past U+10FFFF
    [[0x80, 0xbf, 0xfe], [0x80, 0xbf, 0xfe]],
  ];
  for (const [input, want] of table) {
    assert.deepEqual(
      [...uppercaseReply({ bytes: Uint8Array.from(input), terminator: "" })],
      want,
      String(input),
    );
  }
});

Deno.test("MessageFramer gives the specification's messages for any chunking of any byte stream", () => {
  forAnyStream(({ stream, cuts, limit }) => {
    const framer = new MessageFramer({ maxMessageBytes: limit });
    const messages: [number[], Terminator][] = [];
    for (const chunk of chunked(stream, cuts)) {
      for (const m of framer.push(chunk)) messages.push([[...m.bytes], m.terminator]);
    }
    const last = framer.flush();
    if (last) messages.push([[...last.bytes], last.terminator]);
    assert.deepEqual({ messages, exceeded: framer.exceeded }, referenceFrames(stream, limit));
  });
});

Deno.test("uppercaseReply of valid text equals toUpperCase of the text", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 40 }), (input) => {
      const wellFormed = input.toWellFormed();
      assert.equal(
        text(uppercaseReply({ bytes: bytes(wellFormed), terminator: "" })),
        wellFormed.toUpperCase(),
      );
    }),
    { numRuns: 2000 },
  );
});

Deno.test("uppercaseReply of any bytes decodes to the uppercased decoding, invalid bytes kept", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (input) => {
      const reply = uppercaseReply({ bytes: input, terminator: "" });
      assert.equal(lenient.decode(reply), lenient.decode(input).toUpperCase());
    }),
    { numRuns: 5000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ min: 0x80, max: 0xbf, maxLength: 20 }), (continuationBytes) => {
      assert.deepEqual(
        uppercaseReply({ bytes: continuationBytes, terminator: "" }),
        continuationBytes,
      );
    }),
  );
});

Deno.test("ERROR_LINES are single lines that start with ERROR and fit a client's reply limit", () => {
  const lines = [
    ERROR_LINES.messageTooLong(1024 * 1024 * 1024),
    ERROR_LINES.tooManyConnections(1_000_000),
    ERROR_LINES.idleTimeout(7 * 24 * 3600),
  ];
  for (const line of lines) {
    assert.match(line, /^ERROR [^\n]+\n$/);
    assert(bytes(line).length - 1 <= replyLimit(1), `${line} fits even the smallest reply limit`);
    assert(isErrorLine(line.trimEnd(), "hola"), line);
  }
  assert.equal(ERROR_LINES.messageTooLong(8), "ERROR message too long (limit 8 bytes)\n");
});
