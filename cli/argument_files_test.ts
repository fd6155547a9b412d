/**
 * Tests of the files named on the command line: a PEM file is read and
 * checked for its label, a file that cannot be used is named in one line, and
 * read access is given up once the files are read.
 *
 * They write their files in `.test-tmp/`, which `deno task test` lets them
 * read and write, and start `deno` to give up read access in a process of its
 * own; under plain `deno test --allow-net` they are skipped.
 *
 * @module
 */

import assert from "node:assert/strict";
import { FileArgumentError, readArgumentFiles, readPemFile } from "./argument_files.ts";
import { EXIT } from "./exit_status.ts";

const TEST_TMP = ".test-tmp";
const mayUseFiles = (await Deno.permissions.query({ name: "write", path: TEST_TMP })).state ===
    "granted" &&
  (await Deno.permissions.query({ name: "read", path: TEST_TMP })).state === "granted";

const mayRunDeno = (await Deno.permissions.query({ name: "run", command: "deno" })).state ===
  "granted";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

/** A folder under `.test-tmp/` holding `files`, removed on disposal. */
async function folderWith(files: Record<string, string>) {
  await Deno.mkdir(TEST_TMP, { recursive: true });
  const path = await Deno.makeTempDir({ dir: TEST_TMP, prefix: "argument-files-" });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${path}/${name}`, text);
  }
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

Deno.test({
  name: "readPemFile gives the text of a file that holds the PEM label asked for",
  ignore: !mayUseFiles,
  async fn() {
    await using folder = await folderWith({ "ca.pem": PEM });
    assert.equal(
      await readPemFile(`${folder.path}/ca.pem`, { what: "CA certificate", label: "CERTIFICATE" }),
      PEM,
    );
  },
});

Deno.test({
  name: "readPemFile names the file and says what is wrong: missing, a folder, or not PEM",
  ignore: !mayUseFiles,
  async fn() {
    await using folder = await folderWith({ "key.pem": PEM });
    const table: [string, string][] = [
      [
        `${folder.path}/nope.pem`,
        `Cannot read the TLS private key "${folder.path}/nope.pem": no such file`,
      ],
      [folder.path, `Cannot read the TLS private key "${folder.path}": it is a folder`],
      [
        `${folder.path}/key.pem`,
        `Cannot use the TLS private key "${folder.path}/key.pem": it holds no PEM PRIVATE KEY`,
      ],
    ];
    for (const [path, want] of table) {
      await assert.rejects(
        readPemFile(path, { what: "TLS private key", label: "PRIVATE KEY" }),
        new FileArgumentError(want),
      );
    }
  },
});

Deno.test({
  name: "readArgumentFiles reports a file that cannot be used in one line and returns 2",
  ignore: !mayUseFiles,
  async fn() {
    const reported: string[] = [];
    const { error } = console;
    console.error = (line: string) => void reported.push(line);
    try {
      const status = await readArgumentFiles(() =>
        readPemFile(`${TEST_TMP}/missing.pem`, { what: "CA certificate", label: "CERTIFICATE" })
          .then(() => ({}))
      );
      assert.equal(status, EXIT.USAGE);
    } finally {
      console.error = error;
    }
    assert.deepEqual(reported, [
      `Cannot read the CA certificate "${TEST_TMP}/missing.pem": no such file`,
    ]);
  },
});

Deno.test({
  name: "giveUpReading takes read access away for good, after readArgumentFiles gave what was read",
  ignore: !mayUseFiles || !mayRunDeno,
  async fn() {
    await using folder = await folderWith({ "ca.pem": PEM });
    // In a process of its own: giving up read access here would take it from every test module.
    const program = `
      import { giveUpReading, readArgumentFiles, readPemFile } from "./cli/argument_files.ts";
      const path = "${folder.path}/ca.pem";
      const files = await readArgumentFiles(async () => ({ ca: await readPemFile(path, { what: "CA", label: "CERTIFICATE" }) }));
      giveUpReading();
      const after = await Deno.readTextFile(path).then(() => "read", (error) => error.name);
      console.log(JSON.stringify({ files, after }));`;
    const { stdout, success } = await new Deno.Command("deno", {
      args: ["eval", "--ext=ts", program],
      stderr: "inherit",
    }).output();
    assert(success);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(stdout)), {
      files: { ca: PEM },
      after: "NotCapable",
    });
  },
});
