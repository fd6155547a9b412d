/**
 * A small, strict HTTP/1.1 server for the metrics endpoint: `GET` and `HEAD`
 * of a few paths, nothing else, on `Deno.listen`, with every resource bounded.
 * `Deno.serve` offers no header timeout, no idle timeout and no cap on its
 * connections, and an accept that fails for want of file handles ends the
 * process from inside it; a port beside the protocol's must not be the way to
 * take the server down.
 *
 * - A request's line and headers: at most {@linkcode MAX_HEAD_BYTES}, within
 *   {@linkcode HEAD_TIMEOUT_MS} of its first byte (or of the connection, or
 *   the last response); over the size, 431, over the time, the connection is
 *   closed.
 * - Keep-alive as HTTP/1.1 has it, a connection idle for
 *   {@linkcode IDLE_TIMEOUT_MS} between requests is closed.
 * - At most {@linkcode MAX_HTTP_CONNECTIONS} at once; another is answered 503
 *   at once and closed (or, with as many being turned away already, closed).
 * - A request with a body, or a method other than `GET` and `HEAD`, is
 *   answered (400, 405) and its connection closed.
 * - A failed accept is sorted as the protocol port's are: a client gone is
 *   skipped; anything else is waited out (`acceptPatiently`).
 *
 * @module
 */

import { closeGracefully, closeQuietly, TIMED_OUT, withTimeout, writeAll } from "../io/socket.ts";
import { acceptPatiently } from "./accept_errors.ts";
import type { TcpAddr } from "./accept_loop.ts";

/** Longest request line and headers, in bytes. */
export const MAX_HEAD_BYTES = 8 * 1024;
/** How long a request's line and headers may take to arrive, in ms. */
export const HEAD_TIMEOUT_MS = 10_000;
/** How long a kept-alive connection may wait for its next request, in ms. */
export const IDLE_TIMEOUT_MS = 30_000;
/** Most connections served at once. */
export const MAX_HTTP_CONNECTIONS = 64;

/** An answer to a request. */
export interface HttpResponse {
  status: number;
  /** The content type, with the body. */
  type?: string;
  body: string;
  /** More headers, such as `allow`. */
  headers?: Record<string, string>;
}

/** Answers a `GET` (or `HEAD`) of `path`; the query is left out. */
export type HttpHandler = (path: string) => HttpResponse | Promise<HttpResponse>;

/** The limits, for tests that cannot wait for the real ones. */
export interface HttpLimits {
  /** @default {10000} */
  headTimeoutMs?: number;
  /** @default {30000} */
  idleTimeoutMs?: number;
  /** @default {64} */
  maxConnections?: number;
}

/** A running HTTP endpoint. */
export interface HttpEndpoint extends AsyncDisposable {
  /** Where it listens. */
  readonly addr: TcpAddr;
  /** Stops accepting and closes every connection at once, a response under way included. */
  shutdown(): Promise<void>;
}

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  431: "Request Header Fields Too Large",
  503: "Service Unavailable",
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Serves `handler` over HTTP/1.1 on `address`.
 *
 * @throws {Deno.errors.AddrInUse} And the other errors of `Deno.listen`.
 */
export function serveHttp(
  address: { hostname: string; port: number },
  handler: HttpHandler,
  limits: HttpLimits = {},
): HttpEndpoint {
  const listener = Deno.listen(address);
  const settings = {
    headTimeoutMs: limits.headTimeoutMs ?? HEAD_TIMEOUT_MS,
    idleTimeoutMs: limits.idleTimeoutMs ?? IDLE_TIMEOUT_MS,
    maxConnections: limits.maxConnections ?? MAX_HTTP_CONNECTIONS,
  };
  const stopping = new AbortController();
  // Connections served, which count against the cap; and those turned away, which do not.
  const open = new Map<Deno.Conn, Promise<void>>();
  const refusing = new Map<Deno.Conn, Promise<void>>();
  const serving = (async () => {
    for (let conn; (conn = await acceptPatiently(listener, stopping.signal)) !== undefined;) {
      const busy = open.size >= settings.maxConnections;
      // Turning away holds a handle too, for a moment: past as many again, close at once.
      if (busy && refusing.size >= settings.maxConnections) {
        closeQuietly(conn);
        continue;
      }
      const served = busy
        ? refuse(conn)
        : serveConnection(conn, { handler, settings, stopping: stopping.signal });
      const tracked = busy ? refusing : open;
      tracked.set(conn, served);
      served.then(() => tracked.delete(conn));
    }
  })();
  const shutdown = async () => {
    stopping.abort();
    closeQuietly(listener);
    await serving;
    await Promise.all([...open.values(), ...refusing.values()]);
  };
  return { addr: listener.addr as TcpAddr, shutdown, [Symbol.asyncDispose]: shutdown };
}

