/**
 * The server's `ERROR` lines (rules 6 and 7 of `protocol.ts`): each line, how
 * a client tells one from a reply, and which one it is.
 *
 * @module
 */

const ERROR_PREFIX = "ERROR";

/**
 * Every `ERROR` line the server sends (rules 6 and 7), built from its limits.
 * The server closes the connection after any of them.
 */
export const ERROR_LINES = {
  /** A message over the limit (rule 6). */
  messageTooLong: (limitBytes: number): string =>
    `ERROR message too long (limit ${limitBytes} bytes)\n`,
  /**
   * The server already serves as many clients from this address as it may
   * (rule 7). Before `tooManyConnections`, whose words begin its own.
   */
  tooManyFromAddress: (limit: number): string =>
    `ERROR too many connections from your address (limit ${limit}), try again later\n`,
  /** The server already serves as many clients as it may (rule 7). */
  tooManyConnections: (limit: number): string =>
    `ERROR too many connections (limit ${limit}), try again later\n`,
  /** The client sent nothing for too long (rule 7). */
  idleTimeout: (seconds: number): string =>
    `ERROR idle timeout (nothing received for ${seconds} s)\n`,
} as const;

/**
 * Tells one of the server's `ERROR` lines from a reply (rule 7): a reply
 * starts with `ERROR` only when its message, uppercased, does too.
 *
 * @example A reply to "error 404" is not an error
 * ```ts
 * import assert from "node:assert/strict";
 * import { isErrorLine } from "../protocol.ts";
 *
 * assert(isErrorLine("ERROR message too long (limit 8 bytes)", "demasiado largo"));
 * assert(!isErrorLine("ERROR 404", "error 404"));
 * ```
 *
 * @param line A line from the server, without its terminator.
 * @param message The message it answers, as sent.
 * @returns Whether the line is the server's `ERROR` line.
 */
export function isErrorLine(line: string, message: string): boolean {
  return line.startsWith(ERROR_PREFIX) && !message.toUpperCase().startsWith(ERROR_PREFIX);
}

/**
 * Which of the server's `ERROR` lines `line` is, by the words before its
 * figures: `tooManyConnections` tells a client that it may try again later.
 *
 * @example The connection limit
 * ```ts
 * import assert from "node:assert/strict";
 * import { ERROR_LINES, errorLineKind } from "../protocol.ts";
 *
 * assert.equal(errorLineKind(ERROR_LINES.tooManyConnections(50).trimEnd()), "tooManyConnections");
 * assert.equal(errorLineKind("ERROR 404"), undefined);
 * ```
 *
 * @param line A line from the server, with or without its terminator.
 * @returns The name of its entry in {@linkcode ERROR_LINES}, or `undefined` for any other line.
 */
export function errorLineKind(line: string): keyof typeof ERROR_LINES | undefined {
  return (Object.keys(ERROR_LINES) as (keyof typeof ERROR_LINES)[]).find((kind) =>
    line.startsWith(ERROR_LINES[kind](0).split("(")[0])
  );
}
