/**
 * The uppercase TCP server: it answers every message with the message in
 * UPPERCASE and closes a client's connection when the client sends
 * `DESCONEXION`, while it keeps serving everyone else.
 *
 * Try it: `deno task server`, then `echo "hola servidor" | nc 127.0.0.1 5000`.
 *
 * The protocol itself lives in `protocol.ts`. This module holds `serve()` and
 * the command line; `server/run.ts` runs the program, `server/accept_loop.ts`
 * accepts and stops, `server/connection.ts` serves one client,
 * `server/settings.ts` fills in the defaults.
 *
 * @module
 */

import { readCommandLine } from "./cli/flags.ts";
import { EXIT } from "./cli/exit_status.ts";
import { readArgumentFiles, readPemFile } from "./cli/argument_files.ts";
import type { UppercaseServer } from "./server/accept_loop.ts";
import { WORKER_MODULE } from "./server/parallel.ts";
import { listenWith } from "./server/listen.ts";
import { resolveSettings, type ServeOptions } from "./server/settings.ts";
import { SERVER_COMMAND_LINE, WORKERS_NEED_READ_ACCESS } from "./server/command_line.ts";
import { runServer } from "./server/run.ts";

export {
  ServerFailedError,
  STOP_GRACE_MS,
  type TcpAddr,
  type UppercaseServer,
} from "./server/accept_loop.ts";
export { DEFAULT_MAX_CONNECTIONS, type ServeOptions } from "./server/settings.ts";
export type { LogFormat } from "./server/log.ts";
export type { CloseReason, RefuseReason, ServerStats, StatsSnapshot } from "./server/stats.ts";

/**
 * Starts the server.
 *
 * @example Answering one message
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "./server.ts";
 *
 * await using server = serve({ port: 0, log: null });
 * using conn = await Deno.connect(server.addr);
 * await conn.write(new TextEncoder().encode("hola servidor\n"));
 * const buffer = new Uint8Array(64);
 * const n = await conn.read(buffer);
 * assert.equal(new TextDecoder().decode(buffer.subarray(0, n!)), "HOLA SERVIDOR\n");
 * ```
 *
 * @param options Where to listen and the protocol's limits.
 * @returns The running server.
 * @throws {Deno.errors.AddrInUse} When the address is taken, and the other errors of `Deno.listen`.
 * @throws {RangeError} When `trustedProxies` holds something that is not a CIDR range.
 * @throws {TypeError} When both `tls` and `proxyProtocol` are asked for.
 * @throws {Deno.errors.InvalidData} When `tls` holds no certificate or no key.
 */
export function serve(options: ServeOptions = {}): UppercaseServer {
  return listenWith(resolveSettings(options));
}

/**
 * Runs the server's command line until SIGINT or SIGTERM.
 *
 * @param args The command-line arguments.
 * @returns The exit status.
 */
export async function main(args: string[]): Promise<number> {
  const command = readCommandLine(args, SERVER_COMMAND_LINE);
  if (typeof command === "number") return command;
  const { options, tlsFiles } = command;
  const tls = await readArgumentFiles(async () =>
    tlsFiles && {
      cert: await readPemFile(tlsFiles.cert, { what: "TLS certificate", label: "CERTIFICATE" }),
      key: await readPemFile(tlsFiles.key, { what: "TLS private key", label: "PRIVATE KEY" }),
    }
  );
  if (typeof tls === "number") return tls;
  options.tls = tls;
  if (command.workers > 1 && !mayStartWorkers()) {
    console.error(WORKERS_NEED_READ_ACCESS);
    return EXIT.USAGE;
  }
  return await runServer(command);
}

/** Whether the workers of `--parallel` may load their code, which takes read access to it. */
function mayStartWorkers(): boolean {
  return Deno.permissions.querySync({ name: "read", path: WORKER_MODULE }).state === "granted";
}

if (import.meta.main) Deno.exit(await main(Deno.args));
