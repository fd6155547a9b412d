/**
 * `--metrics`: an HTTP endpoint beside the protocol's port, for Prometheus
 * and for health checks. `GET /metrics` answers the server's counts in
 * Prometheus' text format; `GET /healthz` answers 200 while the server
 * accepts connections and 503 from the moment it starts stopping (a
 * Kubernetes readiness probe); anything else is 404. `HEAD` answers as `GET`
 * does, without the body. It is served by `http_endpoint.ts`, whose limits
 * keep it from ever taking the server down.
 *
 * The counts are gathered when Prometheus asks, from each worker, so that
 * serving clients costs nothing more than adding to plain numbers.
 *
 * @module
 */

import process from "node:process";
import { EXPOSITION_CONTENT_TYPE, type ProcessFigures, renderMetrics } from "./exposition.ts";
import type { StatsSnapshot } from "./stats.ts";
import {
  type HttpEndpoint,
  type HttpLimits,
  type HttpResponse,
  serveHttp,
} from "./http_endpoint.ts";
import config from "../deno.json" with { type: "json" };

/** What the endpoint reports on: a running server. */
export interface MetricsSource {
  /** Its counts now, summed over its workers. */
  snapshot(): StatsSnapshot | Promise<StatsSnapshot>;
  /** Whether it still accepts connections. */
  readonly accepting: boolean;
}

/** A running endpoint. */
export type MetricsEndpoint = HttpEndpoint;

/**
 * Starts the endpoint.
 *
 * @param source The server it reports on.
 * @param options `address`: where to listen, port 0 picking a free one;
 *   `maxConnections`: the server's `--max-connections`, reported beside its
 *   counts; `limits`: the HTTP limits, for tests.
 * @returns The running endpoint.
 * @throws {Deno.errors.AddrInUse} And the other errors of `Deno.listen`.
 */
export function serveMetrics(
  source: MetricsSource,
  options: {
    address: { hostname: string; port: number };
    maxConnections: number;
    limits?: HttpLimits;
  },
): MetricsEndpoint {
  const facts = {
    maxConnections: options.maxConnections,
    version: config.version,
    deno: Deno.version.deno,
  };
  return serveHttp(options.address, async (path): Promise<HttpResponse> => {
    if (path === "/metrics") {
      const body = renderMetrics({
        stats: await source.snapshot(),
        server: facts,
        process: processFigures(),
      });
      return { status: 200, type: EXPOSITION_CONTENT_TYPE, body };
    }
    if (path === "/healthz") {
      return source.accepting ? { status: 200, body: "ok\n" } : { status: 503, body: "stopping\n" };
    }
    return { status: 404, body: "not found: try /metrics or /healthz\n" };
  }, options.limits);
}

/** The process's figures now: every thread's CPU time and memory, and its file descriptors where it may read them. */
function processFigures(): ProcessFigures {
  const { user, system } = process.cpuUsage();
  return {
    cpuSeconds: (user + system) / 1e6,
    residentBytes: Deno.memoryUsage().rss,
    startTimeSeconds: performance.timeOrigin / 1000,
    openFds: fromProc(() => [...Deno.readDirSync("/proc/self/fd")].length),
    maxFds: fromProc(() => {
      const limits = Deno.readTextFileSync("/proc/self/limits");
      return Number(limits.match(/^Max open files\s+(\d+)/m)?.[1] ?? NaN);
    }),
  };
}

/**
 * A figure from `/proc/self`. Deno reads /proc only with `--allow-all`
 * (denoland/deno#23703): without it, file descriptors cannot be counted, and
 * are left out, as client libraries leave them out where there is no /proc.
 * The permission is asked first, so that Deno never prompts for it at a terminal.
 */
function fromProc(read: () => number): number | undefined {
  if (Deno.permissions.querySync({ name: "read", path: "/proc/self" }).state !== "granted") {
    return undefined;
  }
  try {
    const value = read();
    return Number.isNaN(value) ? undefined : value;
  } catch {
    return undefined; // not without --allow-all, or no /proc
  }
}
