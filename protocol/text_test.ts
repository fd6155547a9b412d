/**
 * Tests of the byte-level text helpers: UTF-8 sequence lengths checked against
 * the runtime's strict decoder for every lead and second byte, characters cut
 * at the end of a buffer, ASCII uppercased in place, and joining arrays.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  concat,
  copyUppercaseAscii,
  endsInsideCharacter,
  sequenceLength,
  uppercaseAsciiInPlace,
  uppercaseUtf8,
  wholeCharactersEnd,
} from "./text.ts";

const encoder = new TextEncoder();

Deno.test("sequenceLength agrees with a strict UTF-8 decoder for every lead byte and second byte", () => {
  for (let lead = 0x80; lead <= 0xff; lead++) {
    for (let second = 0; second <= 0xff; second++) {
      const bytes = Uint8Array.of(lead, second);
      let want: number;
      try {
        const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream: true });
        want = text === "" ? -1 : 2; // nothing yet: a valid start, cut off
      } catch {
        want = 0;
      }
      assert.equal(
        sequenceLength(bytes, 0, 2),
        want,
        `got the wrong length for ${lead.toString(16)} ${second.toString(16)}`,
      );
    }
  }
});

Deno.test("sequenceLength follows Unicode's table 3-7 at its edges", () => {
  const table: [number[], number][] = [
    [[0x41], 1],
    [[0xc2, 0x80], 2],
    [[0xc1, 0xbf], 0], // overlong
    [[0xe0, 0xa0, 0x80], 3],
    [[0xe0, 0x9f, 0xbf], 0], // overlong
    [[0xed, 0x9f, 0xbf], 3],
    [[0xed, 0xa0, 0x80], 0], // a surrogate
    [[0xf0, 0x90, 0x80, 0x80], 4],
    [[0xf0, 0x8f, 0xbf, 0xbf], 0], // overlong
    [[0xf4, 0x8f, 0xbf, 0xbf], 4],
    [[0xf4, 0x90, 0x80, 0x80], 0], // past U+10FFFF
    [[0xf5, 0x80, 0x80, 0x80], 0],
    [[0xe2, 0x82], -1], // € cut off
    [[0xf0, 0x9f, 0x99], -1], // 🙂 cut off
  ];
  for (const [bytes, want] of table) {
    assert.equal(sequenceLength(Uint8Array.from(bytes), 0), want, String(bytes));
  }
});

Deno.test("endsInsideCharacter is true only when a valid character is cut off at the end", () => {
  const table: [number[], boolean][] = [
    [[...encoder.encode("añ")], false],
    [[...encoder.encode("añ").subarray(0, 2)], true],
    [[0x61, 0xe2, 0x82], true],
    [[0xf0, 0x9f, 0x99], true],
    [[0x61, 0xff], false],
    [[0xed, 0xa0], false], // could only become a surrogate
    [[], false],
  ];
  for (const [bytes, want] of table) {
    assert.equal(endsInsideCharacter(Uint8Array.from(bytes)), want, String(bytes));
  }
});

Deno.test("copyUppercaseAscii uppercases ASCII where it lies and stops at the first other byte", () => {
  const line = encoder.encode("hola, servidor!\n");
  assert(copyUppercaseAscii(line, line));
  assert.equal(new TextDecoder().decode(line), "HOLA, SERVIDOR!\n");
  const mixed = encoder.encode("abcñ");
  const target = new Uint8Array(mixed.length);
  assert.equal(copyUppercaseAscii(mixed, target), false);
  assert.deepEqual([...target.subarray(0, 3)], [...encoder.encode("ABC")]);
  const range = encoder.encode("xyz");
  assert(copyUppercaseAscii(range, range, 1, 2));
  assert.equal(new TextDecoder().decode(range), "xYz", "only the range is touched");
});

Deno.test("uppercaseUtf8 uppercases the valid text and keeps invalid bytes, in a new array", () => {
  const bytes = Uint8Array.of(0x61, 0xff, 0xc3, 0xb1, 0xc3);
  const upper = uppercaseUtf8(bytes);
  assert.deepEqual([...upper], [0x41, 0xff, 0xc3, 0x91, 0xc3]);
  upper[1] = 0;
  assert.equal(bytes[1], 0xff, "the input is not shared");
});

/** The rule itself, one piece at a time: each maximal run of valid text uppercased, each invalid byte kept. */
function uppercaseByRuns(bytes: Uint8Array): number[] {
  const out: number[] = [];
  const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  for (let i = 0; i < bytes.length;) {
    let end = i;
    for (
      let length;
      end < bytes.length && (length = sequenceLength(bytes, end, bytes.length)) > 0;
    ) {
      end += length;
    }
    if (end === i) out.push(bytes[i++]);
    else {
      out.push(...encoder.encode(strict.decode(bytes.subarray(i, end)).toUpperCase()));
      i = end;
    }
  }
  return out;
}

