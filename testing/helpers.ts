/**
 * Helpers for the integration and end-to-end tests: a raw TCP peer that reads
 * exactly what the server sent, a log that can be waited on, and in-memory
 * streams for driving the client in-process.
 *
 * @module
 */

import assert from "node:assert/strict";
import net from "node:net";
import { once } from "node:events";
import { closeQuietly, writeAll } from "../io/socket.ts";
import { serve, type ServeOptions, type UppercaseServer } from "../server.ts";
import { type ClientOptions, runClient } from "../client.ts";
import { PROXY_V2_SIGNATURE } from "../server/proxy_header.ts";
import { parseIPv4, parseIPv6 } from "../server/ip.ts";
import config from "../deno.json" with { type: "json" };

/** The project's root folder, where the programs run from, as `deno task` runs them. */
export const PROJECT_ROOT = new URL("..", import.meta.url).pathname;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * How long a test waits for an event before it fails, in ms: long enough for a
 * loaded 2-core machine, short enough that a broken wait fails the test, with
 * what it saw, instead of holding the run until CI's timeout.
 */
export const WAIT_DEADLINE_MS = 60_000;

/**
 * Waits for `event`, or fails after `timeoutMs` with what was awaited and what was seen.
 *
 * @param event What to wait for.
 * @param what What it is, for the failure: such as `/HOLA/ in the client's output`.
 * @param seen What there was to see so far, called only on failure.
 */
