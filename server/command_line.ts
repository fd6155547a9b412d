/**
 * The server's command line: its flags, its `--help` text, the `serve()`
 * options the flags give, and what to tell people when it cannot listen.
 * `server.ts` runs it with `cli/flags.ts`'s `readCommandLine`.
 *
 * @module
 */

import {
  DEFAULT_FLUSH_DELAY_MS,
  DEFAULT_HOSTNAME,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_PORT,
} from "../protocol.ts";
import {
  type CommandLine,
  commandLine,
  type Flags,
  type FlagValues,
  integerFlag,
  messageLimitFlag,
  UsageError,
} from "../cli/flags.ts";
import {
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_TRUSTED_PROXIES,
  type ServeOptions,
  TLS_WITH_PROXY_PROTOCOL,
} from "./settings.ts";
import { AddressRanges } from "./ip.ts";
import { LOG_FORMATS, type LogFormat } from "./log.ts";

/** The server's flags. */
export const SERVER_FLAGS = {
  host: {
    value: "<address>",
    default: DEFAULT_HOSTNAME,
    help: "Address to listen on; `0.0.0.0` for every interface, `::1` for IPv6",
  },
  port: {
    value: "<n>",
    default: DEFAULT_PORT,
    help: "Port to listen on; `0` picks a free one (the port is printed)",
  },
  "flush-delay": {
    value: "<ms>",
    default: DEFAULT_FLUSH_DELAY_MS,
    help: "Quiet pause that ends an unterminated message; `0` turns it off",
  },
  "max-message-bytes": {
    value: "<n>",
    default: DEFAULT_MAX_MESSAGE_BYTES,
    help: "Longest message; longer ones get an `ERROR` line and are closed",
  },
  "max-connections": {
    value: "<n>",
    default: DEFAULT_MAX_CONNECTIONS,
    help: "Most clients served at once; one more gets an `ERROR` line",
  },
  "max-connections-per-address": {
    value: "<n>",
    help: "Most clients served at once from one address (the PROXY header's, behind a proxy)",
  },
  "idle-timeout": {
    value: "<s>",
    default: 0,
    help: "Close a connection silent (or not reading) this long; `0` never",
  },
  "reuse-port": { help: "Share the port with other server processes (`SO_REUSEPORT`, Linux)" },
  parallel: {
    value: "[<n>]",
    optional: true,
    help: "Serve with n workers, or one per core (`DENO_JOBS`), sharing the port (Linux)",
  },
  "proxy-protocol": {
    help: "Every connection starts with a PROXY header (HAProxy's `send-proxy`, `send-proxy-v2`)",
  },
  "trusted-proxies": {
    value: "<CIDR,...>",
    default: DEFAULT_TRUSTED_PROXIES,
    help: "With `--proxy-protocol`: who may connect; anyone else is closed at once",
  },
  "tls-cert": {
    value: "<file>",
    help: "Serve TLS with this certificate chain (PEM); needs `--tls-key`",
  },
  "tls-key": { value: "<file>", help: "The TLS certificate's private key (PEM)" },
  metrics: {
    value: "<host:port>",
    help:
      "Serve `/metrics` (Prometheus) and `/healthz` over HTTP there; a port alone is on 127.0.0.1",
  },
  "log-format": {
    value: "<text|json>",
    default: "text",
    help: "`text` for people; `json`, one object per line, for log shippers",
  },
  quiet: { help: "No connection log on stderr" },
  help: { short: "h", help: "Usage, options and examples" },
  version: { short: "V", help: "The version" },
} as const satisfies Flags;

/** What the server's command line asks for: `serve()` options, the TLS files to read into them, and how many workers. */
export interface ServerCommand {
  /** The options, `tls` aside. */
  options: ServeOptions;
  /** The certificate and key files, to be read before `serve()`. */
  tlsFiles?: { cert: string; key: string };
  /** How many workers serve (`--parallel`); 1 runs the server in the main thread alone. */
  workers: number;
  /** Where to serve `/metrics` and `/healthz` (`--metrics`), if anywhere. */
  metrics?: { hostname: string; port: number };
}

