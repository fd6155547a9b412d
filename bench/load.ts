/**
 * Load scenarios for `deno task bench`: ping-pong, pipelined and idle
 * connections against any uppercase server. Every reply is checked byte for
 * byte; a wrong, missing or extra byte ends the scenario with a
 * {@linkcode ReplyMismatch}, never a figure.
 *
 * @module
 */

import process from "node:process";
import { closeQuietly, writeAll } from "../io/socket.ts";

/** Where the server under test listens. */
export interface Target {
  hostname: string;
  port: number;
  /** Connect with TLS, trusting these authorities' certificates (PEM). */
  tls?: { caCerts: string[] };
}

/** The line every scenario sends: 64 bytes, newline included. */
export const LINE: Uint8Array = new TextEncoder().encode(
  "hola servidor, una linea de sesenta y cuatro bytes para medir!!\n",
);
const EXPECTED = new TextEncoder().encode(new TextDecoder().decode(LINE).toUpperCase());

/**
 * How a scenario loads the server: `ping-pong`, one line at a time per
 * connection; `pipelined`, many lines in flight, topped up with one write for
 * all the lines a read answered; `small-writes`, the same window topped up one
 * line per write, as an interactive pipeline does.
 */
export type LoadMode = "ping-pong" | "pipelined" | "small-writes";

/** What a scenario puts on a server: a kind of traffic, over so many connections at once. */
export interface Load {
  mode: LoadMode;
  connections: number;
}

/** A reply that differs from the expected bytes, or that never came. */
export class ReplyMismatch extends Error {
  override name = "ReplyMismatch";
}

/** What a scenario measured. */
export interface Measurement {
  scenario: LoadMode | "idle";
  connections: number;
  /** Messages answered (and checked) during the measured window. */
  messages: number;
  seconds: number;
  messagesPerSecond: number;
  /** Reply bytes per second, in MB (10^6 bytes). */
  megabytesPerSecond: number;
  /** Round-trip latency percentiles in ms (ping-pong only). */
  latencyMs?: { p50: number; p99: number; p999: number; max: number };
  /** Server private resident memory per open connection in KiB, when its PID is known (idle only). */
  serverKibPerConnection?: number;
  /** How busy the load generator was: CPU time over wall time, 1 = one core. */
  generatorCpu: number;
  /** Set when the generator was over 90% busy: it, not the server, may have set the pace. */
  generatorBound?: boolean;
  /** How busy the server was, the same way, when its PID is known. */
  serverCpu?: number;
}

/** Shared by every scenario: how long to warm up and to measure, and progress reports. */
export interface RunOptions {
  warmupSeconds: number;
  seconds: number;
  onProgress?: (text: string) => void;
}

/**
 * Connections that each send one line and wait for its reply, over and over.
 *
 * @param target The server.
 * @param options How many connections at once, durations and progress.
 */
export async function pingPong(
  target: Target,
  options: RunOptions & { connections: number },
): Promise<Measurement> {
  const { connections } = options;
  const conns = await openConnections(target, connections);
  const latencies: number[] = [];
  const usage = measureCpu();
  const { warmupEnd, end } = windowFrom(options);
  const progress = ticker(options, () => `ping-pong ${connections}: ${latencies.length} replies`);
  try {
    await Promise.all(conns.map(async (conn) => {
      const buffer = new Uint8Array(LINE.length * 2);
      while (performance.now() < end) {
        const started = performance.now();
        await writeAll(conn, LINE);
        await readReply(conn, buffer);
        if (started >= warmupEnd) latencies.push(performance.now() - started);
      }
    }));
  } finally {
    clearInterval(progress);
    closeAll(conns);
  }
  return pingPongMeasurement(latencies, {
    connections,
    seconds: options.seconds,
    generatorCpu: usage(),
  });
}

/**
 * What a ping-pong run measured, from the latency of every reply in its window.
 *
 * @param latencies Round trips in ms, one per reply; sorted in place.
 * @param run How many connections took part, the measured window in seconds,
 *   and the generator's CPU time over wall time.
 */
function pingPongMeasurement(
  latencies: number[],
  { connections, seconds, generatorCpu }: {
    connections: number;
    seconds: number;
    generatorCpu: number;
  },
): Measurement {
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return {
    scenario: "ping-pong",
    connections,
    messages: latencies.length,
    seconds,
    messagesPerSecond: latencies.length / seconds,
    megabytesPerSecond: latencies.length * LINE.length / seconds / 1e6,
    latencyMs: { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: latencies.at(-1) ?? NaN },
    generatorCpu,
  };
}

