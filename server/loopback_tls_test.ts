/**
 * Tests of the TLS front's loopback side: links made at once are each paired
 * with their own connection, and connections from elsewhere on the host,
 * however many, neither take a link's place nor hold one up.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LoopbackTls } from "./loopback_tls.ts";
import { canMakeCertificates, makeTestCertificates } from "../testing/certificates.ts";
import { allOf } from "../testing/peers.ts";
import { warnIfMissing } from "../testing/processes.ts";

const certificates = await canMakeCertificates();
warnIfMissing("loopback_tls_test.ts", {
  available: { openssl: certificates },
  packages: "openssl",
});

/** A loopback listener with the test certificate, closed on disposal. */
async function loopback() {
  const certs = await makeTestCertificates();
  const listener = new LoopbackTls({ cert: certs.server.cert, key: certs.server.key });
  return Object.assign(listener, {
    async [Symbol.asyncDispose]() {
      listener.close();
      await listener.closed;
      await certs[Symbol.asyncDispose]();
    },
  });
}

/** Closes a link: our end first, so that the TLS side, closed before any handshake, is freed. */
function closeLink({ end, tls }: { end: Deno.TcpConn; tls: Deno.TlsConn }): void {
  end.close();
  tls.close();
}

Deno.test({
  name: "LoopbackTls pairs each of 20 links made at once with the connection accepted from it",
  ignore: !certificates,
  async fn() {
    await using listener = await loopback();
    const links = await Promise.all(Array.from({ length: 20 }, () => listener.link()));
    for (const { end, tls } of links) {
      assert.equal((tls.remoteAddr as Deno.NetAddr).port, end.localAddr.port);
    }
    links.forEach(closeLink);
  },
});

Deno.test({
  name:
    "LoopbackTls makes a link while 600 connections from elsewhere on the host wait on its port",
  ignore: !certificates,
  async fn() {
    await using listener = await loopback();
    const { hostname, port } = listener.addr;
    // More than the listener's queue holds: only a loop that keeps accepting lets them all in.
    using _others = allOf(
      await Promise.all(Array.from({ length: 600 }, () => Deno.connect({ hostname, port }))),
    );
    const link = await listener.link();
    assert.equal((link.tls.remoteAddr as Deno.NetAddr).port, link.end.localAddr.port);
    closeLink(link);
  },
});
