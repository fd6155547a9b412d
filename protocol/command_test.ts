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
  isDisconnectCommand,
  isDisconnectMessage,
  mayHoldDisconnectCommand,
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
    ["D\u0301\u0316\u0301\u0316ESCONEXIO\u0303N", true],
    ["ñ".repeat(20), false],
  ];
  for (const [text, want] of table) {
    const bytes = encoder.encode(`xx${text}yy`);
    assert.equal(isDisconnectMessage(bytes, 2, bytes.length - 2), want, JSON.stringify(text));
  }
});

Deno.test("isDisconnectMessage agrees with isDisconnectCommand on any bytes", () => {
  const pieces = [
    ...["DESCONEXION", "desconexión", " ", "\t", "\r", "Ď", "Ň", "N", "d", "x", "\u00a0", "\u0085"],
    ...["ñ", "Ω", "ж", "中", "\u0301", "\u0316", "\u3000", "ı", "ß"],
  ].map((piece) => encoder.encode(piece));
  const bytesArbitrary = fc.array(
    fc.oneof(fc.constantFrom(...pieces), fc.uint8Array({ maxLength: 3 })),
    { maxLength: 16 },
  ).map((parts) => Uint8Array.from(parts.flatMap((part) => [...part])));
  fc.assert(
    fc.property(bytesArbitrary, (bytes) => {
      assert.equal(
        isDisconnectMessage(bytes),
        isDisconnectCommand(decoder.decode(bytes)),
      );
    }),
    { numRuns: 5000 },
  );
});

Deno.test("isDisconnectCommand agrees with its rule: trimmed, without accents, uppercased, it is DESCONEXION", () => {
  const rule = (text: string) =>
    text.trim().normalize("NFD").replace(/\p{M}/gu, "").toUpperCase() === DISCONNECT_COMMAND;
  const characters = [
    ..."DESCONEXIONdesconexion",
    ...["ó", "Ď", "ı", "ſ", "ß", "ﬁ", "ΐ", "한", "𝐃", " ", "\t", "\u00a0", "\u3000", "\ufeff"],
    ...["\u0301", "\u0316", "\u0323", "\u0303", "\u20dd", "\u0903"], // marks: Mn of three classes, Me, Mc
  ];
  const textArbitrary = fc.oneof(
    fc.array(fc.constantFrom(...characters), { maxLength: 30 }).map((chars) => chars.join("")),
    // The command with marks and whitespace strewn in.
    fc.array(fc.constantFrom("", " ", "\u0301", "\u0316\u0301", "\u00a0"), {
      minLength: 12,
      maxLength: 12,
    }).map((gaps) => gaps.map((gap, i) => gap + (DISCONNECT_COMMAND[i] ?? "")).join("")),
  );
  fc.assert(
    fc.property(textArbitrary, (text) => {
      assert.equal(isDisconnectCommand(text), rule(text), JSON.stringify(text));
    }),
    { numRuns: 5000 },
  );
});

Deno.test("mayHoldDisconnectCommand is true for any ASCII lines, uppercased, of which one is the command", () => {
  // Lines near the command: each letter in either case, maybe one left out, whitespace
  // around, among other lines with Xs in them.
  const line = fc.oneof(
    fc.record({
      lower: fc.array(fc.boolean(), { minLength: 11, maxLength: 11 }),
      dropped: fc.option(fc.nat(10)),
      before: fc.constantFrom("", " ", "\t", "\r"),
      after: fc.constantFrom("", " ", "\r"),
    }).map(({ lower, dropped, before, after }) =>
      before + [...DISCONNECT_COMMAND]
        .map((c, i) => i === dropped ? "" : lower[i] ? c.toLowerCase() : c)
        .join("") +
      after
    ),
    fc.stringMatching(/^[a-zX ]{0,20}$/),
  );
  let commands = 0, others = 0;
  fc.assert(
    fc.property(fc.array(line, { maxLength: 5 }), fc.nat(3), (lines, offset) => {
      const text = lines.join("\n").toUpperCase();
      // At any alignment, as the server passes the rest of a read after a cut line.
      const bytes = new Uint8Array(offset + text.length).subarray(offset);
      encoder.encodeInto(text, bytes);
      const holds = mayHoldDisconnectCommand(bytes);
      if (lines.some(isDisconnectCommand)) {
        commands++;
        assert(holds, JSON.stringify(text));
      } else if (!holds) others++;
    }),
    { numRuns: 3000 },
  );
  assert(commands > 0 && others > 0, "both kinds of chunk were tried");
  assert(!mayHoldDisconnectCommand(encoder.encode("DESCONEXIO\nN")), "the command's bytes, split");
});
