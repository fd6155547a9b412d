/**
 * Connecting to the server, over TCP or TLS, with every failure worded for
 * people: no server there, or a certificate this client cannot trust, and
 * what to do about it.
 *
 * @module
 */

import { describeNetworkError, formatAddress } from "../io.ts";
import { EXIT } from "../cli/exit_status.ts";
import { SessionEnd } from "./session.ts";

/** How to reach the server. */
export interface ServerAddress {
  hostname: string;
  port: number;
  /**
   * Speak TLS, checking the server's certificate against the trusted
   * authorities, `caCerts` (PEM) among them, and against `hostname`.
   */
  tls?: { caCerts?: string[] };
}

/**
 * Connects, and completes the TLS handshake when asked to, so that a
 * certificate that cannot be trusted is reported now rather than at the first
 * message.
 *
 * @param server Where the server is, and whether it speaks TLS.
 * @returns The connection.
 * @throws {SessionEnd} With {@linkcode EXIT.NO_SERVER} and a line saying why.
 */
export async function connect(server: ServerAddress): Promise<Deno.TcpConn | Deno.TlsConn> {
  const { hostname, port, tls } = server;
  const action = `Cannot connect to ${formatAddress(server)}`;
  let conn: Deno.TcpConn | Deno.TlsConn;
  try {
    conn = tls
      ? await Deno.connectTls({ hostname, port, caCerts: tls.caCerts })
      : await Deno.connect({ hostname, port });
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) {
      throw new SessionEnd(
        EXIT.NO_SERVER,
        `${action}: no server is listening there. Start one with "deno task server", or pick another with --host and --port`,
      );
    }
    throw new SessionEnd(EXIT.NO_SERVER, `${action}: ${describeNetworkError(error)}`);
  }
  if ("setNoDelay" in conn) {
    conn.setNoDelay(true);
    return conn;
  }
  try {
    await conn.handshake();
    return conn;
  } catch (error) {
    conn.close();
    throw new SessionEnd(EXIT.NO_SERVER, `${action}: ${describeTlsError(error, hostname)}`);
  }
}

/**
 * Says why a TLS handshake failed, and what to do about it.
 *
 * @param error What the handshake threw.
 * @param hostname The name the certificate was checked against.
 * @returns A phrase for the line after "Cannot connect to ...:".
 */
export function describeTlsError(error: unknown, hostname: string): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/UnknownIssuer/.test(message)) {
    return "the server's certificate is signed by an authority this client does not trust " +
      "(unknown issuer). Give that authority's certificate with --ca";
  }
  if (/not valid for name/.test(message)) {
    const names = [...message.matchAll(/(?:DnsName|IpAddress)\("?([^")]+)"?\)/g)].map((m) => m[1]);
    const held = names.length > 0 ? ` (it is for ${names.join(", ")})` : "";
    return `the server's certificate is not valid for the name "${hostname}"${held}. ` +
      "Connect by a name the certificate holds, with --host";
  }
  if (/Expired/i.test(message)) return "the server's certificate has expired";
  if (/NotValidYet/i.test(message)) return "the server's certificate is not valid yet";
  return `the TLS handshake failed (${describeNetworkError(error)}). ` +
    "Is the server speaking TLS on this port?";
}