/**
 * Connections that each keep up to `depth` lines in flight, topping up as replies arrive.
 *
 * @param target The server.
 * @param options How many connections at once (`connections`), the most
 *   unanswered lines on one (`depth`), whether to top up one line per write
 *   rather than all the answered lines in one (`smallWrites`), durations and
 *   progress.
 */
export async function pipelined(
  target: Target,
  options: RunOptions & { connections: number; depth: number; smallWrites?: boolean },
): Promise<Measurement> {
  const { connections, depth, smallWrites = false } = options;
  const conns = await openConnections(target, connections);
  const batch = new Uint8Array(LINE.length * depth);
  for (let i = 0; i < depth; i++) batch.set(LINE, i * LINE.length);
  let measured = 0;
  const usage = measureCpu();
  const { warmupEnd, end } = windowFrom(options);
  const progress = ticker(options, () => `pipelined ${connections}×${depth}: ${measured} replies`);
  try {
    await Promise.all(conns.map(async (conn) => {
      const buffer = new Uint8Array(256 * 1024);
      let received = 0; // reply bytes, checked
      let sent = depth;
      const writing = [writeAll(conn, batch)];
      while (received < sent * LINE.length) {
        const n = await conn.read(buffer);
        if (n === null) {
          throw new ReplyMismatch(
            `the server closed with ${sent - received / LINE.length} replies missing`,
          );
        }
        check(buffer.subarray(0, n), received);
        const before = Math.floor(received / LINE.length);
        received += n;
        const answered = Math.floor(received / LINE.length) - before;
        if (performance.now() >= warmupEnd) measured += answered;
        if (performance.now() < end && answered > 0) {
          sent += answered;
          if (!smallWrites) writing.push(writeAll(conn, batch.subarray(0, answered * LINE.length)));
          else for (let i = 0; i < answered; i++) writing.push(writeAll(conn, LINE));
        }
      }
      await Promise.all(writing);
    }));
  } finally {
    clearInterval(progress);
    closeAll(conns);
  }
  const seconds = options.seconds;
  return {
    scenario: smallWrites ? "small-writes" : "pipelined",
    connections,
    messages: measured,
    seconds,
    messagesPerSecond: measured / seconds,
    megabytesPerSecond: measured * LINE.length / seconds / 1e6,
    generatorCpu: usage(),
  };
}

/**
 * Opens `connections` connections and leaves them idle, then proves each alive
 * with one round trip, and reports the server's memory per connection.
 *
 * @param target The server.
 * @param options How many connections to hold open; the server's process
 *   (`serverPid`), to read its memory, not reported without it; progress reports.
 */
export async function idle(
  target: Target,
  options: Pick<RunOptions, "onProgress"> & { connections: number; serverPid?: number },
): Promise<Measurement> {
  const { connections, serverPid } = options;
  const before = serverPid ? (await residentKib(serverPid))?.private : undefined;
  const usage = measureCpu();
  const started = performance.now();
  const onOpen = (open: number) => options.onProgress?.(`idle: ${open} open`);
  const conns = await openConnections(target, connections, onOpen);
  try {
    let alive = 0;
    await inBatches(conns, {
      size: 500,
      each: async (conn) => {
        await writeAll(conn, LINE);
        await readReply(conn, new Uint8Array(LINE.length * 2));
        if (++alive % 1000 === 0) options.onProgress?.(`idle: ${alive} proven alive`);
      },
    });
    const after = serverPid ? (await residentKib(serverPid))?.private : undefined;
    const seconds = (performance.now() - started) / 1000;
    return {
      scenario: "idle",
      connections,
      messages: connections,
      seconds,
      messagesPerSecond: connections / seconds,
      megabytesPerSecond: connections * LINE.length / seconds / 1e6,
      serverKibPerConnection: before !== undefined && after !== undefined
        ? (after - before) / connections
        : undefined,
      generatorCpu: usage(),
    };
  } finally {
    closeAll(conns);
  }
}

async function openConnections(
  target: Target,
  count: number,
  onOpen?: (open: number) => void,
): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  try {
    await inBatches(Array.from({ length: count }), {
      size: 200,
      each: async () => {
        const { hostname, port, tls } = target;
        const tcp = await Deno.connect({ hostname, port });
        tcp.setNoDelay(true); // before TLS too: Deno's TLS connections have no switch for it
        if (!tls) conns.push(tcp);
        else {
          const conn = await Deno.startTls(tcp, { hostname, caCerts: tls.caCerts });
          await conn.handshake();
          conns.push(conn);
        }
        if (conns.length % 1000 === 0) onOpen?.(conns.length);
      },
    });
  } catch (error) {
    closeAll(conns);
    throw error;
  }
  return conns;
}