/** Why `--parallel` cannot start without read access, and what to do. */
export const WORKERS_NEED_READ_ACCESS =
  "--parallel needs read access to the server's own code, which each worker loads. " +
  "Run it with deno task server, or deno run --allow-net --allow-read";

/** The most workers `--parallel` starts. */
export const MAX_WORKERS = 256;

/** Where `--parallel` runs: what decides how many workers it starts, and whether it can. */
export interface Machine {
  /** As `Deno.build.os`. */
  os: string;
  /** How many cores, as `navigator.hardwareConcurrency`. */
  cores: number;
  /** `DENO_JOBS`, where the environment grants it. */
  jobs?: string;
}

/** This machine, as `--parallel` sees it. */
export function thisMachine(): Machine {
  const mayRead =
    Deno.permissions.querySync({ name: "env", variable: "DENO_JOBS" }).state === "granted";
  return {
    os: Deno.build.os,
    cores: navigator.hardwareConcurrency,
    jobs: mayRead ? Deno.env.get("DENO_JOBS") : undefined,
  };
}

/**
 * How many workers `--parallel` asks for: the count given; or, when it is
 * left out, `DENO_JOBS` or one per core, as for `deno serve --parallel`.
 *
 * @param value The flag's text: `undefined` when it is left out, `""` when given without a count.
 * @param machine Where the server runs.
 * @returns The count; 1 when the flag is left out.
 * @throws {UsageError} For a count that is not a whole number from 1 to {@linkcode MAX_WORKERS},
 *   and anywhere but on Linux.
 */
export function workerCount(value: string | undefined, machine: Machine): number {
  if (value === undefined) return 1;
  if (machine.os !== "linux") {
    throw new UsageError(
      "--parallel works on Linux only, where SO_REUSEPORT spreads connections among listeners. " +
        "Elsewhere, run one server per core behind a load balancer",
    );
  }
  const range = { min: 1, max: MAX_WORKERS };
  if (value !== "") return integerFlag(value, { name: "--parallel", ...range })!;
  if (machine.jobs === undefined) return Math.min(machine.cores, MAX_WORKERS);
  return integerFlag(machine.jobs, { name: "DENO_JOBS", ...range })!;
}

/** The server's command line: flags to `serve()` options; `--help` and `--version`. */
export const SERVER_COMMAND_LINE: CommandLine<typeof SERVER_FLAGS, ServerCommand> = commandLine(
  "server",
  {
    flags: SERVER_FLAGS,
    summary: "answers each line with the line in UPPERCASE.",
    notes: `Examples:
  deno task server --port 6000
  deno task server --host 0.0.0.0 --parallel   # every core, one worker each
  echo "hola servidor" | nc 127.0.0.1 5000      # prints HOLA SERVIDOR

Stop it with Ctrl-C (or SIGTERM): it closes every connection and exits 0.`,
    read: (flags) => ({
      options: serveOptionsFrom(flags),
      tlsFiles: tlsFilesFrom(flags),
      workers: workerCount(flags.parallel, thisMachine()),
      metrics: metricsAddress(flags.metrics),
    }),
  },
);

function serveOptionsFrom(flags: FlagValues<typeof SERVER_FLAGS>): ServeOptions {
  const idleTimeout = integerFlag(flags["idle-timeout"], {
    name: "--idle-timeout",
    min: 0,
    max: 7 * 24 * 3600,
  });
  return {
    hostname: flags.host,
    port: integerFlag(flags.port, { name: "--port", min: 0, max: 65535 }),
    flushDelayMs: integerFlag(flags["flush-delay"], { name: "--flush-delay", min: 0, max: 60_000 }),
    maxMessageBytes: messageLimitFlag(flags["max-message-bytes"]),
    maxConnections: integerFlag(flags["max-connections"], {
      name: "--max-connections",
      min: 1,
      max: 1_000_000,
    }),
    maxConnectionsPerAddress: integerFlag(flags["max-connections-per-address"], {
      name: "--max-connections-per-address",
      min: 1,
      max: 1_000_000,
    }),
    idleTimeoutMs: idleTimeout === undefined ? undefined : idleTimeout * 1000,
    reusePort: flags["reuse-port"],
    proxyProtocol: flags["proxy-protocol"],
    trustedProxies: trustedProxiesFlag(flags["trusted-proxies"], {
      proxyProtocol: flags["proxy-protocol"],
    }),
    log: flags.quiet ? null : undefined,
    logFormat: logFormatFlag(flags["log-format"]),
  };
}

