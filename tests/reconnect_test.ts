/**
 * `--reconnect` with the real programs: the client streams lines while its
 * server is killed and started again, starts before its server, meets a full
 * server, loses its server for good, and reconnects over TLS. Each time its
 * output must be, byte for byte, what one unbroken connection gives. (The
 * rolling restart behind HAProxy is in `deploy_test.ts`.)
 *
 * They start `deno` (and `openssl`, for TLS), which `deno task test` grants;
 * otherwise they are skipped, with a message.
 *
 * @module
 */

import assert from "node:assert/strict";
import { keyboard, sleep, startServer } from "../testing/helpers.ts";
import { Peer } from "../testing/peers.ts";
import {
  canRun,
  freePort,
  type Running,
  spawn,
  spawnClient,
  startServerDirectly,
  stopProcess,
  streamedLines,
  warnIfMissing,
  wholeOutput,
} from "../testing/processes.ts";
import { canMakeCertificates, makeTestCertificates } from "../testing/certificates.ts";

const available = {
  deno: await canRun("deno", ["--version"]),
  openssl: await canMakeCertificates(),
};
warnIfMissing("reconnect_test.ts", { available: available, packages: "openssl" });

Deno.test({
  name:
    "--reconnect: the server is killed mid-stream and started again on the same port 1 s later; the output is whole, exit 0",
  ignore: !available.deno,
  async fn() {
    let server = await startServerDirectly("--quiet");
    const port = String(server.addr.port);
    const { input, expected } = streamedLines(100_000, 2_000, async (n) => {
      if (n !== 10) return;
      server.child.kill("SIGKILL");
      await server.exited;
      await sleep(1_000); // the scenario: back 1 s later
      server = await startServerDirectly("--quiet", "--port", port);
    });
    const client = spawnClient(server.addr.port, input, "--reconnect");
    try {
      const errors = await wholeOutput(client, expected);
      assert.equal(errors, "Connection lost; reconnecting...\nReconnected.\n");
    } finally {
      await stopProcess(client);
      await stopProcess(server);
    }
  },
});

Deno.test({
  name:
    "--reconnect: the client starts before its server, which it waits for, and the output is whole",
  ignore: !available.deno,
  async fn() {
    const port = freePort();
    const { input, expected } = streamedLines(20_000, 2_000);
    const client = spawnClient(port, input, "--reconnect");
    let server: Running | undefined;
    try {
      await client.stderr.waitFor(/^No server at 127\.0\.0\.1:\d+ yet; waiting for one\.\.\.$/m);
      server = await startServerDirectly("--quiet", "--port", String(port));
      const errors = await wholeOutput(client, expected);
      assert.equal(
        errors,
        `No server at 127.0.0.1:${port} yet; waiting for one...\nConnected.\n`,
      );
    } finally {
      await stopProcess(client);
      if (server) await stopProcess(server);
    }
  },
});

Deno.test({
  name:
    "--reconnect --retry-for 2: a server that never comes back is one line and exit 4; without --reconnect, exit 4 at once",
  ignore: !available.deno,
  async fn() {
    for (const flags of [["--reconnect", "--retry-for", "2"], []]) {
      const server = startServer({ log: null });
      const producer = keyboard();
      const client = spawnClient(server.addr.port, producer.stream, ...flags);
      producer.type("uno\n");
      await client.stdout.waitFor(/UNO\n/);
      await server.stop(); // and never started again; the producer goes on
      const stopped = performance.now();
      assert.equal(await client.exited, 4, flags.join(" "));
      const waited = performance.now() - stopped;
      const errors = client.stderr.text().trimEnd().split("\n");
      if (flags.length > 0) {
        assert.deepEqual(errors.slice(0, -1), ["Connection lost; reconnecting..."]);
        assert.match(
          errors.at(-1)!,
          /^Connection lost, and not made again within 2 s \(--retry-for\): no server is listening there\./,
        );
        assert(waited >= 2_000, `gave up after ${waited} ms`);
      } else {
        assert.deepEqual(errors, [
          "Connection lost before the input ended: the server closed the connection",
        ]);
        assert(waited < 2_000, `at once, not after ${waited} ms`);
      }
    }
  },
});

Deno.test({
  name:
    "--reconnect: turned away by a full server, the client tries again, and completes once a slot frees 1 s later",
  ignore: !available.deno,
  async fn() {
    await using server = startServer({ maxConnections: 1, log: null });
    const holder = await Peer.connect(server.addr);
    await holder.send("ocupado\n");
    assert.equal(await holder.readLine(), "OCUPADO\n");
    const { input, expected } = streamedLines(5_000, 1_000);
    const client = spawnClient(server.addr.port, input, "--reconnect");
    try {
      await client.stderr.waitFor(/^Connection lost; reconnecting\.\.\.$/m);
      await sleep(1_000); // the scenario: a slot frees 1 s later
      holder[Symbol.dispose]();
      const errors = await wholeOutput(client, expected);
      assert.equal(errors, "Connection lost; reconnecting...\nConnected.\n");
    } finally {
      holder[Symbol.dispose]();
      await stopProcess(client);
    }
  },
});

Deno.test({
  name: "--reconnect against a full server backs off: about 6 refusals in 4 s, not one every 40 ms",
  ignore: !available.deno,
  async fn() {
    await using server = startServer({ maxConnections: 1 });
    using holder = await Peer.connect(server.addr);
    await holder.send("ocupado\n");
    assert.equal(await holder.readLine(), "OCUPADO\n");
    const producer = keyboard();
    // Stopped when the test ends; what it does shows in the server's log.
    await using _client = spawnClient(server.addr.port, producer.stream, "--reconnect");
    producer.type("uno\n");
    const refusal = / refused: too many connections/;
    await server.log.waitFor(refusal);
    // The measure is a window of time: how many attempts the client makes in it.
    await sleep(4_000);
    const refusals = server.log.lines.filter((line) => refusal.test(line)).length;
    // 25-50 ms doubling to 1-2 s: 7 to 9 attempts at most in 4 s, whatever the jitter.
    assert(refusals >= 4 && refusals <= 10, `${refusals} refusals in 4 s`);
  },
});

Deno.test({
  name:
    "--reconnect with --ca: over TLS, the server restarted once mid-stream, the output is whole",
  ignore: !available.deno || !available.openssl,
  async fn() {
    await using certs = await makeTestCertificates();
    const tlsFlags = ["--tls-cert", certs.server.certFile, "--tls-key", certs.server.keyFile];
    let server = await startServerDirectly("--quiet", ...tlsFlags);
    const port = String(server.addr.port);
    const { input, expected } = streamedLines(40_000, 2_000, async (n) => {
      if (n !== 8) return;
      server.child.kill("SIGTERM");
      await server.exited;
      server = await startServerDirectly("--quiet", "--port", port, ...tlsFlags);
    });
    // The task grants the read access --ca needs.
    const client = spawn(
      "deno",
      ["task", "--quiet", "client", "--port", port, "--reconnect", "--ca", certs.ca.file],
      { input },
    );
    try {
      const errors = await wholeOutput(client, expected);
      assert.equal(errors, "Connection lost; reconnecting...\nReconnected.\n");
    } finally {
      await stopProcess(client);
      await stopProcess(server);
    }
  },
});
