/**
 * Tests of the bench's report: the table shows each measurement's figures, the
 * ratios appear when two servers were measured, and the chart is SVG with one
 * bar per server and scenario.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Measurement } from "./load.ts";
import { renderChart, renderTable, type Results } from "./report.ts";

function pingPong(messagesPerSecond: number, p99: number): Measurement {
  return {
    scenario: "ping-pong",
    connections: 100,
    messages: messagesPerSecond * 3,
    seconds: 3,
    messagesPerSecond,
    megabytesPerSecond: messagesPerSecond * 64 / 1e6,
    latencyMs: { p50: p99 / 2, p99, p999: p99 * 2, max: p99 * 3 },
    generatorCpu: 0.5,
    serverCpu: 0.9,
  };
}

const RESULTS: Results = {
  machine: { cores: 2, pinning: "none" },
  servers: [
    { name: "ours", measurements: [pingPong(150_000, 1)] },
    { name: "baseline", measurements: [pingPong(100_000, 2)] },
  ],
};

Deno.test("renderTable shows each server's figures, then how the first compares with the second", () => {
  const table = renderTable(RESULTS);
  assert.match(table, /^ours +ping-pong +100 +150,000 .* 1\.000 .* 90% .* 50%$/m);
  assert.match(table, /^baseline +ping-pong +100 +100,000 /m);
  assert.match(table, /ping-pong 100: 1\.50× messages\/s, .*p99 1\.000 vs 2\.000 ms/);
});

Deno.test("renderTable shows no ratios for a single server", () => {
  assert.doesNotMatch(renderTable({ ...RESULTS, servers: [RESULTS.servers[0]] }), /against/);
});

Deno.test("renderChart draws one bar per server and scenario, with names escaped", () => {
  const chart = renderChart({
    ...RESULTS,
    servers: [RESULTS.servers[0], { ...RESULTS.servers[1], name: "a <b> & c" }],
  });
  assert.match(chart, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal(chart.match(/<rect x=/g)?.length, 2);
  assert.match(chart, /a &lt;b&gt; &amp; c/);
});

Deno.test("renderTable shows what TLS costs against plain TCP, per message of server CPU", () => {
  const plain = pingPong(100_000, 1), tls = { ...pingPong(80_000, 1.5), serverCpu: 0.9 };
  const table = renderTable({ ...RESULTS, tls: [{ plain, tls }] });
  assert.match(
    table,
    /ping-pong 100: 100,000 vs 80,000 messages\/s, p99 1\.000 vs 1\.500 ms, server CPU per message 9\.0 vs 11\.3 µs \(1\.25×\)/,
  );
});