function logFormatFlag(value: string | undefined): LogFormat | undefined {
  if (value === undefined || (LOG_FORMATS as string[]).includes(value)) {
    return value as LogFormat | undefined;
  }
  throw new UsageError(`Invalid value "${value}" for --log-format: expected text or json`);
}

/**
 * Reads `--metrics`: `host:port`, `[IPv6]:port`, or a port alone, which
 * listens on loopback: exposing the endpoint is a choice to make out loud.
 *
 * @param value The flag's text, or `undefined` when it is left out.
 * @returns Where to listen, or `undefined`.
 * @throws {UsageError} When it is not an address with a port.
 */
export function metricsAddress(
  value: string | undefined,
): { hostname: string; port: number } | undefined {
  if (value === undefined) return undefined;
  const match = value.match(/^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/) ?? value.match(/^()()(\d+)$/);
  const port = match && Number(match[3]);
  if (!match || !(port! <= 65535)) {
    throw new UsageError(
      `Invalid value "${value}" for --metrics: expected host:port, such as 127.0.0.1:9464, or a port`,
    );
  }
  return { hostname: match[1] || match[2] || DEFAULT_HOSTNAME, port: port! };
}

function tlsFilesFrom(flags: FlagValues<typeof SERVER_FLAGS>): ServerCommand["tlsFiles"] {
  const cert = flags["tls-cert"], key = flags["tls-key"];
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw new UsageError("--tls-cert and --tls-key go together: give both, or neither");
  }
  if (flags["proxy-protocol"]) throw new UsageError(TLS_WITH_PROXY_PROTOCOL);
  return { cert, key };
}

function trustedProxiesFlag(
  value: string | undefined,
  { proxyProtocol }: { proxyProtocol?: boolean },
) {
  if (value === undefined) return undefined;
  if (!proxyProtocol) throw new UsageError("--trusted-proxies needs --proxy-protocol");
  try {
    new AddressRanges(value);
  } catch (error) {
    throw new UsageError(
      `Invalid value "${value}" for --trusted-proxies: ${(error as Error).message}`,
    );
  }
  return value;
}

/**
 * Says why the server cannot listen, and what to do about it, in one line.
 *
 * @param error What `Deno.listen` threw.
 * @param address Where it tried to listen, as `host:port`.
 * @param about What was listening and which flags set its address: the
 *   protocol's port (`--host`, `--port`) unless said otherwise, and the TLS
 *   files it was given, if any, to name them.
 * @returns The line for stderr.
 */
export function describeListenError(
  error: unknown,
  address: string,
  about: {
    what?: string;
    hostFlag?: string;
    portFlag?: string;
    tlsFiles?: ServerCommand["tlsFiles"];
  } = {},
): string {
  const { what = "listen", hostFlag = "--host", portFlag = "--port", tlsFiles } = about;
  const action = `Cannot ${what} on ${address}`;
  if (tlsFiles && error instanceof Error && /KeyMismatch/.test(error.message)) {
    return `${action}: the TLS private key "${tlsFiles.key}" does not match the certificate "${tlsFiles.cert}"`;
  }
  if (tlsFiles && error instanceof Deno.errors.InvalidData) {
    return `${action}: TLS cannot use "${tlsFiles.cert}" and "${tlsFiles.key}": ${error.message}`;
  }
  if (error instanceof Deno.errors.AddrInUse) {
    return `${action}: address already in use. Stop the program using it, or pick another port with ${portFlag}`;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return `${action}: permission denied. Ports below 1024 need privileges; pick another with ${portFlag}`;
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return `${action}: no such address on this machine. Check ${hostFlag}`;
  }
  if (error instanceof Deno.errors.NotCapable) {
    return `${action}: network access not granted. Run it with deno task server, or deno run --allow-net`;
  }
  return `${action}: ${error instanceof Error ? error.message : error}`;
}
