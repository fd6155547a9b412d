/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * One worker of `--parallel`: the same server as a single process runs, on its
 * own thread and listener, sharing the port with the other workers through
 * `SO_REUSEPORT` and their ids and connection slots through `Atomics`. Its log
 * lines go to the main thread, which writes them as one stream.
 * `server/parallel.ts` starts it and speaks the messages it defines.
 *
 * @module
 */

import { listenWith } from "./listen.ts";
import { resolveSettings } from "./settings.ts";
import { SharedSlots } from "./slots.ts";
import { ServerStats, watchLoopDelay } from "./stats.ts";
import type { ToWorker, WorkerReport } from "./parallel.ts";
import type { AcceptLoop } from "./accept_loop.ts";

let server: AcceptLoop | undefined;

function report(message: WorkerReport): void {
  self.postMessage(message);
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === "start") start(message);
  else if (message.type === "scrape") report({ type: "stats", stats: counts() });
  else {
    // A worker that never listened has nothing to stop, but says it has stopped all the same.
    const stopping = server?.stop().catch(() => {}) ?? Promise.resolve();
    void stopping.then(() => report({ type: "stopped", stats: counts() }));
  }
};

function counts() {
  return server?.snapshot() ?? new ServerStats().snapshot();
}

function start(
  { worker, options, log, metrics, slots }: Extract<ToWorker, { type: "start" }>,
): void {
  const settings = resolveSettings({
    ...options,
    reusePort: true,
    log: log ? (line) => report({ type: "log", line }) : null,
  });
  try {
    server = listenWith({ ...settings, worker, slots: new SharedSlots(slots) });
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    return report({ type: "cannot listen", name, message });
  }
  if (metrics) watchLoopDelay(server.stats);
  report({ type: "listening", port: server.addr.port });
  // A listener that failed for good fails the whole server, as in one process.
  server.finished.catch((error) => report({ type: "failed", message: String(error.message) }));
}
