/**
 * Tests of the client's command line: what each flag asks for, flags left out
 * left to `runClient()`, bad values refused, and the help text.
 *
 * @module
 */

import assert from "node:assert/strict";
import { CLIENT_USAGE, parseClientArgs } from "./command_line.ts";
import { UsageError } from "../cli.ts";

Deno.test("parseClientArgs reads the server's address and the message limit", () => {
  assert.deepEqual(
    parseClientArgs(["--host", "::1", "--port", "6000", "--max-message-bytes", "4194304"]),
    { run: "connect", hostname: "::1", port: 6000, maxMessageBytes: 4194304 },
  );
  assert.deepEqual(parseClientArgs([]), {
    run: "connect",
    hostname: undefined,
    port: undefined,
    maxMessageBytes: undefined,
  });
  assert.deepEqual(parseClientArgs(["--help"]), { run: "help" });
  assert.deepEqual(parseClientArgs(["-V"]), { run: "version" });
});

Deno.test("parseClientArgs refuses port 0 and bad numbers with a UsageError naming the flag", () => {
  for (const args of [["--port", "0"], ["--port", "x"], ["--max-message-bytes", "0"], ["x"]]) {
    assert.throws(() => parseClientArgs(args), UsageError, args.join(" "));
  }
});

Deno.test("CLIENT_USAGE fits 80 columns and shows the flags, a pipeline and the exit statuses", () => {
  for (const line of CLIENT_USAGE.split("\n")) assert(line.length <= 80, line);
  assert.match(CLIENT_USAGE, /--max-message-bytes <n>/);
  assert.match(CLIENT_USAGE, /\| deno task client \| head/);
  assert.match(CLIENT_USAGE, /^ {2}141 /m);
});
