/**
 * End-to-end tests of the server: the real programs as processes, started the
 * way the README says, talked to over 127.0.0.1 and stopped with signals. The
 * client's own are in `client_e2e_test.ts`.
 *
 * They need to start `deno`, so `deno task test` grants `--allow-run=deno`.
 * Under plain `deno test --allow-net` they are skipped, with a message saying so.
 *
 * @module
 */

import assert from "node:assert/strict";
import { allOf, oneShot, Peer, roundTripsFromManyClients } from "../testing/peers.ts";
import {
  canRun,
  freePort,
  listening,
  runClientProcess,
  spawn,
  startServerDirectly,
  startServerProcess,
  stopProcess,
  warnIfMissing,
} from "../testing/processes.ts";
import { TIMED_OUT, withTimeout } from "../io/socket.ts";

const available = {
  deno: await canRun("deno", ["--version"]),
  prlimit: await canRun("prlimit", ["--version"]),
};
warnIfMissing("e2e_test.ts", { available: available, packages: "util-linux" });

/** Fails unless a new client's round trip completes within `ms`; never waits much longer. */
async function assertNewClientAnsweredWithin(
  addr: Deno.NetAddr,
  { ms, when }: { ms: number; when: string },
) {
  const started = performance.now();
  const connecting = Peer.connect(addr);
  const peer = await withTimeout(connecting, ms);
  if (peer === TIMED_OUT) {
    (await connecting)[Symbol.dispose]();
    assert.fail(`${when}: a new client could not connect within ${ms} ms`);
  }
  using client = peer;
  const roundTrip = client.send("sigo aquí\n").then(() => client.readLine());
  const reply = await withTimeout(roundTrip, ms - (performance.now() - started));
  if (reply === TIMED_OUT) {
    client[Symbol.dispose](); // ends the pending read
    await roundTrip.catch(() => {});
    assert.fail(`${when}: a new client waited more than ${ms} ms for its reply`);
  }
  assert.equal(reply, "SIGO AQUÍ\n", when);
}

function assertNoStackTrace(text: string): void {
  assert.doesNotMatch(
    text,
    /\n\s+at |Stack backtrace|Uncaught/,
    `no stack trace expected in ${JSON.stringify(text)}`,
  );
}

Deno.test({
  name: "deno task server answers hola servidor and exits 0 on SIGTERM, logging on stderr",
  ignore: !available.deno,
  async fn() {
    const server = await startServerProcess();
    {
      using peer = await Peer.connect(server.addr);
      await peer.send("hola servidor\n");
      assert.equal(await peer.readLine(), "HOLA SERVIDOR\n");
    }
    await server.stderr.waitFor(/#1 .* closed/);
    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0);
    assert.match(
      server.stderr.text(),
      /^#1 127\.0\.0\.1:\d+ connected\n#1 .* closed \(end of input\)/,
    );
  },
});

Deno.test({
  name:
    "server exits 0 within 2 s on SIGINT and SIGTERM, closing idle, mid-message and mid-stream clients, and restarts on the same port at once",
  ignore: !available.deno,
  async fn() {
    let port = 0;
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const server = await startServerProcess("--port", String(port), "--flush-delay", "0");
      port = server.addr.port;
      using idle = await Peer.connect(server.addr);
      await idle.send("hola\n");
      assert.equal(await idle.readLine(), "HOLA\n");
      using midMessage = await Peer.connect(server.addr);
      await midMessage.send("medio mensaje");
      using midStream = await Peer.connect(server.addr);
      const streaming = stream(midStream);
      await midStream.readLine(); // the stream is flowing

      server.child.kill(signal);
      assert.equal(await withTimeout(server.exited, 2000), 0, `${signal}: exit 0 within 2 s`);
      assert.equal(await idle.readToEnd(), "", `${signal}: the idle client sees end of stream`);
      assert.equal(
        await midMessage.readToEnd(),
        "",
        `${signal}: half a message is not due, so no reply`,
      );
      await streaming;
      assert.equal(
        server.stderr.text().match(/closed \(server stopping\)/g)?.length,
        3,
        server.stderr.text(),
      );
    }
  },
});