/** Runs `each` on `items`, `size` of them at once, a batch after the other. */
async function inBatches<T>(
  items: T[],
  { size, each }: { size: number; each: (item: T) => Promise<void> },
): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map(each));
  }
}

/** Reads exactly one reply and checks it. */
async function readReply(conn: Deno.Conn, buffer: Uint8Array): Promise<void> {
  let got = 0;
  while (got < LINE.length) {
    const n = await conn.read(buffer.subarray(got));
    if (n === null) throw new ReplyMismatch(`the server closed after ${got} bytes of a reply`);
    got += n;
  }
  if (got > LINE.length) throw new ReplyMismatch(`${got - LINE.length} bytes more than the reply`);
  check(buffer.subarray(0, got), 0);
}

/**
 * Checks bytes that start at `offset` in the endless stream of expected replies.
 *
 * @throws {ReplyMismatch} At the first byte that differs.
 */
export function check(bytes: Uint8Array, offset: number): void {
  for (let i = 0; i < bytes.length; i++) {
    const want = EXPECTED[(offset + i) % EXPECTED.length];
    if (bytes[i] !== want) {
      throw new ReplyMismatch(
        `reply byte ${offset + i} is 0x${bytes[i].toString(16)}, expected 0x${want.toString(16)}`,
      );
    }
  }
}

function closeAll(conns: Deno.Conn[]): void {
  for (const conn of conns) closeQuietly(conn); // the server may have closed it already
}

/** When the warm-up ends and when the measured window ends, on the `performance.now()` clock. */
export function windowFrom(options: RunOptions): { warmupEnd: number; end: number } {
  const warmupEnd = performance.now() + options.warmupSeconds * 1000;
  return { warmupEnd, end: warmupEnd + options.seconds * 1000 };
}

/** Reports progress every half second until cleared with `clearInterval`. */
export function ticker(
  options: RunOptions,
  describe: () => string,
): ReturnType<typeof setInterval> {
  return setInterval(() => options.onProgress?.(describe()), 500);
}

/** Starts measuring this process's CPU time; the returned function gives CPU time over wall time. */
export function measureCpu(): () => number {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  return () => {
    const { user, system } = process.cpuUsage(cpu);
    return (user + system) / 1000 / (performance.now() - wall);
  };
}

/**
 * A process's resident memory in KiB, from `/proc/<pid>/status`: `rss`, all of
 * it (`VmRSS`), and `private`, its resident anonymous pages (`RssAnon`). Left
 * out of `private` are the pages of the executable that the kernel reads in as
 * code runs for the first time: they are shared, and they do not grow with
 * connections (about 7 MB for deno and 4 MB for node, with 1,000 connections
 * as with 10,000).
 *
 * @returns The sizes, or `undefined` where there is no `/proc`.
 */
export async function residentKib(
  pid: number,
): Promise<{ rss: number; private: number } | undefined> {
  const status = await procFile(pid, "status");
  const field = (name: string) =>
    Number(status?.match(new RegExp(`^${name}:\\s+(\\d+) kB$`, "m"))?.[1]);
  const sizes = { rss: field("VmRSS"), private: field("RssAnon") };
  return Number.isNaN(sizes.rss) || Number.isNaN(sizes.private) ? undefined : sizes;
}

/**
 * Samples a process's CPU time, user and system, in seconds, from
 * `/proc/<pid>/stat`. Clock ticks are taken to be 100 a second, as on Linux.
 *
 * @returns The time, or `undefined` where there is no `/proc`.
 */
export async function cpuSeconds(pid: number): Promise<number | undefined> {
  const stat = await procFile(pid, "stat");
  if (stat === undefined) return undefined;
  // The command name, in parentheses, may hold spaces: count fields after it.
  const fields = stat.split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Reads a file of another process's `/proc` directory through `cat`: Deno
 * reads another process's /proc only with every permission.
 *
 * @returns The text, or `undefined` where it cannot be read (no `/proc`, say).
 */
async function procFile(pid: number, name: string): Promise<string | undefined> {
  const text = await commandOutput("cat", [`/proc/${pid}/${name}`]);
  return text === "" ? undefined : text;
}

/**
 * Runs a program and returns what it printed, trimmed.
 *
 * @throws When the program cannot be started, such as when it is not installed.
 */
export async function commandOutput(program: string, args: string[] = []): Promise<string> {
  const { stdout } = await new Deno.Command(program, { args, stderr: "null" }).output();
  return new TextDecoder().decode(stdout).trim();
}
