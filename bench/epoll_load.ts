/**
 * The ping-pong scenario driven straight through libc (`epoll_wait`, `recv`,
 * `send`) by Deno's FFI, on Linux. A generator built on Deno's own sockets
 * pays for a promise-based read and write per message, as the server does, so
 * on a machine with one core each the generator, not the server, would set the
 * pace. This one pays only for the system calls. Every reply is still checked
 * byte for byte.
 *
 * @module
 */

import {
  check,
  LINE,
  measureCpu,
  type Measurement,
  pingPongMeasurement,
  ReplyMismatch,
  type RunOptions,
  type Target,
  ticker,
  windowFrom,
} from "./load.ts";

const LIBC_SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

// Linux's constants, the same on x86_64 and aarch64.
const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const MSG_DONTWAIT = 0x40;
const EPOLL_CTL_ADD = 1;
const EPOLLIN = 1;
const EINTR = 4;
const EAGAIN = 11;
const ECONNRESET = 104;
const ECONNREFUSED = 111;
// struct epoll_event is packed on x86_64 only: { u32 events; u64 data }.
const EVENT_BYTES = Deno.build.arch === "x86_64" ? 12 : 16;
const EVENT_DATA_OFFSET = Deno.build.arch === "x86_64" ? 4 : 8;
const MAX_EVENTS = 1024;

/** How long the loop runs before it lets timers (the progress line) run, in ms. */
const SLICE_MS = 100;
/** How long without a single reply before the server is declared stuck, in ms. */
const STALL_MS = 5_000;

/**
 * Whether {@linkcode pingPongThroughEpoll} can run here: Linux with glibc, FFI
 * permission granted, and an IPv4 address (not a name) to connect to.
 *
 * @param target The server.
 */
export function epollAvailable(target: Target): boolean {
  if (Deno.build.os !== "linux" || ipv4Bytes(target.hostname) === undefined) return false;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return false;
  try {
    Deno.dlopen("libc.so.6", LIBC_SYMBOLS).close();
    return true;
  } catch {
    return false; // not glibc
  }
}

/**
 * Connections that each send one line and wait for its reply, over and over,
 * as `pingPong` in `load.ts` does, but through libc. Check
 * {@linkcode epollAvailable} first.
 *
 * @param target The server.
 * @param connections How many at once.
 * @param options Durations and progress.
 * @throws {ReplyMismatch} When a reply is wrong, cut short, or does not come.
 */
