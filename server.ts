/**
 * The uppercase TCP server: it answers every message with the message in
 * UPPERCASE and closes a client's connection when the client sends
 * `DESCONEXION`, while it keeps serving everyone else.
 *
 * Try it: `deno task server`, then `echo "hola servidor" | nc 127.0.0.1 5000`.
 *
 * The protocol itself lives in `protocol.ts`. This module holds `serve()` and
 * the command line; `server/accept_loop.ts` accepts and stops,
 * `server/connection.ts` serves one client, `server/settings.ts` fills in the
 * defaults.
 *
 * @module
 */

import {
  DEFAULT_FLUSH_DELAY_MS,
  DEFAULT_HOSTNAME,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_PORT,
} from "./protocol.ts";
import {
  integerFlag,
  MAX_MESSAGE_BYTES_RANGE,
  parseFlags,
  reportUsageError,
  UsageError,
  VERSION,
} from "./cli.ts";
import { AcceptLoop, type UppercaseServer } from "./server/accept_loop.ts";
import { DEFAULT_MAX_CONNECTIONS, resolveSettings, type ServeOptions } from "./server/settings.ts";

export { STOP_GRACE_MS, type TcpAddr, type UppercaseServer } from "./server/accept_loop.ts";
export { DEFAULT_MAX_CONNECTIONS, type ServeOptions } from "./server/settings.ts";

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
 */
export function serve(options: ServeOptions = {}): UppercaseServer {
  const settings = resolveSettings(options);
  const listener = Deno.listen({ hostname: settings.hostname, port: settings.port });
  return new AcceptLoop(listener, settings);
}

const USAGE = `uppercase-tcp server ${VERSION}: answers each line with the line in UPPERCASE.

Usage:
  deno task server [options]
  deno run --allow-net server.ts [options]

Options:
  --host <address>            Address to listen on (default ${DEFAULT_HOSTNAME})
  --port <n>                  Port to listen on; 0 picks a free one (default ${DEFAULT_PORT})
  --flush-delay <ms>          Answer unterminated input after this quiet pause;
                              0 waits for a newline (default ${DEFAULT_FLUSH_DELAY_MS})
  --max-message-bytes <n>     Longest message; longer ones get an ERROR line and
                              the connection is closed (default ${DEFAULT_MAX_MESSAGE_BYTES})
  --max-connections <n>       Most clients served at once; one more gets an
                              ERROR line and is closed (default ${DEFAULT_MAX_CONNECTIONS})
  --idle-timeout <seconds>    Close a connection that sends nothing, or reads
                              none of its replies, for this long; 0 never does
                              (default 0)
  --quiet                     Do not log connections on stderr
  -h, --help                  Show this help
  -V, --version               Show the version

Examples:
  deno task server --port 6000
  echo "hola servidor" | nc 127.0.0.1 5000      # prints HOLA SERVIDOR

Stop it with Ctrl-C (or SIGTERM): it closes every connection and exits 0.`;

/** Exit status when the server cannot listen (address in use, no permission). */
export const EXIT_CANNOT_LISTEN = 3;

/**
 * Runs the server's command line until SIGINT or SIGTERM.
 *
 * @param args The command-line arguments.
 * @returns The exit status.
 */
export async function main(args: string[]): Promise<number> {
  let options: ServeOptions;
  try {
    const flags = parseFlags(args, {
      host: { type: "string" },
      port: { type: "string" },
      "flush-delay": { type: "string" },
      "max-message-bytes": { type: "string" },
      "max-connections": { type: "string" },
      "idle-timeout": { type: "string" },
      quiet: { type: "boolean" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "V" },
    });
    if (flags.help) return print(USAGE);
    if (flags.version) return print(VERSION);
    options = {
      hostname: flags.host ?? DEFAULT_HOSTNAME,
      port: integerFlag("port", flags.port, { fallback: DEFAULT_PORT, min: 0, max: 65535 }),
      flushDelayMs: integerFlag("flush-delay", flags["flush-delay"], {
        fallback: DEFAULT_FLUSH_DELAY_MS,
        min: 0,
        max: 60_000,
      }),
      maxMessageBytes: integerFlag("max-message-bytes", flags["max-message-bytes"], {
        fallback: DEFAULT_MAX_MESSAGE_BYTES,
        ...MAX_MESSAGE_BYTES_RANGE,
      }),
      maxConnections: integerFlag("max-connections", flags["max-connections"], {
        fallback: DEFAULT_MAX_CONNECTIONS,
        min: 1,
        max: 1_000_000,
      }),
      idleTimeoutMs: 1000 * integerFlag("idle-timeout", flags["idle-timeout"], {
        fallback: 0,
        min: 0,
        max: 7 * 24 * 3600,
      }),
      log: flags.quiet ? null : undefined,
    };
  } catch (error) {
    if (error instanceof UsageError) return reportUsageError(error);
    throw error;
  }

  let server: UppercaseServer;
  try {
    server = serve(options);
  } catch (error) {
    console.error(describeListenError(error, `${options.hostname}:${options.port}`));
    return EXIT_CANNOT_LISTEN;
  }
  console.log(`Listening on ${server.addr.hostname}:${server.addr.port} (Ctrl-C to stop)`);
  const stop = () => void server.stop();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  await server.finished;
  for (const signal of signals) Deno.removeSignalListener(signal, stop);
  return 0;
}

function describeListenError(error: unknown, address: string): string {
  const action = `Cannot listen on ${address}`;
  if (error instanceof Deno.errors.AddrInUse) {
    return `${action}: address already in use. Stop the program using it, or pick another port with --port`;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return `${action}: permission denied. Ports below 1024 need privileges; pick another with --port`;
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return `${action}: no such address on this machine. Check --host`;
  }
  if (error instanceof Deno.errors.NotCapable) {
    return `${action}: network access not granted. Run it with deno task server, or deno run --allow-net`;
  }
  return `${action}: ${error instanceof Error ? error.message : error}`;
}

function print(text: string): number {
  console.log(text);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
