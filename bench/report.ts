/**
 * The bench's report: the results as a table for the terminal, the ratios
 * between two servers, and an SVG bar chart.
 *
 * @module
 */

import { type FairnessRow, renderFairness } from "./fairness.ts";
import type { Measurement } from "./load.ts";

/** Our server run two or more ways, side by side, in the same scenarios through the same generator. */
export interface Comparison {
  /** What is compared, such as "TLS against plain TCP". */
  title: string;
  /** How the servers and the generator ran. */
  note: string;
  /** Each way, with its measurements in the same scenarios, in the same order. */
  variants: { name: string; measurements: Measurement[] }[];
  /**
   * When the ways were loaded at the same moment: per scenario, the median of
   * the last way's ratios to the first, round by round.
   */
  ratios?: { messages: number; cpu?: number }[];
}

/** An idle server's resident memory with some number of workers. */
export interface WorkerMemory {
  workers: number;
  /** All its resident memory (`VmRSS`), in KiB. */
  rssKib: number;
  /** Its private resident memory (`RssAnon`), in KiB. */
  privateKib: number;
}

/** Everything one run of the bench measured. */
export interface Results {
  machine: Record<string, string | number>;
  servers: { name: string; measurements: Measurement[] }[];
  /** Side-by-side sections: TLS against plain TCP, workers against one, and the like. */
  comparisons: Comparison[];
  /** An idle server's memory with 1, 2 and 4 workers. */
  workerMemory?: WorkerMemory[];
  /** Round trips of one client while another floods: `--fairness`, and with `--compare`. */
  fairness?: FairnessRow[];
}

const LABELS: Record<Measurement["scenario"], string> = {
  "ping-pong": "ping-pong",
  pipelined: "pipelined ×128",
  "small-writes": "small writes ×128",
  idle: "idle",
};

function label(m: Measurement): string {
  return LABELS[m.scenario];
}

/** The results as a table for the terminal, with the ratios when two servers were measured. */
export function renderTable(results: Results): string {
  const rows = [[
    "server",
    "scenario",
    "conns",
    "messages/s",
    "MB/s",
    "p50 ms",
    "p99 ms",
    "p99.9 ms",
    "max ms",
    "KiB/conn",
    "server CPU",
    "msgs/CPU-s",
    "generator CPU",
  ]];
  for (const { name, measurements } of results.servers) {
    for (const m of measurements) {
      rows.push([
        name,
        label(m),
        number(m.connections),
        number(m.messagesPerSecond),
        m.scenario === "pipelined" || m.scenario === "small-writes"
          ? number(m.megabytesPerSecond, 1)
          : "",
        number(m.latencyMs?.p50, 3),
        number(m.latencyMs?.p99, 3),
        number(m.latencyMs?.p999, 3),
        number(m.latencyMs?.max, 3),
        number(m.serverKibPerConnection, 2),
        m.serverCpu === undefined ? "" : `${Math.round(m.serverCpu * 100)}%`,
        m.scenario === "idle" ? "" : number(perServerCpuSecond(m)),
        `${Math.round(m.generatorCpu * 100)}%${m.generatorBound ? " bound" : ""}`,
      ]);
    }
  }
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  const lines = rows.map((row) =>
    row.map((cell, column) =>
      column < 2 ? cell.padEnd(widths[column]) : cell.padStart(widths[column])
    ).join("  ")
  );
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  const machine = Object.entries(results.machine).map(([key, value]) => `${key}: ${value}`).join(
    "; ",
  );
  return [
    machine,
    "",
    ...lines,
    "",
    'server CPU and generator CPU are CPU time over wall time (100% = one core busy). "bound":',
    "the generator was over 90% busy (or ran on Deno's sockets), so it, not the server, may",
    "have set the pace, and the figure is generator-bound; msgs/CPU-s (messages per second of",
    "server CPU) then still compares the servers' efficiency. pipelined tops up with one write",
    "for all the lines a read answered; small writes, one write per line, so reads are small.",
    ...renderRatios(results),
    ...results.comparisons.flatMap(renderComparison),
    ...renderWorkerMemory(results.workerMemory),
    ...renderFairness(results.fairness),
  ].join("\n");
}

