/**
 * `deno task bench`: measures an uppercase server under load and prints a table.
 *
 * By default it starts our server on a free port. `--compare` also starts the
 * Node.js baseline (`bench/node_server.mjs`) and measures both in the same run;
 * `--host`/`--port` measure any other server instead (`--pid` adds its CPU use
 * and memory). Where `taskset` exists, the servers the bench starts run on one
 * core and the load generator on another.
 *
 * @module
 */

import config from "../deno.json" with { type: "json" };
import {
  commandOutput,
  cpuSeconds,
  idle,
  type Measurement,
  pingPong,
  pipelined,
  ReplyMismatch,
  type RunOptions,
  type Target,
} from "./load.ts";
import {
  type Flags,
  integerFlag,
  optionsHelp,
  parseFlags,
  reportUsageError,
  UsageError,
} from "../cli.ts";
import { epollAvailable, pingPongThroughEpoll } from "./epoll_load.ts";
import { compileNative, runNative } from "./native.ts";
import { renderChart, renderTable, type Results } from "./report.ts";
import { makeTestCertificates } from "../test_certificates.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const GENERATOR_CORE = "0";
/** Over this share of a core, the generator, not the server, sets the pace. */
const GENERATOR_BOUND = 0.9;
/** Lines each pipelined connection keeps in flight. */
const PIPELINE_DEPTH = 128;
const SERVER_CORE = "1";

const BENCH_FLAGS = {
  compare: { help: "Also measure the Node.js baseline (`bench/node_server.mjs`) in the same run" },
  host: { value: "<address>", help: "Measure the server already listening there instead of ours" },
  port: { value: "<n>", default: 5000, help: "Its port (with --host)" },
  pid: { value: "<n>", help: "Its process (with --host), to report its CPU use and memory" },
  seconds: {
    value: "<n>",
    default: 3,
    help: "Measured seconds per scenario, after 1 s of warm-up",
  },
  rounds: {
    value: "<n>",
    default: 3,
    help:
      "Runs of each scenario on each server, taking turns; the median by messages/s is reported",
  },
  quick: { help: "A short run: 1 s per scenario, 1 round, 1,000 idle connections" },
  "no-tls": { help: "Leave out the TLS scenario (which needs openssl)" },
  json: { help: "Print the results as JSON instead of a table" },
  svg: { value: "<file>", default: "bench/results.svg", help: "Where to write the chart" },
  help: { short: "h", help: "Show this help" },
} as const satisfies Flags;

const USAGE = `deno task bench [options]: load-test an uppercase server and print a table.

Options:
${optionsHelp(BENCH_FLAGS)}`;

interface ServerUnderTest {
  name: string;
  target: Target;
  pid?: number;
  stop(): Promise<void>;
}

interface Scenario {
  title: string;
  /** How many times it runs on each server; the median by messages/s is reported. */
  rounds: number;
  /** Whether the servers the bench started are restarted before it. */
  freshServer?: boolean;
  run(server: ServerUnderTest, options: RunOptions): Promise<Measurement>;
}

