/**
 * Property-test material for the protocol: byte streams rich in what matters
 * (terminators, the command, multi-byte and invalid UTF-8), any chunking of
 * them, and the framing read straight off the specification, to compare with.
 *
 * @module
 */

import fc from "fast-check";
import type { Terminator } from "../protocol.ts";

const encoder = new TextEncoder();

// Byte streams rich in what matters: terminators, the command, multi-byte and invalid UTF-8.
const PIECES = [
  "\n",
  "\r\n",
  "\r",
  "",
  "hola",
  "ñandú",
  "straße",
  "日本",
  "DESCONEXION",
  " desconexión\n",
  "una linea ascii larga\n",
]
  .map((piece) => encoder.encode(piece));
const streamArbitrary = fc.array(
  fc.oneof(fc.constantFrom(...PIECES), fc.uint8Array({ maxLength: 6 })),
  { maxLength: 30 },
).map((parts) => Uint8Array.from(parts.flatMap((p) => [...p])));
const cutsArbitrary = fc.array(fc.nat(), { maxLength: 12 });

/** One case of a property over byte streams: the stream, where it is cut into chunks, and the message limit. */
export interface StreamCase {
  stream: Uint8Array;
  /** Where to cut it, for {@linkcode chunked}. */
  cuts: number[];
  /** The message limit, in bytes. */
  limit: number;
}

/** Checks `property` for any byte stream, any chunking of it and any limit from 1 to 40 bytes. */
export function forAnyStream(property: (input: StreamCase) => void, numRuns = 2000) {
  fc.assert(
    fc.property(
      streamArbitrary,
      cutsArbitrary,
      fc.integer({ min: 1, max: 40 }),
      (stream, cuts, limit) => property({ stream, cuts, limit }),
    ),
    { numRuns },
  );
}

// Long, mostly ASCII streams, cut into few chunks, with limits often above a
// chunk's length: what the server's whole-chunk path takes. The pieces that
// rule that path out (an x, the command, a character that is not ASCII) are
// rare, so that many chunks take it and some do not.
const PLAIN_PIECES = [
  "una linea corriente\n",
  "hola servidor\n",
  "\r\n",
  "\n",
  "sin salto ",
  "\r",
];
const RARE_PIECES = ["xilofono\n", "DESCONEXION\n", " desconexion \n", "ñandú\n"];
const longStreamArbitrary = fc.array(
  fc.oneof(
    { arbitrary: fc.constantFrom(...PLAIN_PIECES), weight: 60 },
    { arbitrary: fc.constantFrom(...RARE_PIECES), weight: 1 },
  ),
  { minLength: 20, maxLength: 150 },
).map((parts) => encoder.encode(parts.join("")));

/**
 * Checks `property` for long, mostly ASCII byte streams (hundreds to
 * thousands of bytes), cut into at most four chunks, with limits from 1 byte
 * to beyond the stream's length.
 */
export function forAnyLongStream(property: (input: StreamCase) => void, numRuns = 500) {
  fc.assert(
    fc.property(
      longStreamArbitrary,
      fc.array(fc.nat(), { maxLength: 3 }),
      fc.oneof(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 200, max: 5000 })),
      (stream, cuts, limit) => property({ stream, cuts, limit }),
    ),
    { numRuns },
  );
}

/** Cuts `stream` into chunks at the given points (taken modulo its length). */
export function chunked(stream: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  return [0, ...points].map((from, i) => stream.slice(from, [...points, stream.length][i]));
}

/** Rules 1, 3 and 6 read straight off the specification, on the whole stream at once. */
export function referenceFrames(stream: Uint8Array, maxMessageBytes: number) {
  const messages: [number[], Terminator][] = [];
  let start = 0;
  for (let end; (end = stream.indexOf(0x0a, start)) !== -1; start = end + 1) {
    const crlf = end > start && stream[end - 1] === 0x0d;
    const body = [...stream.subarray(start, crlf ? end - 1 : end)];
    if (body.length > maxMessageBytes) return { messages, exceeded: true };
    messages.push([body, crlf ? "\r\n" : "\n"]);
  }
  const rest = [...stream.subarray(start)];
  if (rest.length > maxMessageBytes) return { messages, exceeded: true };
  if (rest.length > 0) messages.push([rest, ""]);
  return { messages, exceeded: false };
}
