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

/** Default most connections served at once. */
export const DEFAULT_MAX_CONNECTIONS = 10_000;

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
   * Close a connection after this many ms without a byte from the client, or
   * without progress writing to it; 0 never does.
   *
   * @default {0}
   */
  idleTimeoutMs?: number;
  /**
   * Where connection log lines go; `null` for none.
   *
   * @default {console.error}
   */
  log?: ((line: string) => void) | null;
}

/** {@linkcode ServeOptions} with every default filled in. */
export interface Settings {
  hostname: string;
  port: number;
  flushDelayMs: number;
  maxMessageBytes: number;
  maxConnections: number;
  /** `undefined` when connections may stay idle for ever. */
  idleTimeoutMs?: number;
  /** `undefined` when nothing is logged. */
  log?: (line: string) => void;
}

/**
 * Fills in the defaults.
 *
 * @param options What the caller asked for.
 * @returns The settings the server runs with.
 */
export function resolveSettings(options: ServeOptions): Settings {
  return {
    hostname: options.hostname ?? DEFAULT_HOSTNAME,
    port: options.port ?? DEFAULT_PORT,
    flushDelayMs: options.flushDelayMs ?? DEFAULT_FLUSH_DELAY_MS,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    idleTimeoutMs: options.idleTimeoutMs || undefined,
    log: options.log === undefined ? console.error : options.log ?? undefined,
  };
}
