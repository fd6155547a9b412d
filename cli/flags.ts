/**
 * Command-line plumbing shared by `server.ts` and `client.ts`: each flag
 * described once (parsed and shown by `--help` from the same description),
 * whole numbers checked, usage errors worded for people, and the version. The
 * exit statuses live in `cli/exit_status.ts`, and files named on the command
 * line are read by `cli/argument_files.ts`.
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import config from "../deno.json" with { type: "json" };
import { EXIT, EXIT_STATUSES, type Program } from "./exit_status.ts";

/** The program's version, from `deno.json`. */
export const VERSION: string = config.version;

/** One command-line flag: how it is parsed, and how `--help` and the docs describe it. */
export interface Flag {
  /** The placeholder of its value, such as `<n>`; left out for a switch. */
  value?: string;
  /**
   * The value may be left out, as in `--parallel --port 6000`: the flag then
   * reads as `""`. A value must follow the flag as the next argument that is
   * not a flag, or after `=`.
   */
  optional?: boolean;
  /** A one-letter alias, such as `h` for `-h`. */
  short?: string;
  /** The default, as shown to people; the program fills it in elsewhere. */
  default?: string | number;
  /** What it does, in one line; `code` in backquotes. */
  help: string;
}

/** A program's flags, by name without the dashes. */
export type Flags = Record<string, Flag>;

/** Parsed flags: the text given for a flag with a value, `true` for a switch given. */
export type FlagValues<T extends Flags> = {
  [K in keyof T]?: T[K] extends { value: string } ? string : boolean;
};

/** A program's command line: its flags, its `--help` text, and what its flags give. */
export interface CommandLine<T extends Flags, R> {
  /** Its flags, `help` and `version` among them. */
  flags: T;
  /** What `--help` prints. */
  usage: string;
  /**
   * Turns the flags given into what the program runs with. Flags left out stay
   * `undefined`, for the program to fill in.
   *
   * @throws {UsageError} For a bad value.
   */
  read(flags: FlagValues<T>): R;
}

/**
 * Reads a program's command line, and answers what needs no program:
 * `--help` and `--version` are printed, and a usage error is reported in one
 * line on stderr.
 *
 * @param args The command-line arguments, such as `Deno.args`.
 * @param commandLine The program's command line.
 * @returns What `read` made of the flags, or the exit status when the program is done.
 */
export function readCommandLine<T extends Flags, R>(
  args: string[],
  commandLine: CommandLine<T, R>,
): R | number {
  try {
    const flags = parseFlags(args, commandLine.flags) as FlagValues<T> & {
      help?: boolean;
      version?: boolean;
    };
    if (!flags.help && !flags.version) return commandLine.read(flags);
    console.log(flags.help ? commandLine.usage : VERSION);
    return EXIT.OK;
  } catch (error) {
    if (error instanceof UsageError) return reportUsageError(error);
    throw error;
  }
}

/**
 * Checks `--max-message-bytes`, which the server and the client share.
 *
 * @param value The text given, or `undefined` when the flag was left out.
 * @returns The limit in bytes, or `undefined`.
 * @throws {UsageError} Unless it is a whole number from 1 to 1 GiB.
 */
export function messageLimitFlag(value: string | undefined): number | undefined {
  return integerFlag(value, { name: "--max-message-bytes", min: 1, max: 1024 * 1024 * 1024 });
}

/** A mistake in the command line, reported as one line without a stack trace. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * Reads flags strictly: unknown flags, missing values and stray arguments are
 * {@linkcode UsageError}s.
 *
 * @example Reading a value and a switch
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFlags } from "./flags.ts";
 *
 * const flags = { port: { value: "<n>", help: "Port" }, quiet: { help: "Log less" } };
 * assert.deepEqual({ ...parseFlags(["--port", "6000", "--quiet"], flags) }, { port: "6000", quiet: true });
 * ```
 *
 * @param args The command-line arguments, such as `Deno.args`.
 * @param flags The flags the program accepts.
 * @returns The flags given.
 */
export function parseFlags<T extends Flags>(args: string[], flags: T): FlagValues<T> {
  const options: ParseArgsOptionsConfig = {};
  for (const [name, flag] of Object.entries(flags)) {
    options[name] = { type: flag.value ? "string" : "boolean" };
    if (flag.short) options[name].short = flag.short;
  }
  // parseArgs knows no optional values: a bare flag that may go without one is given "".
  const optional = new Set(
    Object.entries(flags).filter(([, flag]) => flag.optional).map(([name]) => `--${name}`),
  );
  args = args.map((arg, i) =>
    optional.has(arg) && (i + 1 === args.length || args[i + 1].startsWith("-")) ? `${arg}=` : arg
  );
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false })
      .values as FlagValues<T>;
  } catch (error) {
    throw new UsageError(describeParseError(error));
  }
}