export async function withDeadline<T>(
  event: Promise<T>,
  what: string,
  seen: () => string,
  timeoutMs = WAIT_DEADLINE_MS,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const text = seen();
      const tail = text.length > 2_000 ? "..." + text.slice(-2_000) : text;
      reject(new Error(`Waited ${timeoutMs} ms for ${what}; saw:\n${tail}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([event, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What a hostile server sends to take over a client's terminal: set the
 * window's title, clear the screen, write the clipboard (OSC 52), make the
 * terminal answer a query into the input (DCS), and an 8-bit CSI (C1).
 */
export const TERMINAL_ATTACKS: readonly string[] = [
  "\x1b]0;owned\x07",
  "\x1b[2J",
  "\x1b]52;c;b3duZWQ=\x07",
  "\x1bP$q m\x1b\\",
  "\x9b6n",
];

/**
 * Polls `condition` every few ms until it holds, for state that no event
 * announces; fails after a deadline, saying what it waited for.
 *
 * @param condition What must become true.
 * @param what What it is, for the failure.
 */
export async function until(
  condition: () => boolean,
  what: string,
  timeoutMs = WAIT_DEADLINE_MS,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`Waited ${timeoutMs} ms for ${what}`);
    await sleep(5);
  }
}

/**
 * Waits `ms` milliseconds: for a scenario's own timing (a server back a second
 * later) or the pace of a polling loop, never to let something happen.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** How {@linkcode WaitableLog.waitFor} and a collector's `waitFor` wait. */
export interface WaitOptions {
  /**
   * How many matches to wait for.
   *
   * @default {1}
   */
  count?: number;
  /**
   * How long to wait before failing with what was seen.
   *
   * @default {WAIT_DEADLINE_MS}
   */
  timeoutMs?: number;
}

/** A log whose lines can be awaited, so tests synchronise on events, not sleeps. */
export class WaitableLog {
  readonly lines: string[] = [];
  #waiters: { pattern: RegExp; count: number; resolve: (line: string) => void }[] = [];

  /** Records one line; pass as the server's `log` option. */
  readonly write = (line: string): void => {
    this.lines.push(line);
    this.#waiters = this.#waiters.filter((waiter) => !this.#satisfies(waiter));
  };

  /**
   * Settles with the `count`-th line, past or future, that matches `pattern`;
   * fails after `timeoutMs` with the lines seen.
   *
   * @param pattern What the line looks like.
   */
  waitFor(pattern: RegExp, { count = 1, timeoutMs }: WaitOptions = {}): Promise<string> {
    const line = new Promise<string>((resolve) => {
      const waiter = { pattern, count, resolve };
      if (!this.#satisfies(waiter)) this.#waiters.push(waiter);
    });
    const seen = () => this.lines.join("\n");
    return withDeadline(line, `${count} × ${pattern} in the log`, seen, timeoutMs);
  }

  #satisfies(waiter: { pattern: RegExp; count: number; resolve: (line: string) => void }): boolean {
    const matching = this.lines.filter((line) => waiter.pattern.test(line));
    if (matching.length < waiter.count) return false;
    waiter.resolve(matching[waiter.count - 1]);
    return true;
  }
}

/** Starts a server on 127.0.0.1, on a free port, logging into a {@linkcode WaitableLog}. */
export function startServer(options: ServeOptions = {}): UppercaseServer & { log: WaitableLog } {
  const log = new WaitableLog();
  const server = serve({ hostname: "127.0.0.1", port: 0, log: log.write, ...options });
  return Object.assign(server, { log });
}

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
  clients: number,
  rounds: number,
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

/**
 * A PROXY protocol version 2 header, as HAProxy's `send-proxy-v2` writes one.
 *
 * @param command 0 for LOCAL (a health check), 1 for PROXY.
 * @param family The family and protocol byte: 0x11 TCP over IPv4, 0x21 TCP over IPv6, 0 unspecified.
 * @param addresses The address block, such as {@linkcode proxyV2Addresses} makes.
 * @param extra Bytes after the addresses, such as TLVs.
 */
export function proxyV2(
  command: number,
  family: number,
  addresses: Uint8Array,
  extra: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const length = addresses.length + extra.length;
  const fixed = [0x20 | command, family, length >> 8, length & 0xff];
  return Uint8Array.of(...PROXY_V2_SIGNATURE, ...fixed, ...addresses, ...extra);
}

/** A version 2 address block: both addresses (both IPv4 or both IPv6), then both ports. */
export function proxyV2Addresses(
  source: string,
  sourcePort: number,
  destination: string,
  destinationPort: number,
): Uint8Array {
  const address = (text: string) => parseIPv4(text) ?? parseIPv6(text)!;
  const port = (n: number) => [n >> 8, n & 0xff];
  return Uint8Array.of(
    ...address(source),
    ...address(destination),
    ...port(sourcePort),
    ...port(destinationPort),
  );
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

/** An in-memory writable stream whose text can be read and awaited. */
export function collector(): {
  stream: WritableStream<Uint8Array>;
  text: () => string;
  waitFor: (pattern: RegExp, options?: WaitOptions) => Promise<void>;
} {
  const decoder = new TextDecoder();
  let text = "";
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  const stream = new WritableStream<Uint8Array>({
    write(chunk) {
      text += decoder.decode(chunk, { stream: true });
      wake();
    },
  });
  return {
    stream,
    text: () => text,
    /** Settles once the text matches `pattern` `count` times (lines, with the `m` flag); fails after `timeoutMs`. */
    waitFor(pattern, { count = 1, timeoutMs } = {}) {
      const all = new RegExp(pattern.source, pattern.flags.replace("g", "") + "g");
      const matches = () =>
        count === 1 ? pattern.test(text) : (text.match(all)?.length ?? 0) >= count;
      const matched = (async () => {
        while (!matches()) await new Promise<void>((resolve) => waiters.push(resolve));
      })();
      return withDeadline(matched, `${count} × ${pattern}`, () => text, timeoutMs);
    },
  };
}

/**
 * Runs the client in pipeline mode, in-process, on `port`, its input the given
 * text (pieces arrive as separate chunks).
 *
 * @param options More options of `runClient`, such as `maxMessageBytes`, or an `output` of the test's own.
 * @returns The exit status, and the text written to the output and the errors stream.
 */
export async function runPipelineClient(
  port: number,
  input: string | string[],
  options: Partial<ClientOptions> = {},
): Promise<{ status: number; output: string; errors: string }> {
  const output = collector(), errors = collector();
  const status = await runClient({
    port,
    input: textStream(...[input].flat()),
    output: output.stream,
    errors: errors.stream,
    ...options,
  });
  return { status, output: output.text(), errors: errors.text() };
}

/** A readable stream that yields the given pieces of text, then ends. */
export function textStream(...pieces: string[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(pieces.map((piece) => encoder.encode(piece)));
}

/** A keyboard for the client's terminal mode: type keys at chosen moments, then end. */
export function keyboard(): {
  stream: ReadableStream<Uint8Array>;
  type: (keys: string) => void;
  end: () => void;
} {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  return {
    stream,
    type: (keys) => controller.enqueue(encoder.encode(keys)),
    end: () => controller.close(),
  };
}

/**
 * Whether this test run may start `command` and it is installed: it needs the
 * `--allow-run` that `deno task test` grants.
 *
 * @param command The program.
 * @param args Arguments that make it exit at once, such as `--version`.
 */
export async function canRun(command: string, args: string[]): Promise<boolean> {
  if ((await Deno.permissions.query({ name: "run", command })).state !== "granted") return false;
  try {
    await new Deno.Command(command, { args, stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

/**
 * Says which of a test file's tests are skipped for want of a program, and how
 * to include them.
 *
 * @param file The test file, for the message.
 * @param available Each program the file needs, and whether it can be run.
 * @param packages The Debian packages that provide them.
 */
export function warnIfMissing(
  file: string,
  available: Record<string, boolean>,
  packages: string,
): void {
  const missing = Object.entries(available).filter(([, found]) => !found).map(([name]) => name);
  if (missing.length === 0) return;
  console.warn(
    `${file}: skipping the tests that need ${missing.join(", ")}; install them ` +
      `(apt-get install ${packages}) and run \`deno task test\`, which grants them`,
  );
}

/** A port on 127.0.0.1 that was free a moment ago, for a program that cannot be given port 0. */
export function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

/**
 * A program started as a process, with its output collected as it comes.
 * Disposing of it (`await using`) stops it as {@linkcode stopProcess} does.
 */
export interface Running extends AsyncDisposable {
  child: Deno.ChildProcess;
  stdout: ReturnType<typeof collector>;
  stderr: ReturnType<typeof collector>;
  /** Settles with the exit code once the process has ended and its output is read. */
  exited: Promise<number>;
}

/**
 * Starts a program in this folder, collecting its output.
 *
 * @param command The program, such as `deno` or `python3`.
 * @param args Its arguments.
 * @param options `input`: text for its standard input, which is then closed, or a
 * stream such as a {@linkcode keyboard}'s; none when left out. `env`: variables
 * to set; `NO_COLOR=1` unless given.
 */
export function spawn(
  command: string,
  args: string[],
  options: { input?: string | ReadableStream<Uint8Array>; env?: Record<string, string> } = {},
): Running {
  const { input, env = { NO_COLOR: "1" } } = options;
  const child = new Deno.Command(command, {
    args,
    cwd: PROJECT_ROOT,
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
  const stdout = collector(), stderr = collector();
  const stdin = typeof input === "string" ? ReadableStream.from([encoder.encode(input)]) : input;
  // A program may exit without reading all its input: stop feeding it then.
  const exit = new AbortController();
  const feeding = stdin?.pipeTo(child.stdin, { signal: exit.signal }).catch(() => {});
  child.status.then(() => exit.abort());
  const piped = Promise.all([
    child.stdout.pipeTo(stdout.stream),
    child.stderr.pipeTo(stderr.stream),
    feeding,
  ]);
  const exited = Promise.all([child.status, piped]).then(([status]) => status.code);
  const running: Running = {
    child,
    stdout,
    stderr,
    exited,
    [Symbol.asyncDispose]: async () => void await stopProcess(running),
  };
  return running;
}

/** Runs `program` with `input` on its standard input, asserts that it exits 0, and returns what it printed. */
export async function printedBy(program: string, args: string[], input: string): Promise<string> {
  const child = spawn(program, args, { input });
  assert.equal(await child.exited, 0, child.stderr.text());
  return child.stdout.text();
}

/** The arguments of `deno` that run the real client on `port`. */
export function clientArgs(port: number, ...flags: string[]): string[] {
  return ["run", "--allow-net", "client.ts", "--port", String(port), ...flags];
}

/** Starts the real client on `port` with `input` (text, or a stream such as a keyboard's) piped in. */
export function spawnClient(
  port: number,
  input: string | ReadableStream<Uint8Array>,
  ...flags: string[]
): Running {
  return spawn("deno", clientArgs(port, ...flags), { input });
}

/** How long, in ms, a program may take to exit once signalled before it is killed and the test fails. */
const STOP_DEADLINE_MS = 15_000;

/**
 * Sends `signal` to a program unless it has already ended, and waits for its
 * exit code. One that has not exited after {@linkcode STOP_DEADLINE_MS} is
 * killed, and the test fails with what it wrote to stderr, instead of hanging.
 */
export async function stopProcess(
  running: Running,
  signal: Deno.Signal = "SIGTERM",
): Promise<number> {
  try {
    running.child.kill(signal);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error; // it had already ended
  }
  try {
    return await withDeadline(
      running.exited,
      `the program to exit after ${signal}`,
      () => running.stderr.text(),
      STOP_DEADLINE_MS,
    );
  } catch (error) {
    try {
      running.child.kill("SIGKILL");
    } catch {
      // It ended at the last moment: the failure stands.
    }
    await running.exited;
    throw error;
  }
}

/** Starts the server with `deno task server`, on a free port, and waits until it listens. */
export function startServerProcess(...flags: string[]): Promise<Running & { addr: Deno.NetAddr }> {
  return listening(spawn("deno", ["task", "--quiet", "server", "--port", "0", ...flags]));
}

/**
 * Starts the server with the command `deno task server` runs, but without the
 * task runner's process in between, so that signals such as SIGSTOP reach it.
 */
export function startServerDirectly(...flags: string[]): Promise<Running & { addr: Deno.NetAddr }> {
  const [program, ...args] = serverCommand(...flags);
  return listening(spawn(program, args));
}

/** The command `deno task server` runs, on a free port, with more flags. */
export function serverCommand(...flags: string[]): string[] {
  return [...config.tasks.server.command.split(" "), "--port", "0", ...flags];
}

/** Waits until a server process started on 127.0.0.1 prints its "Listening on" line, and adds the address it gives. */
export async function listening(server: Running): Promise<Running & { addr: Deno.NetAddr }> {
  await server.stdout.waitFor(/Listening on .*:\d+/);
  const port = Number(server.stdout.text().match(/Listening on 127\.0\.0\.1:(\d+)/)![1]);
  return { ...server, addr: { transport: "tcp", hostname: "127.0.0.1", port } };
}

/** Runs the real client on `port` with `input` piped in, and waits for it to exit. */
export async function runClientProcess(
  port: number,
  input: string,
  ...flags: string[]
): Promise<Running & { code: number }> {
  const client = spawnClient(port, input, ...flags);
  return { ...client, code: await client.exited };
}

/**
 * How many file handles a process holds and how much memory it has resident,
 * read from `/proc` through `ls` and `cat`, which `deno task test` lets the
 * tests run (reading another process's `/proc` directly needs every permission).
 *
 * @param pid The process.
 * @returns Its open file handles, and its resident memory in KiB (`VmRSS`).
 */
export async function processResources(pid: number): Promise<{ fds: number; rssKib: number }> {
  const output = async (command: string, args: string[]) => {
    const { stdout, success } = await new Deno.Command(command, { args, stderr: "null" }).output();
    assert(success, `${command} ${args.join(" ")} failed`);
    return decoder.decode(stdout);
  };
  const fds = (await output("ls", [`/proc/${pid}/fd`])).split("\n").filter(Boolean).length;
  const rss = (await output("cat", [`/proc/${pid}/status`])).match(/^VmRSS:\s+(\d+) kB$/m);
  return { fds, rssKib: Number(rss![1]) };
}

/** The `i`-th line {@linkcode streamedLines} gives: mixed text, so that uppercasing is checked too. */
function streamedLine(i: number): string {
  return `${i} hola ñandú straße\n`;
}

/**
 * `count` lines in chunks of `chunk`, made as a reader takes them, and the
 * replies one unbroken connection gives them. Before chunk `n`, `before(n)`
 * runs and is awaited: a test restarts servers there, while the client still
 * has lines to send and replies on their way.
 */
export function streamedLines(
  count: number,
  chunk: number,
  before: (n: number) => Promise<void> = () => Promise.resolve(),
): { input: ReadableStream<Uint8Array>; expected: string } {
  let next = 0, n = 0;
  const input = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (next >= count) return controller.close();
      await before(n++);
      let text = "";
      for (const end = Math.min(count, next + chunk); next < end; next++) {
        text += streamedLine(next);
      }
      controller.enqueue(encoder.encode(text));
    },
  });
  let expected = "";
  for (let i = 0; i < count; i++) expected += streamedLine(i).toUpperCase();
  return { input, expected };
}

/**
 * Asserts that a client exited 0 having printed exactly `expected`, as one
 * unbroken connection gives it.
 *
 * @returns What the client said on stderr.
 */
export async function wholeOutput(client: Running, expected: string): Promise<string> {
  const code = await withDeadline(
    client.exited,
    "the client to exit",
    () => `stderr: ${client.stderr.text()}\nstdout bytes: ${client.stdout.text().length}`,
  );
  const errors = client.stderr.text();
  assert.equal(code, 0, errors);
  const output = client.stdout.text();
  assert.equal(output.length, expected.length, "as many bytes as one unbroken connection gives");
  assert(output === expected, "byte for byte what one unbroken connection gives");
  return errors;
}
