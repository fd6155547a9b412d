/**
 * Tests of the disconnect rule on bytes: the cheap test that spares ordinary
 * messages a decoding must never change the answer of the rule on text.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  DISCONNECT_COMMAND,
  DISCONNECT_MARK,
  isDisconnectCommand,
  isDisconnectMessage,
} from "./command.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

Deno.test("isDisconnectMessage recognises the command in any case, with accents and whitespace, inside a buffer", () => {
  const table: [string, boolean][] = [
    ["DESCONEXION", true],
    ["desconexion", true],
    ["Desconexión", true],
    ["\t DESCONEXIÓN \r", true],
    ["ĎESCONEXIOŇ", true],
    ["DESCONEXION ya", false],
    ["DESCONEXIONES", false],
    ["", false],
    ["D", false],
  ];
  for (const [text, want] of table) {
    const bytes = encoder.encode(`xx${text}yy`);
    assert.equal(isDisconnectMessage(bytes, 2, bytes.length - 2), want, JSON.stringify(text));
  }
});

Deno.test("isDisconnectMessage agrees with isDisconnectCommand on any bytes", () => {
  const pieces = ["DESCONEXION", "desconexión", " ", "\t", "\r", "Ď", "Ň", "N", "d", "x", "\u00a0"]
    .map((piece) => encoder.encode(piece));
  const bytesArbitrary = fc.array(
    fc.oneof(fc.constantFrom(...pieces), fc.uint8Array({ maxLength: 3 })),
    { maxLength: 6 },
  ).map((parts) => Uint8Array.from(parts.flatMap((part) => [...part])));
  fc.assert(
    fc.property(bytesArbitrary, (bytes) => {
      assert.equal(
        isDisconnectMessage(bytes, 0, bytes.length),
        isDisconnectCommand(decoder.decode(bytes)),
      );
    }),
    { numRuns: 5000 },
  );
});

Deno.test("DISCONNECT_MARK is in every ASCII spelling of the command, once uppercased", () => {
  const mark = String.fromCharCode(DISCONNECT_MARK);
  // Spellings near the command: each letter in either case, maybe one letter left out, whitespace around.
  const spelling = fc.record({
    lower: fc.array(fc.boolean(), { minLength: 11, maxLength: 11 }),
    dropped: fc.option(fc.nat(10)),
    before: fc.constantFrom("", " ", "\t", "\r\n"),
    after: fc.constantFrom("", " ", "\n"),
  }).map(({ lower, dropped, before, after }) =>
    before + [...DISCONNECT_COMMAND]
      .map((c, i) => i === dropped ? "" : lower[i] ? c.toLowerCase() : c)
      .join("") +
    after
  );
  let commands = 0;
  fc.assert(
    fc.property(spelling, (text) => {
      if (!isDisconnectCommand(text)) return;
      commands++;
      assert(text.toUpperCase().includes(mark), JSON.stringify(text));
    }),
    { numRuns: 3000 },
  );
  assert(commands > 0, "some spellings are the command");
  assert(!isDisconnectCommand(DISCONNECT_COMMAND.replace(mark, "")), "without the mark, it is not");
});