/**
 * Checks a whole-number flag.
 *
 * @param value The text given, or `undefined` when the flag was left out.
 * @param rule Where the value comes from, as the user wrote it (`--port`, or an environment
 *   variable's name), and the smallest and largest values allowed.
 * @returns The number, or `undefined` when the flag was left out.
 * @throws {UsageError} When the text is not a whole number in the range.
 */
export function integerFlag(
  value: string | undefined,
  rule: { name: string; min: number; max: number },
): number | undefined {
  if (value === undefined) return undefined;
  const number = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(number >= rule.min && number <= rule.max)) {
    throw new UsageError(
      `Invalid value "${value}" for ${rule.name}: expected a whole number from ${rule.min} to ${rule.max}`,
    );
  }
  return number;
}

/**
 * Prints a usage error the way both programs do, and gives its exit status.
 *
 * @param error The usage error.
 * @returns {@linkcode EXIT.USAGE}.
 */
export function reportUsageError(error: UsageError): number {
  console.error(`${error.message} (run with --help to see the options)`);
  return EXIT.USAGE;
}

const HELP_WIDTH = 80;

/**
 * Builds a program's command line: its `--help` text (what it does, how to run
 * it, its options, notes and examples, its exit statuses) and how it reads its
 * flags.
 *
 * @param program Which program: `server` or `client`.
 * @param parts `flags`; `summary`: what it does, in a few words; `notes`:
 *   paragraphs after the options; `read`: flags to what the program runs with.
 * @returns The command line, for {@linkcode readCommandLine}.
 */
export function commandLine<T extends Flags, R>(
  program: Exclude<Program, "both">,
  parts: { flags: T; summary: string; notes: string; read(flags: FlagValues<T>): R },
): CommandLine<T, R> {
  const usage = `uppercase-tcp ${program} ${VERSION}: ${parts.summary}

Usage:
  deno task ${program} [options]
  deno run --allow-net ${program}.ts [options]

Options:
${optionsHelp(parts.flags)}

${parts.notes}

Exit status:
${exitHelp(program)}`;
  return { flags: parts.flags, usage, read: parts.read };
}

/**
 * The "Options:" lines of `--help`: each flag, then its meaning and default,
 * wrapped to 80 columns.
 *
 * @param flags The program's flags.
 * @returns The lines, joined.
 */
export function optionsHelp(flags: Flags): string {
  const entries = Object.entries(flags).map(([name, flag]) => ({
    left: `  ${flagName(name, flag)}${flag.value ? ` ${flag.value}` : ""}`,
    right: plain(flag.help) + (flag.default === undefined ? "" : ` (default ${flag.default})`),
  }));
  return helpColumns(entries, Math.max(...entries.map((entry) => entry.left.length)) + 2);
}

/** Two columns of help: each left entry, then its text from `column` on, wrapped to 80 columns. */
function helpColumns(entries: { left: string; right: string }[], column: number): string {
  return entries.map(({ left, right }) =>
    wrap(right, HELP_WIDTH - column).map((line, i) =>
      (i === 0 ? left.padEnd(column) : " ".repeat(column)) + line
    ).join("\n")
  ).join("\n");
}

/**
 * The "Exit status:" lines of `--help` for one program.
 *
 * @param program The program.
 * @returns The lines, joined.
 */
export function exitHelp(program: Exclude<Program, "both">): string {
  return helpColumns(
    Object.values(EXIT_STATUSES)
      .filter((status) => status.program === program || status.program === "both")
      .map((status) => ({ left: `  ${status.code}`, right: plain(status.meaning) })),
    7,
  );
}

/**
 * How a flag is written, with its one-letter alias if it has one.
 *
 * @example A flag with an alias
 * ```ts
 * import assert from "node:assert/strict";
 * import { flagName } from "./flags.ts";
 *
 * assert.equal(flagName("help", { short: "h", help: "Usage" }), "-h, --help");
 * ```
 *
 * @param name The flag's name, without dashes.
 * @param flag Its description.
 * @returns Such as `--port` or `-h, --help`.
 */
export function flagName(name: string, flag: Flag): string {
  return flag.short ? `-${flag.short}, --${name}` : `--${name}`;
}

function plain(text: string): string {
  return text.replaceAll("`", "");
}

function wrap(text: string, width: number): string[] {
  const lines = [""];
  for (const word of text.split(" ")) {
    const line = lines[lines.length - 1];
    if (line && line.length + 1 + word.length > width) lines.push(word);
    else lines[lines.length - 1] = line ? `${line} ${word}` : word;
  }
  return lines;
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
