/**
 * The bench's side-by-side sections: our server run two or more ways at once,
 * through the same generator and in turns, so that only the difference between
 * the ways shows. What TLS costs against plain TCP; what `--parallel` gives
 * on one core and on all of them; and what each worker costs in memory.
 *
 * @module
 */

import { type Measurement, pingPong, residentKib } from "./load.ts";
import {
  type Driver,
  loadScenario,
  measure,
  measureTogether,
  report,
  type Scenario,
} from "./measure.ts";
import {
  BASELINES,
  ourServerCommand,
  SERVER_CORE,
  type ServerUnderTest,
  startServer,
} from "./servers.ts";
import type { Comparison, WorkerMemory } from "./report.ts";
import { makeTestCertificates } from "../testing/certificates.ts";

/** One way to run our server in a comparison. */
interface Variant {
  name: string;
  start(): Promise<ServerUnderTest>;
}

/** How long and how often each scenario runs. */
export interface Timing {
  seconds: number;
  rounds: number;
}

/** What a comparison measures: its title and note, the variants, and the scenarios each runs. */
interface ComparisonPlan {
  title: string;
  note: string;
  variants: Variant[];
  scenarios: Scenario[];
}

/** How a comparison runs. */
interface ComparisonRun {
  timing: Timing;
  /** Whether the generator may have set the pace of a measurement. */
  bound: (measurement: Measurement) => boolean;
  /**
   * Load the variants at the same moment, so that a small difference shows
   * through the machine's drift, rather than taking turns.
   *
   * @default {false}
   */
  together?: boolean;
}

/** Runs every scenario on every variant, all started at once, as `run` says. */
async function compare(
  { title, note, variants, scenarios }: ComparisonPlan,
  { timing, bound, together = false }: ComparisonRun,
): Promise<Comparison> {
  const servers: ServerUnderTest[] = [];
  try {
    for (const variant of variants) servers.push({ ...await variant.start(), name: variant.name });
    const comparison: Comparison = {
      title,
      note,
      variants: variants.map((variant) => ({ name: variant.name, measurements: [] })),
      ratios: together ? [] : undefined,
    };
    for (const scenario of scenarios) {
      let medians: Measurement[];
      const trial = { scenario, seconds: timing.seconds, bound };
      if (together) {
        const run = await measureTogether(servers, trial);
        medians = run.medians;
        comparison.ratios!.push(run.ratios.at(-1)!);
      } else medians = await measure(servers, trial);
      medians.forEach((m, i) => comparison.variants[i].measurements.push(m));
    }
    return comparison;
  } finally {
    for (const server of servers) await server.stop();
  }
}

/**
 * What TLS costs: ping-pong on our server in plain TCP and over TLS, through
 * Deno's sockets (the only generator here that speaks TLS), with a throwaway
 * certificate made by openssl.
 *
 * @returns The comparison, or `undefined` when openssl cannot make a certificate.
 */
export async function tlsCost(core: string | undefined, timing: Timing) {
  let certs;
  try {
    certs = await makeTestCertificates(await Deno.makeTempDir({ prefix: "uppercase-bench-" }));
  } catch {
    report("");
    console.error("Skipping the TLS scenario: openssl could not make a certificate");
    return undefined;
  }
  try {
    const tlsFlags = ["--tls-cert", certs.server.certFile, "--tls-key", certs.server.keyFile];
    const caCerts = [certs.ca.pem];
    return await compare({
      title: "TLS against plain TCP",
      note: "our server, ping-pong through Deno's sockets, the one generator here that speaks TLS",
      variants: [
        { name: "plain TCP", start: () => startServer("plain", ourServerCommand(), core) },
        {
          name: "TLS",
          start: async () => {
            const server = await startServer("TLS", ourServerCommand(...tlsFlags), core);
            return { ...server, target: { ...server.target, tls: { caCerts } } };
          },
        },
      ],
      scenarios: [1, 100].map((connections) => ({
        title: `ping-pong with ${connections} connections, Deno's sockets`,
        rounds: timing.rounds,
        run: (server, options) => pingPong(server.target, { ...options, connections }),
      })),
    }, { timing, bound: () => true });
  } finally {
    await certs[Symbol.asyncDispose]();
  }
}

/**
 * What `--parallel` gives: one worker against `workers`, first with the
 * server pinned to one core (more workers must cost nothing there), then on
 * every core (the generator keeps its own, so the servers share the rest).
 */
