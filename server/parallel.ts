/**
 * `--parallel`: one server process that uses every core, as `deno serve
 * --parallel` does for HTTP. It starts one `Worker` per core (or as many as
 * asked), each running the same server on its own listener with
 * `SO_REUSEPORT`, so that the kernel spreads new connections among them.
 *
 * To the outside it is one server: connection ids and `--max-connections`
 * slots are shared through `Atomics` (`server/slots.ts`); the workers' log
 * lines are written by this thread, one whole line at a time, each naming its
 * worker; a signal stops every worker; and a worker that fails stops the
 * whole process with {@linkcode ServerFailedError}, so that a supervisor
 * restarts it rather than leaving it half alive.
 *
 * @module
 */

import { SharedSlots } from "./slots.ts";
import { addSnapshots, ServerStats, type StatsSnapshot } from "./stats.ts";
import { ServerFailedError, STOP_GRACE_MS, type TcpAddr } from "./accept_loop.ts";
import { resolveSettings, type ServeOptions } from "./settings.ts";
import { DRAIN_MS, withTimeout } from "../io/socket.ts";

/** The worker module every worker runs. */
export const WORKER_MODULE: URL = new URL("./worker.ts", import.meta.url);

/** What the main thread tells a worker. */
export type ToWorker =
  | {
    type: "start";
    /** The worker's number, from 1, for its log lines. */
    worker: number;
    /** The server's options; the port is the one every worker shares. */
    options: Omit<ServeOptions, "log">;
    /** Whether it logs connections. */
    log: boolean;
    /** Whether it measures how late its event loop runs, for `--metrics`. */
    metrics: boolean;
    /** The ids and slots every worker shares, from `SharedSlots.buffer()`. */
    slots: SharedArrayBuffer;
  }
  | { type: "scrape" }
  | { type: "stop" };

/** What a worker tells the main thread. */
export type WorkerReport =
  | { type: "listening"; port: number }
  | { type: "cannot listen"; name: string; message: string }
  | { type: "log"; line: string }
  | { type: "failed"; message: string }
  | { type: "stats"; stats: StatsSnapshot }
  | { type: "stopped"; stats: StatsSnapshot };

/** Longest a worker is given to stop before it is terminated, in ms. */
const WORKER_STOP_MS = STOP_GRACE_MS + DRAIN_MS + 250;

/** A server run by several workers, as {@linkcode serveInParallel} starts it. */
export class ParallelServer {
  /** The address every worker listens on. */
  readonly addr: TcpAddr;
  /** How many workers serve it. */
  readonly workers: number;
  /**
   * Settles once every worker has stopped; rejects with a
   * {@linkcode ServerFailedError} when a worker failed.
   */
  readonly finished: Promise<void>;
  readonly #threads: Thread[];
  readonly #done = Promise.withResolvers<void>();
  #stopping: Promise<void> | undefined;

  /** Whether it still accepts connections: false from the moment it starts stopping. */
  get accepting(): boolean {
    return this.#stopping === undefined;
  }

