/**
 * UTF-8 and ASCII on raw bytes, for the protocol's hot paths: where a
 * character ends, uppercasing ASCII where it lies, uppercasing UTF-8 around
 * invalid bytes, and joining byte arrays. Internal: `protocol.ts` states the
 * rules these serve.
 *
 * @module
 */

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF in the text, so it comes back in the reply.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** Joins byte arrays into one, without copying when there is only one. */
export function concat(parts: Uint8Array[]): Uint8Array {
  parts = parts.filter((part) => part.length > 0);
  if (parts.length === 0) return EMPTY;
  if (parts.length === 1) return parts[0];
  let length = 0;
  for (const part of parts) length += part.length;
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

/**
 * Length of the well-formed UTF-8 sequence starting at `bytes[start]`
 * (Unicode table 3-7): its length when complete, 0 when the bytes there can
 * start no character, or -1 when they are a valid start cut off by `end`
 * (by default, the end of `bytes`).
 */
export function sequenceLength(bytes: Uint8Array, start: number, end = bytes.length): number {
  const lead = bytes[start];
  if (lead < 0x80) return 1;
  let length: number, low = 0x80, high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead === 0xe0) low = 0xa0;
    if (lead === 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead === 0xf0) low = 0x90;
    if (lead === 0xf4) high = 0x8f;
  } else return 0;
  for (let i = 1; i < length; i++) {
    if (start + i >= end) return -1;
    const byte = bytes[start + i];
    if (byte < low || byte > high) return 0;
    low = 0x80;
    high = 0xbf;
  }
  return length;
}

/**
 * Uppercases the ASCII letters of `bytes` where they lie, four bytes at a
 * time, and counts their newlines. Other bytes are left as they are, so text
 * that is not all ASCII can still be uppercased character by character
 * afterwards, with the same result.
 *
 * @param bytes The bytes, changed in place.
 * @returns How many `\n` the bytes hold, or -1 when they are not all ASCII.
 */
export function uppercaseAsciiInPlace(bytes: Uint8Array): number {
  // Byte by byte up to a 4-byte boundary, as an Int32Array view needs one,
  // then by words, then the last bytes. Each part is a plain function: the
  // server runs V8 with --optimize-for-size, which inlines little.
  const head = Math.min(bytes.length, (4 - (bytes.byteOffset % 4)) % 4);
  const words = (bytes.length - head) >>> 2;
  const tail = head + words * 4;
  const first = uppercaseBytes(bytes, 0, head);
  const middle = words > 0
    ? uppercaseWords(new Int32Array(bytes.buffer, bytes.byteOffset + head, words), words)
    : 0;
  const last = uppercaseBytes(bytes, tail, bytes.length);
  return first < 0 || middle < 0 || last < 0 ? -1 : first + middle + last;
}

/** {@linkcode uppercaseAsciiInPlace} on `bytes[start..end)`, a byte at a time. */
function uppercaseBytes(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let seen = 0, newlines = 0;
  for (let i = start; i < end; i++) {
    const byte = bytes[i];
    bytes[i] = byte >= 0x61 && byte <= 0x7a ? byte - 0x20 : byte;
    seen |= byte;
    if (byte === 0x0a) newlines++;
  }
  return seen < 0x80 ? newlines : -1;
}

/** {@linkcode uppercaseAsciiInPlace} on whole words of four bytes. */
function uppercaseWords(view: Int32Array, words: number): number {
  let seen = 0, newlines = 0;
  for (let w = 0; w < words; w++) {
    const word = view[w];
    seen |= word;
    // Per byte, without carries between bytes: bit 7 of `lower` is set where
    // the byte is from 0x61 ('a') to 0x7a ('z'); clearing bit 5 there
    // uppercases it. Likewise bit 7 of `newline` is set where the byte is
    // 0x0a: where `word ^ 0x0a0a0a0a` has a zero byte.
    const low7 = word & 0x7f7f7f7f;
    const lower = (low7 + 0x1f1f1f1f) & ~(low7 + 0x05050505) & ~word & 0x80808080;
    view[w] = word ^ (lower >>> 2);
    const lf = word ^ 0x0a0a0a0a;
    const newline = ~(((lf & 0x7f7f7f7f) + 0x7f7f7f7f) | lf) & 0x80808080;
    if (newline !== 0) newlines += Math.imul(newline >>> 7, 0x01010101) >>> 24;
  }
  return (seen & 0x80808080) === 0 ? newlines : -1;
}

/** Whether `bytes` end partway through a well-formed UTF-8 sequence. */
export function endsInsideCharacter(bytes: Uint8Array): boolean {
  return wholeCharactersEnd(bytes, bytes.length) < bytes.length;
}

/**
 * Where the bytes `bytes[0..end)` stop holding whole characters: `end`, or
 * the start of a well-formed UTF-8 sequence that `end` cuts off. Invalid
 * bytes count as whole: they stay invalid whatever follows.
 */
export function wholeCharactersEnd(bytes: Uint8Array, end: number): number {
  for (let start = Math.max(0, end - 3); start < end; start++) {
    if (sequenceLength(bytes, start, end) === -1) return start;
  }
  return end;
}

