/**
 * Tests of the TLS front: it relays TLS both ways with the client's address
 * and its half-close, frees a client's socket at once when a connection closes
 * before its handshake, and stops cleanly.
 *
 * @module
 */

import assert from "node:assert/strict";
import { TlsFront } from "./tls_front.ts";
import { canMakeCertificates, makeTestCertificates } from "../testing/certificates.ts";
import { withDeadline } from "../testing/helpers.ts";
import { Peer } from "../testing/peers.ts";
import { connectTls } from "../testing/tls.ts";
import { warnIfMissing } from "../testing/processes.ts";

const certificates = await canMakeCertificates();
warnIfMissing("tls_front_test.ts", { available: { openssl: certificates }, packages: "openssl" });

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A front on 127.0.0.1 with the test CA's certificate for localhost, and the certificates. */
async function front() {
  const certs = await makeTestCertificates();
  const listener = new TlsFront({
    address: { hostname: "127.0.0.1", port: 0 },
    cert: certs.server.cert,
    key: certs.server.key,
  });
  return Object.assign(listener, {
    certs,
    async [Symbol.asyncDispose]() {
      listener.close();
      // A test that failed before closing its connections fails here too, rather than hang.
      await withDeadline(listener.drained(), "every relay closed", () => "", 1_000);
      await certs[Symbol.asyncDispose]();
    },
  });
}

Deno.test({
  name: "TlsFront relays TLS both ways, with the client's address and its half-close",
  ignore: !certificates,
  async fn() {
    await using listener = await front();
    const client = connectTls(listener);
    const conn = await listener.accept();
    using tls = await client;
    await conn.handshake();
    const { hostname, port } = tls.localAddr as Deno.NetAddr;
    assert.deepEqual({ ...conn.remoteAddr }, { transport: "tcp", hostname, port });
    await tls.write(encoder.encode("hola"));
    await tls.closeWrite();
    const buffer = new Uint8Array(16);
    assert.equal(decoder.decode(buffer.subarray(0, (await conn.read(buffer))!)), "hola");
    assert.equal(await conn.read(buffer), null, "the client's close_notify, as end of input");
    await conn.write(encoder.encode("HOLA"));
    await conn.closeWrite();
    assert.equal(decoder.decode(buffer.subarray(0, (await tls.read(buffer))!)), "HOLA");
    assert.equal(await tls.read(buffer), null);
    conn.close();
  },
});

Deno.test({
  name: "TlsFront: closing a connection before its handshake ends the client's connection at once",
  ignore: !certificates,
  async fn() {
    await using listener = await front();
    using silent = await Peer.connect(listener.addr);
    const conn = await listener.accept();
    conn.close();
    // Deno's own TLS listener would keep this socket until the client sent something.
    assert.equal(
      await withDeadline(silent.readToEnd(), "the end of the silent client's input", () => ""),
      "",
    );
  },
});

Deno.test({
  name: "TlsFront: once closed, a pending accept fails with BadResource",
  ignore: !certificates,
  async fn() {
    await using listener = await front();
    const accepting = listener.accept();
    listener.close();
    await assert.rejects(accepting, Deno.errors.BadResource);
  },
});
