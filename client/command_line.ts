/**
 * The client's command line: its flags, its `--help` text, and the server and
 * limit the flags give. `client.ts` runs it with `cli/flags.ts`'s `readCommandLine`.
 *
 * @module
 */

import { DEFAULT_HOSTNAME, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_PORT } from "../protocol.ts";
import {
  type CommandLine,
  commandLine,
  type Flags,
  integerFlag,
  messageLimitFlag,
  UsageError,
} from "../cli/flags.ts";
import {
  type ClientOptions,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_REPLY_TIMEOUT_MS,
  DEFAULT_RETRY_FOR_MS,
} from "./options.ts";

/** The client's flags. */
export const CLIENT_FLAGS = {
  host: { value: "<address>", default: DEFAULT_HOSTNAME, help: "Server address" },
  port: { value: "<n>", default: DEFAULT_PORT, help: "Server port" },
  "max-message-bytes": {
    value: "<n>",
    default: DEFAULT_MAX_MESSAGE_BYTES,
    help: "Longest message to send; raise it with the server's",
  },
  tls: { help: "Speak TLS, checking the server's certificate against the system's authorities" },
  ca: { value: "<file>", help: "Also trust this CA or certificate (PEM); implies `--tls`" },
  "connect-timeout": {
    value: "<s>",
    default: DEFAULT_CONNECT_TIMEOUT_MS / 1000,
    help: "Give up on one attempt to connect (TLS handshake included) after this long",
  },
  "reply-timeout": {
    value: "<s>",
    default: DEFAULT_REPLY_TIMEOUT_MS / 1000,
    help: "Count the connection lost when messages wait this long with nothing from the server",
  },
  reconnect: {
    help: "When the connection is lost, connect again and resend the lines not yet answered",
  },
  "retry-for": {
    value: "<s>",
    default: DEFAULT_RETRY_FOR_MS / 1000,
    help: "With `--reconnect`: give up after this long without a working connection",
  },
  help: { short: "h", help: "Usage and examples" },
  version: { short: "V", help: "The version" },
} as const satisfies Flags;

/** The server to connect to, the message limit, reconnecting, and the CA file to read, as the flags give them. */
export interface ClientTarget extends
  Pick<
    ClientOptions,
    | "hostname"
    | "port"
    | "maxMessageBytes"
    | "connectTimeoutMs"
    | "replyTimeoutMs"
    | "reconnect"
    | "retryForMs"
  > {
  /** Speak TLS. */
  tls: boolean;
  /** A CA or certificate file to trust too, to be read before connecting. */
  caFile?: string;
}

/** The client's command line: flags to the server and limit; `--help` and `--version`. */
export const CLIENT_COMMAND_LINE: CommandLine<typeof CLIENT_FLAGS, ClientTarget> = commandLine(
  "client",
  {
    flags: CLIENT_FLAGS,
    summary: "sends messages to an uppercase server.",
    notes: `At a terminal it prompts for messages, with line editing and history (Up, Down).
DESCONEXION or Ctrl-D disconnects and exits 0; Ctrl-C disconnects and exits 130.
With piped input it prints only the replies, one per line:
  deno task client < in.txt > out.txt
  producer | deno task client | head -5`,
    read: (flags) => ({
      hostname: flags.host,
      port: integerFlag(flags.port, { name: "--port", min: 1, max: 65535 }),
      maxMessageBytes: messageLimitFlag(flags["max-message-bytes"]),
      tls: Boolean(flags.tls || flags.ca),
      caFile: flags.ca,
      connectTimeoutMs: seconds("connect-timeout", flags["connect-timeout"]),
      replyTimeoutMs: seconds("reply-timeout", flags["reply-timeout"]),
      reconnect: flags.reconnect,
      retryForMs: retryFor(flags["retry-for"], { reconnect: flags.reconnect }),
    }),
  },
);

function retryFor(
  value: string | undefined,
  { reconnect }: { reconnect?: boolean },
): number | undefined {
  if (value !== undefined && !reconnect) throw new UsageError("--retry-for needs --reconnect");
  return seconds("retry-for", value);
}

/** A flag's whole seconds, from 1 s to a day, in ms. */
function seconds(name: string, value: string | undefined): number | undefined {
  const whole = integerFlag(value, { name: `--${name}`, min: 1, max: 24 * 3600 });
  return whole === undefined ? undefined : whole * 1000;
}
