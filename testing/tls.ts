/**
 * TLS for the tests: our server on 127.0.0.1 with throwaway certificates, and
 * a client connection that trusts them.
 *
 * @module
 */

import { startServer } from "./helpers.ts";
import { makeTestCertificates } from "./certificates.ts";

/**
 * A TLS connection to `server`, checked against the test CA for `localhost`,
 * with TCP_NODELAY as our client sets it: without it, Nagle's algorithm holds
 * the first message after the handshake for a delayed ACK, some 80 ms here.
 */
export async function connectTls(server: { addr: Deno.NetAddr; certs: { ca: { pem: string } } }) {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  tcp.setNoDelay(true);
  return await Deno.startTls(tcp, { hostname: "localhost", caCerts: [server.certs.ca.pem] });
}

/** A TLS server on 127.0.0.1 with the test CA's certificate for localhost, and the certificates. */
export async function tlsServer(options: Parameters<typeof startServer>[0] = {}) {
  const certs = await makeTestCertificates();
  const server = startServer({
    tls: { cert: certs.server.cert, key: certs.server.key },
    ...options,
  });
  return Object.assign(server, {
    certs,
    async [Symbol.asyncDispose]() {
      await server.stop();
      await certs[Symbol.asyncDispose]();
    },
  });
}
