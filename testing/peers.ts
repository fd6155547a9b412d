/**
 * Peers for the tests: a raw TCP client that reads exactly what the server
 * sent, a one-shot client that can leave with a reset, and small servers that
 * stand in for ours (one that answers with fixed bytes, one that echoes) or for
 * a proxy (PROXY v2 headers).
 *
 * @module
 */

import assert from "node:assert/strict";
import net from "node:net";
import { once } from "node:events";
import { closeQuietly, writeAll } from "../io/socket.ts";
import { PROXY_V2_SIGNATURE } from "../server/proxy_header.ts";
import { parseIPv4, parseIPv6 } from "../server/ip.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `items`, disposed of together (`using peers = allOf(...)`): each of them, in turn. */
export function allOf<T extends Disposable>(items: T[]): T[] & Disposable {
  return Object.assign(items, {
    [Symbol.dispose]() {
      for (const item of items) item[Symbol.dispose]();
    },
  });
}

/** A raw TCP client that sends bytes and reads exactly what comes back. */
export class Peer implements Disposable {
  readonly conn: Deno.TcpConn;
  #received = new Uint8Array(0);
  #ended = false;
  readonly #buffer = new Uint8Array(16 * 1024);

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Connects to `addr`. */
  static async connect(addr: Deno.NetAddr): Promise<Peer> {
    return new Peer(await Deno.connect({ hostname: addr.hostname, port: addr.port }));
  }

  /** Sends text or bytes, all of them. */
  async send(data: string | Uint8Array): Promise<void> {
    await writeAll(this.conn, typeof data === "string" ? encoder.encode(data) : data);
  }

  /** Reads until `length` bytes have arrived (or the stream ends) and returns them as text. */
  async readText(length: number): Promise<string> {
    return decoder.decode(await this.readBytes(length));
  }

