/**
 * Tests of connecting: a plain TCP connection is made ready for small
 * messages, no server is one line that says how to start one, and each TLS
 * failure is named in words with what to do.
 *
 * @module
 */

import assert from "node:assert/strict";
import { connect, describeTlsError } from "./connect.ts";
import { DEFAULT_CONNECT_TIMEOUT_MS } from "./options.ts";
import { SessionEnd } from "./session.ts";
import { EXIT } from "../cli/exit_status.ts";
import { freePort } from "../testing/processes.ts";

Deno.test("connect gives a TCP connection to a listening server", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = listener.accept();
  using conn = await connect(
    { hostname: "127.0.0.1", port: listener.addr.port },
    { timeoutMs: DEFAULT_CONNECT_TIMEOUT_MS },
  );
  using accepted = await accepting;
  assert.equal((conn.remoteAddr as Deno.NetAddr).port, listener.addr.port);
  assert.equal((accepted.remoteAddr as Deno.NetAddr).port, (conn.localAddr as Deno.NetAddr).port);
});

Deno.test("connect with no server there ends the session with 3 and says how to start one", async () => {
  const port = freePort();
  await assert.rejects(
    connect({ hostname: "127.0.0.1", port }, { timeoutMs: DEFAULT_CONNECT_TIMEOUT_MS }),
    (error) =>
      error instanceof SessionEnd && error.status === EXIT.NO_SERVER &&
      error.message ===
        `Cannot connect to 127.0.0.1:${port}: no server is listening there. ` +
          'Start one with "deno task server", or pick another with --host and --port',
  );
});

Deno.test("describeTlsError names each certificate failure and what to do about it", () => {
  const table: [string, RegExp][] = [
    [
      "invalid peer certificate: UnknownIssuer",
      /unknown issuer\)\. Give that authority's certificate with --ca$/,
    ],
    [
      'invalid peer certificate: certificate not valid for name "otherhost"; certificate is only valid for DnsName("localhost") or IpAddress(127.0.0.1)',
      /^the server's certificate is not valid for the name "otherhost" \(it is for localhost, 127\.0\.0\.1\)\. Connect by a name the certificate holds, with --host$/,
    ],
    ["invalid peer certificate: Expired", /^the server's certificate has expired$/],
    ["invalid peer certificate: NotValidYet", /^the server's certificate is not valid yet$/],
    [
      "received corrupt message",
      /^the TLS handshake failed \(received corrupt message\)\. Is the server speaking TLS on this port\?$/,
    ],
  ];
  for (const [message, want] of table) {
    assert.match(describeTlsError(new Error(message), "otherhost"), want, message);
  }
});

Deno.test("connect gives up on a TLS handshake the server never answers, within the connect timeout", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = listener.accept();
  const started = performance.now();
  await assert.rejects(
    connect({ hostname: "127.0.0.1", port: listener.addr.port, tls: {} }, { timeoutMs: 300 }),
    (error) =>
      error instanceof SessionEnd && error.status === EXIT.NO_SERVER &&
      error.message ===
        `Cannot connect to 127.0.0.1:${listener.addr.port}: no TLS handshake within 0.3 s`,
  );
  const took = performance.now() - started;
  assert(took >= 300 && took < 3_000, `gave up after ${took} ms`);
  (await accepting).close();
});