/** Sends lines as fast as the server takes them, reading replies, until the server ends the stream. */
async function stream(peer: Peer): Promise<void> {
  const lines = new TextEncoder().encode("en marcha\n".repeat(100));
  const writing = (async () => {
    while (!peer.ended) await peer.send(lines);
  })().catch(() => {}); // the server may close between the end of stream and the next write
  await peer.readToEnd();
  await writing;
}

Deno.test({
  name: "server on a port in use says so in one line and exits 3",
  ignore: !available.deno,
  async fn() {
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const server = spawn("deno", [
      "run",
      "--allow-net",
      "server.ts",
      "--port",
      String(taken.addr.port),
    ]);
    assert.equal(await server.exited, 3);
    assert.equal(
      server.stderr.text(),
      `Cannot listen on 127.0.0.1:${taken.addr.port}: address already in use. ` +
        "Stop the program using it, or pick another port with --port\n",
    );
  },
});

Deno.test({
  name: "server on IPv6 writes its address in brackets, listening and when the port is in use",
  ignore: !available.deno,
  async fn() {
    const onIpv6 = (port: string) =>
      spawn("deno", ["run", "--allow-net", "server.ts", "--host", "::1", "--port", port]);
    await using server = onIpv6("0");
    await server.stdout.waitFor(/Listening on .*\n/);
    const port = server.stdout.text().match(/^Listening on \[::1\]:(\d+) \(Ctrl-C to stop\)$/m)
      ?.[1];
    assert(port, server.stdout.text());
    const second = onIpv6(port);
    assert.equal(await second.exited, 3);
    assert.match(
      second.stderr.text(),
      new RegExp(`^Cannot listen on \\[::1\\]:${port}: address already in use\\.`),
    );
    assert.equal(await stopProcess(server), 0);
  },
});

Deno.test({
  name: "server and client reject a bad flag with one line and exit 2",
  ignore: !available.deno,
  async fn() {
    for (const program of ["server.ts", "client.ts"]) {
      const run = spawn("deno", ["run", "--allow-net", program, "--port", "seventy"]);
      assert.equal(await run.exited, 2, program);
      assert.equal(
        run.stderr.text(),
        'Invalid value "seventy" for --port: expected a whole number from ' +
          `${program === "server.ts" ? 0 : 1} to 65535 (run with --help to see the options)\n`,
      );
    }
  },
});

Deno.test({
  name: "client with piped input prints the replies and exits 0 after DESCONEXION",
  ignore: !available.deno,
  async fn() {
    const server = await startServerProcess();
    const client = await runClientProcess(
      server.addr.port,
      "hola servidor\nñandú\nDESCONEXION\nnunca enviado\n",
    );
    assert.equal(client.code, 0);
    assert.equal(client.stdout.text(), "HOLA SERVIDOR\nÑANDÚ\n");
    assert.equal(client.stderr.text(), "");
    await server.stderr.waitFor(/closed/);
    assert.match(server.stderr.text(), /closed \(disconnect command\) after 2 messages/);
    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0);
  },
});

Deno.test({
  name: "client with no server says how to start one and exits 3, without a stack trace",
  ignore: !available.deno,
  async fn() {
    const port = freePort();
    const client = await runClientProcess(port, "hola\n");
    assert.equal(client.code, 3);
    assert.match(
      client.stderr.text(),
      /^Cannot connect to 127\.0\.0\.1:\d+: no server is listening there\. Start one with "deno task server"/,
    );
    assertNoStackTrace(client.stderr.text());
  },
});