export async function parallelGain(
  driver: Driver,
  { workers, timing }: { workers: number; timing: Timing },
): Promise<Comparison[]> {
  // More rounds than elsewhere: taking turns, the difference sought is within the drift.
  const rounds = Math.max(timing.rounds, 5);
  const scenarios = [
    loadScenario(driver, { mode: "ping-pong", connections: 100, rounds }),
    loadScenario(driver, { mode: "pipelined", connections: 10, rounds }),
  ];
  const variants = (core: string | undefined): Variant[] => [
    { name: "1 worker", start: () => startServer("1 worker", ourServerCommand(), core) },
    {
      name: `${workers} workers`,
      start: () =>
        startServer(`${workers} workers`, ourServerCommand("--parallel", String(workers)), core),
    },
  ];
  const run = { timing, bound: driver.bound };
  return [
    await compare({
      title: `--parallel ${workers} against one worker, pinned to one core`,
      note: `every worker on core ${SERVER_CORE}: more workers may not cost throughput`,
      variants: variants(SERVER_CORE),
      scenarios,
    }, run),
    await compare({
      title: `--parallel ${workers} against one worker, on every core`,
      note: "the servers unpinned; the generator keeps its core, so they share the others with it",
      variants: variants(undefined),
      scenarios,
    }, run),
  ];
}

/**
 * What our server pays per read, against the bare `Deno.Conn` loop, the
 * least any server on Deno's sockets can do: both loaded at the same moment,
 * round after round, with one line per read (ping-pong), a few (small writes)
 * and many (pipelined). Taking turns, the machine's drift hides a difference
 * of a few percent.
 */
export function perReadCost(
  driver: Driver,
  { core, timing }: { core: string | undefined; timing: Timing },
) {
  const rounds = Math.max(timing.rounds, 9);
  return compare({
    title: "Our server against the bare Deno.Conn loop, per read",
    note:
      "both loaded at once, each by a generator of its own, 9 rounds or more, ratios round by round",
    variants: [
      {
        name: BASELINES.denoBare.name,
        start: () => startServer("bare", [...BASELINES.denoBare.command], core),
      },
      { name: "uppercase-tcp (Deno)", start: () => startServer("ours", ourServerCommand(), core) },
    ],
    scenarios: [
      loadScenario(driver, { mode: "ping-pong", connections: 100, rounds }),
      loadScenario(driver, { mode: "small-writes", connections: 1, rounds }),
      loadScenario(driver, { mode: "small-writes", connections: 10, rounds }),
      loadScenario(driver, { mode: "pipelined", connections: 1, rounds }),
      loadScenario(driver, { mode: "pipelined", connections: 10, rounds }),
    ],
  }, { timing, bound: driver.bound, together: true });
}

/**
 * What `--metrics` costs on the hot path: ping-pong with 100 connections,
 * with and without the endpoint (scraped once a second meanwhile, as a busy
 * Prometheus would), both servers loaded at the same moment on one core, each
 * by a generator of its own, round after round: the cost sought is a few
 * percent, and the machine drifts by more from one second to the next.
 */
export function metricsCost(
  driver: Driver,
  { core, timing }: { core: string | undefined; timing: Timing },
) {
  return compare({
    title: "--metrics against none",
    note: "our server, the endpoint scraped every second; both loaded at once, 9 rounds or more, " +
      "ratios round by round",
    variants: [
      { name: "without --metrics", start: () => startServer("plain", ourServerCommand(), core) },
      {
        name: "with --metrics",
        start: async () => {
          const server = await startServer("metrics", ourServerCommand("--metrics", "0"), core);
          return scrapedEverySecond(server);
        },
      },
    ],
    scenarios: [loadScenario(driver, {
      mode: "ping-pong",
      connections: 100,
      rounds: Math.max(timing.rounds, 9),
    })],
  }, { timing, bound: driver.bound, together: true });
}

/** Scrapes a server's `/metrics` once a second until it stops. */
function scrapedEverySecond(server: ServerUnderTest): ServerUnderTest {
  const url = server.metrics!;
  const timer = setInterval(() => fetch(url).then((r) => r.text()).catch(() => {}), 1_000);
  return {
    ...server,
    stop: () => {
      clearInterval(timer);
      return server.stop();
    },
  };
}

/** Resident memory of an idle server with 1, 2 and 4 workers, each freshly started. */
export async function workerMemory(core: string | undefined): Promise<WorkerMemory[]> {
  const rows: WorkerMemory[] = [];
  for (const workers of [1, 2, 4]) {
    report(`idle memory with ${workers} workers`);
    const flags = workers > 1 ? ["--parallel", String(workers)] : [];
    const server = await startServer(`${workers} workers`, ourServerCommand(...flags), core);
    try {
      // A moment for start-up work (compiling, the first collections) to settle.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const kib = await residentKib(server.pid!);
      if (kib) rows.push({ workers, rssKib: kib.rss, privateKib: kib.private });
    } finally {
      await server.stop();
    }
  }
  return rows;
}
