/**
 * The bench's fairness section: while one client floods a server with 1 MiB
 * lines (`bench/flood.ts`, a process of its own), another does a round trip
 * every 10 ms from the bench; its median and slowest round trip say how long
 * one client can hold the others up, and the flood's count of lines answered
 * says what fairness cost it. For our server, the bare `Deno.Conn` loop and
 * Node.js, side by side, with each kind of line.
 *
 * @module
 */

import { FLOOD_KINDS, type FloodKind } from "./flood.ts";
import type { ServerUnderTest } from "./servers.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const PING_EVERY_MS = 10;

/** One server under one kind of flood, or under every kind at once. */
export interface FairnessRow {
  server: string;
  kind: FloodKind | "every kind";
  /** The other client's round trips, in ms. */
  medianMs: number;
  maxMs: number;
  roundTrips: number;
  /** Lines of the flood answered while it ran (all floods together). */
  floodAnswered: number;
  /** `/metrics`, scraped every 100 ms meanwhile, where the server serves it: median and max, in ms. */
  metricsMs?: { median: number; max: number };
}

/**
 * Measures each server under each kind of flood, for `seconds` each.
 *
 * @param starters How to start each server, fresh for each flood.
 */
export async function fairness(
  starters: (() => Promise<ServerUnderTest>)[],
  seconds: number,
): Promise<FairnessRow[]> {
  const rows: FairnessRow[] = [];
  for (const start of starters) {
    for (const kind of FLOOD_KINDS) {
      const server = await start();
      try {
        rows.push({
          server: server.name,
          kind,
          ...await underFlood(server.target, { kinds: kind, seconds }),
        });
      } finally {
        await server.stop();
      }
    }
  }
  return rows;
}

/**
 * Measures a server with workers (and `--metrics`) under every kind of flood at
 * once: the other client's round trips, and `/metrics` scraped meanwhile.
 */
export async function fairnessWithWorkers(
  start: () => Promise<ServerUnderTest>,
  seconds: number,
): Promise<FairnessRow> {
  const server = await start();
  try {
    const url = server.metrics!;
    const scrapes: number[] = [];
    const until = performance.now() + seconds * 1000;
    const scraping = (async () => {
      while (performance.now() < until) {
        const sent = performance.now();
        await (await fetch(url)).text();
        scrapes.push(performance.now() - sent);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const row = await underFlood(server.target, { kinds: FLOOD_KINDS, seconds });
    await scraping;
    scrapes.sort((a, b) => a - b);
    return {
      server: server.name,
      kind: "every kind",
      ...row,
      metricsMs: { median: scrapes[scrapes.length >> 1], max: scrapes.at(-1)! },
    };
  } finally {
    await server.stop();
  }
}

async function underFlood(
  target: { hostname: string; port: number },
  { kinds, seconds }: { kinds: FloodKind | readonly FloodKind[]; seconds: number },
): Promise<Omit<FairnessRow, "server" | "kind">> {
  const floods = [kinds].flat().map((kind) =>
    new Deno.Command("deno", {
      args: ["run", "--allow-net", "bench/flood.ts", String(target.port), kind, String(seconds)],
      cwd: ROOT,
      stdout: "piped",
      stderr: "inherit",
    }).output()
  );
  const conn = await Deno.connect(target);
  conn.setNoDelay(true);
  const encoder = new TextEncoder();
  const buffer = new Uint8Array(256);
  const times: number[] = [];
  const until = performance.now() + seconds * 1000;
  try {
    for (let i = 0; performance.now() < until; i++) {
      const sent = performance.now();
      await conn.write(encoder.encode(`ping ${i}\n`));
      for (let got = 0; !buffer.subarray(0, got).includes(0x0a);) {
        const n = await conn.read(buffer.subarray(got));
        if (n === null) throw new Error("the server closed the measuring connection");
        got += n;
      }
      times.push(performance.now() - sent);
      await new Promise((resolve) => setTimeout(resolve, PING_EVERY_MS));
    }
  } finally {
    conn.close();
  }
  const outputs = await Promise.all(floods);
  const answered = outputs.reduce(
    (sum, out) => sum + Number(new TextDecoder().decode(out.stdout)),
    0,
  );
  times.sort((a, b) => a - b);
  return {
    medianMs: times[times.length >> 1],
    maxMs: times.at(-1)!,
    roundTrips: times.length,
    floodAnswered: answered,
  };
}

/** The section, as lines of the bench's report. */
export function renderFairness(rows: FairnessRow[] | undefined): string[] {
  if (!rows || rows.length === 0) return [];
  const table = [
    [
      "server",
      "flood",
      "other's median ms",
      "other's max ms",
      "round trips",
      "flood lines",
      "/metrics median ms",
      "/metrics max ms",
    ],
    ...rows.map((row) => [
      row.server,
      row.kind,
      row.medianMs.toFixed(2),
      row.maxMs.toFixed(1),
      String(row.roundTrips),
      String(row.floodAnswered),
      row.metricsMs?.median.toFixed(1) ?? "",
      row.metricsMs?.max.toFixed(1) ?? "",
    ]),
  ];
  const widths = table[0].map((_, column) => Math.max(...table.map((row) => row[column].length)));
  const lines = table.map((row) =>
    row.map((cell, column) =>
      column < 2 ? cell.padEnd(widths[column]) : cell.padStart(widths[column])
    )
      .join("  ").trimEnd()
  );
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  return [
    "",
    "Fairness: one client floods 1 MiB lines (ascii, valid non-ASCII text, or a letter and an",
    `invalid byte repeated) while another sends a line every ${PING_EVERY_MS} ms; its round trips:`,
    ...lines,
  ];
}
