/**
 * Tests of the PROXY header parser against the specification: both versions
 * from every family HAProxy sends, headers cut anywhere, and each way a header
 * can be wrong.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseProxyHeader, PROXY_V1_MAX_BYTES } from "./proxy_header.ts";
import { proxyV2 as v2, tcpAddresses as tcp } from "../testing/peers.ts";

const encoder = new TextEncoder();

Deno.test("parseProxyHeader reads version 1 for TCP4, TCP6 and UNKNOWN", () => {
  const table: [string, object][] = [
    ["PROXY TCP4 192.0.2.7 10.0.0.1 56324 5000\r\n", { hostname: "192.0.2.7", port: 56324 }],
    ["PROXY TCP6 2001:DB8::0:7 ::1 0 65535\r\n", { hostname: "2001:db8::7", port: 0 }],
  ];
  for (const [line, source] of table) {
    assert.deepEqual(parseProxyHeader(encoder.encode(line)), {
      status: "complete",
      version: 1,
      length: line.length,
      source,
    });
  }
  for (const line of ["PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff:: ffff:: 65535 65535\r\n"]) {
    assert.deepEqual(parseProxyHeader(encoder.encode(line + "hola\n")), {
      status: "complete",
      version: 1,
      length: line.length,
      local: true,
    });
  }
});

Deno.test("parseProxyHeader reads version 2 for TCP4, TCP6 and LOCAL, skipping extra bytes", () => {
  const table: [Uint8Array, object][] = [
    [v2("PROXY", tcp("127.0.0.2:40000", "127.0.0.1:5000")), {
      source: { hostname: "127.0.0.2", port: 40000 },
    }],
    [v2("PROXY", tcp("[2001:db8::2]:443", "[::1]:5000"), Uint8Array.of(3, 0, 1, 9)), {
      source: { hostname: "2001:db8::2", port: 443 },
    }],
    [v2("LOCAL"), { local: true }],
    // LOCAL ignores any addresses
    [v2("LOCAL", tcp("10.0.0.1:1", "10.0.0.2:2")), { local: true }],
    [v2("PROXY"), {}], // PROXY, unspecified: the socket's addresses
    [v2("PROXY", { ...tcp("10.0.0.1:1", "10.0.0.2:2"), family: 0x12 }), {}], // UDP: the same
    [v2("PROXY", { family: 0x31, bytes: new Uint8Array(216) }), {}], // UNIX: the same
  ];
  for (const [header, want] of table) {
    const bytes = Uint8Array.of(...header, ...encoder.encode("hola\n"));
    assert.deepEqual(parseProxyHeader(bytes), {
      status: "complete",
      version: 2,
      length: header.length,
      ...want,
    });
  }
});

Deno.test("parseProxyHeader wants more bytes for any header cut short, and never misreads one", () => {
  const headers = [
    encoder.encode("PROXY TCP6 2001:db8::2 ::1 40000 5000\r\n"),
    v2("PROXY", tcp("[2001:db8::2]:40000", "[::1]:5000"), new Uint8Array(20)),
    v2("LOCAL"),
  ];
  for (const header of headers) {
    for (let cut = 0; cut < header.length; cut++) {
      assert.deepEqual(
        parseProxyHeader(header.subarray(0, cut)),
        { status: "incomplete" },
        `${cut}`,
      );
    }
    assert.equal(parseProxyHeader(header).status, "complete");
  }
});

Deno.test("parseProxyHeader says why a header is invalid", () => {
  const table: [string | Uint8Array, string][] = [
    ["hola servidor\n", "no PROXY header"],
    ["GET / HTTP/1.1\r\n", "no PROXY header"],
    ["PROXY TCP4 192.0.2.7 10.0.0.1 56324 5000\n", "it must end with CRLF"],
    ["PROXY TCP4 192.0.2.7 10.0.0.1 56324\r5000\r\n", "a CR inside the line"],
    ["PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", 'unknown protocol "TCP5"'],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "want two addresses and two ports"],
    ["PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "want two addresses and two ports"],
    ["PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "not TCP4 addresses"],
    ["PROXY TCP4 ::1 ::1 1 2\r\n", "not TCP4 addresses"],
    ["PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "not TCP6 addresses"],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", "bad port"],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", "bad port"],
    ["PROXY UNKNOWN \x01\r\n", "not printable ASCII"],
    ["PROXY UNKNOWN " + "f".repeat(PROXY_V1_MAX_BYTES), "longer than 107 bytes"],
    [
      Uint8Array.of(
        ...v2("PROXY", tcp("1.2.3.4:1", "5.6.7.8:2")).map((b, i) => i === 12 ? 0x11 : b),
      ),
      "unsupported PROXY version 1",
    ],
    [v2(2, tcp("1.2.3.4:1", "5.6.7.8:2")), "unknown command 2"],
    [
      v2("PROXY", { ...tcp("1.2.3.4:1", "5.6.7.8:2"), family: 0x41 }),
      "unknown address family or protocol",
    ],
    [
      v2("PROXY", { ...tcp("1.2.3.4:1", "5.6.7.8:2"), family: 0x13 }),
      "unknown address family or protocol",
    ],
    [v2("PROXY", { family: 0x11, bytes: new Uint8Array(8) }), "short TCP4 addresses"],
    [v2("PROXY", { family: 0x21, bytes: new Uint8Array(12) }), "short TCP6 addresses"],
  ];
  for (const [input, reason] of table) {
    const bytes = typeof input === "string" ? encoder.encode(input) : input;
    const header = parseProxyHeader(bytes);
    assert.equal(header.status, "invalid", JSON.stringify(input));
    assert(
      header.status === "invalid" && header.reason.includes(reason),
      `${header.status === "invalid" && header.reason} for ${JSON.stringify(input)}`,
    );
  }
});

Deno.test("parseProxyHeader accepts a version 1 line of exactly 107 bytes and refuses 108", () => {
  const longest = `PROXY UNKNOWN ${"ffff:".repeat(7)}ffff ${"ffff:".repeat(7)}ffff 65535 65535\r\n`;
  assert.equal(longest.length, PROXY_V1_MAX_BYTES);
  assert.equal(parseProxyHeader(encoder.encode(longest)).status, "complete");
  assert.equal(
    parseProxyHeader(encoder.encode(longest.replace("UNKNOWN ", "UNKNOWN  "))).status,
    "invalid",
  );
});