/**
 * Copies `bytes[start..end)`, all of them by default, to the same place in
 * `target` (which may be `bytes` itself), uppercased, if they are all ASCII;
 * returns false, having copied part at most, if they are not.
 */
export function copyUppercaseAscii(
  bytes: Uint8Array,
  target: Uint8Array,
  start = 0,
  end = bytes.length,
): boolean {
  for (let i = start; i < end; i++) {
    const byte = bytes[i];
    if (byte >= 0x80) return false;
    target[i] = byte >= 0x61 && byte <= 0x7a ? byte - 0x20 : byte;
  }
  return true;
}

/**
 * Past this many bytes of valid text in a row, the rest of the run is
 * uppercased by the runtime in one go (decode, `toUpperCase`, encode); before
 * that, and so in short runs between invalid bytes, where that call's fixed
 * cost would dominate, it goes character by character.
 */
const RUN_FOR_RUNTIME_BYTES = 256;

/**
 * Uppercases the valid UTF-8 text in `bytes` and keeps invalid bytes as they
 * are, in a new array, in time linear in `bytes.length` whatever the mix: a
 * byte is looked at a bounded number of times, and no step costs more for
 * coming after many invalid bytes.
 */
export function uppercaseUtf8(bytes: Uint8Array): Uint8Array {
  const out = new ByteWriter(bytes.length);
  const end = bytes.length;
  // Where the run of valid text that `i` is in began: just after the last invalid byte.
  let validFrom = 0;
  for (let i = 0; i < end;) {
    const byte = bytes[i];
    if (byte < 0x80) {
      out.push(byte >= 0x61 && byte <= 0x7a ? byte - 0x20 : byte);
      i++;
      continue;
    }
    const length = sequenceLength(bytes, i, end);
    if (length <= 0) {
      out.push(byte); // invalid, or a character cut off by the end: kept as it is
      validFrom = ++i;
    } else if (i - validFrom < RUN_FOR_RUNTIME_BYTES) {
      out.append(uppercaseCharacter(bytes, i, length));
      i += length;
    } else {
      // A long run of valid text: the rest of it goes to the runtime in one call.
      let runEnd = i + length;
      for (let next; runEnd < end && (next = sequenceLength(bytes, runEnd, end)) > 0;) {
        runEnd += next;
      }
      out.appendText(decoder.decode(bytes.subarray(i, runEnd)).toUpperCase());
      i = runEnd;
    }
  }
  return out.bytes();
}

/**
 * The uppercase of each two- and three-byte character met so far, indexed by
 * its code point (below U+10000): a character is uppercased by the runtime once,
 * then looked up. At most 65,536 entries, so its size has a bound.
 */
const UPPERCASED = new Array<Uint8Array | undefined>(0x10000).fill(undefined);

/**
 * The uppercase of the one valid multi-byte character at `bytes[start]`,
 * `length` bytes long. The caller has the length: working it out again here
 * cost 17% of the throughput of UTF-8 lines (`tcpload --utf8`).
 */
function uppercaseCharacter(bytes: Uint8Array, start: number, length: number): Uint8Array {
  const lead = bytes[start];
  // Four-byte characters (U+10000 and up) are rare in text and few have a case.
  if (length === 4) return uppercaseText(bytes.subarray(start, start + 4));
  const codePoint = length === 2
    ? ((lead & 0x1f) << 6) | (bytes[start + 1] & 0x3f)
    : ((lead & 0x0f) << 12) | ((bytes[start + 1] & 0x3f) << 6) | (bytes[start + 2] & 0x3f);
  return UPPERCASED[codePoint] ??= uppercaseText(bytes.subarray(start, start + length));
}

function uppercaseText(validUtf8: Uint8Array): Uint8Array {
  return encoder.encode(decoder.decode(validUtf8).toUpperCase());
}

/** Bytes written one or a few at a time into an array that doubles when full. */
class ByteWriter {
  #buffer: Uint8Array;
  #length = 0;

  constructor(capacity: number) {
    this.#buffer = new Uint8Array(Math.max(16, capacity));
  }

  push(byte: number): void {
    if (this.#length === this.#buffer.length) this.#grow(1);
    this.#buffer[this.#length++] = byte;
  }

  append(bytes: Uint8Array): void {
    if (this.#length + bytes.length > this.#buffer.length) this.#grow(bytes.length);
    // A character's few bytes go faster one by one than through set().
    if (bytes.length <= 8) {
      for (let i = 0; i < bytes.length; i++) this.#buffer[this.#length++] = bytes[i];
    } else {
      this.#buffer.set(bytes, this.#length);
      this.#length += bytes.length;
    }
  }

  /** Writes `text` in UTF-8 straight into the buffer, growing it if need be. */
  appendText(text: string): void {
    const { read, written } = encoder.encodeInto(text, this.#buffer.subarray(this.#length));
    this.#length += written;
    if (read < text.length) {
      const rest = text.slice(read);
      // At most three bytes for each UTF-16 code unit.
      this.#grow(rest.length * 3);
      this.#length += encoder.encodeInto(rest, this.#buffer.subarray(this.#length)).written;
    }
  }

  /** What was written, as a view of the buffer. */
  bytes(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  #grow(needed: number): void {
    const grown = new Uint8Array(Math.max(this.#buffer.length * 2, this.#length + needed));
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
  }
}
