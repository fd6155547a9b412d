/**
 * The PROXY protocol header that load balancers such as HAProxy put before a
 * connection's first byte to say whom it is from: version 1 (`send-proxy`, a
 * text line) and version 2 (`send-proxy-v2`, binary), as HAProxy's
 * `doc/proxy-protocol.txt` specifies them. Pure parsing, no I/O: the server
 * reads bytes and asks {@linkcode parseProxyHeader} after each read.
 *
 * - The version is told by its signature: `PROXY ` for 1, twelve fixed bytes
 *   for 2. Anything else is "no PROXY header".
 * - Version 1 is one line of at most {@linkcode PROXY_V1_MAX_BYTES} bytes,
 *   ending in CRLF, with single spaces, canonical addresses and ports without
 *   leading zeros. `UNKNOWN` means "use the socket's own addresses".
 * - Version 2 must say version 2 and a known command. `LOCAL` (a proxy's own
 *   health check) means "use the socket's own addresses", as do valid
 *   families other than TCP over IPv4 or IPv6. Extra bytes (TLVs) are skipped.
 *
 * @module
 */

import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from "./ip.ts";

/** The longest version 1 header, CRLF included: `PROXY UNKNOWN` and two full IPv6 addresses. */
export const PROXY_V1_MAX_BYTES = 107;

/** An address and port, as a PROXY header gives them. */
export interface ProxiedAddress {
  hostname: string;
  port: number;
}

/** What the bytes received so far say about the header. */
export type ProxyHeader =
  /** More bytes are needed. */
  | { status: "incomplete" }
  /** The bytes cannot start a valid header: close the connection. */
  | { status: "invalid"; reason: string }
  /**
   * The header is complete and `length` bytes long; what follows is the
   * connection's data. `source` is the real client, or `undefined` when the
   * socket's own addresses stand: the proxy's own connection (`local`: v1
   * `UNKNOWN`, v2 `LOCAL`), or a client whose family gives no TCP address
   * (v2 `PROXY` over `AF_UNIX` or unspecified).
   */
  | {
    status: "complete";
    version: 1 | 2;
    length: number;
    source?: ProxiedAddress;
    local?: boolean;
  };

const V1_PREFIX = new TextEncoder().encode("PROXY ");
/** The twelve bytes that start every version 2 header. */
export const PROXY_V2_SIGNATURE: Uint8Array = Uint8Array.of(
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
);
const V2_FIXED_BYTES = 16;
const CR = 0x0d;
const LF = 0x0a;
const INCOMPLETE: ProxyHeader = { status: "incomplete" };

/**
 * Parses the PROXY header at the start of a connection.
 *
 * @example A version 1 header, then the first message
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseProxyHeader } from "./proxy_header.ts";
 *
 * const bytes = new TextEncoder().encode("PROXY TCP4 192.0.2.7 10.0.0.1 56324 5000\r\nhola\n");
 * assert.deepEqual(parseProxyHeader(bytes), {
 *   status: "complete",
 *   version: 1,
 *   length: 42,
 *   source: { hostname: "192.0.2.7", port: 56324 },
 * });
 * ```
 *
 * @param bytes Everything the connection has received so far.
 * @returns Whether the header is complete, incomplete or invalid, and what it says.
 */
export function parseProxyHeader(bytes: Uint8Array): ProxyHeader {
  if (startsLike(bytes, V1_PREFIX)) return parseV1(bytes);
  if (startsLike(bytes, PROXY_V2_SIGNATURE)) return parseV2(bytes);
  return invalid("no PROXY header");
}

/** Whether `bytes` and `signature` agree on as many bytes as both have. */
function startsLike(bytes: Uint8Array, signature: Uint8Array): boolean {
  const length = Math.min(bytes.length, signature.length);
  for (let i = 0; i < length; i++) if (bytes[i] !== signature[i]) return false;
  return true;
}

