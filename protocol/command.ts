/**
 * The disconnect command (rule 5 of `protocol.ts`), on text and, for the
 * server's hot path, on raw bytes.
 *
 * @module
 */

/** The message that asks the server to close the connection. */
export const DISCONNECT_COMMAND = "DESCONEXION";

const COMMAND_BYTES = new TextEncoder().encode(DISCONNECT_COMMAND);
const MARK_AT = DISCONNECT_COMMAND.indexOf("X");
const MARK = COMMAND_BYTES[MARK_AT];
/**
 * How far the search of {@linkcode mayHoldDisconnectCommand} may move on
 * after a window whose last byte is the index (Horspool's table): the
 * command's length for a byte not in it, less for its letters.
 */
const SKIP = new Uint8Array(256).fill(COMMAND_BYTES.length);
for (let i = 0; i < COMMAND_BYTES.length - 1; i++) {
  SKIP[COMMAND_BYTES[i]] = COMMAND_BYTES.length - 1 - i;
}

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const MARKS = /\p{M}/gu;

/**
 * Tells whether a message is the disconnect command (rule 5): trimmed, it equals
 * `DESCONEXION` ignoring case and accents.
 *
 * @example Recognising the command
 * ```ts
 * import assert from "node:assert/strict";
 * import { isDisconnectCommand } from "../protocol.ts";
 *
 * assert(isDisconnectCommand(" Desconexión\r\n"));
 * assert(!isDisconnectCommand("DESCONEXION ya"));
 * ```
 */
export function isDisconnectCommand(text: string): boolean {
  // Marks go before normalising as well as after. Normalising orders a run of
  // marks of mixed classes by insertion, in time quadratic in its length (50,000
  // pairs: 3 s); without marks, what is left is short or is not the command.
  const unmarked = text.trim().replace(MARKS, "");
  // Neither normalising nor uppercasing shortens text; two code units a character at most.
  if (unmarked.length > 2 * DISCONNECT_COMMAND.length) return false;
  return unmarked.normalize("NFD").replace(MARKS, "").toUpperCase() === DISCONNECT_COMMAND;
}

const isAsciiSpace = (byte: number) => byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);

/**
 * Whether some line of `uppercasedAscii`, ASCII text already uppercased, may
 * be the disconnect command: whether `DESCONEXION` stands anywhere in it. An
 * ASCII line that is the command holds it, as trimming is all that rule 5
 * can do to ASCII. So the server may answer a chunk of ASCII lines whole when
 * this is false (the whole-chunk pass of `server/conversation.ts`). It looks
 * for an `X` first, then searches from there with Horspool's rule, which looks
 * at about one byte in nine of random letters.
 *
 * @example A chunk with no command in it
 * ```ts
 * import assert from "node:assert/strict";
 * import { mayHoldDisconnectCommand } from "./command.ts";
 *
 * const encoder = new TextEncoder();
 * assert(!mayHoldDisconnectCommand(encoder.encode("EXTRA\nDESCONEXIO\nN\n")));
 * assert(mayHoldDisconnectCommand(encoder.encode("HOLA\n DESCONEXION\n")));
 * ```
 */
export function mayHoldDisconnectCommand(uppercasedAscii: Uint8Array): boolean {
  const bytes = uppercasedAscii;
  const last = COMMAND_BYTES.length - 1;
  // The command's X, rare in ordinary text, is looked for first: a chunk
  // without one is done with, and otherwise the search starts there.
  const x = indexOfMark(bytes, MARK_AT);
  if (x === -1) return false;
  for (let end = x - MARK_AT + last; end < bytes.length; end += SKIP[bytes[end]]) {
    let i = 0;
    while (i <= last && bytes[end - i] === COMMAND_BYTES[last - i]) i++;
    if (i > last) return true;
  }
  return false;
}

const MARK_WORD = Math.imul(MARK, 0x01010101);

/**
 * Where the command's `X` first stands in `bytes` from `from`, or -1: four
 * bytes at a time, as V8's own `indexOf` on bytes goes one at a time.
 */
function indexOfMark(bytes: Uint8Array, from: number): number {
  // Byte by byte up to a 4-byte boundary, as an Int32Array view needs one.
  let i = from;
  for (; i < bytes.length && (bytes.byteOffset + i) % 4 !== 0; i++) {
    if (bytes[i] === MARK) return i;
  }
  if (i >= bytes.length) return -1;
  const words = new Int32Array(bytes.buffer, bytes.byteOffset + i, (bytes.length - i) >>> 2);
  for (let w = 0; w < words.length; w++) {
    // A zero byte in `word ^ MARK_WORD` is an X; the test has no false positives
    // for "some byte is zero".
    const marked = words[w] ^ MARK_WORD;
    if ((((marked & 0x7f7f7f7f) + 0x7f7f7f7f) | marked | 0x7f7f7f7f) !== -1) {
      return bytes.indexOf(MARK, i + 4 * w);
    }
  }
  return bytes.indexOf(MARK, i + 4 * words.length);
}

/**
 * Rule 5 on the bytes `bytes[start..end)`, all of them by default, decoding
 * them only when a cheap test allows it, so that ordinary messages cost no
 * decoding.
 */
export function isDisconnectMessage(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
  return mayBeDisconnectCommand(bytes, start, end) &&
    isDisconnectCommand(decoder.decode(bytes.subarray(start, end)));
}

/**
 * Cheap byte test that rules out almost every ordinary message before the full
 * check decodes it: once ASCII whitespace is skipped, the command can only
 * start with `D`, `d` or a non-ASCII byte (`Ď` and the like) and end likewise
 * with `N`, and it holds no more characters than the command.
 */
function mayBeDisconnectCommand(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
  let first = start;
  while (first < end && isAsciiSpace(bytes[first])) first++;
  let last = end - 1;
  while (last > first && isAsciiSpace(bytes[last])) last--;
  if (first >= last) return false;
  const head = bytes[first] | 0x20, tail = bytes[last] | 0x20;
  if (!(head === 0x64 || bytes[first] >= 0x80) || !(tail === 0x6e || bytes[last] >= 0x80)) {
    return false;
  }
  let characters = 0;
  for (let i = first; i <= last; i++) {
    if (isSureCharacter(bytes[i]) && ++characters > DISCONNECT_COMMAND.length) return false;
  }
  return true;
}

/**
 * Whether `byte` starts a character that rule 5 keeps as one at least: ASCII
 * but not whitespace, or the lead byte of a character in a range with neither
 * marks nor whitespace (U+00C0–U+02FF, U+0380–U+047F, U+4000–U+9FFF). Not
 * valid UTF-8 there, it still decodes to one character (U+FFFD).
 */
function isSureCharacter(byte: number): boolean {
  return byte < 0x80
    ? !isAsciiSpace(byte)
    : (byte >= 0xc3 && byte <= 0xcb) || (byte >= 0xce && byte <= 0xd1) ||
      (byte >= 0xe4 && byte <= 0xe9);
}