async function main(args: string[]): Promise<number> {
  let settings;
  try {
    settings = readFlags(args);
  } catch (error) {
    if (error instanceof UsageError) return reportUsageError(error);
    throw error;
  }
  if (settings === "help") {
    console.log(USAGE);
    return 0;
  }
  const { flags, seconds, rounds, port, pid } = settings;
  const idleConnections = flags.quick ? 1_000 : 10_000;
  const pinned = await pinToCore(Deno.pid, GENERATOR_CORE);
  const results: Results = { machine: await describeMachine(pinned), servers: [] };

  const ours = (name = "uppercase-tcp (Deno)", ...flags: string[]) =>
    startServer(name, [
      // Exactly as `deno task server` runs it, V8 flags included.
      ...config.tasks.server.command.split(" "),
      "--port",
      "0",
      "--quiet",
      "--max-connections",
      "20000",
      ...flags,
    ], pinned);
  const starters: (() => Promise<ServerUnderTest>)[] = flags.host
    ? [() => Promise.resolve(externalServer(flags.host!, port, pid))]
    : [() => ours()];
  const buildDir = await Deno.makeTempDir({ prefix: "uppercase-bench-" });
  const native = await compileNative(buildDir);
  if ("failed" in native) {
    console.error(
      `No native load generator: ${native.failed}. Falling back to the generators in Deno.`,
    );
  }
  if (flags.compare) {
    starters.push(() =>
      startServer("Node.js net baseline", ["node", "bench/node_server.mjs", "0"], pinned)
    );
    if (!("failed" in native)) {
      starters.push(() =>
        startServer("C epoll server (syscalls only)", [native.server, "0"], pinned)
      );
    }
  }

  // Every server runs at once, and each scenario runs on each server in turn, so
  // a machine that slows down for a while slows them alike.
  const servers: ServerUnderTest[] = [];
  try {
    for (const start of starters) servers.push(await start());
    const generator = "failed" in native ? undefined : native.generator;
    const epoll = servers.every((server) => epollAvailable(server.target));
    results.machine.generator = generator
      ? "native (C, one epoll loop, compiled with cc) for ping-pong and pipelined; Deno's sockets for idle"
      : epoll
      ? "ping-pong through libc's epoll (FFI), the rest through Deno's sockets (no C compiler)"
      : "Deno's sockets (no C compiler; grant --allow-ffi on Linux for a cheaper ping-pong generator)";
    const scenarios: Scenario[] = [
      ...[1, 100, 1000].map((n): Scenario => ({
        title: `ping-pong with ${n} connections`,
        rounds,
        run: (server, options) =>
          generator
            ? runNative(generator, "ping-pong", server.target, n, options)
            : (epoll ? pingPongThroughEpoll : pingPong)(server.target, n, options),
      })),
      ...[1, 10].map((n): Scenario => ({
        title: `pipelined with ${n} connections`,
        rounds,
        run: (server, options) =>
          generator
            ? runNative(generator, "pipelined", server.target, n, options, PIPELINE_DEPTH)
            : pipelined(server.target, n, PIPELINE_DEPTH, options),
      })),
      {
        title: `${idleConnections} idle connections`,
        rounds: 1,
        // What a connection costs, not what the earlier scenarios left behind in the heap.
        freshServer: true,
        run: (server, options) => idle(server.target, idleConnections, server.pid, options),
      },
    ];
    results.servers = servers.map((server) => ({ name: server.name, measurements: [] }));
    for (const scenario of scenarios) {
      if (scenario.freshServer) {
        for (const [i, server] of servers.entries()) {
          servers[i] = await starters[i]();
          await server.stop();
        }
      }
      const medians = await measure(servers, scenario, seconds);
      medians.forEach((measurement, i) => results.servers[i].measurements.push(measurement));
    }
    if (!flags.host && !flags["no-tls"]) results.tls = await measureTlsCost(ours, rounds, seconds);
  } catch (error) {
    report("");
    if (error instanceof ReplyMismatch) {
      console.error(`Cannot benchmark: wrong reply: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    for (const server of servers) await server.stop();
    await Deno.remove(buildDir, { recursive: true });
  }
  report("");

  const chartPath = flags.svg ?? `${ROOT}bench/results.svg`;
  await Deno.writeTextFile(chartPath, renderChart(results));
  if (flags.json) console.log(JSON.stringify(results, null, 2));
  else console.log(renderTable(results) + `\nChart written to ${chartPath}`);
  return 0;
}

/** Runs a scenario on each server, taking turns, `scenario.rounds` times; gives each one's median. */
async function measure(
  servers: ServerUnderTest[],
  scenario: Scenario,
  seconds: number,
): Promise<Measurement[]> {
  const rounded: Measurement[][] = servers.map(() => []);
  for (let round = 1; round <= scenario.rounds; round++) {
    for (const [i, server] of servers.entries()) {
      const of = scenario.rounds > 1 ? ` (round ${round} of ${scenario.rounds})` : "";
      const progress = (text: string) => report(`${server.name}${of}: ${text}`);
      progress(scenario.title);
      const cpuBefore = server.pid ? await cpuSeconds(server.pid) : undefined;
      const started = performance.now();
      const measurement = await scenario.run(server, {
        warmupSeconds: 1,
        seconds,
        onProgress: progress,
      });
      const wallSeconds = (performance.now() - started) / 1000;
      const cpuAfter = server.pid ? await cpuSeconds(server.pid) : undefined;
      if (cpuBefore !== undefined && cpuAfter !== undefined) {
        measurement.serverCpu = (cpuAfter - cpuBefore) / wallSeconds;
      }
      // Idle connections measure memory, not pace: no generator sets it.
      if (measurement.scenario !== "idle") {
        measurement.generatorBound = measurement.generatorCpu > GENERATOR_BOUND;
      }
      rounded[i].push(measurement);
    }
  }
  return rounded.map(median);
}

/**
 * What TLS costs: ping-pong on our server in plain TCP and over TLS, side by
 * side, through the same generator (Deno's sockets, the only one that speaks
 * TLS here), with a throwaway certificate made by openssl.
 */
async function measureTlsCost(
  ours: (name: string, ...flags: string[]) => Promise<ServerUnderTest>,
  rounds: number,
  seconds: number,
): Promise<Results["tls"]> {
  let certs;
  try {
    certs = await makeTestCertificates(await Deno.makeTempDir({ prefix: "uppercase-bench-" }));
  } catch {
    report("");
    console.error("Skipping the TLS scenario: openssl could not make a certificate");
    return undefined;
  }
  const servers: ServerUnderTest[] = [];
  try {
    servers.push(await ours("uppercase-tcp (Deno), plain TCP"));
    const tls = await ours(
      "uppercase-tcp (Deno), TLS",
      "--tls-cert",
      certs.server.certFile,
      "--tls-key",
      certs.server.keyFile,
    );
    servers.push({ ...tls, target: { ...tls.target, tls: { caCerts: [certs.ca.pem] } } });
    const pairs: NonNullable<Results["tls"]> = [];
    for (const connections of [1, 100]) {
      const [plain, overTls] = await measure(servers, {
        title: `ping-pong with ${connections} connections, Deno's sockets`,
        rounds,
        run: (server, options) => pingPong(server.target, connections, options),
      }, seconds);
      pairs.push({ plain, tls: overTls });
    }
    return pairs;
  } finally {
    for (const server of servers) await server.stop();
    await certs[Symbol.asyncDispose]();
  }
}

