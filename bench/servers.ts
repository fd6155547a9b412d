/**
 * The servers `deno task bench` measures: ours, started exactly as
 * `deno task server` runs it, the baselines `--compare` adds beside it (the
 * idiomatic Node.js server, the bare `Deno.Conn` loop and the syscalls-only C
 * server), or a server already running elsewhere; and the cores they and the
 * generator run on.
 *
 * @module
 */

import config from "../deno.json" with { type: "json" };
import { commandOutput, type Target } from "./load.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const V8_FLAGS = config.tasks.server.command.split(" ").find((arg) =>
  arg.startsWith("--v8-flags")
)!;

/** The core the load generator runs on, where `taskset` can pin it. */
export const GENERATOR_CORE = "0";
/** The core the servers the bench starts run on, where `taskset` can pin them. */
export const SERVER_CORE = "1";

/** A server being measured. */
export interface ServerUnderTest {
  /** Its name in the table. */
  name: string;
  target: Target;
  /** Its process, for its CPU time and memory; unknown for a server the bench did not start. */
  pid?: number;
  /** Its metrics endpoint, when it was started with `--metrics`. */
  metrics?: string;
  /** Stops it, if the bench started it. */
  stop(): Promise<void>;
}

/**
 * The command that runs our server exactly as `deno task server` does, V8
 * flags included, on a free port, with no log and room for the idle scenario.
 *
 * @param flags More flags, such as `--parallel 2`.
 */
export function ourServerCommand(...flags: string[]): string[] {
  return [
    ...config.tasks.server.command.split(" "),
    ...["--port", "0", "--quiet", "--max-connections", "20000"],
    ...flags,
  ];
}

/** The commands of the baselines `--compare` measures, by name; the C server's is built at bench time. */
export const BASELINES = {
  node: { name: "Node.js net baseline", command: ["node", "bench/node_server.mjs", "0"] },
  denoBare: {
    name: "bare Deno.Conn loop",
    // With our server's V8 flags, so that memory per connection compares like with like.
    command: ["deno", "run", "--allow-net", V8_FLAGS, "bench/deno_bare_server.ts", "0"],
  },
  c: { name: "C epoll server (syscalls only)" },
} as const;

/**
 * Starts a server process and waits for its "Listening on" line.
 *
 * @param name Its name in the table.
 * @param command The program and its arguments.
 * @param core The core to pin it to with `taskset`; every core when left out.
 */
export async function startServer(
  name: string,
  command: string[],
  core?: string,
): Promise<ServerUnderTest> {
  const [program, ...args] = core ? ["taskset", "-c", core, ...command] : command;
  const child = new Deno.Command(program, { args, cwd: ROOT, stdout: "piped", stderr: "inherit" })
    .spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const ready = command.includes("--metrics") ? /Metrics on \S+\n/ : /Listening on .*:\d+/;
  while (!ready.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${name} exited before listening`);
    text += value;
  }
  reader.releaseLock();
  const port = Number(text.match(/Listening on .*:(\d+)/)![1]);
  return {
    name,
    target: { hostname: "127.0.0.1", port },
    pid: child.pid,
    metrics: text.match(/Metrics on (\S+)/)?.[1],
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

/** A server the bench did not start, measured as it runs. */
export function externalServer(hostname: string, port: number, pid?: number): ServerUnderTest {
  return {
    name: `${hostname}:${port}`,
    target: { hostname, port },
    pid,
    stop: () => Promise.resolve(),
  };
}

/** Pins a process, all its threads, to one core; false where taskset or a second core is missing. */
export async function pinToCore(pid: number, core: string): Promise<boolean> {
  if (navigator.hardwareConcurrency < 2) return false;
  try {
    const { success } = await new Deno.Command("taskset", {
      args: ["-a", "-p", "-c", core, String(pid)],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/** The machine and the runtimes, for the report. */
export async function describeMachine(
  { pinned }: { pinned: boolean },
): Promise<Record<string, string | number>> {
  // lscpu, because reading /proc/cpuinfo directly needs every permission.
  const cpu = await commandOutput("lscpu").then(
    (out) => out.match(/Model name:\s*(.*)/)?.[1],
    () => undefined,
  );
  const node = await commandOutput("node", ["--version"]).catch(() => "not found");
  return {
    cpu: cpu ?? "unknown",
    cores: navigator.hardwareConcurrency,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    node,
    pinning: pinned
      ? `generator on core ${GENERATOR_CORE}, the servers it starts on core ${SERVER_CORE}`
      : "none",
  };
}
