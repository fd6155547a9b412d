/**
 * Running the bench's scenarios: each on each server in turn, round after
 * round, with the servers' CPU time read around each run and the median kept;
 * and how the load is driven, through the native generator or Deno's sockets.
 *
 * @module
 */

import {
  cpuSeconds,
  type Load,
  type Measurement,
  pingPong,
  pipelined,
  type RunOptions,
  type Target,
} from "./load.ts";
import { runNative } from "./native.ts";
import type { ServerUnderTest } from "./servers.ts";

/** Lines each pipelined connection keeps in flight. */
export const PIPELINE_DEPTH = 128;
/** Over this share of a core, the generator, not the server, sets the pace. */
const GENERATOR_BOUND = 0.9;

/** A load the servers are measured under. */
export interface Scenario {
  title: string;
  /** How many times it runs on each server; the median by messages/s is reported. */
  rounds: number;
  /** Whether the servers the bench started are restarted before it. */
  freshServer?: boolean;
  run(server: ServerUnderTest, options: RunOptions): Promise<Measurement>;
}

/** Drives a load: through the native generator when there is one, otherwise on Deno's sockets. */
export interface Driver {
  /** Runs `run.mode` with `run.connections` against `target`. */
  drive(target: Target, run: Load & RunOptions): Promise<Measurement>;
  /** Whether the generator, not the server, may have set the pace of `measurement`. */
  bound(measurement: Measurement): boolean;
}

/**
 * The driver for this run.
 *
 * @param generator The native generator's executable; `undefined` for Deno's sockets, which set
 *   the pace themselves, so that every figure they give is generator-bound.
 */
export function driver(generator: string | undefined): Driver {
  return {
    drive: (target, run) =>
      generator
        ? runNative(generator, { ...run, target, depth: PIPELINE_DEPTH })
        : run.mode === "ping-pong"
        ? pingPong(target, run)
        : pipelined(target, {
          ...run,
          depth: PIPELINE_DEPTH,
          smallWrites: run.mode === "small-writes",
        }),
    bound: (m) => m.scenario !== "idle" && (!generator || m.generatorCpu > GENERATOR_BOUND),
  };
}

/** A scenario of `mode` with `connections`, through `driver`. */
export function loadScenario(driver: Driver, load: Load & { rounds: number }): Scenario {
  const { mode, connections, rounds } = load;
  const titles = {
    "ping-pong": "ping-pong",
    pipelined: "pipelined, topped up per read",
    "small-writes": "pipelined, one send per line",
  };
  return {
    title: `${titles[mode]} with ${connections} connection${connections > 1 ? "s" : ""}`,
    rounds,
    run: (server, options) => driver.drive(server.target, { ...options, mode, connections }),
  };
}

/** One scenario as the bench measures it: for how long, and how it tells a generator-bound figure. */
export interface Trial {
  scenario: Scenario;
  /** Measured seconds per run, after the warm-up. */
  seconds: number;
  /** Whether the generator may have set the pace of a measurement. */
  bound: (measurement: Measurement) => boolean;
}

/**
 * Runs a scenario on each server, taking turns, `scenario.rounds` times, so
 * that a machine that slows down for a while slows them alike.
 *
 * @returns Each server's median run by messages/s.
 */
export async function measure(servers: ServerUnderTest[], trial: Trial): Promise<Measurement[]> {
  const { scenario } = trial;
  const rounded: Measurement[][] = servers.map(() => []);
  for (let round = 1; round <= scenario.rounds; round++) {
    for (const [i, server] of servers.entries()) {
      const of = scenario.rounds > 1 ? ` (round ${round} of ${scenario.rounds})` : "";
      report(`${server.name}${of}: ${scenario.title}`);
      rounded[i].push(await runOnce(server, trial));
    }
  }
  return rounded.map(median);
}

/**
 * Runs a scenario on every server at the same moment, each with a generator
 * of its own, `scenario.rounds` times. On a machine whose speed drifts from
 * one second to the next, only a difference between the servers shows in
 * each round's figures: each round's ratio to the first server is kept.
 *
 * @returns Each server's median run, and the median ratio of each server's
 *   messages/s, and server CPU per message, to the first's, round by round.
 */
export async function measureTogether(
  servers: ServerUnderTest[],
  trial: Trial,
): Promise<{ medians: Measurement[]; ratios: { messages: number; cpu?: number }[] }> {
  const { scenario } = trial;
  const rounded: Measurement[][] = servers.map(() => []);
  for (let round = 1; round <= scenario.rounds; round++) {
    report(
      `${servers.map((s) => s.name).join(" and ")} at once (round ${round}): ${scenario.title}`,
    );
    const runs = await Promise.all(servers.map((server) => runOnce(server, trial)));
    runs.forEach((measurement, i) => rounded[i].push(measurement));
  }
  const cpuPerMessage = (m: Measurement) => m.serverCpu && m.serverCpu / m.messagesPerSecond;
  const ratios = rounded.map((runs) => {
    const messages = runs.map((m, round) =>
      m.messagesPerSecond / rounded[0][round].messagesPerSecond
    );
    const cpu = runs.map((m, round) => cpuPerMessage(m)! / cpuPerMessage(rounded[0][round])!);
    return {
      messages: middle(messages),
      cpu: cpu.every(Number.isFinite) ? middle(cpu) : undefined,
    };
  });
  return { medians: rounded.map(median), ratios };
}

/** Runs a scenario once on one server, with that server's CPU time read around it. */
async function runOnce(
  server: ServerUnderTest,
  { scenario, seconds, bound }: Trial,
): Promise<Measurement> {
  const cpuBefore = server.pid ? await cpuSeconds(server.pid) : undefined;
  const started = performance.now();
  const measurement = await scenario.run(server, {
    warmupSeconds: 1,
    seconds,
    onProgress: (text) => report(`${server.name}: ${text}`),
  });
  const wallSeconds = (performance.now() - started) / 1000;
  const cpuAfter = server.pid ? await cpuSeconds(server.pid) : undefined;
  if (cpuBefore !== undefined && cpuAfter !== undefined) {
    measurement.serverCpu = (cpuAfter - cpuBefore) / wallSeconds;
  }
  measurement.generatorBound = bound(measurement) || undefined;
  return measurement;
}

/** The median of some numbers (the upper one of an even count). */
function middle(numbers: number[]): number {
  return numbers.toSorted((a, b) => a - b)[Math.floor(numbers.length / 2)];
}

/** The measurement with the median messages/s (the upper one of an even count). */
function median(measurements: Measurement[]): Measurement {
  const sorted = measurements.toSorted((a, b) => a.messagesPerSecond - b.messagesPerSecond);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Shows progress on one line of a terminal, or as lines elsewhere; `""` clears it. */
export function report(text: string): void {
  if (!Deno.stderr.isTerminal()) {
    if (text) console.error(text);
    return;
  }
  Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[K${text}`));
}
