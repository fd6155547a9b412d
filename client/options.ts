/**
 * The client's options, as a caller of `runClient()` gives them (the server,
 * the streams, the mode and the limits), and the settings they resolve to.
 * Every default is filled in here, once.
 *
 * @module
 */

import { DEFAULT_HOSTNAME, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_PORT } from "../protocol.ts";

/** Quiet pause, in ms, that ends a reply from servers that send no newline. */
export const DEFAULT_REPLY_QUIET_MS = 150;

/** Options of `runClient()`. */
export interface ClientOptions {
  /**
   * The server's address.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The server's port.
   *
   * @default {5000}
   */
  port?: number;
  /**
   * Speak TLS, checking the server's certificate against the system's trusted
   * authorities and `caCerts` (PEM), and against {@linkcode hostname}.
   */
  tls?: { caCerts?: string[] };
  /** Where messages come from: typed keys, or the lines of a file. */
  input: ReadableStream<Uint8Array>;
  /** Where replies go (and, when interactive, the banner and the prompt). Closed on return. */
  output: WritableStream<Uint8Array>;
  /** Where messages for people and errors go. Closed on return. */
  errors: WritableStream<Uint8Array>;
  /**
   * Terminal mode: banner, prompt, line editing and history; empty lines are not sent.
   * Otherwise pipeline mode: replies only, many messages in flight.
   *
   * @default {false}
   */
  interactive?: boolean;
  /**
   * Colour the replies and errors.
   *
   * @default {false}
   */
  color?: boolean;
  /**
   * Which of {@linkcode output} and {@linkcode errors} are terminals. The
   * server's text shown on one (replies, its `ERROR` lines) has its control
   * characters made visible, so that it cannot act on the terminal; text that
   * goes to a pipe or a file stays byte for byte as the server sent it.
   *
   * @default {{ output: false, errors: false }}
   */
  terminals?: { output: boolean; errors: boolean };
  /**
   * Quiet pause, in ms, that ends a reply without a newline.
   *
   * @default {150}
   */
  replyQuietMs?: number;
  /**
   * Longest message, in bytes, terminator not counted. Replies may be longer,
   * as far as uppercasing can grow text.
   *
   * @default {1048576}
   */
  maxMessageBytes?: number;
  /**
   * How long one attempt to connect, TLS handshake included, may take, in ms.
   *
   * @default {5000}
   */
  connectTimeoutMs?: number;
  /**
   * How long the server may stay silent, while messages wait for replies,
   * before the connection counts as lost, in ms; a write that makes no
   * progress for as long counts as lost too. An idle client never times out.
   *
   * @default {10000}
   */
  replyTimeoutMs?: number;
  /**
   * When the connection is lost before the client is done (closed, reset, no
   * server yet, or the server's connection limit), connect again and send
   * again every line whose reply did not arrive in full.
   *
   * @default {false}
   */
  reconnect?: boolean;
  /**
   * With {@linkcode reconnect}: how long to go on trying without a working
   * connection, in ms, before giving up.
   *
   * @default {30000}
   */
  retryForMs?: number;
}

/** How long the client goes on trying to connect again by default, in ms. */
export const DEFAULT_RETRY_FOR_MS = 30_000;

/**
 * How long one connect attempt may take by default, in ms: far more than any
 * working network needs, far less than the kernel's own SYN retries (about two
 * minutes), which are all that would otherwise end a wait for a host that is gone.
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/**
 * How long the server may stay silent with messages waiting by default, in
 * ms: a live server answers in well under a second, even a megabyte's line.
 */
export const DEFAULT_REPLY_TIMEOUT_MS = 10_000;

/** {@linkcode ClientOptions} with every default filled in. */
export type ClientSettings =
  & Required<
    Pick<
      ClientOptions,
      | "hostname"
      | "port"
      | "maxMessageBytes"
      | "replyQuietMs"
      | "connectTimeoutMs"
      | "replyTimeoutMs"
      | "reconnect"
      | "retryForMs"
    >
  >
  & Pick<ClientOptions, "tls" | "input" | "output" | "errors">
  & { interactive: boolean; color: boolean; terminals: { output: boolean; errors: boolean } };

/**
 * Fills in the defaults.
 *
 * @param options What the caller asked for.
 * @returns The settings the client runs with.
 */
export function resolveClientSettings(options: ClientOptions): ClientSettings {
  return {
    ...options,
    hostname: options.hostname ?? DEFAULT_HOSTNAME,
    port: options.port ?? DEFAULT_PORT,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    replyQuietMs: options.replyQuietMs ?? DEFAULT_REPLY_QUIET_MS,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    replyTimeoutMs: options.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS,
    interactive: options.interactive ?? false,
    color: options.color ?? false,
    terminals: options.terminals ?? { output: false, errors: false },
    reconnect: options.reconnect ?? false,
    retryForMs: options.retryForMs ?? DEFAULT_RETRY_FOR_MS,
  };
}
