/**
 * Programs for the tests: the real server and client started as processes
 * (as `deno task` runs them, or without the task runner), their output
 * collected and awaited, stopped within a deadline; which programs this run
 * may start; streams of numbered lines for long runs.
 *
 * @module
 */

import assert from "node:assert/strict";
import config from "../deno.json" with { type: "json" };
import { collector, PROJECT_ROOT, withDeadline } from "./helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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
 * @param programs `available`: each program the file needs, and whether it
 *   can be run; `packages`: the Debian packages that provide them.
 */
export function warnIfMissing(
  file: string,
  programs: { available: Record<string, boolean>; packages: string },
): void {
  const { available, packages } = programs;
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

/** Runs `command` (a program and its arguments) with `input` on its standard input, asserts that it exits 0, and returns what it printed. */
export async function printedBy(command: string[], input: string): Promise<string> {
  const [program, ...args] = command;
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
