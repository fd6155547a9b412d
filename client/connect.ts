/**
 * Connecting to the server, over TCP or TLS, with every failure worded for
 * people: no server there, or a certificate this client cannot trust, and
 * what to do about it.
 *
 * @module
 */

import { describeNetworkError, formatAddress, TIMED_OUT, withTimeout } from "../io/socket.ts";
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
 * whether trying again could help (no server there yet, a reset, no answer)
 * or not (a certificate this client does not trust).
 */
export class CannotConnect extends SessionEnd {
  /** Why it could not, and what to do about it. */
  readonly detail: string;
  /** Whether trying again could help. */
  readonly retryable: boolean;

  /**
   * Makes the failure; its line for people is `Cannot connect to <address>: <detail>`.
   *
   * @param server Where the client tried to connect.
   * @param failure Why it could not, and what to do about it (`detail`), and
   *   whether trying again could help (`retryable`).
   */
  constructor(server: ServerAddress, failure: { detail: string; retryable: boolean }) {
    super(EXIT.NO_SERVER, `Cannot connect to ${formatAddress(server)}: ${failure.detail}`);
    this.detail = failure.detail;
    this.retryable = failure.retryable;
  }
}

/** How {@linkcode connect} waits. */
export interface ConnectLimits {
  /** How long the connection and its TLS handshake may take, in ms. */
  timeoutMs: number;
  /** Gives up at once when aborted. */
  signal?: AbortSignal;
}

/**
 * Connects, and completes the TLS handshake when asked to, so that a
 * certificate that cannot be trusted is reported now rather than at the first
 * message. Both are bounded by `limits.timeoutMs`: a host that drops the
 * connection's packets answers nothing, and the kernel's own retries take
 * minutes. The connection gets TCP keepalive, so that a server whose host
 * vanishes is found even while the client waits for nothing.
 *
 * @param server Where the server is, and whether it speaks TLS.
 * @param limits How long it may take.
 * @returns The connection.
 * @throws {CannotConnect} With {@linkcode EXIT.NO_SERVER} and a line saying why.
 */
export async function connect(
  server: ServerAddress,
  limits: ConnectLimits,
): Promise<Deno.TcpConn | Deno.TlsConn> {
  const { hostname, port, tls } = server;
  const seconds = Math.round(limits.timeoutMs / 100) / 10;
  const noAnswer = `no answer within ${seconds} s. ` +
    "Is the host up, and is nothing on the way dropping the connection?";
  const deadline = performance.now() + limits.timeoutMs;
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), limits.timeoutMs);
  const signal = limits.signal ? AbortSignal.any([timeout.signal, limits.signal]) : timeout.signal;
  let tcp: Deno.TcpConn;
  try {
    tcp = await Deno.connect({ hostname, port, signal });
  } catch (error) {
    if (timeout.signal.aborted) {
      throw new CannotConnect(server, { detail: noAnswer, retryable: true });
    }
    if (error instanceof Deno.errors.ConnectionRefused) {
      throw new CannotConnect(server, {
        detail:
          'no server is listening there. Start one with "deno task server", or pick another with --host and --port',
        retryable: true,
      });
    }
    throw new CannotConnect(server, { detail: describeNetworkError(error), retryable: true });
  } finally {
    clearTimeout(timer);
  }
  tcp.setNoDelay(true);
  tcp.setKeepAlive(true);
  if (!tls) return tcp;
  // TLS on the connection made above, so that it keeps its keepalive: Deno's
  // TLS connections offer no such switch of their own.
  const conn = await Deno.startTls(tcp, { hostname, caCerts: tls.caCerts });
  const handshake = conn.handshake();
  try {
    if (await withTimeout(handshake, deadline - performance.now()) !== TIMED_OUT) return conn;
  } catch (error) {
    conn.close();
    // Deno's TLS errors have no types of their own: only their text tells a certificate
    // apart, and a certificate stays what it is however often one tries; a reset may not.
    const certificate = /certificate|UnknownIssuer|Expired|NotValidYet/i.test(String(error));
    throw new CannotConnect(server, {
      detail: describeTlsError(error, hostname),
      retryable: !certificate,
    });
  }
  handshake.catch(() => {}); // it fails once the connection is closed; nobody waits for it
  conn.close();
  throw new CannotConnect(server, {
    detail: `no TLS handshake within ${seconds} s`,
    retryable: true,
  });
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
