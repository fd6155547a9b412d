/**
 * The README's tables of flags and exit statuses are built here from the same
 * descriptions as `--help`, so the two cannot drift apart; and its tables of
 * metrics and JSON log keys, both contracts, name what the code writes. The table code is
 * the test's own: it lays out Markdown as `deno fmt` does, and ships nowhere.
 * The README is imported as text, so no read permission is needed.
 *
 * @module
 */

import assert from "node:assert/strict";
import readme from "./README.md" with { type: "text" };
import { flagName, type Flags } from "./cli.ts";
import { EXIT_STATUSES } from "./cli/exit_status.ts";
import { SERVER_FLAGS } from "./server/command_line.ts";
import { CLIENT_FLAGS } from "./client/command_line.ts";
import { JSON_LOG_KEYS } from "./server/log.ts";
import { renderMetrics } from "./server/exposition.ts";
import { ServerStats } from "./server/stats.ts";

/** A Markdown table laid out as `deno fmt` lays it out. */
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

/** The README's table of a program's flags. */
function flagTable(flags: Flags): string {
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

/** The README's table of both programs' exit statuses. */
function exitTable(): string {
  return markdownTable(
    ["Code", "Program", "Meaning"],
    Object.values(EXIT_STATUSES).map((status) => [
      "`" + status.code + "`",
      status.program,
      status.meaning,
    ]),
  );
}

Deno.test("flagTable and exitTable lay out Markdown tables as deno fmt does", () => {
  const flags = {
    port: { value: "<n>", default: 5000, help: "Port to listen on; `0` picks a free one" },
    quiet: { help: "No log" },
    help: { short: "h", help: "Usage" },
  } as const satisfies Flags;
  assert.equal(
    flagTable(flags),
    [
      "| Flag           | Default | Meaning                                 |",
      "| -------------- | ------- | --------------------------------------- |",
      "| `--port <n>`   | `5000`  | Port to listen on; `0` picks a free one |",
      "| `--quiet`      |         | No log                                  |",
      "| `-h`, `--help` |         | Usage                                   |",
    ].join("\n"),
  );
  assert.match(
    exitTable(),
    /^\| `141` \| client {2}\| Its output was closed early \(`\\\| head`\)/m,
  );
});

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

/** The first column of the README's table whose header starts with `header`, without backquotes. */
function firstColumn(header: string): string[] {
  const start = readme.indexOf(`\n| ${header}`);
  assert(start !== -1, `README.md has no table headed ${header}`);
  const rows = readme.slice(start + 1).split("\n\n")[0].split("\n").slice(2);
  return rows.map((row) => row.split("|")[1].trim());
}

Deno.test("README lists the JSON log's keys after time, level and event, in the order they are written", () => {
  const keys = firstColumn("Key ").map((cell) => cell.replaceAll("`", ""));
  assert.deepEqual(keys, JSON_LOG_KEYS.slice(3));
});

Deno.test("README's metric table names exactly the metrics the endpoint writes", () => {
  const listed = firstColumn("Name ").flatMap((cell) =>
    [...cell.matchAll(/`([a-z_]+)`/g)].map((m) => m[1])
  );
  const stats = new ServerStats().snapshot();
  const text = renderMetrics(stats, { maxConnections: 1, version: "1", deno: "2" }, {
    cpuSeconds: 0,
    residentBytes: 0,
    startTimeSeconds: 0,
    openFds: 0,
    maxFds: 0,
  });
  const written = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
  assert.deepEqual(listed.toSorted(), written.toSorted());
});