  /** Every worker's counts, summed; a worker that has stopped gives its last. */
  async snapshot(): Promise<StatsSnapshot> {
    return addSnapshots(await Promise.all(this.#threads.map((thread) => thread.snapshot())));
  }

  private constructor(addr: TcpAddr, threads: Thread[]) {
    this.addr = addr;
    this.workers = threads.length;
    this.#threads = threads;
    this.finished = this.#done.promise;
    for (const thread of threads) {
      thread.failed.then((why) => this.#fail(why));
    }
  }

  /**
   * Starts workers listening on the address `options` give.
   *
   * @param options The server's options, as for `serve()`.
   * @param workers `count`: how many, at least 2; `metrics`: whether they
   *   measure their event loops' delay, for `--metrics`; `module`: the worker
   *   module, which a test may give its own.
   * @returns The server, once every worker listens.
   * @throws {Deno.errors.AddrInUse} And the other errors of `Deno.listen`, when a worker cannot listen.
   */
  static async start(
    options: ServeOptions,
    workers: { count: number; metrics?: boolean; module?: URL },
  ): Promise<ParallelServer> {
    const { count, metrics = false, module = WORKER_MODULE } = workers;
    const settings = resolveSettings(options);
    const { hostname, log } = settings;
    let port = settings.port;
    if (!settings.reusePort) {
      // Without --reuse-port the port must be free, as for one process: the
      // workers' listeners would share it with any other SO_REUSEPORT listener.
      using probe = Deno.listen({ hostname, port });
      port = probe.addr.port;
    }
    const slots = SharedSlots.buffer();
    const threads: Thread[] = [];
    const startOne = (worker: number) => {
      const thread = new Thread(module, log);
      threads.push(thread);
      const { log: _, ...rest } = options;
      return thread.start({
        type: "start",
        worker,
        options: { ...rest, hostname, port },
        log: log !== undefined,
        metrics,
        slots,
      });
    };
    try {
      // The first one alone: with --reuse-port and port 0, it picks the port the others take.
      port = await startOne(1);
      await Promise.all(Array.from({ length: count - 1 }, (_, i) => startOne(i + 2)));
    } catch (error) {
      for (const thread of threads) thread.terminate();
      throw error;
    }
    return new ParallelServer({ transport: "tcp", hostname, port }, threads);
  }

  /** Stops every worker as `stop()` stops one server, then ends their threads. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await Promise.all(this.#threads.map((thread) => thread.stop()));
      this.#done.resolve();
    })();
    return this.#stopping.then(() => this.finished);
  }

  #fail(why: string): void {
    if (this.#stopping) return;
    this.#stopping = (async () => {
      await Promise.all(this.#threads.map((thread) => thread.stop()));
      this.#done.reject(new ServerFailedError(why));
    })();
  }
}

/** One worker, seen from the main thread. */
class Thread {
  /** Settles with why, if the worker fails after it started listening. */
  readonly failed: Promise<string>;
  readonly #worker: Worker;
  readonly #failed = Promise.withResolvers<string>();
  readonly #stopped = Promise.withResolvers<void>();
  #listening = Promise.withResolvers<number>();
  #number = 0;
  /** Scrapes waiting for the worker's counts, in the order they were asked. */
  readonly #scrapes: ((stats: StatsSnapshot) => void)[] = [];
  /** The worker's counts when it stopped, or when its thread ended. */
  #last: StatsSnapshot = new ServerStats().snapshot();
  #ended = false;

  constructor(module: URL, log: ((line: string) => void) | undefined) {
    this.failed = this.#failed.promise;
    this.#worker = new Worker(module, { type: "module" });
    this.#worker.onmessage = ({ data }: MessageEvent<WorkerReport>) => {
      if (data.type === "log") log?.(data.line);
      else if (data.type === "listening") this.#listening.resolve(data.port);
      else if (data.type === "cannot listen") this.#listening.reject(listenError(data));
      else if (data.type === "failed") this.#fail(data.message);
      else if (data.type === "stats") this.#scrapes.shift()?.(data.stats);
      else {
        this.#last = data.stats;
        this.#stopped.resolve();
      }
    };
    this.#worker.onerror = (event) => {
      event.preventDefault(); // handled here: it must not end the process uncaught
      this.#fail(event.message);
    };
  }

  /** Starts the worker's server; settles with its port once it listens. */
  start(message: Extract<ToWorker, { type: "start" }>): Promise<number> {
    this.#number = message.worker;
    this.#worker.postMessage(message);
    return this.#listening.promise;
  }

  /** The worker's counts now; its last ones once it has stopped. */
  snapshot(): Promise<StatsSnapshot> {
    if (this.#ended) return Promise.resolve(this.#last);
    return new Promise((resolve) => {
      this.#scrapes.push(resolve);
      this.#worker.postMessage({ type: "scrape" } satisfies ToWorker);
    });
  }

  /** Asks the worker to stop, waits for it within reason, and ends its thread. */
  async stop(): Promise<void> {
    this.#worker.postMessage({ type: "stop" } satisfies ToWorker);
    await withTimeout(this.#stopped.promise, WORKER_STOP_MS);
    this.terminate();
  }

  /** Ends the worker's thread at once. */
  terminate(): void {
    this.#ended = true;
    this.#worker.terminate();
    this.#stopped.resolve();
    for (const answer of this.#scrapes.splice(0)) answer(this.#last);
  }

  #fail(message: string): void {
    const why = `Worker ${this.#number} failed: ${message}`;
    this.#ended = true;
    this.#listening.reject(new ServerFailedError(why));
    this.#failed.resolve(why);
    this.#stopped.resolve();
    for (const answer of this.#scrapes.splice(0)) answer(this.#last);
  }
}

/** The error a worker's `Deno.listen` threw, as its class, so that it is described as in one process. */
function listenError({ name, message }: { name: string; message: string }): Error {
  const type = Object.hasOwn(Deno.errors, name)
    ? Deno.errors[name as keyof typeof Deno.errors]
    : Error;
  return new type(message);
}
