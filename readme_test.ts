/**
 * The README's tables of flags and exit statuses are the ones the code builds
 * from the same descriptions as `--help`, so the two cannot drift apart. The
 * README is imported as text, so no read permission is needed.
 *
 * @module
 */

import assert from "node:assert/strict";
import readme from "./README.md" with { type: "text" };
import { exitTable, flagTable } from "./cli.ts";
import { SERVER_FLAGS } from "./server/command_line.ts";
import { CLIENT_FLAGS } from "./client/command_line.ts";

const TABLES = {
  "server's flags": flagTable(SERVER_FLAGS),
  "client's flags": flagTable(CLIENT_FLAGS),
  "exit statuses": exitTable(),
};

for (const [name, table] of Object.entries(TABLES)) {
  Deno.test(`README shows the ${name} exactly as the code describes them`, () => {
    assert(
      readme.includes(`\n${table}\n`),
      `README.md's table of the ${name} differs from the code's. It should read:\n\n${table}\n`,
    );
  });
}