/**
 * Reads the bench's command line, its defaults filled in.
 *
 * @param args The command-line arguments.
 * @returns `"help"`, or the flags and the figures they give.
 * @throws {UsageError} For a bad flag, or `--port` or `--pid` without `--host`.
 */
export function readFlags(args: string[]) {
  const flags = parseFlags(args, BENCH_FLAGS);
  if (flags.help) return "help" as const;
  if ((flags.port ?? flags.pid) !== undefined && flags.host === undefined) {
    throw new UsageError(`--${flags.port ? "port" : "pid"} needs --host`);
  }
  return {
    flags,
    port: integerFlag("port", flags.port, { min: 1, max: 65535 }) ?? BENCH_FLAGS.port.default,
    pid: integerFlag("pid", flags.pid, { min: 1, max: 2 ** 22 }),
    seconds: flags.quick
      ? 1
      : integerFlag("seconds", flags.seconds, { min: 1, max: 3600 }) ?? BENCH_FLAGS.seconds.default,
    rounds: flags.quick
      ? 1
      : integerFlag("rounds", flags.rounds, { min: 1, max: 100 }) ?? BENCH_FLAGS.rounds.default,
  };
}

/** Starts a server process on `SERVER_CORE` and waits for its "Listening on" line. */
async function startServer(
  name: string,
  command: string[],
  pinned: boolean,
): Promise<ServerUnderTest> {
  const [program, ...args] = pinned ? ["taskset", "-c", SERVER_CORE, ...command] : command;
  const child = new Deno.Command(program, { args, cwd: ROOT, stdout: "piped", stderr: "inherit" })
    .spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/Listening on .*:\d+/.test(text)) {
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
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

function externalServer(hostname: string, port: number, pid?: number): ServerUnderTest {
  return {
    name: `${hostname}:${port}`,
    target: { hostname, port },
    pid,
    stop: () => Promise.resolve(),
  };
}

/** Pins a process, all its threads, to one core; false where taskset or a second core is missing. */
async function pinToCore(pid: number, core: string): Promise<boolean> {
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

async function describeMachine(pinned: boolean): Promise<Results["machine"]> {
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

/** The measurement with the median messages/s (the upper one of an even count). */
function median(measurements: Measurement[]): Measurement {
  const sorted = measurements.toSorted((a, b) => a.messagesPerSecond - b.messagesPerSecond);
  return sorted[Math.floor(sorted.length / 2)];
}

function report(text: string): void {
  if (!Deno.stderr.isTerminal()) {
    if (text) console.error(text);
    return;
  }
  Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[K${text}`));
}

if (import.meta.main) Deno.exit(await main(Deno.args));
