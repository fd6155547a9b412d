/**
 * Tests of the shared command-line plumbing: strict flag parsing with errors
 * worded for people, whole-number checks, and the help lines built from the
 * flag and exit-status tables.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type CommandLine,
  commandLine,
  exitHelp,
  flagName,
  type Flags,
  integerFlag,
  messageLimitFlag,
  optionsHelp,
  parseFlags,
  readCommandLine,
  UsageError,
  VERSION,
} from "./flags.ts";
import { EXIT } from "./exit_status.ts";

const FLAGS = {
  port: { value: "<n>", default: 5000, help: "Port to listen on; `0` picks a free one" },
  quiet: { help: "No log" },
  help: { short: "h", help: "Usage" },
} as const satisfies Flags;

Deno.test("parseFlags reads values, switches and short aliases", () => {
  assert.deepEqual({ ...parseFlags(["--port", "6000", "--quiet"], FLAGS) }, {
    port: "6000",
    quiet: true,
  });
  assert.deepEqual({ ...parseFlags(["--port=7"], FLAGS) }, { port: "7" });
  assert.deepEqual({ ...parseFlags(["-h"], FLAGS) }, { help: true });
  assert.deepEqual({ ...parseFlags([], FLAGS) }, {});
});

Deno.test("parseFlags reads a flag whose value may be left out, wherever it stands", () => {
  const flags = { ...FLAGS, jobs: { value: "[<n>]", optional: true, help: "Workers" } };
  const table: [string[], Record<string, string | boolean>][] = [
    [["--jobs"], { jobs: "" }],
    [["--jobs", "--port", "6000"], { jobs: "", port: "6000" }],
    [["--jobs", "4"], { jobs: "4" }],
    [["--jobs=4", "--quiet"], { jobs: "4", quiet: true }],
    [["--port", "6000", "--jobs", "x"], { port: "6000", jobs: "x" }],
  ];
  for (const [args, want] of table) {
    assert.deepEqual({ ...parseFlags(args, flags) }, want, args.join(" "));
  }
});

Deno.test("parseFlags rejects unknown flags, missing values and stray arguments in words", () => {
  const table: [string[], string][] = [
    [["--prot", "1"], 'Unknown option "--prot"'],
    [["--port"], 'Missing or invalid value for "--port'],
    [["5000"], 'Unexpected argument "5000"'],
  ];
  for (const [args, want] of table) {
    assert.throws(
      () => parseFlags(args, FLAGS),
      (error) => error instanceof UsageError && error.message.startsWith(want),
      args.join(" "),
    );
  }
});

Deno.test("integerFlag takes whole numbers in range and leaves a missing flag undefined", () => {
  const port = { name: "--port", min: 1, max: 65535 };
  assert.equal(integerFlag("80", port), 80);
  assert.equal(integerFlag("65535", port), 65535);
  assert.equal(integerFlag(undefined, port), undefined);
  for (const bad of ["0", "65536", "-1", "1.5", "1e3", " 80", "", "seventy", "0x50"]) {
    assert.throws(
      () => integerFlag(bad, port),
      new UsageError(
        `Invalid value "${bad}" for --port: expected a whole number from 1 to 65535`,
      ),
      JSON.stringify(bad),
    );
  }
});

Deno.test("optionsHelp aligns the flags, wraps at 80 columns and shows defaults without backquotes", () => {
  const help = optionsHelp({
    ...FLAGS,
    long: { value: "<s>", help: "A long explanation ".repeat(8).trim() },
  });
  for (const line of help.split("\n")) assert(line.length <= 80, `too wide: ${line}`);
  assert.match(help, /^ {2}--port <n> {2}Port to listen on; 0 picks a free one \(default 5000\)$/m);
  assert.match(help, /^ {2}-h, --help {2}Usage$/m);
  assert.match(help, /^ {14}explanation A long/m, "continuation lines start under the text");
});

Deno.test("flagName writes a flag with its alias first", () => {
  assert.equal(flagName("port", FLAGS.port), "--port");
  assert.equal(flagName("help", FLAGS.help), "-h, --help");
});

Deno.test("exitHelp lists only the program's own statuses", () => {
  assert.match(exitHelp("server"), /^ {2}3 {4}Cannot listen/m);
  assert.doesNotMatch(exitHelp("server"), /Cannot connect|141/);
  assert.match(exitHelp("client"), /^ {2}141 {2}Its output was closed early/m);
  assert.doesNotMatch(exitHelp("client"), /Cannot listen/);
});

/** Runs `readCommandLine` with `console.log` and `console.error` captured. */
function readCaptured<R>(args: string[], commandLine: CommandLine<typeof FLAGS_WITH_VERSION, R>) {
  const printed: string[] = [], reported: string[] = [];
  const { log, error } = console;
  console.log = (line: string) => void printed.push(line);
  console.error = (line: string) => void reported.push(line);
  try {
    return { result: readCommandLine(args, commandLine), printed, reported };
  } finally {
    Object.assign(console, { log, error });
  }
}

