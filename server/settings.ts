/**
 * The server's options, as a caller of `serve()` gives them, and the settings
 * they resolve to. Every default is filled in here, once.
 *
 * @module
 */

import {
  DEFAULT_FLUSH_DELAY_MS,
  DEFAULT_HOSTNAME,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_PORT,
} from "../protocol.ts";
import { AddressRanges } from "./ip.ts";
import type { ConnectionSlots } from "./slots.ts";
import type { LogFormat } from "./log.ts";

/** Default most connections served at once. */
export const DEFAULT_MAX_CONNECTIONS = 10_000;

/** Who may send a PROXY header by default: this machine only. */
export const DEFAULT_TRUSTED_PROXIES = "127.0.0.0/8,::1";

// How long a client has to complete the TLS handshake, in ms.
const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

// How long a connection has to send its whole PROXY header, in ms (the specification asks for at least 3 s).
const DEFAULT_PROXY_HEADER_TIMEOUT_MS = 5_000;

/** Options of `serve()`. */
export interface ServeOptions {
  /**
   * The address to listen on. `Deno.listen` alone would bind every interface.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The port to listen on; 0 picks a free one.
   *
   * @default {5000}
   */
  port?: number;
  /**
   * Quiet pause, in ms, after which unterminated bytes are answered; 0 turns it off.
   *
   * @default {50}
   */
  flushDelayMs?: number;
  /**
   * Longest message in bytes, terminator not counted.
   *
   * @default {1048576}
   */
  maxMessageBytes?: number;
  /**
   * Most connections served at once; one more gets an `ERROR` line and is closed.
   *
   * @default {10000}
   */
  maxConnections?: number;
  /**
   * Most connections served at once from one address (behind a proxy, the
   * client's, from its PROXY header); one more gets an `ERROR` line and is
   * closed. Off when left out. With workers, each counts its own.
   */
  maxConnectionsPerAddress?: number;
  /**
   * Close a connection after this many ms without a byte from the client, or
   * without progress writing to it; 0 never does.
   *
   * @default {0}
   */
  idleTimeoutMs?: number;
  /**
   * Listen with `SO_REUSEPORT`, so that several processes share the port and
   * the kernel spreads new connections among them (Linux). Needs Deno's
   * `--unstable-net`, which `deno.json` turns on.
   *
   * @default {false}
   */
  reusePort?: boolean;
  /**
   * Every connection must start with a PROXY protocol header (version 1 or 2,
   * as HAProxy's `send-proxy` and `send-proxy-v2` send), which gives the real
   * client's address. Connections without a valid one are closed.
   *
   * @default {false}
   */
  proxyProtocol?: boolean;
  /**
   * With {@linkcode proxyProtocol}: the addresses allowed to send a header, as
   * comma-separated CIDR ranges. A connection from anywhere else is closed
   * before anything is read, so nobody else can claim another's address.
   *
   * @default {"127.0.0.0/8,::1"}
   */
  trustedProxies?: string;
  /**
   * With {@linkcode proxyProtocol}: how long a connection has to send its
   * whole header, in ms.
   *
   * @default {5000}
   */
  proxyHeaderTimeoutMs?: number;
  /**
   * Serve TLS with this certificate chain and private key, both PEM text. A
   * client that does not complete its handshake within
   * {@linkcode tlsHandshakeTimeoutMs} is closed. Cannot be used with
   * {@linkcode proxyProtocol}: the header comes before the handshake, and Deno
   * cannot start TLS on a connection it has already accepted.
   */
  tls?: { cert: string; key: string };
  /**
   * With {@linkcode tls}: how long a client has to complete the handshake, in ms.
   *
   * @default {10000}
   */
  tlsHandshakeTimeoutMs?: number;
  /**
   * Where connection log lines go; `null` for none.
   *
   * @default {console.error}
   */
  log?: ((line: string) => void) | null;
  /**
   * How log lines are written: `text` for people, `json` for log shippers
   * (one object per line; `docs/monitoring.md` lists the keys).
   *
   * @default {"text"}
   */
  logFormat?: LogFormat;
}

/** Why TLS and the PROXY protocol cannot be had together, in words for people. */
export const TLS_WITH_PROXY_PROTOCOL =
  "TLS cannot be used with the PROXY protocol: the PROXY header comes before the TLS handshake, " +
  "and Deno cannot start TLS on a connection it has already accepted (denoland/deno#18451)";

/** {@linkcode ServeOptions} with every default filled in. */
export interface Settings {
  hostname: string;
  port: number;
  flushDelayMs: number;
  maxMessageBytes: number;
  maxConnections: number;
  /** `undefined` when one address may take every slot. */
  maxConnectionsPerAddress?: number;
  /** `undefined` when connections may stay idle for ever. */
  idleTimeoutMs?: number;
  reusePort: boolean;
  /** Set when connections start with a PROXY header. */
  proxy?: ProxySettings;
  /** Set when the server speaks TLS. */
  tls?: { cert: string; key: string; handshakeTimeoutMs: number };
  /** `undefined` when nothing is logged. */
  log?: (line: string) => void;
  logFormat: LogFormat;
  /** The worker's number, with `--parallel`, for the log. */
  worker?: number;
  /** Ids and connection slots shared with other workers; `undefined` when the server counts alone. */
  slots?: ConnectionSlots;
}

/** How connections that start with a PROXY header are taken. */
export interface ProxySettings {
  /** Who may send one. */
  trusted: AddressRanges;
  /** As given, for messages. */
  trustedText: string;
  /** How long a connection has to send it, in ms. */
  headerTimeoutMs: number;
}

/**
 * Fills in the defaults.
 *
 * @param options What the caller asked for.
 * @returns The settings the server runs with.
 * @throws {RangeError} When `trustedProxies` holds something that is not a CIDR range.
 * @throws {TypeError} When both `tls` and `proxyProtocol` are asked for.
 */
export function resolveSettings(options: ServeOptions): Settings {
  if (options.tls && options.proxyProtocol) throw new TypeError(TLS_WITH_PROXY_PROTOCOL);
  return {
    hostname: options.hostname ?? DEFAULT_HOSTNAME,
    port: options.port ?? DEFAULT_PORT,
    flushDelayMs: options.flushDelayMs ?? DEFAULT_FLUSH_DELAY_MS,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    maxConnectionsPerAddress: options.maxConnectionsPerAddress,
    idleTimeoutMs: options.idleTimeoutMs || undefined,
    reusePort: options.reusePort ?? false,
    proxy: options.proxyProtocol ? proxySettings(options) : undefined,
    tls: options.tls && {
      ...options.tls,
      handshakeTimeoutMs: options.tlsHandshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS,
    },
    log: options.log === undefined ? console.error : options.log ?? undefined,
    logFormat: options.logFormat ?? "text",
  };
}

function proxySettings(options: ServeOptions): ProxySettings {
  const trustedText = options.trustedProxies ?? DEFAULT_TRUSTED_PROXIES;
  return {
    trusted: new AddressRanges(trustedText),
    trustedText,
    headerTimeoutMs: options.proxyHeaderTimeoutMs ?? DEFAULT_PROXY_HEADER_TIMEOUT_MS,
  };
}
