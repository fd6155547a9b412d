/**
 * Tests of one worker of `--parallel` in a real `Worker`: it listens with
 * `SO_REUSEPORT`, answers, sends its log lines naming itself, counts with the
 * shared slots, gives its counts when asked, and stops when told.
 *
 * Loading a worker's code takes read access to it, which `deno task test`
 * grants; under plain `deno test --allow-net` they are skipped.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ToWorker, WORKER_MODULE, type WorkerReport } from "./parallel.ts";
import { SharedSlots } from "./slots.ts";
import { Peer } from "../testing/peers.ts";

const granted = async (path: URL) =>
  (await Deno.permissions.query({ name: "read", path })).state === "granted";
// What the worker loads: its folder, and the protocol and socket helpers above it.
const mayLoad = await granted(WORKER_MODULE) &&
  await granted(new URL("../io/socket.ts", WORKER_MODULE));
if (!mayLoad) {
  console.warn(
    "server/worker_test.ts: skipping the tests that load the worker, which needs read access to " +
      "the server's code; run `deno task test`, which grants it",
  );
}

/** A real worker, with its reports queued as they come. */
function startWorker() {
  const worker = new Worker(WORKER_MODULE, { type: "module" });
  const reports: WorkerReport[] = [];
  let arrived = Promise.withResolvers<void>();
  worker.onmessage = ({ data }: MessageEvent<WorkerReport>) => {
    reports.push(data);
    arrived.resolve();
    arrived = Promise.withResolvers<void>();
  };
  return {
    tell: (message: ToWorker) => worker.postMessage(message),
    /** Waits for the first report matching `type`, past or future. */
    async next<T extends WorkerReport["type"]>(
      type: T,
    ): Promise<Extract<WorkerReport, { type: T }>> {
      for (;;) {
        const found = reports.find((report) => report.type === type);
        if (found) return found as Extract<WorkerReport, { type: T }>;
        await arrived.promise;
      }
    },
    logs: () => reports.filter((report) => report.type === "log").map((report) => report.line),
    [Symbol.dispose]: () => worker.terminate(),
  };
}

Deno.test({
  name:
    "A worker listens, answers, logs naming itself and counting ids from the shared slots, gives its counts, and stops when told",
  ignore: !mayLoad,
  async fn() {
    using worker = startWorker();
    const slots = SharedSlots.buffer();
    new SharedSlots(slots).nextId(); // another worker has had id 1
    worker.tell({
      type: "start",
      worker: 3,
      options: { hostname: "127.0.0.1", port: 0 },
      log: true,
      metrics: true,
      slots,
    });
    const { port } = await worker.next("listening");
    {
      using peer = await Peer.connect({ transport: "tcp", hostname: "127.0.0.1", port });
      await peer.send("hola\n");
      assert.equal(await peer.readLine(), "HOLA\n");
    }
    worker.tell({ type: "scrape" });
    const { stats } = await worker.next("stats");
    assert.deepEqual([stats.accepted, stats.messages, stats.receivedBytes], [1, 1, 5]);
    worker.tell({ type: "stop" });
    const stopped = await worker.next("stopped");
    assert.equal(stopped.stats.closed.end_of_input, 1, "its last counts, the close included");
    const logs = worker.logs();
    assert.match(logs[0], /^\[worker 3\] #2 127\.0\.0\.1:\d+ connected$/);
    assert(logs.every((line) => line.startsWith("[worker 3] ")), logs.join("\n"));
  },
});

Deno.test({
  name: "A worker that cannot listen says why, by the error's name",
  ignore: !mayLoad,
  async fn() {
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 }); // without SO_REUSEPORT
    using worker = startWorker();
    worker.tell({
      type: "start",
      worker: 1,
      options: { hostname: "127.0.0.1", port: taken.addr.port },
      log: false,
      metrics: false,
      slots: SharedSlots.buffer(),
    });
    assert.equal((await worker.next("cannot listen")).name, "AddrInUse");
  },
});