function parseV1(bytes: Uint8Array): ProxyHeader {
  const window = bytes.subarray(0, PROXY_V1_MAX_BYTES);
  const lf = window.indexOf(LF);
  const lineEnd = lf === -1 ? window.length : lf;
  const cr = window.subarray(0, lineEnd).indexOf(CR);
  // A CR may only be the last byte before the LF (or, so far, the last byte received).
  if (cr !== -1 && cr !== lineEnd - 1) {
    return invalid("malformed PROXY v1 header: a CR inside the line");
  }
  if (lf === -1) {
    return bytes.length >= PROXY_V1_MAX_BYTES
      ? invalid(`PROXY v1 header longer than ${PROXY_V1_MAX_BYTES} bytes`)
      : INCOMPLETE;
  }
  if (cr !== lf - 1) return invalid("malformed PROXY v1 header: it must end with CRLF");
  const line = window.subarray(0, cr);
  if (line.some((byte) => byte < 0x20 || byte > 0x7e)) {
    return invalid("malformed PROXY v1 header: not printable ASCII");
  }
  const [, protocol, ...fields] = new TextDecoder().decode(line).split(" ");
  const complete = { status: "complete", version: 1, length: lf + 1 } as const;
  if (protocol === "UNKNOWN") return { ...complete, local: true };
  const parse = protocol === "TCP4" ? parseIPv4 : protocol === "TCP6" ? parseIPv6 : undefined;
  if (!parse) return invalid(`malformed PROXY v1 header: unknown protocol "${protocol}"`);
  if (fields.length !== 4) {
    return invalid("malformed PROXY v1 header: want two addresses and two ports");
  }
  const [source, destination, sourcePort, destinationPort] = fields;
  const address = parse(source);
  if (!address || !parse(destination)) {
    return invalid(`malformed PROXY v1 header: not ${protocol} addresses`);
  }
  if (!isPort(sourcePort) || !isPort(destinationPort)) {
    return invalid("malformed PROXY v1 header: bad port");
  }
  const hostname = protocol === "TCP4" ? source : formatIPv6(address);
  return { ...complete, source: { hostname, port: Number(sourcePort) } };
}

function isPort(text: string): boolean {
  return /^(0|[1-9]\d{0,4})$/.test(text) && Number(text) <= 65535;
}

function parseV2(bytes: Uint8Array): ProxyHeader {
  if (bytes.length < V2_FIXED_BYTES) return INCOMPLETE;
  const version = bytes[12] >> 4, command = bytes[12] & 0x0f;
  const family = bytes[13] >> 4, transport = bytes[13] & 0x0f;
  if (version !== 2) return invalid(`unsupported PROXY version ${version}`);
  if (command > 1) return invalid(`malformed PROXY v2 header: unknown command ${command}`);
  if (family > 3 || transport > 2) {
    return invalid("malformed PROXY v2 header: unknown address family or protocol");
  }
  const length = V2_FIXED_BYTES + ((bytes[14] << 8) | bytes[15]);
  if (bytes.length < length) return INCOMPLETE;
  const complete = { status: "complete", version: 2, length } as const;
  // LOCAL: the proxy's own connection, such as a health check.
  if (command === 0) return { ...complete, local: true };
  const addresses = bytes.subarray(V2_FIXED_BYTES, length);
  if (bytes[13] === 0x11) {
    if (addresses.length < 12) return invalid("malformed PROXY v2 header: short TCP4 addresses");
    const port = (addresses[8] << 8) | addresses[9];
    return { ...complete, source: { hostname: formatIPv4(addresses.subarray(0, 4)), port } };
  }
  if (bytes[13] === 0x21) {
    if (addresses.length < 36) return invalid("malformed PROXY v2 header: short TCP6 addresses");
    const port = (addresses[32] << 8) | addresses[33];
    return { ...complete, source: { hostname: formatIPv6(addresses.subarray(0, 16)), port } };
  }
  // Unspecified, UDP or UNIX: valid, and the specification says to fall back
  // to the socket's own addresses.
  return complete;
}

function invalid(reason: string): ProxyHeader {
  return { status: "invalid", reason };
}