const FLAGS_WITH_VERSION = { ...FLAGS, version: { short: "V", help: "The version" } };
const COMMAND_LINE: CommandLine<typeof FLAGS_WITH_VERSION, { port?: number }> = {
  flags: FLAGS_WITH_VERSION,
  usage: "the usage",
  read: (flags) => ({ port: integerFlag(flags.port, { name: "--port", min: 0, max: 65535 }) }),
};

Deno.test("readCommandLine gives what read makes of the flags", () => {
  const { result, printed, reported } = readCaptured(["--port", "6000"], COMMAND_LINE);
  assert.deepEqual(result, { port: 6000 });
  assert.deepEqual([printed, reported], [[], []]);
});

Deno.test("readCommandLine prints --help and --version itself, and returns 0", () => {
  assert.deepEqual(readCaptured(["-h", "--port", "x"], COMMAND_LINE).printed, ["the usage"]);
  const version = readCaptured(["--version"], COMMAND_LINE);
  assert.deepEqual([version.result, version.printed], [EXIT.OK, [VERSION]]);
});

Deno.test("readCommandLine reports a usage error in one line on stderr and returns 2", () => {
  for (const args of [["--port", "x"], ["--nope"]]) {
    const { result, printed, reported } = readCaptured(args, COMMAND_LINE);
    assert.equal(result, EXIT.USAGE);
    assert.equal(printed.length, 0);
    assert.equal(reported.length, 1);
    assert.match(reported[0], / \(run with --help to see the options\)$/);
  }
});

Deno.test("messageLimitFlag takes 1 byte to 1 GiB, the same for both programs", () => {
  assert.equal(messageLimitFlag("1"), 1);
  assert.equal(messageLimitFlag(String(1024 ** 3)), 1024 ** 3);
  assert.equal(messageLimitFlag(undefined), undefined);
  assert.throws(() => messageLimitFlag("0"), /--max-message-bytes: expected a whole number from 1/);
  assert.throws(() => messageLimitFlag(String(1024 ** 3 + 1)), UsageError);
});

Deno.test("commandLine's help puts the summary, usage, options, notes and exit statuses in order", () => {
  const { usage } = commandLine("client", {
    flags: FLAGS,
    summary: "does things.",
    notes: "A note.",
    read: () => undefined,
  });
  assert.match(
    usage,
    new RegExp(
      `^uppercase-tcp client ${VERSION.replaceAll(".", "\\.")}: does things\\.\n\nUsage:\n` +
        " {2}deno task client \\[options\\]\n {2}deno run --allow-net client\\.ts \\[options\\]\n\n" +
        "Options:\n {2}--port[^]*\n\nA note\\.\n\nExit status:\n {2}0 ",
    ),
  );
});
