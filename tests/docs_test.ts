/**
 * The documentation's tables of flags and exit statuses are built here from
 * the same descriptions as `--help`, so the two cannot drift apart; its tables
 * of metrics and JSON log keys, both contracts, name what the code writes; and
 * every relative link in the README and `docs/` leads somewhere. The table
 * code is the test's own: it lays out Markdown as `deno fmt` does, and ships
 * nowhere. The pages are imported as text, so no read permission is needed
 * but for the links.
 *
 * @module
 */

import assert from "node:assert/strict";
import readme from "../README.md" with { type: "text" };
import benchmarks from "../docs/benchmarks.md" with { type: "text" };
import client from "../docs/client.md" with { type: "text" };
import development from "../docs/development.md" with { type: "text" };
import limits from "../docs/limits.md" with { type: "text" };
import monitoring from "../docs/monitoring.md" with { type: "text" };
import running from "../docs/running.md" with { type: "text" };
import tls from "../docs/tls.md" with { type: "text" };
import { flagName, type Flags } from "../cli/flags.ts";
import { EXIT_STATUSES } from "../cli/exit_status.ts";
import { SERVER_FLAGS } from "../server/command_line.ts";
import { CLIENT_FLAGS } from "../client/command_line.ts";
import { JSON_LOG_KEYS } from "../server/log.ts";
import { METRICS } from "../server/exposition.ts";

/** Every page, by its path from the project's root. */
const PAGES: Record<string, string> = {
  "README.md": readme,
  "docs/benchmarks.md": benchmarks,
  "docs/client.md": client,
  "docs/development.md": development,
  "docs/limits.md": limits,
  "docs/monitoring.md": monitoring,
  "docs/running.md": running,
  "docs/tls.md": tls,
};

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

/** The docs' table of a program's flags. */
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

/** The docs' table of both programs' exit statuses. */
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

/** Each table the code describes, and the page it stands on. */
const TABLES = {
  "server's flags": { page: "docs/running.md", table: flagTable(SERVER_FLAGS) },
  "client's flags": { page: "docs/client.md", table: flagTable(CLIENT_FLAGS) },
  "exit statuses": { page: "docs/client.md", table: exitTable() },
};

for (const [name, { page, table }] of Object.entries(TABLES)) {
  Deno.test(`${page} shows the ${name} exactly as the code describes them`, () => {
    assert(
      PAGES[page].includes(`\n${table}\n`),
      `${page}'s table of the ${name} differs from the code's. It should read:\n\n${table}\n`,
    );
  });
}

/** The first column of the page's table whose header starts with `header`, without backquotes. */
function firstColumn(page: string, header: string): string[] {
  const text = PAGES[page];
  const start = text.indexOf(`\n| ${header}`);
  assert(start !== -1, `${page} has no table headed ${header}`);
  const rows = text.slice(start + 1).split("\n\n")[0].split("\n").slice(2);
  return rows.map((row) => row.split("|")[1].trim());
}

Deno.test("docs/monitoring.md lists the JSON log's keys after time, level and event, in the order they are written", () => {
  const keys = firstColumn("docs/monitoring.md", "Key ").map((cell) => cell.replaceAll("`", ""));
  assert.deepEqual(keys, JSON_LOG_KEYS.slice(3));
});

Deno.test("docs/monitoring.md's metric table names exactly the metrics the endpoint writes", () => {
  const listed = firstColumn("docs/monitoring.md", "Name ").flatMap((cell) =>
    [...cell.matchAll(/`([a-z_]+)`/g)].map((m) => m[1])
  );
  assert.deepEqual(listed.toSorted(), METRICS.map((metric) => metric.name).toSorted());
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function headingAnchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

/** The anchors of a page's headings, code blocks left out. */
function anchors(text: string): Set<string> {
  const prose = text.replace(/^```[\s\S]*?^```/gm, "");
  return new Set([...prose.matchAll(/^#+ (.+)$/gm)].map((m) => headingAnchor(m[1])));
}

Deno.test("headingAnchor makes GitHub's anchors", () => {
  assert.equal(
    headingAnchor("Riding through restarts: `--reconnect`"),
    "riding-through-restarts---reconnect",
  );
  assert.equal(
    headingAnchor("Limits, failure behaviour and security"),
    "limits-failure-behaviour-and-security",
  );
  assert.equal(headingAnchor("Why there are no `jsr:` imports"), "why-there-are-no-jsr-imports");
});

const canRead = Deno.permissions.querySync({ name: "read", path: "docs" }).state === "granted";
if (!canRead) {
  console.warn(
    "docs_test.ts: skipping the test of links, which reads the files they name; " +
      "run `deno task test`, which grants it",
  );
}

Deno.test({
  name: "every relative link in the README and docs/ leads to a file, and to a heading in it",
  ignore: !canRead,
  fn() {
    const broken: string[] = [];
    for (const [page, text] of Object.entries(PAGES)) {
      const prose = text.replace(/^```[\s\S]*?^```/gm, "");
      for (const [, target] of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        const [path, anchor] = target.split("#");
        const file = path === "" ? page : new URL(path, `file:///${page}`).pathname.slice(1);
        const exists = (() => {
          try {
            Deno.statSync(file);
            return true;
          } catch {
            return false;
          }
        })();
        if (!exists) broken.push(`${page}: ${target} (no ${file})`);
        else if (anchor !== undefined && !(file in PAGES && anchors(PAGES[file]).has(anchor))) {
          broken.push(`${page}: ${target} (no heading #${anchor} in ${file})`);
        }
      }
    }
    assert.deepEqual(broken, []);
  },
});