export async function pingPongThroughEpoll(
  target: Target,
  connections: number,
  options: RunOptions,
): Promise<Measurement> {
  const library = Deno.dlopen("libc.so.6", LIBC_SYMBOLS);
  const libc = library.symbols;
  const sockets: number[] = [];
  const epoll = libc.epoll_create1(0);
  const latencies: number[] = [];
  const progress = ticker(options, () => `ping-pong ${connections}: ${latencies.length} replies`);
  try {
    if (epoll < 0) throw systemError(libc, "epoll_create1");
    const address = socketAddress(target);
    const event = new Uint8Array(EVENT_BYTES);
    const eventView = new DataView(event.buffer);
    for (let i = 0; i < connections; i++) {
      const socket = libc.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (socket < 0) throw systemError(libc, "socket");
      sockets.push(socket);
      // Blocking: connect waits for the handshake, and send never meets a full
      // buffer with one line in flight. Only recv is asked not to wait.
      if (libc.connect(socket, address, address.length) < 0) {
        if (errno(libc) !== ECONNREFUSED) throw systemError(libc, "connect");
        throw new Deno.errors.ConnectionRefused(`${target.hostname}:${target.port} refused`);
      }
      libc.setsockopt(socket, IPPROTO_TCP, TCP_NODELAY, new Int32Array([1]), 4);
      eventView.setUint32(0, EPOLLIN, true);
      eventView.setUint32(EVENT_DATA_OFFSET, i, true);
      if (libc.epoll_ctl(epoll, EPOLL_CTL_ADD, socket, event) < 0) {
        throw systemError(libc, "epoll_ctl");
      }
    }

    const usage = measureCpu();
    const { warmupEnd, end } = windowFrom(options);
    const sentAt = new Float64Array(connections);
    const replyBytes = new Int32Array(connections);
    const buffer = new Uint8Array(LINE.length * 2);
    const bufferLength = BigInt(buffer.length);
    const events = new Uint8Array(EVENT_BYTES * MAX_EVENTS);
    const eventsView = new DataView(events.buffer);
    const send = (i: number, now: number) => {
      sentAt[i] = now;
      if (Number(libc.send(sockets[i], LINE, BigInt(LINE.length), 0)) !== LINE.length) {
        throw systemError(libc, "send");
      }
    };
    for (let i = 0; i < connections; i++) send(i, performance.now());
    let inFlight = connections;
    let lastReplyAt = performance.now();
    while (inFlight > 0) {
      const sliceEnd = performance.now() + SLICE_MS;
      do {
        const ready = libc.epoll_wait(epoll, events, MAX_EVENTS, SLICE_MS);
        if (ready < 0 && errno(libc) !== EINTR) throw systemError(libc, "epoll_wait");
        for (let e = 0; e < ready; e++) {
          const i = eventsView.getUint32(e * EVENT_BYTES + EVENT_DATA_OFFSET, true);
          const n = Number(libc.recv(sockets[i], buffer, bufferLength, MSG_DONTWAIT));
          if (n < 0) {
            const error = errno(libc);
            if (error === EAGAIN) continue;
            if (error === ECONNRESET) throw new ReplyMismatch(`the server reset the connection`);
            throw systemError(libc, "recv");
          }
          if (n === 0) {
            throw new ReplyMismatch(`the server closed after ${replyBytes[i]} bytes of a reply`);
          }
          if (replyBytes[i] + n > LINE.length) {
            throw new ReplyMismatch(`${replyBytes[i] + n - LINE.length} bytes more than the reply`);
          }
          check(buffer.subarray(0, n), replyBytes[i]);
          replyBytes[i] += n;
          if (replyBytes[i] < LINE.length) continue;
          replyBytes[i] = 0;
          inFlight--;
          const now = lastReplyAt = performance.now();
          if (sentAt[i] >= warmupEnd) latencies.push(now - sentAt[i]);
          if (now < end) {
            send(i, now);
            inFlight++;
          }
        }
      } while (inFlight > 0 && performance.now() < sliceEnd);
      if (performance.now() - lastReplyAt > STALL_MS) {
        throw new ReplyMismatch(`no reply for ${STALL_MS / 1000} s`);
      }
      await new Promise((resolve) => setTimeout(resolve, 0)); // let the progress line run
    }
    return pingPongMeasurement(connections, latencies, options.seconds, usage());
  } finally {
    clearInterval(progress);
    for (const socket of sockets) libc.close(socket);
    if (epoll >= 0) libc.close(epoll);
    library.close();
  }
}

/** A `struct sockaddr_in` for the target. */
function socketAddress(target: Target): Uint8Array {
  const address = new Uint8Array(16);
  const view = new DataView(address.buffer);
  view.setUint16(0, AF_INET, true);
  view.setUint16(2, target.port, false);
  address.set(ipv4Bytes(target.hostname)!, 4);
  return address;
}

function ipv4Bytes(hostname: string): number[] | undefined {
  const parts = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(hostname)?.slice(1).map(Number);
  return parts?.every((part) => part < 256) ? parts : undefined;
}

function errno(libc: Libc): number {
  return new Deno.UnsafePointerView(libc.__errno_location()!).getInt32();
}

function systemError(libc: Libc, call: string): Error {
  return new Error(`${call} failed: errno ${errno(libc)}`);
}
