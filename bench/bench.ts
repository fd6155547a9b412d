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

import { idle, ReplyMismatch } from "./load.ts";
import {
  type Flags,
  integerFlag,
  optionsHelp,
  parseFlags,
  reportUsageError,
  UsageError,
} from "../cli/flags.ts";
import { compileNative } from "./native.ts";
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
import { driver, loadScenario, measure, report, type Scenario } from "./measure.ts";
import { metricsCost, parallelGain, perReadCost, tlsCost, workerMemory } from "./comparisons.ts";
import { fairness, fairnessWithWorkers } from "./fairness.ts";
import { MAX_WORKERS } from "../server/command_line.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const OURS = "uppercase-tcp (Deno)";

const BENCH_FLAGS = {
  compare: {
    help:
      "Also measure, in the same run, the Node.js baseline, the bare `Deno.Conn` loop and the syscalls-only C server, and our server against the bare loop, both loaded at once",
  },
  parallel: {
    value: "<n>",
    help:
      "Run our server with n workers (`--parallel n`), and compare it with one worker, pinned and unpinned",
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
  fairness: {
    help:
      "Only the fairness section: one client floods, another's round trips are timed, for our server, the bare Deno loop and Node.js; with --parallel, ours with workers under one flood of each kind, /metrics scraped meanwhile (also part of --compare)",
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
  const { flags, port, pid, workers, ...timing } = settings;
  const pinned = await pinToCore(Deno.pid, GENERATOR_CORE);
  const core = pinned ? SERVER_CORE : undefined;
  const results: Results = {
    machine: await describeMachine({ pinned }),
    servers: [],
    comparisons: [],
  };
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
  const load = driver(generator);

  const ourFlags = workers > 1 ? ["--parallel", String(workers)] : [];
  const starters: (() => Promise<ServerUnderTest>)[] = flags.host
    ? [() => Promise.resolve(externalServer(flags.host!, port, pid))]
    : [() => startServer(OURS, ourServerCommand(...ourFlags), core)];
  if (flags.compare) {
    starters.push(() =>
      startServer(BASELINES.denoBare.name, [...BASELINES.denoBare.command], core)
    );
    if (!("failed" in native)) {
      starters.push(() => startServer(BASELINES.c.name, [native.server, "0"], core));
    }
    starters.push(() => startServer(BASELINES.node.name, [...BASELINES.node.command], core));
  }

  // Fairness: ours, the bare Deno loop and Node side by side (or the server at --host).
  const floodedServers = flags.host ? starters : [
    () => startServer(OURS, ourServerCommand(), core),
    () => startServer(BASELINES.denoBare.name, [...BASELINES.denoBare.command], core),
    () => startServer(BASELINES.node.name, [...BASELINES.node.command], core),
  ];
  // With workers: ours under one flood of each kind at once, /metrics scraped meanwhile.
  const withWorkers = () =>
    startServer(
      `${OURS} --parallel ${workers}`,
      ourServerCommand(...ourFlags, "--metrics", "127.0.0.1:0"),
    );
  if (flags.fairness) {
    results.fairness = await fairness(floodedServers, timing.seconds);
    if (!flags.host && workers > 1) {
      results.fairness.push(await fairnessWithWorkers(withWorkers, timing.seconds));
    }
    await Deno.remove(buildDir, { recursive: true });
    console.log(flags.json ? JSON.stringify(results, null, 2) : renderTable(results));
    return 0;
  }
  const servers: ServerUnderTest[] = [];
  try {
    for (const start of starters) servers.push(await start());
    results.servers = servers.map((server) => ({ name: server.name, measurements: [] }));
    const idleConnections = flags.quick ? 1_000 : 10_000;
    for (const scenario of scenarios(load, { rounds: timing.rounds, idleConnections })) {
      if (scenario.freshServer) {
        for (const [i, server] of servers.entries()) {
          servers[i] = await starters[i]();
          await server.stop();
        }
      }
      const medians = await measure(servers, {
        scenario,
        seconds: timing.seconds,
        bound: load.bound,
      });
      medians.forEach((measurement, i) => results.servers[i].measurements.push(measurement));
    }
    for (const server of servers.splice(0)) await server.stop();
    if (!flags.host && flags.compare) {
      results.comparisons.push(await perReadCost(load, { core, timing }));
    }
    if (!flags.host) results.comparisons.push(await metricsCost(load, { core, timing }));
    if (!flags.host && !flags["no-tls"]) {
      const tls = await tlsCost(core, timing);
      if (tls) results.comparisons.push(tls);
    }
    if (!flags.host && workers > 1) {
      results.comparisons.push(...await parallelGain(load, { workers, timing }));
      results.workerMemory = await workerMemory(core);
    }
    if (flags.compare) {
      results.fairness = await fairness(floodedServers, timing.seconds);
      if (workers > 1) {
        results.fairness.push(await fairnessWithWorkers(withWorkers, timing.seconds));
      }
    }
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

/** The scenarios every server runs, in order. */
function scenarios(
  load: ReturnType<typeof driver>,
  { rounds, idleConnections }: { rounds: number; idleConnections: number },
): Scenario[] {
  return [
    ...[1, 100, 1000].map((n) => loadScenario(load, { mode: "ping-pong", connections: n, rounds })),
    ...[1, 10].map((n) => loadScenario(load, { mode: "pipelined", connections: n, rounds })),
    ...[1, 10].map((n) => loadScenario(load, { mode: "small-writes", connections: n, rounds })),
    {
      title: `${idleConnections} idle connections`,
      rounds: 1,
      // What a connection costs, not what the earlier scenarios left behind in the heap.
      freshServer: true,
      run: (server, options) =>
        idle(server.target, { ...options, connections: idleConnections, serverPid: server.pid }),
    },
  ];
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
  if (flags.parallel !== undefined && flags.host !== undefined) {
    throw new UsageError("--parallel runs our server with workers, so it cannot go with --host");
  }
  return {
    flags,
    workers: integerFlag(flags.parallel, { name: "--parallel", min: 1, max: MAX_WORKERS }) ?? 1,
    port: integerFlag(flags.port, { name: "--port", min: 1, max: 65535 }) ??
      BENCH_FLAGS.port.default,
    pid: integerFlag(flags.pid, { name: "--pid", min: 1, max: 2 ** 22 }),
    seconds: flags.quick
      ? 1
      : integerFlag(flags.seconds, { name: "--seconds", min: 1, max: 3600 }) ??
        BENCH_FLAGS.seconds.default,
    rounds: flags.quick ? 1 : integerFlag(flags.rounds, { name: "--rounds", min: 1, max: 100 }) ??
      BENCH_FLAGS.rounds.default,
  };
}

if (import.meta.main) Deno.exit(await main(Deno.args));
