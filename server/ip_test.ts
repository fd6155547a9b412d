/**
 * Tests of IP addresses and ranges: strict IPv4 and IPv6 reading, RFC 5952
 * formatting checked against the runtime's own URL parser, and CIDR matching,
 * IPv4-mapped IPv6 included.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { AddressRanges, formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from "./ip.ts";

Deno.test("parseIPv4 takes four decimal numbers to 255 without leading zeros, and nothing else", () => {
  assert.deepEqual(parseIPv4("192.168.0.1"), Uint8Array.of(192, 168, 0, 1));
  assert.deepEqual(parseIPv4("0.0.0.0"), Uint8Array.of(0, 0, 0, 0));
  assert.equal(formatIPv4(parseIPv4("255.255.255.255")!), "255.255.255.255");
  for (
    const bad of [
      "256.0.0.1",
      "01.2.3.4",
      "1.2.3",
      "1.2.3.4.5",
      "1.2.3.-4",
      " 1.2.3.4",
      "a.b.c.d",
      "",
      "1..3.4",
    ]
  ) {
    assert.equal(parseIPv4(bad), undefined, bad);
  }
});

Deno.test("parseIPv6 reads groups, one ::, and a dotted IPv4 tail, and refuses the rest", () => {
  const table: [string, string][] = [
    ["::1", "::1"],
    ["::", "::"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["fe80::1:2", "fe80::1:2"],
    ["::ffff:127.0.0.1", "::ffff:127.0.0.1"],
    ["::ffff:102:304", "::ffff:1.2.3.4"], // IPv4-mapped: its IPv4 part dotted, RFC 5952 §5
    ["::fffe:102:304", "::fffe:102:304"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
  ];
  for (const [text, want] of table) assert.equal(formatIPv6(parseIPv6(text)!), want, text);
  for (
    const bad of [
      "1::2::3",
      "12345::1",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      ":1",
      "g::1",
      "::1.2.3",
      "1:2:3:4:5:6:7::8:9",
      "::1%lo",
    ]
  ) {
    assert.equal(parseIPv6(bad), undefined, bad);
  }
});

Deno.test("formatIPv6 writes any address as the runtime's URL parser does (RFC 5952)", () => {
  const words = fc.constantFrom(0, 0, 0, 1, 0xffff, 0x0db8, 0xabc);
  fc.assert(
    fc.property(fc.array(words, { minLength: 8, maxLength: 8 }), (groups) => {
      const bytes = new Uint8Array(16);
      groups.forEach((word, i) => {
        bytes[2 * i] = word >> 8;
        bytes[2 * i + 1] = word & 0xff;
      });
      const text = formatIPv6(bytes);
      // URL keeps IPv4-mapped addresses in hex; RFC 5952 (section 5) dots their IPv4 part.
      const mapped = groups.slice(0, 5).every((word) => word === 0) && groups[5] === 0xffff;
      const url = new URL(`http://[${groups.map((w) => w.toString(16)).join(":")}]/`);
      assert.equal(
        text,
        mapped ? `::ffff:${[...bytes.subarray(12)].join(".")}` : url.hostname.slice(1, -1),
      );
      assert.deepEqual(parseIPv6(text), bytes, "it reads back");
    }),
    { numRuns: 2000 },
  );
});

Deno.test("AddressRanges matches CIDR ranges of its own family, and IPv4 written as IPv6", () => {
  const ranges = new AddressRanges("127.0.0.0/8, ::1,10.1.2.0/23,2001:db8::/32");
  const table: [string, boolean][] = [
    ["127.0.0.1", true],
    ["127.255.1.2", true],
    ["128.0.0.1", false],
    ["::1", true],
    ["::2", false],
    ["::ffff:127.0.0.1", true],
    ["::ffff:128.0.0.1", false],
    ["10.1.3.255", true],
    ["10.1.4.0", false],
    ["2001:db8:ffff::1", true],
    ["2001:db9::1", false],
    ["localhost", false],
  ];
  for (const [address, want] of table) assert.equal(ranges.includes(address), want, address);
  assert(new AddressRanges("0.0.0.0/0").includes("203.0.113.9"));
  assert(!new AddressRanges("0.0.0.0/0").includes("::1"), "an IPv4 range holds no IPv6 address");
});

Deno.test("AddressRanges refuses an entry that is not an address or a range, naming it", () => {
  for (
    const bad of [
      "127.0.0.0/33",
      "::1/129",
      "localhost",
      "10.0.0.0/8/1",
      "10.0.0.0/x",
      "",
      "1.2.3.4,",
    ]
  ) {
    assert.throws(() => new AddressRanges(bad), RangeError, bad);
  }
  assert.throws(
    () => new AddressRanges("127.0.0.0/8,10.0.0/8"),
    new RangeError('"10.0.0/8" is not an IP address or a CIDR range'),
  );
});
