/**
 * Tests of running scenarios: the load is driven on Deno's sockets when there
 * is no native generator, and every figure is then flagged generator-bound;
 * each server gets its turn, and its median is kept.
 *
 * @module
 */

import assert from "node:assert/strict";
import { driver, loadScenario, measure } from "./measure.ts";
import { startServer } from "../test_helpers.ts";
import type { Measurement } from "./load.ts";

const SHORT_RUN = { warmupSeconds: 0, seconds: 0.2 };

Deno.test("driver without a native generator loads through Deno's sockets and calls every figure generator-bound", async () => {
  await using server = startServer({ log: null });
  const load = driver(undefined);
  const measurement = await load.drive("small-writes", server.addr, 2, SHORT_RUN);
  assert.equal(measurement.scenario, "small-writes");
  assert(measurement.messages > 0);
  assert(load.bound(measurement));
  assert(!load.bound({ ...measurement, scenario: "idle" }), "idle measures memory, not pace");
});

Deno.test("measure runs a scenario on each server in turn, each round, and keeps each one's median", async () => {
  const runs: string[] = [];
  let next = 0;
  const figures = [5, 1, 3, 30, 10, 20];
  const scenario = {
    title: "counting",
    rounds: 3,
    run: (server: { name: string }) => {
      runs.push(server.name);
      const messagesPerSecond = figures[next++];
      return Promise.resolve({ messagesPerSecond, generatorCpu: 0.5 } as Measurement);
    },
  };
  const servers = ["a", "b"].map((name) => ({
    name,
    target: { hostname: "127.0.0.1", port: 1 },
    stop: () => Promise.resolve(),
  }));
  const medians = await measure(servers, scenario, 1, () => false);
  assert.deepEqual(runs, ["a", "b", "a", "b", "a", "b"]);
  assert.deepEqual(medians.map((m) => m.messagesPerSecond), [5, 20]);
});

Deno.test("loadScenario names its load and its connections", () => {
  const load = driver(undefined);
  assert.equal(loadScenario(load, "ping-pong", 1, 1).title, "ping-pong with 1 connection");
  assert.equal(
    loadScenario(load, "small-writes", 10, 1).title,
    "pipelined, one send per line with 10 connections",
  );
});
