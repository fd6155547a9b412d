/**
 * Tests of the disconnect rule on bytes: the cheap test that spares ordinary
 * messages a decoding must never change the answer of the rule on text.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { isDisconnectCommand, isDisconnectMessage } from "./command.ts";

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
