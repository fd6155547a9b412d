/**
 * End-to-end tests of the client: the real program as a process, in a
 * pseudo-terminal (util-linux `script`) and as a filter in pipes, against our
 * server or against servers that misbehave.
 *
 * They need to start `deno` and `script`, which `deno task test` grants.
 * Under plain `deno test --allow-net` they are skipped, with a message saying so.
 *
 * @module
 */

import assert from "node:assert/strict";
import { keyboard, PROJECT_ROOT, startServer, TERMINAL_ATTACKS } from "../testing/helpers.ts";
import { fakeServer } from "../testing/peers.ts";
import {
  canRun,
  clientArgs,
  processResources,
  runClientProcess,
  spawn,
  spawnClient,
  startServerDirectly,
  warnIfMissing,
} from "../testing/processes.ts";
import { stripVTControlCharacters } from "node:util";
import { TIMED_OUT, withTimeout } from "../io/socket.ts";

const available = {
  deno: await canRun("deno", ["--version"]),
  script: await canRun("script", ["--version"]),
};
warnIfMissing("client_e2e_test.ts", { available: available, packages: "bsdutils" });

/** Runs the real client in a pseudo-terminal (util-linux `script`), typed at with a keyboard. */
function terminalClient(port: number, environment = "NO_COLOR=1") {
  const keys = keyboard();
  const command = `env -u NO_COLOR ${environment} deno run --allow-net client.ts --port ${port}`;
  const run = spawn("script", ["--quiet", "--return", "--command", command, "/dev/null"], {
    input: keys.stream,
  });
  return { ...run, keys, screen: () => stripVTControlCharacters(run.stdout.text()) };
}

Deno.test({
  name:
    "client in a real terminal shows where it is, prompts, answers, recalls history and leaves on DESCONEXION",
  ignore: !available.deno || !available.script,
  async fn() {
    await using server = startServer();
    const client = terminalClient(server.addr.port);
    await client.stdout.waitFor(
      /Connected to 127\.0\.0\.1:\d+\. Type a message and press Enter; DESCONEXION or Ctrl-D to leave\.[^]*> /,
    );
    client.keys.type("hola servidor\r");
    await client.stdout.waitFor(/\r\nHOLA SERVIDOR\r\n/);
    client.keys.type("\x1b[A"); // Up: the last message comes back to the prompt
    await client.stdout.waitFor(/HOLA SERVIDOR[^]*> hola servidor/);
    client.keys.type("\r");
    await client.stdout.waitFor(/HOLA SERVIDOR[^]*HOLA SERVIDOR/);
    client.keys.type("DESCONEXION\r");
    assert.equal(await client.exited, 0);
    assert.match(client.screen(), /> DESCONEXION\r+\nConnection closed\.\r\n$/);
    assert.match(await server.log.waitFor(/closed/), /\(disconnect command\) after 2 messages/);
  },
});

Deno.test({
  name: "client in a real terminal disconnects on Ctrl-C and exits 130",
  ignore: !available.deno || !available.script,
  async fn() {
    await using server = startServer();
    const client = terminalClient(server.addr.port);
    await client.stdout.waitFor(/> /);
    client.keys.type("\x03");
    assert.equal(await client.exited, 130);
    assert.match(await server.log.waitFor(/closed/), /\(disconnect command\)/);
  },
});

Deno.test({
  name: "client in a real terminal says at once that the server went away, and exits 4",
  ignore: !available.deno || !available.script,
  async fn() {
    const server = startServer();
    const client = terminalClient(server.addr.port);
    await client.stdout.waitFor(/> /);
    await server.stop();
    assert.equal(await client.exited, 4);
    assert.match(
      client.screen(),
      /> \r\nConnection lost while you were typing: the server closed the connection\r\n$/,
    );
  },
});

Deno.test({
  name: "client in a real terminal colours replies unless NO_COLOR is set",
  ignore: !available.deno || !available.script,
  async fn() {
    await using server = startServer();
    for (const environment of ["", "NO_COLOR=1"]) {
      const client = terminalClient(server.addr.port, environment);
      client.keys.type("hola\r");
      await client.stdout.waitFor(/HOLA/);
      client.keys.type("\x04");
      assert.equal(await client.exited, 0);
      assert.equal(
        client.stdout.text().includes("\x1b[1;32mHOLA\x1b[0m"),
        environment === "",
        environment,
      );
    }
  },
});

Deno.test({
  name: "client as a filter uppercases 20,000 mixed UTF-8 lines in order",
  ignore: !available.deno,
  async fn() {
    await using server = startServer({ log: null });
    const words = ["canción", "ñandú", "straße", "日本", "hola servidor", "", "Ǆemal 🙂", "crlf\r"];
    const lines = Array.from({ length: 20_000 }, (_, i) => `${i} ${words[i % words.length]}`);
    const client = await runClientProcess(server.addr.port, lines.join("\n") + "\n");
    assert.equal(client.code, 0, client.stderr.text());
    assert.equal(client.stdout.text(), lines.map((line) => line.toUpperCase()).join("\n") + "\n");
    assert.equal(client.stderr.text(), "");
  },
});

