/**
 * Tests of running scenarios: the load is driven on Deno's sockets when there
 * is no native generator, and every figure is then flagged generator-bound;
 * each server gets its turn, and its median is kept.
 *
 * @module
 */

import assert from "node:assert/strict";
import { driver, loadScenario, measure, measureTogether } from "./measure.ts";
import { startServer } from "../testing/helpers.ts";
import type { Measurement } from "./load.ts";

const SHORT_RUN = { warmupSeconds: 0, seconds: 0.2 };

Deno.test("driver without a native generator loads through Deno's sockets and calls every figure generator-bound", async () => {
  await using server = startServer({ log: null });
  const load = driver(undefined);
  const measurement = await load.drive(server.addr, {
    ...SHORT_RUN,
    mode: "small-writes",
    connections: 2,
  });
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
  const medians = await measure(servers, { scenario, seconds: 1, bound: () => false });
  assert.deepEqual(runs, ["a", "b", "a", "b", "a", "b"]);
  assert.deepEqual(medians.map((m) => m.messagesPerSecond), [5, 20]);
});

Deno.test("loadScenario names its load and its connections", () => {
  const load = driver(undefined);
  assert.equal(
    loadScenario(load, { mode: "ping-pong", connections: 1, rounds: 1 }).title,
    "ping-pong with 1 connection",
  );
  assert.equal(
    loadScenario(load, { mode: "small-writes", connections: 10, rounds: 1 }).title,
    "pipelined, one send per line with 10 connections",
  );
});

Deno.test("measureTogether runs every server at once each round, and keeps the median of each round's ratio to the first", async () => {
  const started: string[] = [];
  // Round by round the machine's speed swings, and b stays 2% behind a.
  const speed = [100, 60, 140];
  let round = -1;
  const scenario = {
    title: "together",
    rounds: 3,
    run: (server: { name: string }) => {
      if (server.name === "a") round++;
      started.push(`${server.name}${round}`);
      const messagesPerSecond = speed[round] * (server.name === "a" ? 1 : 0.98);
      return Promise.resolve({ messagesPerSecond, generatorCpu: 0.5 } as Measurement);
    },
  };
  const servers = ["a", "b"].map((name) => ({
    name,
    target: { hostname: "127.0.0.1", port: 1 },
    stop: () => Promise.resolve(),
  }));
  const { medians, ratios } = await measureTogether(servers, {
    scenario,
    seconds: 1,
    bound: () => false,
  });
  assert.deepEqual(started, ["a0", "b0", "a1", "b1", "a2", "b2"]);
  assert.deepEqual(medians.map((m) => m.messagesPerSecond), [100, 98]);
  assert(Math.abs(ratios[1].messages - 0.98) < 1e-9, "the swings cancel out");
  assert.equal(ratios[0].messages, 1);
});
