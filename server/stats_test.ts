/**
 * Tests of the server's counts: every reason starts at 0, snapshots are plain
 * data that add up across workers, open connections follow from accepted and
 * closed, and the event loop's lateness falls into the right bucket.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  addSnapshots,
  CLOSE_REASONS,
  LOOP_DELAY_BUCKETS,
  openConnections,
  REFUSE_REASONS,
  ServerStats,
  watchLoopDelay,
} from "./stats.ts";
import { until } from "../testing/helpers.ts";

Deno.test("ServerStats starts every reason at 0, so that rate() works from the first scrape", () => {
  const snapshot = new ServerStats().snapshot();
  assert.deepEqual(Object.keys(snapshot.closed), [...CLOSE_REASONS]);
  assert.deepEqual(Object.keys(snapshot.refused), [...REFUSE_REASONS]);
  assert(Object.values(snapshot.closed).every((count) => count === 0));
  assert.equal(snapshot.loopDelayBuckets.length, LOOP_DELAY_BUCKETS.length + 1);
});

Deno.test("ServerStats.snapshot is a copy: later counts do not change it", () => {
  const stats = new ServerStats();
  stats.closed.reset = 1;
  const snapshot = stats.snapshot();
  stats.closed.reset = 2;
  assert.equal(snapshot.closed.reset, 1);
  assert.deepEqual(structuredClone(snapshot), snapshot, "plain data that crosses threads");
});

Deno.test("addSnapshots adds every count, bucket by bucket, and open connections follow", () => {
  const [a, b] = [new ServerStats(), new ServerStats()];
  a.accepted = 5;
  a.closed.end_of_input = 2;
  a.messages = 10;
  b.accepted = 3;
  b.closed.reset = 1;
  b.refused.max_connections = 4;
  b.receivedBytes = 64;
  a.observeLoopDelay(0.0005);
  b.observeLoopDelay(0.0005);
  b.observeLoopDelay(3);
  const total = addSnapshots([a.snapshot(), b.snapshot()]);
  assert.deepEqual(
    [total.accepted, total.messages, total.receivedBytes, total.refused.max_connections],
    [8, 10, 64, 4],
  );
  assert.equal(openConnections(total), 8 - 2 - 1);
  assert.equal(total.loopDelayBuckets[0], 2, "both under a millisecond");
  assert.equal(total.loopDelayBuckets.at(-1), 1, "over the last bound");
  assert.equal(total.loopDelayCount, 3);
  assert(Math.abs(total.loopDelaySum - 3.001) < 1e-9);
});

Deno.test("observeLoopDelay puts a delay at a bucket's bound into that bucket", () => {
  LOOP_DELAY_BUCKETS.forEach((bound, i) => {
    const stats = new ServerStats();
    stats.observeLoopDelay(bound);
    assert.equal(stats.loopDelayBuckets.indexOf(1), i, `${bound} s`);
  });
});

Deno.test("watchLoopDelay measures how late a busy loop runs its timer, and stops when told", async () => {
  const stats = new ServerStats();
  const stop = watchLoopDelay(stats);
  // Blocked past the watcher's 100 ms timer, which can only run once the loop is free.
  const busyUntil = performance.now() + 150;
  while (performance.now() < busyUntil);
  // A timer of the test's own keeps the loop alive until the watcher has measured.
  await until(() => stats.loopDelayCount > 0, "the watcher's first measure");
  stop();
  assert(stats.loopDelaySum >= 0.05, `late by ${stats.loopDelaySum} s`);
  assert.equal(stats.loopDelayBuckets.slice(0, 5).reduce((a, b) => a + b), 0, "not under 25 ms");
});
