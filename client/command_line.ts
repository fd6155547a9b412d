/**
 * The client's command line: its flags, its `--help` text, and what the flags
 * ask for. `client.ts` runs it.
 *
 * @module
 */

import { DEFAULT_HOSTNAME, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_PORT } from "../protocol.ts";
import {
  exitHelp,
  type Flags,
  integerFlag,
  MAX_MESSAGE_BYTES_RANGE,
  optionsHelp,
  parseFlags,
  VERSION,
} from "../cli.ts";

/** The client's flags. */
export const CLIENT_FLAGS = {
  host: { value: "<address>", default: DEFAULT_HOSTNAME, help: "Server address" },
  port: { value: "<n>", default: DEFAULT_PORT, help: "Server port" },
  "max-message-bytes": {
    value: "<n>",
    default: DEFAULT_MAX_MESSAGE_BYTES,
    help: "Longest message to send; raise it with the server's",
  },
  help: { short: "h", help: "Usage and examples" },
  version: { short: "V", help: "The version" },
} as const satisfies Flags;

/** The client's `--help` text. */
export const CLIENT_USAGE =
  `uppercase-tcp client ${VERSION}: sends messages to an uppercase server.

Usage:
  deno task client [options]
  deno run --allow-net client.ts [options]

Options:
${optionsHelp(CLIENT_FLAGS)}

At a terminal it prompts for messages, with line editing and history (Up, Down).
DESCONEXION or Ctrl-D disconnects and exits 0; Ctrl-C disconnects and exits 130.
With piped input it prints only the replies, one per line:
  deno task client < in.txt > out.txt
  producer | deno task client | head -5

Exit status:
${exitHelp("client")}`;

/** What the command line asks for: help, the version, or a session with this server. */
export type ClientCommand =
  | { run: "help" }
  | { run: "version" }
  | { run: "connect"; hostname?: string; port?: number; maxMessageBytes?: number };

/**
 * Reads the client's command line. Flags left out stay `undefined`, for
 * `runClient()` to fill in.
 *
 * @example Reading a port
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseClientArgs } from "./command_line.ts";
 *
 * assert.deepEqual(parseClientArgs(["--port", "6000"]), {
 *   run: "connect",
 *   hostname: undefined,
 *   port: 6000,
 *   maxMessageBytes: undefined,
 * });
 * ```
 *
 * @param args The command-line arguments.
 * @returns What to do.
 * @throws {UsageError} For an unknown flag, a missing value or a bad number.
 */
export function parseClientArgs(args: string[]): ClientCommand {
  const flags = parseFlags(args, CLIENT_FLAGS);
  if (flags.help) return { run: "help" };
  if (flags.version) return { run: "version" };
  return {
    run: "connect",
    hostname: flags.host,
    port: integerFlag("port", flags.port, { min: 1, max: 65535 }),
    maxMessageBytes: integerFlag(
      "max-message-bytes",
      flags["max-message-bytes"],
      MAX_MESSAGE_BYTES_RANGE,
    ),
  };
}