Deno.test({
  name: "server and client --help and --version print usage and the version from deno.json",
  ignore: !available.deno,
  async fn() {
    const { default: config } = await import("../deno.json", { with: { type: "json" } });
    for (const program of ["server.ts", "client.ts"]) {
      const help = spawn("deno", ["run", "--allow-net", program, "--help"]);
      assert.equal(await help.exited, 0);
      assert.match(help.stdout.text(), /Usage:\n {2}deno task (server|client) \[options\]/);
      const version = spawn("deno", ["run", "--allow-net", program, "--version"]);
      assert.equal(await version.exited, 0);
      assert.equal(version.stdout.text(), `${config.version}\n`);
    }
  },
});

Deno.test({
  name:
    "server out of file handles logs the failing accept, backs off, and serves the waiting client once handles free up",
  ignore: !available.deno || !available.prlimit,
  async fn() {
    await using server = await listening(
      spawn("prlimit", ["--nofile=64", "deno", "run", "--allow-net", "server.ts", "--port", "0"]),
    );
    using peers = allOf<Peer>([]);
    // Connections queue in the kernel; the server fails to accept once its handles run out.
    let failing = false;
    server.stderr.waitFor(/Cannot accept a connection/).then(() => failing = true);
    while (!failing) {
      assert(peers.length < 500, "the server never ran out of file handles");
      peers.push(await Peer.connect(server.addr));
      await server.stderr.waitFor(/connected\n|Cannot accept/);
    }
    // Hold the handles until the retry has backed off once, doubling its wait.
    await server.stderr.waitFor(/Cannot accept .*retrying in 10 ms/);
    const waiting = peers.pop()!;
    for (const peer of peers) peer[Symbol.dispose]();
    await waiting.send("sigo aquí\n");
    assert.equal(await waiting.readLine(), "SIGO AQUÍ\n");
    waiting[Symbol.dispose]();
    assert.match(
      server.stderr.text(),
      /Cannot accept a connection: Too many open files.*; retrying in 5 ms\n(.*\n)*Cannot accept .*retrying in 10 ms/,
    );
    assert.equal(await stopProcess(server), 0);
  },
});

Deno.test({
  name:
    "server answers a new client within 100 ms of SIGCONT after 100 clients connected and reset while it was stopped, and logs a summary, not 100 lines",
  ignore: !available.deno,
  async fn() {
    await using server = await startServerDirectly();
    server.child.kill("SIGSTOP");
    try {
      for (let i = 0; i < 100; i++) {
        await oneShot(server.addr, { read: "nothing", leave: "reset" });
      }
    } finally {
      server.child.kill("SIGCONT"); // a stopped server would ignore the SIGTERM of the disposal
    }
    await assertNewClientAnsweredWithin(server.addr, { ms: 100, when: "after SIGCONT" });
    assert.equal(await stopProcess(server), 0);
    const log = server.stderr.text();
    const summaries = log.match(
      /^Skipped \d+ connections? that the client closed before it was accepted \(.*\)$/gm,
    ) ?? [];
    assert(summaries.length >= 1 && summaries.length <= 3, `want 1 to 3 summary lines:\n${log}`);
    assert.doesNotMatch(log, /Cannot accept/, "no backoff for clients that left");
  },
});

Deno.test({
  name: "server answers a new client within 100 ms every 100 of 2,000 connect/reset cycles",
  ignore: !available.deno,
  async fn() {
    await using server = await startServerDirectly("--quiet");
    for (let cycle = 1; cycle <= 2000; cycle++) {
      await oneShot(server.addr, { read: "nothing", leave: "reset" });
      if (cycle % 100 === 0) {
        await assertNewClientAnsweredWithin(server.addr, {
          ms: 100,
          when: `after ${cycle} cycles`,
        });
      }
    }
    assert.equal(await stopProcess(server), 0);
  },
});

Deno.test({
  name: "server process serves 1,000 clients at once, each doing 10 round trips",
  ignore: !available.deno,
  async fn() {
    await using server = await startServerDirectly("--quiet");
    await roundTripsFromManyClients(server.addr, { clients: 1000, rounds: 10 });
    assert.equal(await stopProcess(server), 0);
  },
});
