/**
 * Tests of running a server as a program: a signal stops it and gives 0, a
 * listener that failed for good gives one line and 70.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runUntilStopped } from "./run.ts";
import { ServerFailedError } from "./accept_loop.ts";
import { EXIT } from "../cli/exit_status.ts";

/** A stand-in server: it finishes as `stop()` or the test says. */
function fakeServer() {
  const finished = Promise.withResolvers<void>();
  let stops = 0;
  return {
    finished: finished.promise,
    fail: (error: Error) => finished.reject(error),
    stop() {
      stops++;
      finished.resolve();
      return finished.promise;
    },
    get stops() {
      return stops;
    },
  };
}

/** Runs `body` with `console.error` captured. */
async function capturingErrors(body: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const { error } = console;
  console.error = (line: string) => void lines.push(line);
  try {
    await body();
  } finally {
    console.error = error;
  }
  return lines;
}

Deno.test({
  name: "runUntilStopped stops the server on SIGTERM and gives 0",
  ignore: Deno.build.os === "windows",
  async fn() {
    const server = fakeServer();
    const running = runUntilStopped(server);
    // Waiting for a signal does not keep the event loop alive on its own.
    const alive = setInterval(() => {}, 1_000);
    Deno.kill(Deno.pid, "SIGTERM"); // caught by runUntilStopped's listener, not fatal
    try {
      assert.equal(await running, EXIT.OK);
    } finally {
      clearInterval(alive);
    }
    assert.equal(server.stops, 1);
  },
});

Deno.test("runUntilStopped reports a listener that failed for good in one line and gives 70", async () => {
  const server = fakeServer();
  let status: number | undefined;
  const printed = await capturingErrors(async () => {
    const running = runUntilStopped(server);
    server.fail(new ServerFailedError("Cannot accept connections: broken; gave up"));
    status = await running;
  });
  assert.equal(status, EXIT.SOFTWARE);
  assert.deepEqual(printed, ["Cannot accept connections: broken; gave up"]);
});
