/**
 * The shape of the code, as `docs/development.md` describes it: the entry points import
 * their folders and never the other way round, no two modules import each
 * other (directly or round a longer circle, type imports included), no
 * TypeScript file is over 400 lines, each module of the product has its tests
 * beside it, and the root holds the card's files and nothing more.
 *
 * The module graph comes from `deno info --json`, which knows every import;
 * line counts from `wc`, the root's files from `ls`. `deno task test` grants both; under plain
 * `deno test --allow-net` these tests are skipped.
 *
 * @module
 */

import assert from "node:assert/strict";
import { PROJECT_ROOT } from "../testing/helpers.ts";
import { canRun, warnIfMissing } from "../testing/processes.ts";

const available = {
  deno: await canRun("deno", ["--version"]),
  wc: await canRun("wc", ["--version"]),
  ls: await canRun("ls", ["--version"]),
};
warnIfMissing("structure_test.ts", { available: available, packages: "coreutils" });

const ROOT = new URL("..", import.meta.url).href;
// The worker module too: the server starts it by its address, which no import shows.
const ENTRY_POINTS = ["server.ts", "client.ts", "protocol.ts", "server/worker.ts"];
const MAX_LINES = 400;

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
}

/** The product's modules (what the entry points import, here), each with the modules it imports. */
async function productGraph(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const entry of ENTRY_POINTS) {
    const { stdout } = await new Deno.Command("deno", {
      args: ["info", "--json", entry],
      cwd: PROJECT_ROOT,
    }).output();
    const { modules } = JSON.parse(new TextDecoder().decode(stdout)) as { modules: InfoModule[] };
    for (const module of modules) {
      const path = local(module.specifier);
      if (!path?.endsWith(".ts")) continue;
      const imports = (module.dependencies ?? [])
        .flatMap((dependency) => [dependency.code?.specifier, dependency.type?.specifier])
        .map((specifier) => specifier && local(specifier))
        .filter((path): path is string => path !== undefined && path.endsWith(".ts"));
      graph.set(path, [...new Set(imports)]);
    }
  }
  return graph;
}

/** A module's path in this folder, or `undefined` for one outside it. */
function local(specifier: string): string | undefined {
  return specifier.startsWith(ROOT) ? specifier.slice(ROOT.length) : undefined;
}

/** Every circle of imports, each as the modules round it. */
function circles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const visit = (path: string, trail: string[]) => {
    const start = trail.indexOf(path);
    if (start !== -1) return void found.push([...trail.slice(start), path]);
    if (done.has(path)) return;
    for (const next of graph.get(path) ?? []) visit(next, [...trail, path]);
    done.add(path);
  };
  for (const path of graph.keys()) visit(path, []);
  return found;
}

Deno.test({
  name: "No two modules import each other, directly or round a circle, type imports included",
  ignore: !available.deno,
  async fn() {
    assert.deepEqual(circles(await productGraph()).map((circle) => circle.join(" -> ")), []);
  },
});

Deno.test({
  name: "No module in an entry point's folder imports that entry point",
  ignore: !available.deno,
  async fn() {
    const backwards = [...(await productGraph()).entries()].flatMap(([path, imports]) =>
      imports.filter((imported) => path.startsWith(imported.replace(/\.ts$/, "/")))
        .map((imported) => `${path} imports ${imported}`)
    );
    assert.deepEqual(backwards, []);
  },
});

Deno.test({
  name: `Every module of the product has at most ${MAX_LINES} lines, and a test file beside it`,
  ignore: !available.deno || !available.wc,
  async fn() {
    const modules = [...(await productGraph()).keys()].sort();
    const tests = modules.map((path) => path.replace(/\.ts$/, "_test.ts"));
    const { stdout, stderr } = await new Deno.Command("wc", {
      args: ["-l", ...modules, ...tests],
      cwd: PROJECT_ROOT,
    }).output();
    const lines = new Map(
      [...new TextDecoder().decode(stdout).matchAll(/^\s*(\d+) (\S+)$/gm)]
        .map((match) => [match[2], Number(match[1])]),
    );
    assert.deepEqual(
      tests.filter((test) => !lines.has(test)),
      [],
      new TextDecoder().decode(stderr),
    );
    assert.deepEqual(modules.filter((path) => lines.get(path)! > MAX_LINES), []);
  },
});

/** The folders that hold TypeScript, the root included. */
const CODE_FOLDERS = [
  ".",
  "bench",
  "cli",
  "client",
  "io",
  "protocol",
  "server",
  "testing",
  "tests",
];

Deno.test({
  name: `Every TypeScript file, tests and helpers too, has at most ${MAX_LINES} lines`,
  ignore: !available.ls || !available.wc,
  async fn() {
    const files: string[] = [];
    for (const folder of CODE_FOLDERS) {
      const { stdout } = await new Deno.Command("ls", { args: [folder], cwd: PROJECT_ROOT })
        .output();
      const names = new TextDecoder().decode(stdout).split("\n");
      files.push(
        ...names.filter((name) => name.endsWith(".ts")).map((name) => `${folder}/${name}`),
      );
    }
    const { stdout } = await new Deno.Command("wc", { args: ["-l", ...files], cwd: PROJECT_ROOT })
      .output();
    const counts = [...new TextDecoder().decode(stdout).matchAll(/^\s*(\d+) (\S+)$/gm)]
      .filter((match) => match[2] !== "total");
    assert(counts.length > 80, `${counts.length} files counted`);
    assert.deepEqual(counts.filter((match) => Number(match[1]) > MAX_LINES).map((m) => m[2]), []);
  },
});

/** The files a newcomer meets at the root: the card's, and the entry points' unit tests. */
const ROOT_FILES = [
  "LICENSE",
  "README.md",
  "client.ts",
  "client_test.ts",
  "deno.json",
  "deno.lock",
  "integration_test.ts",
  "protocol.ts",
  "protocol_test.ts",
  "server.ts",
  "server_test.ts",
];
const MAX_ROOT_FILES = 12;

Deno.test({
  name:
    `The root holds the card's files and at most ${MAX_ROOT_FILES} in all: suites go in tests/, helpers in testing/`,
  ignore: !available.ls,
  async fn() {
    const { stdout } = await new Deno.Command("ls", { args: ["-Ap"], cwd: PROJECT_ROOT }).output();
    const files = new TextDecoder().decode(stdout).split("\n")
      .filter((name) => name !== "" && !name.endsWith("/") && !name.startsWith("."));
    assert.deepEqual(files.toSorted(), ROOT_FILES);
    assert(ROOT_FILES.length <= MAX_ROOT_FILES);
  },
});
