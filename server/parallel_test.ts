/**
 * Tests of the worker pool on its own, with stand-in workers that speak its
 * messages: it starts them on one port, writes their log lines, stops them
 * all, reports a worker that cannot listen as the listen error it was, and
 * fails the whole server, stopping the others, when one worker fails.
 *
 * The stand-ins are `data:` modules, which need no read access; the real
 * workers are tested as processes in `parallel_e2e_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ParallelServer } from "./parallel.ts";
import { ServerFailedError } from "./accept_loop.ts";

/** A stand-in worker module: `onStart` is the body run when it is told to start, with `data` in scope. */
function standIn(onStart: string): URL {
  const code = `self.onmessage = ({ data }) => {
    if (data.type === "start") {
      self.postMessage({ type: "log", line: "[worker " + data.worker + "] started" });
      ${onStart}
    } else {
      self.postMessage({ type: "log", line: "stopping" });
      self.postMessage({ type: "stopped" });
    }
  };`;
  return new URL(`data:application/javascript,${encodeURIComponent(code)}`);
}

const LISTENS = `self.postMessage({ type: "listening", port: data.options.port });`;

Deno.test("ParallelServer starts every worker on one free port, writes their log lines, and stops them all", async () => {
  const lines: string[] = [];
  const server = await ParallelServer.start({
    hostname: "127.0.0.1",
    port: 0,
    log: (line) => lines.push(line),
  }, { count: 3, module: standIn(LISTENS) });
  assert.equal(server.workers, 3);
  assert(server.addr.port > 0, "the port it picked for all of them");
  await server.stop();
  await server.finished;
  assert.deepEqual(lines.toSorted(), [
    "[worker 1] started",
    "[worker 2] started",
    "[worker 3] started",
    "stopping",
    "stopping",
    "stopping",
  ]);
});

Deno.test("ParallelServer reports a worker that cannot listen as the error its listener threw", async () => {
  const cannot = `if (data.worker === 2) {
    self.postMessage({ type: "cannot listen", name: "AddrInUse", message: "Address in use" });
  } else ${LISTENS}`;
  await assert.rejects(
    ParallelServer.start({ port: 0, log: null }, { count: 2, module: standIn(cannot) }),
    Deno.errors.AddrInUse,
  );
});

Deno.test("ParallelServer refuses a port in use without --reuse-port, as one process does", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await assert.rejects(
    ParallelServer.start({ port: taken.addr.port, log: null }, {
      count: 2,
      module: standIn(LISTENS),
    }),
    Deno.errors.AddrInUse,
  );
});

Deno.test("ParallelServer stops every worker and fails when one worker throws, so that nothing is left half alive", async () => {
  const lines: string[] = [];
  const crashes = `${LISTENS}
    if (data.worker === 2) setTimeout(() => { throw new Error("boom"); }, 10);`;
  const server = await ParallelServer.start({ port: 0, log: (line) => lines.push(line) }, {
    count: 2,
    module: standIn(crashes),
  });
  await assert.rejects(
    server.finished,
    (error) => error instanceof ServerFailedError && /^Worker 2 failed: .*boom/.test(error.message),
  );
  assert(lines.includes("stopping"), "the other worker was told to stop");
});
