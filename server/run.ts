/**
 * Running the server as a program, once its command line is read: it starts
 * the server (in this thread, or as `--parallel` workers) and the `--metrics`
 * endpoint, says where they listen, serves until SIGINT or SIGTERM, then
 * stops cleanly and exits 0. A server that fails for good is reported in one
 * line and exits 70 (`EX_SOFTWARE`), so that a supervisor restarts it.
 *
 * @module
 */

import { EXIT } from "../cli/exit_status.ts";
import { giveUpReading } from "../cli/argument_files.ts";
import { formatAddress } from "../io/socket.ts";
import { type AcceptLoop, ServerFailedError, type UppercaseServer } from "./accept_loop.ts";
import { describeListenError, type ServerCommand } from "./command_line.ts";
import { listenWith } from "./listen.ts";
import { type LogFormat, Logger } from "./log.ts";
import { type MetricsEndpoint, type MetricsSource, serveMetrics } from "./metrics.ts";
import { ParallelServer } from "./parallel.ts";
import { resolveSettings } from "./settings.ts";
import { watchLoopDelay } from "./stats.ts";

/** What a program needs of a running server: to stop it, and to know when it has. */
export type Stoppable = Pick<UppercaseServer, "stop" | "finished">;

/**
 * Runs the server the command line asks for until a signal stops it.
 *
 * @param command What the command line gave, with the TLS files read into its options.
 * @returns The exit status.
 */
export async function runServer(command: ServerCommand): Promise<number> {
  const { options, workers, metrics: metricsAddress, tlsFiles } = command;
  const settings = resolveSettings(options);
  const logger = settings.log && new Logger(settings.log, settings.logFormat);
  let server: AcceptLoop | ParallelServer;
  try {
    server = workers > 1
      ? await ParallelServer.start(options, {
        count: workers,
        metrics: metricsAddress !== undefined,
      })
      : listenWith(settings);
  } catch (error) {
    if (error instanceof ServerFailedError) return reportFailure(error, settings.logFormat);
    console.error(describeListenError(error, formatAddress(settings), { tlsFiles }));
    return EXIT.CANNOT_LISTEN;
  }
  let metrics: MetricsEndpoint | undefined;
  if (metricsAddress) {
    try {
      metrics = serveMetrics(metricsSource(server), {
        address: metricsAddress,
        maxConnections: settings.maxConnections,
      });
    } catch (error) {
      await server.stop();
      const about = { what: "serve metrics", hostFlag: "--metrics", portFlag: "--metrics" };
      console.error(describeListenError(error, formatAddress(metricsAddress), about));
      return EXIT.CANNOT_LISTEN;
    }
  }
  // Only now: the workers, if any, have loaded their code.
  giveUpReading();
  const address = formatAddress(server.addr);
  console.log(
    `Listening on ${address}${workers > 1 ? ` with ${workers} workers` : ""} (Ctrl-C to stop)`,
  );
  const metricsUrl = metrics && `http://${formatAddress(metrics.addr)}/metrics`;
  if (metricsUrl) console.log(`Metrics on ${metricsUrl}`);
  logger?.log({
    event: "listening",
    address,
    workers: workers > 1 ? workers : undefined,
    metrics: metricsUrl,
  });
  const status = await runUntilStopped(server, settings.logFormat);
  if (status === EXIT.OK) logger?.log({ event: "stopped" });
  // The endpoint stays up to the end, so that the last scrape sees the drain.
  await metrics?.shutdown();
  return status;
}

/** What the metrics endpoint reads: the workers' counts, or this thread's own, its loop watched. */
function metricsSource(server: AcceptLoop | ParallelServer): MetricsSource {
  if (!(server instanceof ParallelServer)) watchLoopDelay(server.stats);
  return server;
}

/**
 * Serves until SIGINT or SIGTERM (SIGINT alone on Windows), or until the
 * server fails for good.
 *
 * @param server The running server.
 * @param format How to write a failure: one line of text, or a JSON object.
 * @returns {@linkcode EXIT.OK} after a signal, {@linkcode EXIT.SOFTWARE} after a failure.
 */
export async function runUntilStopped(
  server: Stoppable,
  format: LogFormat = "text",
): Promise<number> {
  const stop = () => void server.stop().catch(() => {}); // a failure is reported below
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  try {
    await server.finished;
    return EXIT.OK;
  } catch (error) {
    if (!(error instanceof ServerFailedError)) throw error;
    return reportFailure(error, format);
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, stop);
  }
}

/** Reports a server that failed for good, even with `--quiet`, and gives {@linkcode EXIT.SOFTWARE}. */
function reportFailure(error: ServerFailedError, format: LogFormat): number {
  new Logger(console.error, format).log({ event: "failed", detail: error.message });
  return EXIT.SOFTWARE;
}