/** A figure with thousands separators and `digits` decimals; empty when there is none. */
function number(n: number | undefined, digits = 0): string {
  return n === undefined || Number.isNaN(n)
    ? ""
    : n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function perServerCpuSecond(m: Measurement): number | undefined {
  return m.serverCpu ? m.messagesPerSecond / m.serverCpu : undefined;
}

function renderRatios(results: Results): string[] {
  const [ours, ...others] = results.servers;
  return others.flatMap((other) => {
    const lines = ["", `${ours.name} against ${other.name}:`];
    ours.measurements.forEach((m, i) => {
      const o = other.measurements[i];
      const parts = m.scenario === "idle"
        ? []
        : [`${(m.messagesPerSecond / o.messagesPerSecond).toFixed(2)}× messages/s`];
      const mine = perServerCpuSecond(m), theirs = perServerCpuSecond(o);
      if (m.scenario !== "idle" && mine && theirs) {
        parts.push(`${(mine / theirs).toFixed(2)}× messages per server CPU-second`);
      }
      if (m.latencyMs && o.latencyMs) {
        parts.push(`p99 ${m.latencyMs.p99.toFixed(3)} vs ${o.latencyMs.p99.toFixed(3)} ms`);
      }
      if (m.serverKibPerConnection !== undefined && o.serverKibPerConnection !== undefined) {
        parts.push(
          `${m.serverKibPerConnection.toFixed(2)} vs ${
            o.serverKibPerConnection.toFixed(2)
          } KiB per connection`,
        );
      }
      if (m.generatorBound || o.generatorBound) parts.push("generator-bound");
      lines.push(`  ${label(m)} ${m.connections}: ${parts.join(", ")}`);
    });
    return lines;
  });
}

/** A bar chart: one group per scenario, one bar per server, each group scaled to its largest bar. */
export function renderChart(results: Results): string {
  const colors = ["#2563eb", "#9ca3af", "#16a34a"];
  const groups = results.servers[0].measurements.map((m, i) => ({
    title: m.scenario === "idle"
      ? `idle ${number(m.connections)}: server KiB per connection (lower is better)`
      : `${label(m)} ${m.connections} conn${m.connections > 1 ? "s" : ""}: messages/s`,
    values: results.servers.map((s) =>
      m.scenario === "idle"
        ? s.measurements[i].serverKibPerConnection ?? 0
        : s.measurements[i].messagesPerSecond
    ),
  }));
  const barHeight = 18, width = 720, left = 20, barWidth = 480;
  let y = 50;
  const parts: string[] = [];
  for (const group of groups) {
    parts.push(
      `<text x="${left}" y="${y}" font-size="13" font-weight="bold">${escape(group.title)}</text>`,
    );
    y += 8;
    const max = Math.max(...group.values, 1e-9);
    group.values.forEach((value, i) => {
      const w = Math.max(1, (value / max) * barWidth);
      parts.push(
        `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${
          colors[i % colors.length]
        }"/>`,
      );
      const shown = number(value, value >= 100 ? 0 : 2);
      parts.push(
        `<text x="${(left + w + 6).toFixed(1)}" y="${y + 13}" font-size="12">${
          escape(`${shown}  ${results.servers[i].name}`)
        }</text>`,
      );
      y += barHeight + 4;
    });
    y += 22;
  }
  const title =
    `uppercase-tcp benchmark (${results.machine.cores} cores, ${results.machine.pinning})`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${left}" y="26" font-size="16" font-weight="bold">${escape(title)}</text>
${parts.join("\n")}
</svg>
`;
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A comparison: each scenario's figures for every way, then the last way against the first. */
function renderComparison(comparison: Comparison): string[] {
  const [first, ...others] = comparison.variants;
  const micros = (m: Measurement) => m.serverCpu && 1e6 * m.serverCpu / m.messagesPerSecond;
  const lines = ["", `${comparison.title} (${comparison.note}):`];
  first.measurements.forEach((m, i) => {
    const figures = comparison.variants.map(({ name, measurements }) => {
      const v = measurements[i];
      const p99 = v.latencyMs ? `, p99 ${v.latencyMs.p99.toFixed(3)} ms` : "";
      const cpu = micros(v) ? `, ${micros(v)!.toFixed(2)} µs of server CPU per message` : "";
      return `${name} ${number(v.messagesPerSecond)} messages/s${p99}${cpu}`;
    });
    const last = others.at(-1)!.measurements[i];
    const paired = comparison.ratios?.[i];
    const messages = paired?.messages ?? last.messagesPerSecond / m.messagesPerSecond;
    const cpu = paired ? paired.cpu : micros(last) && micros(m) && micros(last)! / micros(m)!;
    const ratios = [`${messages.toFixed(paired ? 3 : 2)}× messages/s`];
    if (cpu) ratios.push(`${cpu.toFixed(paired ? 3 : 2)}× server CPU per message`);
    if (paired) ratios.push("median of the rounds' ratios");
    if (m.generatorBound || last.generatorBound) ratios.push("generator-bound");
    lines.push(`  ${label(m)} ${m.connections}: ${figures.join("; ")}: ${ratios.join(", ")}`);
  });
  return lines;
}

function renderWorkerMemory(rows: WorkerMemory[] | undefined): string[] {
  if (!rows?.length) return [];
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  const lines = ["", "Idle server's resident memory by workers (RSS, of which private):"];
  for (const row of rows) {
    lines.push(
      `  ${row.workers} worker${row.workers > 1 ? "s" : ""}: ${mib(row.rssKib)} MiB, ${
        mib(row.privateKib)
      } MiB`,
    );
  }
  const [one, ...more] = rows;
  const last = more.at(-1);
  if (last) {
    const perWorker = (kib: (row: WorkerMemory) => number) =>
      mib((kib(last) - kib(one)) / (last.workers - one.workers));
    lines.push(
      `  each worker beyond the first: ${perWorker((r) => r.rssKib)} MiB RSS, ${
        perWorker((r) => r.privateKib)
      } MiB private`,
    );
  }
  return lines;
}
