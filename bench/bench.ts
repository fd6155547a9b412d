/**
 * `deno task bench`: measures an uppercase server under load and prints a table.
 *
 * By default it starts our server on a free port. `--compare` also starts the
 * baselines (`bench/servers.ts`): the idiomatic Node.js server, the bare
 * `Deno.Conn` loop (what any server on `Deno.listen` can reach) and the
 * syscalls-only C server (what the machine can reach), and measures them all
 * in the same run; `--host`/`--port` measure any other server instead
 * (`--pid` adds its CPU use and memory). Where `taskset` exists, the servers
 * the bench starts run on one core and the load generator on another.
 *
 * @module
 */

import {
  cpuSeconds,
  idle,
  type LoadMode,
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
import { compileNative, runNative } from "./native.ts";
import { renderChart, renderTable, type Results } from "./report.ts";
import {
  BASELINES,
  describeMachine,
  externalServer,
  GENERATOR_CORE,
  ourServerCommand,
  pinToCore,
  SERVER_CORE,
  type ServerUnderTest,
  startServer,
} from "./servers.ts";
import { makeTestCertificates } from "../test_certificates.ts";

const ROOT = new URL("..", import.meta.url).pathname;
/** Over this share of a core, the generator, not the server, sets the pace. */
const GENERATOR_BOUND = 0.9;
/** Lines each pipelined connection keeps in flight. */
const PIPELINE_DEPTH = 128;
const OURS = "uppercase-tcp (Deno)";

const BENCH_FLAGS = {
  compare: {
    help:
      "Also measure, in the same run, the Node.js baseline, the bare `Deno.Conn` loop and the syscalls-only C server",
  },
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

interface Scenario {
  title: string;
  /** How many times it runs on each server; the median by messages/s is reported. */
  rounds: number;
  /** Whether the servers the bench started are restarted before it. */
  freshServer?: boolean;
  run(server: ServerUnderTest, options: RunOptions): Promise<Measurement>;
}

/**
 * Drives a load scenario: through the native generator when there is one,
 * otherwise on Deno's sockets, which set the pace themselves.
 */
type Drive = (
  mode: LoadMode,
  target: Target,
  connections: number,
  options: RunOptions,
) => Promise<Measurement>;

function driver(generator: string | undefined): Drive {
  if (generator) {
    return (mode, target, connections, options) =>
      runNative(generator, mode, target, connections, options, PIPELINE_DEPTH);
  }
  return (mode, target, connections, options) =>
    mode === "ping-pong"
      ? pingPong(target, connections, options)
      : pipelined(target, connections, PIPELINE_DEPTH, options, mode === "small-writes");
}

/** The scenarios every server runs, in order. */
function scenarios(drive: Drive, rounds: number, idleConnections: number): Scenario[] {
  const load = (mode: LoadMode, connections: number, title: string): Scenario => ({
    title: `${title} with ${connections} connection${connections > 1 ? "s" : ""}`,
    rounds,
    run: (server, options) => drive(mode, server.target, connections, options),
  });
  return [
    ...[1, 100, 1000].map((n) => load("ping-pong", n, "ping-pong")),
    ...[1, 10].map((n) => load("pipelined", n, "pipelined, topped up per read")),
    ...[1, 10].map((n) => load("small-writes", n, "pipelined, one send per line")),
    {
      title: `${idleConnections} idle connections`,
      rounds: 1,
      // What a connection costs, not what the earlier scenarios left behind in the heap.
      freshServer: true,
      run: (server, options) => idle(server.target, idleConnections, server.pid, options),
    },
  ];
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
  const pinned = await pinToCore(Deno.pid, GENERATOR_CORE);
  const core = pinned ? SERVER_CORE : undefined;
  const results: Results = { machine: await describeMachine(pinned), servers: [] };
  const buildDir = await Deno.makeTempDir({ prefix: "uppercase-bench-" });
  const native = await compileNative(buildDir);
  const generator = "failed" in native ? undefined : native.generator;
  if ("failed" in native) {
    console.error(
      `No native load generator: ${native.failed}. Measuring on Deno's sockets, so every figure is generator-bound`,
    );
  }
  results.machine.generator = generator
    ? "native (C, one epoll loop, compiled with cc) for ping-pong and pipelined; Deno's sockets for idle"
    : "Deno's sockets, as there is no C compiler: every figure is generator-bound";

  const ours = (name = OURS, ...flags: string[]) =>
    startServer(name, ourServerCommand(...flags), core);
  const starters: (() => Promise<ServerUnderTest>)[] = flags.host
    ? [() => Promise.resolve(externalServer(flags.host!, port, pid))]
    : [() => ours()];
  if (flags.compare) {
    starters.push(() =>
      startServer(BASELINES.denoBare.name, [...BASELINES.denoBare.command], core)
    );
    if (!("failed" in native)) {
      starters.push(() => startServer(BASELINES.c.name, [native.server, "0"], core));
    }
    starters.push(() => startServer(BASELINES.node.name, [...BASELINES.node.command], core));
  }
  const generatorBound = (m: Measurement) =>
    m.scenario !== "idle" && (!generator || m.generatorCpu > GENERATOR_BOUND);

  // Every server runs at once, and each scenario runs on each server in turn, so
  // a machine that slows down for a while slows them alike.
  const servers: ServerUnderTest[] = [];
  try {
    for (const start of starters) servers.push(await start());
    results.servers = servers.map((server) => ({ name: server.name, measurements: [] }));
    const idleConnections = flags.quick ? 1_000 : 10_000;
    for (const scenario of scenarios(driver(generator), rounds, idleConnections)) {
      if (scenario.freshServer) {
        for (const [i, server] of servers.entries()) {
          servers[i] = await starters[i]();
          await server.stop();
        }
      }
      const medians = await measure(servers, scenario, seconds, generatorBound);
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
  generatorBound: (measurement: Measurement) => boolean,
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
      measurement.generatorBound = generatorBound(measurement) || undefined;
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
    servers.push(await ours(`${OURS}, plain TCP`));
    const tls = await ours(
      `${OURS}, TLS`,
      "--tls-cert",
      certs.server.certFile,
      "--tls-key",
      certs.server.keyFile,
    );
    servers.push({ ...tls, target: { ...tls.target, tls: { caCerts: [certs.ca.pem] } } });
    const pairs: NonNullable<Results["tls"]> = [];
    for (const connections of [1, 100]) {
      const [plain, overTls] = await measure(
        servers,
        {
          title: `ping-pong with ${connections} connections, Deno's sockets`,
          rounds,
          run: (server, options) => pingPong(server.target, connections, options),
        },
        seconds,
        () => false,
      );
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
