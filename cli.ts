/**
 * Command-line plumbing shared by `server.ts` and `client.ts`: flags read into
 * checked values, usage errors worded for people, and the program's version.
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import config from "./deno.json" with { type: "json" };

/** The program's version, from `deno.json`. */
export const VERSION: string = config.version;

/** Exit status for a bad flag or argument. */
export const EXIT_USAGE = 2;

/** The values `--max-message-bytes` accepts, the same for the server and the client. */
export const MAX_MESSAGE_BYTES_RANGE = { min: 1, max: 1024 * 1024 * 1024 } as const;

/** A mistake in the command line, reported as one line without a stack trace. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * Reads flags strictly: unknown flags, missing values and stray arguments are
 * {@linkcode UsageError}s.
 *
 * @param args The command-line arguments, such as `Deno.args`.
 * @param options The flags `node:util`'s `parseArgs` should accept.
 * @returns The flags' values.
 */
export function parseFlags<T extends ParseArgsOptionsConfig>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError(describeParseError(error));
  }
}

/**
 * Checks a whole-number flag.
 *
 * @param name The flag's name, without dashes.
 * @param value The text given, or `undefined` when the flag was left out.
 * @param range The default and the smallest and largest values allowed.
 * @returns The number.
 */
export function integerFlag(
  name: string,
  value: string | undefined,
  range: { fallback: number; min: number; max: number },
): number {
  if (value === undefined) return range.fallback;
  const number = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(number >= range.min && number <= range.max)) {
    throw new UsageError(
      `Invalid value "${value}" for --${name}: expected a whole number from ${range.min} to ${range.max}`,
    );
  }
  return number;
}

/**
 * Prints a usage error the way both programs do, and gives its exit status.
 *
 * @param error The usage error.
 * @returns {@linkcode EXIT_USAGE}.
 */
export function reportUsageError(error: UsageError): number {
  console.error(`${error.message} (run with --help to see the options)`);
  return EXIT_USAGE;
}

function describeParseError(error: unknown): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = message.match(/'([^' ]+)/)?.[1];
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `Unknown option "${quoted}"`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return `Missing or invalid value for "${quoted}"`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `Unexpected argument "${quoted}"`;
    default:
      return message;
  }
}
