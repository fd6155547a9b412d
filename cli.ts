/**
 * Command-line plumbing shared by `server.ts` and `client.ts`: each flag
 * described once (parsed, shown by `--help` and tabled in the README from the
 * same description), whole numbers checked, usage errors worded for people,
 * every exit status of both programs, and the version.
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import config from "./deno.json" with { type: "json" };

/** The program's version, from `deno.json`. */
export const VERSION: string = config.version;

/** Which program an exit status belongs to. */
export type Program = "server" | "client" | "both";

/** Every exit status of both programs, by name, such as `EXIT.NO_SERVER` (3). */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  CANNOT_LISTEN: 3,
  NO_SERVER: 3,
  CONNECTION_LOST: 4,
  SERVER_ERROR: 5,
  INTERRUPTED: 130,
  OUTPUT_CLOSED: 141,
} as const;

// What each status means and which program exits with it, for --help and the
// README; the type makes sure that every status has its line.
const EXIT_MEANINGS: Record<keyof typeof EXIT, { program: Program; meaning: string }> = {
  OK: {
    program: "both",
    meaning: "Done: client disconnected as asked; server stopped by a signal",
  },
  FAILURE: { program: "client", meaning: "Bad input, such as a piped line longer than the limit" },
  USAGE: { program: "both", meaning: "Bad flag or argument (the message says which)" },
  CANNOT_LISTEN: {
    program: "server",
    meaning: "Cannot listen: address in use, no permission, no such address",
  },
  NO_SERVER: { program: "client", meaning: "Cannot connect: no server listening there" },
  CONNECTION_LOST: {
    program: "client",
    meaning: "The server closed or reset the connection before the client was done",
  },
  SERVER_ERROR: { program: "client", meaning: "The server answered with an `ERROR` line" },
  INTERRUPTED: { program: "client", meaning: "Interrupted with Ctrl-C" },
  OUTPUT_CLOSED: {
    program: "client",
    meaning: "Its output was closed early (`| head`), as for a filter killed by SIGPIPE",
  },
};

/** One command-line flag: how it is parsed, and how `--help` and the README describe it. */
export interface Flag {
  /** The placeholder of its value, such as `<n>`; left out for a switch. */
  value?: string;
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
 * @example Reading a value and a switch
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFlags } from "./cli.ts";
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
 * @param name The flag's name, without dashes.
 * @param value The text given, or `undefined` when the flag was left out.
 * @param range The smallest and largest values allowed.
 * @returns The number, or `undefined` when the flag was left out.
 * @throws {UsageError} When the text is not a whole number in the range.
 */
export function integerFlag(
  name: string,
  value: string | undefined,
  range: { min: number; max: number },
): number | undefined {
  if (value === undefined) return undefined;
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
 * @returns {@linkcode EXIT.USAGE}.
 */
export function reportUsageError(error: UsageError): number {
  console.error(`${error.message} (run with --help to see the options)`);
  return EXIT.USAGE;
}

const HELP_WIDTH = 80;

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
  const column = Math.max(...entries.map((entry) => entry.left.length)) + 2;
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
  return exitStatuses()
    .filter((status) => status.program === program || status.program === "both")
    .map((status) => `  ${String(status.code).padEnd(5)}${plain(status.meaning)}`)
    .join("\n");
}

/**
 * The README's table of a program's flags, as `deno fmt` lays it out.
 *
 * @param flags The program's flags.
 * @returns The Markdown table.
 */
export function flagTable(flags: Flags): string {
  return markdownTable(
    ["Flag", "Default", "Meaning"],
    Object.entries(flags).map(([name, flag]) => [
      "`" + flagName(name, flag).replace(", ", "`, `") +
      (flag.value ? ` ${flag.value}` : "") + "`",
      flag.default === undefined ? "" : "`" + flag.default + "`",
      flag.help,
    ]),
  );
}

/**
 * The README's table of both programs' exit statuses, as `deno fmt` lays it out.
 *
 * @returns The Markdown table.
 */
export function exitTable(): string {
  return markdownTable(
    ["Code", "Program", "Meaning"],
    exitStatuses().map((status) => [
      "`" + status.code + "`",
      status.program,
      status.meaning,
    ]),
  );
}

/** Each exit status, in the order of {@linkcode EXIT}, with its code. */
function exitStatuses(): { code: number; program: Program; meaning: string }[] {
  return (Object.keys(EXIT) as (keyof typeof EXIT)[])
    .map((name) => ({ code: EXIT[name], ...EXIT_MEANINGS[name] }));
}

function flagName(name: string, flag: Flag): string {
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

function markdownTable(header: string[], rows: string[][]): string {
  const cells = [header, ...rows].map((row) => row.map((cell) => cell.replaceAll("|", "\\|")));
  const widths = header.map((_, column) => Math.max(...cells.map((row) => row[column].length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, column) => cell.padEnd(widths[column])).join(" | ")} |`;
  return [
    line(cells[0]),
    `| ${widths.map((width) => "-".repeat(width)).join(" | ")} |`,
    ...cells.slice(1).map(line),
  ].join("\n");
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