/** One connection: requests, one at a time, until it closes, idles or breaks a rule. */
async function serveConnection(
  conn: Deno.Conn,
  { handler, settings, stopping }: {
    handler: HttpHandler;
    settings: Required<HttpLimits>;
    stopping: AbortSignal;
  },
): Promise<void> {
  const buffer = new Uint8Array(MAX_HEAD_BYTES);
  let held = 0;
  let read: Promise<number | null> | undefined;
  const stop = () => closeQuietly(conn); // ends a pending read at once
  stopping.addEventListener("abort", stop, { once: true });
  try {
    for (let waitMs = settings.headTimeoutMs; !stopping.aborted; waitMs = settings.idleTimeoutMs) {
      // Waiting for a request: its whole head within the wait; once its first
      // byte is in, within the head's own limit too.
      let deadline = performance.now() + (held > 0 ? settings.headTimeoutMs : waitMs);
      let end = headEnd(buffer, held);
      while (end === -1) {
        if (held === buffer.length) {
          await answer(conn, { status: 431, body: "request head too large\n" });
          return;
        }
        read ??= conn.read(buffer.subarray(held));
        const result = await withTimeout(read, deadline - performance.now());
        if (result === TIMED_OUT || result === null) return;
        read = undefined;
        if (held === 0) deadline = Math.min(deadline, performance.now() + settings.headTimeoutMs);
        held += result;
        end = headEnd(buffer, held);
      }
      const request = parseHead(decoder.decode(buffer.subarray(0, end)));
      buffer.copyWithin(0, end, held);
      held -= end;
      if ("status" in request) {
        await answer(conn, request);
        return;
      }
      const response = await handler(request.path);
      await answer(conn, response, { head: request.method === "HEAD", close: request.close });
      if (request.close) return;
    }
  } catch {
    // The client left or the connection broke: there is no one to answer.
  } finally {
    stopping.removeEventListener("abort", stop);
    read?.catch(() => {});
    await closeGracefully(conn, read);
  }
}

const CLOSING = { head: false, close: true };

/** Turns a connection over the cap away: 503 at once, whatever it sends, then closes. */
async function refuse(conn: Deno.Conn): Promise<void> {
  await answer(conn, { status: 503, body: "busy: try again later\n" }).catch(() => {});
  await closeGracefully(conn);
}

/** Where the head ends (after its blank line) in the first `length` bytes, or -1. */
function headEnd(buffer: Uint8Array, length: number): number {
  for (let i = 3; i < length; i++) {
    if (buffer[i] === 0x0a && buffer[i - 1] === 0x0d && buffer[i - 2] === 0x0a) return i + 1;
    if (buffer[i] === 0x0a && buffer[i - 1] === 0x0a) return i + 1; // bare LF, as RFC 9112 allows
  }
  return -1;
}

/** A request as this endpoint takes it, or the answer that refuses it. */
type Request = { method: "GET" | "HEAD"; path: string; close: boolean } | HttpResponse;

/** Reads a request's line and headers (RFC 9112), strictly. */
export function parseHead(head: string): Request {
  const [line, ...fields] = head.split(/\r?\n/).filter((text) => text !== "");
  const match = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/.exec(line ?? "");
  if (!match) return { status: 400, body: "bad request line\n" };
  const [, method, target, minor] = match;
  const headers = new Map<string, string>();
  for (const field of fields) {
    const colon = field.indexOf(":");
    if (colon <= 0 || /\s/.test(field.slice(0, colon))) {
      return { status: 400, body: "bad header\n" };
    }
    headers.set(field.slice(0, colon).toLowerCase(), field.slice(colon + 1).trim());
  }
  if (method !== "GET" && method !== "HEAD") {
    return { status: 405, body: "only GET and HEAD\n", headers: { allow: "GET, HEAD" } };
  }
  const length = headers.get("content-length");
  if (headers.has("transfer-encoding") || (length !== undefined && length !== "0")) {
    return { status: 400, body: "a GET has no body\n" };
  }
  const connection = headers.get("connection")?.toLowerCase() ?? "";
  const close = minor === "0" ? !connection.includes("keep-alive") : connection.includes("close");
  let path: string;
  try {
    path = new URL(target, "http://endpoint").pathname;
  } catch {
    return { status: 400, body: "bad request target\n" };
  }
  return { method, path, close };
}

/** Writes a response; for `HEAD`, without its body; and by default, closes after it. */
async function answer(
  conn: Deno.Conn,
  response: HttpResponse,
  how: { head: boolean; close: boolean } = CLOSING,
): Promise<void> {
  const body = encoder.encode(response.body);
  const headers = {
    "content-type": response.type ?? "text/plain; charset=utf-8",
    "content-length": String(body.length),
    connection: how.close ? "close" : "keep-alive",
    ...response.headers,
  };
  const head = `HTTP/1.1 ${response.status} ${REASONS[response.status] ?? ""}\r\n` +
    Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("") + "\r\n";
  const bytes = encoder.encode(head);
  const whole = how.head ? bytes : new Uint8Array(bytes.length + body.length);
  if (!how.head) {
    whole.set(bytes);
    whole.set(body, bytes.length);
  }
  // A client that stops reading must not hold a connection for ever.
  await writeAll(conn, whole, HEAD_TIMEOUT_MS);
}