Deno.test({
  name:
    "client as a filter says in one line that the server went away while its input is open, and exits 4",
  ignore: !available.deno,
  async fn() {
    const server = startServer();
    const producer = keyboard();
    const client = spawnClient(server.addr.port, producer.stream);
    producer.type("uno\n");
    await client.stdout.waitFor(/UNO\n/);
    await server.stop(); // the producer is still running
    assert.equal(await client.exited, 4);
    assert.equal(
      client.stderr.text(),
      "Connection lost before the input ended: the server closed the connection\n",
    );
  },
});

Deno.test({
  name:
    "client as a filter piped into head -1 stops quietly when its output closes, and exits 141 like cat",
  ignore: !available.deno,
  async fn() {
    await using server = startServer({ log: null });
    const client = new Deno.Command("deno", {
      args: clientArgs(server.addr.port),
      cwd: PROJECT_ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const feeding = ReadableStream.from([new TextEncoder().encode("linea\n".repeat(200_000))])
      .pipeTo(client.stdin).catch(() => {}); // the client stops reading once its output is gone
    const errors = new Response(client.stderr).text();
    // What head -1 does: read the first line, then close the pipe.
    const lines = client.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let first = "";
    while (!first.includes("\n")) first += (await lines.read()).value ?? "";
    await lines.cancel();
    const { code } = await client.status;
    await feeding;
    assert.equal(first.split("\n")[0], "LINEA");
    assert.equal(code, 141);
    assert.equal(await errors, "", "no message and no stack trace");
  },
});

Deno.test({
  name:
    "client sends a 2 MiB line and gets its reply when --max-message-bytes is raised on both sides",
  ignore: !available.deno,
  async fn() {
    const limit = String(3 * 1024 * 1024);
    const server = await startServerDirectly("--max-message-bytes", limit);
    const line = "abcdefgh".repeat(256 * 1024); // 2 MiB
    const client = await runClientProcess(
      server.addr.port,
      line + "\n",
      "--max-message-bytes",
      limit,
    );
    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0);
    assert.equal(client.code, 0, client.stderr.text());
    assert.equal(client.stdout.text(), line.toUpperCase() + "\n");
  },
});

Deno.test({
  name:
    "client in a real terminal shows a server's escape sequences as text: no title set, no screen cleared, no clipboard written, no query answered",
  ignore: !available.deno || !available.script,
  async fn() {
    const attacks = TERMINAL_ATTACKS;
    await using server = await fakeServer((socket) =>
      socket.on("data", () => socket.write(`HOLA${attacks.join("")}\n`))
    );
    const client = terminalClient(server.port);
    await client.stdout.waitFor(/> /);
    client.keys.type("hola\r");
    await client.stdout.waitFor(/HOLA\^\[\]0;owned\^G/);
    client.keys.type("\x04"); // Ctrl-D
    assert.equal(await client.exited, 0);
    const screen = client.stdout.text();
    for (const attack of attacks) assert(!screen.includes(attack), JSON.stringify(attack));
    assert.match(
      screen,
      /HOLA\^\[\]0;owned\^G\^\[\[2J\^\[\]52;c;b3duZWQ=\^G\^\[P\$q m\^\[\\\\x9b6n/,
    );
  },
});

Deno.test({
  name:
    "client whose server answers one line with an endless stream of 64 KiB lines, its output not read, ends with 4 and stays under 250 MB",
  ignore: !available.deno,
  async fn() {
    const line = "X".repeat(64 * 1024 - 1) + "\n";
    let streaming = true;
    await using server = await fakeServer((socket) => {
      socket.on("error", () => streaming = false);
      socket.once("data", async () => {
        while (streaming && !socket.destroyed) {
          if (!socket.write(line)) await new Promise((resolve) => socket.once("drain", resolve));
        }
      });
    });
    // Its stdout is a pipe nobody reads: the client's writes block, as under a stalled consumer.
    const child = new Deno.Command("deno", {
      args: clientArgs(server.port),
      cwd: PROJECT_ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    const errors = new Response(child.stderr).text();
    try {
      await writer.write(new TextEncoder().encode("hola\n"));
      let peakKib = 0;
      const exited = child.status.then((status) => status.code);
      for (let code: number | typeof TIMED_OUT = TIMED_OUT; code === TIMED_OUT;) {
        code = await withTimeout(exited, 200);
        const resources = await processResources(child.pid).catch(() => undefined);
        if (resources) peakKib = Math.max(peakKib, resources.rssKib);
        if (code !== TIMED_OUT) assert.equal(code, 4);
      }
      assert(peakKib < 250 * 1024, `the client grew to ${peakKib} KiB`);
      assert.match(
        await errors,
        /answers nothing this client sent: it does not speak this protocol/,
      );
    } finally {
      streaming = false;
      try {
        child.kill("SIGKILL");
      } catch {
        // It had ended.
      }
      await child.status;
      await writer.close().catch(() => {});
      await child.stdout.cancel();
      await errors;
    }
  },
});
