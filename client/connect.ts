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
 * A connection that could not be made: a {@linkcode SessionEnd} that says
 * whether trying again could help (no server there yet, a reset) or not (a
 * certificate this client does not trust).
 */
export class CannotConnect extends SessionEnd {
  /** Makes the failure, with its line for people. */
  constructor(message: string, readonly retryable: boolean) {
    super(EXIT.NO_SERVER, message);
  }
}

/**
 * Connects, and completes the TLS handshake when asked to, so that a
 * certificate that cannot be trusted is reported now rather than at the first
 * message.
 *
 * @param server Where the server is, and whether it speaks TLS.
 * @returns The connection.
 * @throws {CannotConnect} With {@linkcode EXIT.NO_SERVER} and a line saying why.
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
      throw new CannotConnect(
        `${action}: no server is listening there. Start one with "deno task server", or pick another with --host and --port`,
        true,
      );
    }
    throw new CannotConnect(`${action}: ${describeNetworkError(error)}`, true);
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
    // A certificate stays what it is however often one tries; a reset may not.
    const certificate = /certificate|UnknownIssuer|Expired|NotValidYet/i.test(String(error));
    throw new CannotConnect(`${action}: ${describeTlsError(error, hostname)}`, !certificate);
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
