/**
 * IP addresses as the PROXY protocol and `--trusted-proxies` need them: IPv4
 * and IPv6 text read strictly into bytes, IPv6 written in its canonical short
 * form (RFC 5952), and address ranges in CIDR notation.
 *
 * @module
 */

/**
 * Reads an IPv4 address in dotted-decimal form: four numbers from 0 to 255,
 * with no leading zeros (which some readers would take for octal).
 *
 * @param text Such as `192.168.0.1`.
 * @returns Its 4 bytes, or `undefined` when the text is not exactly that.
 */
export function parseIPv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (const [i, part] of parts.entries()) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return undefined;
    bytes[i] = Number(part);
  }
  return bytes;
}

/**
 * Reads an IPv6 address: groups of one to four hexadecimal digits, at most one
 * `::` for a run of zero groups, and optionally a dotted IPv4 address for the
 * last 32 bits (`::ffff:127.0.0.1`). A zone (`%eth0`) is not part of it.
 *
 * @param text Such as `2001:db8::1`.
 * @returns Its 16 bytes, or `undefined` when the text is not an IPv6 address.
 */
export function parseIPv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = halves.map((half) => half === "" ? [] : half.split(":"));
  const words: number[][] = [];
  for (const [h, half] of groups.entries()) {
    const list: number[] = [];
    for (const [i, group] of half.entries()) {
      const last = h === groups.length - 1 && i === half.length - 1;
      const ipv4 = last && group.includes(".") ? parseIPv4(group) : undefined;
      if (ipv4) list.push((ipv4[0] << 8) | ipv4[1], (ipv4[2] << 8) | ipv4[3]);
      else if (/^[0-9a-fA-F]{1,4}$/.test(group)) list.push(parseInt(group, 16));
      else return undefined;
    }
    words.push(list);
  }
  const given = words.reduce((sum, list) => sum + list.length, 0);
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined;
  const all = halves.length === 1
    ? words[0]
    : [...words[0], ...new Array(8 - given).fill(0), ...words[1]];
  const bytes = new Uint8Array(16);
  all.forEach((word, i) => {
    bytes[2 * i] = word >> 8;
    bytes[2 * i + 1] = word & 0xff;
  });
  return bytes;
}

/** Writes 4 bytes as a dotted-decimal IPv4 address. */
export function formatIPv4(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 4)).join(".");
}

/**
 * Writes 16 bytes as an IPv6 address in RFC 5952's canonical form: lower
 * case, no leading zeros, and the longest run of two or more zero groups (the
 * first, on a tie) written `::`.
 *
 * @example Compressing zeros
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatIPv6, parseIPv6 } from "./ip.ts";
 *
 * assert.equal(formatIPv6(parseIPv6("2001:0DB8:0:0:0:0:0:0001")!), "2001:db8::1");
 * assert.equal(formatIPv6(parseIPv6("::ffff:102:304")!), "::ffff:1.2.3.4");
 * ```
 */
export function formatIPv6(bytes: Uint8Array): string {
  // An IPv4-mapped address keeps its IPv4 part dotted (RFC 5952, section 5).
  if (
    bytes.subarray(0, 10).every((byte) => byte === 0) && bytes[10] === 0xff && bytes[11] === 0xff
  ) {
    return `::ffff:${formatIPv4(bytes.subarray(12, 16))}`;
  }
  const words = Array.from({ length: 8 }, (_, i) => (bytes[2 * i] << 8) | bytes[2 * i + 1]);
  let bestStart = -1, bestLength = 1;
  for (let start = 0; start < 8;) {
    let end = start;
    while (end < 8 && words[end] === 0) end++;
    if (end - start > bestLength) [bestStart, bestLength] = [start, end - start];
    start = end === start ? start + 1 : end;
  }
  const hex = words.map((word) => word.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/** A set of address ranges in CIDR notation, such as `127.0.0.0/8,::1`. */
export class AddressRanges {
  readonly #ranges: { network: Uint8Array; prefix: number }[];

  /**
   * Reads a comma-separated list of ranges. An address with no `/prefix` is a
   * range of one address.
   *
   * @param text Such as `127.0.0.0/8,::1,10.0.0.0/8`.
   * @throws {RangeError} Naming the first entry that is not an address or range.
   */
  constructor(text: string) {
    this.#ranges = text.split(",").map((entry) => {
      const [address, prefixText, extra] = entry.trim().split("/");
      const network = parseIPv4(address) ?? parseIPv6(address);
      const bits = (network?.length ?? 0) * 8;
      const prefix = prefixText === undefined ? bits : Number(prefixText);
      if (
        !network || extra !== undefined || !/^\d{1,3}$/.test(prefixText ?? "0") || prefix > bits
      ) {
        throw new RangeError(`"${entry.trim()}" is not an IP address or a CIDR range`);
      }
      return { network, prefix };
    });
  }

  /**
   * Tells whether an address is in one of the ranges. An IPv4 address written
   * as IPv6 (`::ffff:127.0.0.1`, as a dual-stack listener reports it) is
   * checked as the IPv4 address it is.
   *
   * @param hostname An address as `Deno.NetAddr` reports it.
   */
  includes(hostname: string): boolean {
    const ipv6 = parseIPv6(hostname);
    const mapped = ipv6 && ipv6.subarray(0, 12).every((byte, i) => byte === (i < 10 ? 0 : 0xff));
    const address = mapped ? ipv6.subarray(12) : parseIPv4(hostname) ?? ipv6;
    if (!address) return false;
    return this.#ranges.some(({ network, prefix }) =>
      network.length === address.length && commonPrefixBits(network, address) >= prefix
    );
  }
}

/** How many leading bits two addresses of the same length share. */
function commonPrefixBits(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    // Math.clz32 counts over 32 bits: a byte's differing bits start 24 in.
    if (a[i] !== b[i]) return 8 * i + Math.clz32(a[i] ^ b[i]) - 24;
  }
  return 8 * a.length;
}