Deno.test("uppercaseUtf8 agrees with uppercasing each run of valid text on its own, for any bytes and runs of any length", () => {
  const pieces = ["a", "ñ", "ß", "ΐ", "ﬀ", "€", "漢", "🙂", "z", "\ufeff", "ǅ", "İ", "ς"]
    .map((text) => [...encoder.encode(text)]);
  const invalid = [[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0x80]];
  const piece = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...pieces) },
    { weight: 1, arbitrary: fc.constantFrom(...invalid) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }).map((byte) => [byte]) },
  );
  // Long runs too, past the length from which the runtime uppercases a run in one go.
  const run = fc.oneof(
    piece,
    fc.tuple(piece, fc.integer({ min: 1, max: 400 })).map(([p, times]) =>
      Array(times).fill(p).flat()
    ),
  );
  fc.assert(
    fc.property(fc.array(run, { maxLength: 40 }), (runs) => {
      const bytes = Uint8Array.from(runs.flat());
      assert.deepEqual([...uppercaseUtf8(bytes)], uppercaseByRuns(bytes));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("concat joins arrays, skips empty ones, and copies nothing when there is one", () => {
  const one = Uint8Array.of(1, 2);
  assert.equal(concat([new Uint8Array(0), one, new Uint8Array(0)]), one);
  assert.deepEqual([...concat([one, Uint8Array.of(3), new Uint8Array(0), Uint8Array.of(4)])], [
    1,
    2,
    3,
    4,
  ]);
  assert.equal(concat([]).length, 0);
});

Deno.test("uppercaseAsciiInPlace uppercases like a byte loop at any alignment, and counts newlines unless a byte is not ASCII", () => {
  const sample = new TextEncoder().encode("hola\nservidor, abc xyz\r\n{`az}@[Z\n");
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.constantFrom(...sample), fc.integer({ min: 0, max: 255 })), {
        maxLength: 200,
      }),
      fc.nat(7),
      (content, offset) => {
        const buffer = new Uint8Array(offset + content.length);
        buffer.set(content, offset);
        const bytes = buffer.subarray(offset);
        const want = content.map((byte) => byte >= 0x61 && byte <= 0x7a ? byte - 0x20 : byte);
        const ascii = content.every((byte) => byte < 0x80);
        const got = uppercaseAsciiInPlace(bytes);
        assert.deepEqual([...bytes], want);
        assert.equal(got, ascii ? content.filter((byte) => byte === 0x0a).length : -1);
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("wholeCharactersEnd stops before a character cut off, and not before invalid bytes", () => {
  const table: [number[], number, number][] = [
    [[...encoder.encode("añ")], 3, 3],
    [[...encoder.encode("añ")], 2, 1],
    [[0x61, 0xf0, 0x9f, 0x99], 4, 1],
    [[0x61, 0xff], 2, 2],
    [[0xe2, 0x82, 0xac, 0x0d], 3, 3],
    [[], 0, 0],
  ];
  for (const [bytes, end, want] of table) {
    assert.equal(wholeCharactersEnd(Uint8Array.from(bytes), end), want, String(bytes));
  }
});
