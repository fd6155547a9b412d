/**
 * Tests of the client's command line: what each flag asks for, flags left out
 * left to `runClient()`, bad values refused, and the help text.
 *
 * @module
 */

import assert from "node:assert/strict";
import { CLIENT_COMMAND_LINE } from "./command_line.ts";
import { parseFlags, UsageError } from "../cli/flags.ts";

/** The server and limit the command line `args` gives. */
const parseClientArgs = (args: string[]) =>
  CLIENT_COMMAND_LINE.read(parseFlags(args, CLIENT_COMMAND_LINE.flags));
const CLIENT_USAGE = CLIENT_COMMAND_LINE.usage;

Deno.test("CLIENT_COMMAND_LINE reads the server's address and the message limit", () => {
  assert.deepEqual(
    parseClientArgs(["--host", "::1", "--port", "6000", "--max-message-bytes", "4194304"]),
    {
      hostname: "::1",
      port: 6000,
      maxMessageBytes: 4194304,
      tls: false,
      caFile: undefined,
      connectTimeoutMs: undefined,
      replyTimeoutMs: undefined,
      reconnect: undefined,
      retryForMs: undefined,
    },
  );
  assert.deepEqual(parseClientArgs([]), {
    hostname: undefined,
    port: undefined,
    maxMessageBytes: undefined,
    tls: false,
    caFile: undefined,
    connectTimeoutMs: undefined,
    replyTimeoutMs: undefined,
    reconnect: undefined,
    retryForMs: undefined,
  });
  assert.deepEqual([parseClientArgs(["--tls"]).tls, parseClientArgs(["--tls"]).caFile], [
    true,
    undefined,
  ]);
  const withCa = parseClientArgs(["--ca", "ca.pem"]);
  assert.deepEqual([withCa.tls, withCa.caFile], [true, "ca.pem"], "--ca implies --tls");
});

Deno.test("CLIENT_COMMAND_LINE reads --connect-timeout and --reply-timeout in whole seconds, and refuses 0", () => {
  const timed = parseClientArgs(["--connect-timeout", "2", "--reply-timeout", "30"]);
  assert.deepEqual([timed.connectTimeoutMs, timed.replyTimeoutMs], [2_000, 30_000]);
  for (const flag of ["--connect-timeout", "--reply-timeout"]) {
    assert.throws(
      () => parseClientArgs([flag, "0"]),
      (error) => error instanceof UsageError && error.message.includes("whole number from 1"),
      `${flag} 0: no wait without a bound`,
    );
  }
});

Deno.test("CLIENT_COMMAND_LINE reads --reconnect and --retry-for in seconds, which needs --reconnect", () => {
  const reconnecting = parseClientArgs(["--reconnect", "--retry-for", "2"]);
  assert.deepEqual([reconnecting.reconnect, reconnecting.retryForMs], [true, 2000]);
  assert.equal(parseClientArgs(["--reconnect"]).retryForMs, undefined, "30 s, the default");
  assert.throws(
    () => parseClientArgs(["--retry-for", "2"]),
    new UsageError("--retry-for needs --reconnect"),
  );
  assert.throws(() => parseClientArgs(["--reconnect", "--retry-for", "0"]), UsageError);
});

Deno.test("CLIENT_COMMAND_LINE refuses port 0 and bad numbers with a UsageError naming the flag", () => {
  for (const args of [["--port", "0"], ["--port", "x"], ["--max-message-bytes", "0"], ["x"]]) {
    assert.throws(() => parseClientArgs(args), UsageError, args.join(" "));
  }
});

Deno.test("The client's --help fits 80 columns and shows the flags, a pipeline and the exit statuses", () => {
  for (const line of CLIENT_USAGE.split("\n")) assert(line.length <= 80, line);
  assert.match(CLIENT_USAGE, /--max-message-bytes <n>/);
  assert.match(CLIENT_USAGE, /\| deno task client \| head/);
  assert.match(CLIENT_USAGE, /^ {2}141 /m);
});
