/**
 * Tests of the bench's command line: defaults, a quick run, and the flags that
 * only make sense together.
 *
 * @module
 */

import assert from "node:assert/strict";
import { readFlags } from "./bench.ts";
import { UsageError } from "../cli/flags.ts";

Deno.test("readFlags fills in 3 s, 3 rounds and port 5000, and --quick makes it 1 s and 1 round", () => {
  const defaults = readFlags([]);
  assert(defaults !== "help");
  assert.deepEqual([defaults.seconds, defaults.rounds, defaults.port, defaults.pid], [
    3,
    3,
    5000,
    undefined,
  ]);
  const quick = readFlags(["--quick", "--seconds", "9"]);
  assert(quick !== "help");
  assert.deepEqual([quick.seconds, quick.rounds], [1, 1]);
  assert.equal(readFlags(["-h"]), "help");
});

Deno.test("readFlags refuses --port or --pid without --host, which they describe", () => {
  assert.throws(() => readFlags(["--port", "6000"]), new UsageError("--port needs --host"));
  assert.throws(() => readFlags(["--pid", "42"]), new UsageError("--pid needs --host"));
  const external = readFlags(["--host", "127.0.0.1", "--port", "6000", "--pid", "42"]);
  assert(external !== "help");
  assert.deepEqual([external.port, external.pid], [6000, 42]);
});

Deno.test("readFlags takes --parallel for our server's workers, 1 when left out, and not with --host", () => {
  const plain = readFlags([]);
  assert(plain !== "help");
  assert.equal(plain.workers, 1);
  const parallel = readFlags(["--parallel", "2"]);
  assert(parallel !== "help");
  assert.equal(parallel.workers, 2);
  assert.throws(() => readFlags(["--parallel", "0"]), UsageError);
  assert.throws(() => readFlags(["--parallel", "2", "--host", "127.0.0.1"]), UsageError);
});
