/**
 * Running a server as a program: it serves until SIGINT or SIGTERM, then
 * stops cleanly and exits 0; a server that fails for good is reported in one
 * line and exits 70 (`EX_SOFTWARE`), so that a supervisor restarts it.
 *
 * @module
 */

import { EXIT } from "../cli/exit_status.ts";
import { ServerFailedError, type UppercaseServer } from "./accept_loop.ts";

/** What a program needs of a running server: to stop it, and to know when it has. */
export type Stoppable = Pick<UppercaseServer, "stop" | "finished">;

/**
 * Serves until SIGINT or SIGTERM (SIGINT alone on Windows), or until the
 * server fails for good.
 *
 * @param server The running server.
 * @returns {@linkcode EXIT.OK} after a signal, {@linkcode EXIT.SOFTWARE} after a failure.
 */
export async function runUntilStopped(server: Stoppable): Promise<number> {
  const stop = () => void server.stop().catch(() => {}); // a failure is reported below
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  try {
    await server.finished;
    return EXIT.OK;
  } catch (error) {
    if (!(error instanceof ServerFailedError)) throw error;
    console.error(error.message);
    return EXIT.SOFTWARE;
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, stop);
  }
}