  /** Reads until `length` bytes have arrived, or the stream ends; returns what came. */
  async readBytes(length: number): Promise<Uint8Array> {
    while (this.#received.length < length && await this.#fill());
    const taken = this.#received.subarray(0, length);
    this.#received = this.#received.slice(taken.length);
    return taken;
  }

  /** Reads up to and including the next newline. */
  async readLine(): Promise<string> {
    for (;;) {
      const end = this.#received.indexOf(0x0a);
      if (end !== -1) return await this.readText(end + 1);
      if (!await this.#fill()) return await this.readText(this.#received.length);
    }
  }

  /** Reads everything until the server ends the stream; rejects on a reset. */
  async readToEnd(): Promise<string> {
    while (await this.#fill());
    return await this.readText(this.#received.length);
  }

  /** True once the server has ended its side of the stream. */
  get ended(): boolean {
    return this.#ended;
  }

  [Symbol.dispose](): void {
    closeQuietly(this.conn); // the test may have closed it already
  }

  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const buffer = this.#buffer;
    const n = await this.conn.read(buffer);
    if (n === null) {
      this.#ended = true;
      return false;
    }
    const joined = new Uint8Array(this.#received.length + n);
    joined.set(this.#received);
    joined.set(buffer.subarray(0, n), this.#received.length);
    this.#received = joined;
    return true;
  }
}

/**
 * Connects `clients` peers at once; each does `rounds` round trips with its own
 * lines and checks that it gets exactly its own replies, in order.
 */
export async function roundTripsFromManyClients(
  addr: Deno.NetAddr,
  { clients, rounds }: { clients: number; rounds: number },
): Promise<void> {
  await Promise.all(Array.from({ length: clients }, async (_, client) => {
    using peer = await Peer.connect(addr);
    for (let round = 0; round < rounds; round++) {
      await peer.send(`cliente ${client} ronda ${round}\n`);
      assert.equal(await peer.readLine(), `CLIENTE ${client} RONDA ${round}\n`);
    }
  }));
}

/** What a {@linkcode oneShot} client does between connecting and leaving. */
export interface OneShotOptions {
  /** The address to connect from, such as 127.0.0.2 to play another host. */
  localAddress?: string;
  /** What to send once connected. */
  send?: string;
  /**
   * What to read before leaving: up to the first newline, until the server
   * closes or resets the connection, or nothing.
   *
   * @default {"line"}
   */
  read?: "line" | "until closed" | "nothing";
  /**
   * How to leave: with a FIN, or with a reset (RST) as port scanners and
   * connect-then-reset health checks do.
   *
   * @default {"fin"}
   */
  leave?: "fin" | "reset";
}

/**
 * A client of one connection, written with node:net: connects, sends, reads,
 * leaves, and waits until its socket is closed.
 *
 * @returns What it read.
 */
export async function oneShot(
  addr: { hostname: string; port: number },
  { localAddress, send, read = "line", leave = "fin" }: OneShotOptions = {},
): Promise<string> {
  const socket = net.connect({ host: addr.hostname, port: addr.port, localAddress });
  socket.setEncoding("utf8");
  const closed = once(socket, "close");
  let received = "";
  const done = Promise.withResolvers<void>();
  // Awaited below when something is to be read; with read "nothing", a late error is no matter.
  done.promise.catch(() => {});
  socket.on("data", (text: string) => {
    received += text;
    if (read === "line" && received.includes("\n")) done.resolve();
  });
  socket.on("end", () => done.resolve());
  socket.on("error", (error) => read === "until closed" ? done.resolve() : done.reject(error));
  try {
    await Promise.race([once(socket, "connect"), done.promise]);
    if (send !== undefined) await new Promise((resolve) => socket.write(send, resolve));
    if (read !== "nothing") await done.promise;
  } finally {
    if (leave === "reset" && !socket.destroyed) socket.resetAndDestroy();
    else socket.destroy();
    await closed;
  }
  return received;
}

/** A one-connection server of another style, written with node:net; stops after that connection. */
export async function fakeServer(
  handle: (socket: net.Socket) => void,
): Promise<Deno.NetAddr & AsyncDisposable> {
  const server = net.createServer((socket) => {
    handle(socket);
    server.close();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  return {
    transport: "tcp",
    hostname: "127.0.0.1",
    port,
    async [Symbol.asyncDispose]() {
      if (server.listening) server.close();
      if (server.listening) await once(server, "close");
    },
  };
}

/** A PROXY v2 address block, and the family-and-protocol byte that says what it holds. */
export interface ProxyV2Addresses {
  /** 0x11 TCP over IPv4, 0x21 TCP over IPv6, 0x31 a UNIX stream, 0 unspecified. */
  family: number;
  bytes: Uint8Array;
}

/**
 * A PROXY protocol version 2 header, as HAProxy's `send-proxy-v2` writes one.
 *
 * @param command `LOCAL` (a health check), `PROXY`, or the number of a command no reader knows.
 * @param addresses The address block, such as {@linkcode tcpAddresses} makes; none by default.
 * @param extra Bytes after the addresses, such as TLVs.
 */
export function proxyV2(
  command: "LOCAL" | "PROXY" | number,
  { family, bytes }: ProxyV2Addresses = { family: 0, bytes: new Uint8Array(0) },
  extra: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const code = command === "LOCAL" ? 0 : command === "PROXY" ? 1 : command;
  const length = bytes.length + extra.length;
  const fixed = [0x20 | code, family, length >> 8, length & 0xff];
  return Uint8Array.of(...PROXY_V2_SIGNATURE, ...fixed, ...bytes, ...extra);
}

/**
 * A TCP address block from the client's and the proxy's `address:port`, both
 * IPv4 or both IPv6 (in brackets: `[::1]:5000`).
 */
export function tcpAddresses(source: string, destination: string): ProxyV2Addresses {
  const split = (text: string) => {
    const colon = text.lastIndexOf(":");
    const host = text.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
    const port = Number(text.slice(colon + 1));
    return { address: parseIPv4(host) ?? parseIPv6(host)!, port: [port >> 8, port & 0xff] };
  };
  const from = split(source), to = split(destination);
  return {
    family: from.address.length === 4 ? 0x11 : 0x21,
    bytes: Uint8Array.of(...from.address, ...to.address, ...from.port, ...to.port),
  };
}

/**
 * A wrong server for a load generator's checks: it echoes its one client's
 * first read unchanged, not uppercased, then waits for the client to close.
 * Dispose of it once the client is done.
 */
export function echoingServer(): { addr: Deno.NetAddr } & AsyncDisposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    using conn = await listener.accept();
    const buffer = new Uint8Array(256);
    const n = await conn.read(buffer);
    if (n) await conn.write(buffer.subarray(0, n));
    await conn.read(buffer).catch(() => null); // until the client closes
  })();
  return {
    addr: listener.addr,
    async [Symbol.asyncDispose]() {
      await serving;
      listener.close();
    },
  };
}
