/**
 * Dead peers, with the real programs in a network of the test's own where a
 * host vanishes without a word (`testing/network.ts`): a client's host, a
 * server's host, an address whose SYNs go nowhere, a server behind the real
 * HAProxy, a terminal client, a TLS client, and a firewall that drops the
 * server's own loopback datagrams. Each is an outage with a bound, never a
 * hang.
 *
 * They need root, `unshare`, `nsenter` and `nft`, which `deno task test`
 * grants and `.ci/run` installs; otherwise they are skipped, with a message.
 *
 * @module
 */

import assert from "node:assert/strict";
import { stripVTControlCharacters } from "node:util";
import { keyboard, withDeadline } from "../testing/helpers.ts";
import {
  canRun,
  freePort,
  type Running,
  stopProcess,
  streamedLines,
  warnIfMissing,
  wholeOutput,
} from "../testing/processes.ts";
import { canIsolateNetwork, IsolatedNetwork, KEEPALIVE_REAP_MS } from "../testing/network.ts";
import { canMakeCertificates, makeTestCertificates } from "../testing/certificates.ts";

const available = {
  deno: await canRun("deno", ["--version"]),
  "root, unshare, nsenter and nft": await canIsolateNetwork(),
  haproxy: await canRun("haproxy", ["-v"]),
  script: await canRun("script", ["--version"]),
  python3: await canRun("python3", ["--version"]),
  openssl: await canMakeCertificates(),
};
warnIfMissing("dead_peer_test.ts", {
  available: available,
  packages: "util-linux nftables haproxy bsdutils python3 openssl, as root",
});
const isolated = available.deno && available["root, unshare, nsenter and nft"];

/** Margin, in ms, for a loaded 2-core machine to start processes and notice what happened. */
const SLACK_MS = 3_000;

/** The server's `Metrics on` address, once it has printed it. */
async function metricsAddress(server: Running): Promise<string> {
  await server.stdout.waitFor(/^Metrics on http:\/\/\S+\/metrics$/m);
  return server.stdout.text().match(/^Metrics on (http:\/\/\S+\/metrics)$/m)![1];
}

/**
 * Makes the host of `server`'s client vanish once their connection is idle
 * (every byte acknowledged), and asserts that keepalive closes it in time.
 */
async function assertReapedByKeepalive(
  network: IsolatedNetwork,
  server: Running & { addr: Deno.NetAddr },
): Promise<void> {
  await network.acknowledged(server.addr.port);
  await network.vanish(server.addr.port);
  const vanished = performance.now();
  await server.stderr.waitFor(/closed \(the other host stopped answering/);
  const reaped = performance.now() - vanished;
  assert(reaped < KEEPALIVE_REAP_MS + SLACK_MS, `reaped after ${reaped} ms`);
}

Deno.test({
  name:
    "A client's host vanishes: keepalive frees its slot within the keepalive time, the log names the reason, /metrics shows 0 open",
  ignore: !isolated || !available.python3,
  async fn() {
    await using network = await IsolatedNetwork.create();
    await using server = await network.startServer("--metrics", "127.0.0.1:0");
    const producer = keyboard();
    await using client = network.spawnClient(server.addr.port, producer.stream);
    const metrics = await metricsAddress(server);
    producer.type("hola\n");
    await client.stdout.waitFor(/^HOLA$/m);
    await assertReapedByKeepalive(network, server);
    assert.match(
      server.stderr.text(),
      /^#1 127\.0\.0\.1:\d+ closed \(the other host stopped answering \(connection timed out, or host unreachable\)\) after 1 message/m,
    );
    const scrape = await network.fetch(metrics);
    assert.match(scrape, /^uppercase_connections_open 0$/m);
    assert.match(
      scrape,
      /^uppercase_connections_closed_total\{reason="peer_unreachable"\} 1$/m,
    );
    // The client's own keepalive finds the server's host gone too, though it waited for nothing.
    assert.equal(await client.exited, 4);
    assert.match(
      client.stderr.text(),
      /^Connection lost before the input ended: the other host stopped answering/,
    );
  },
});

Deno.test({
  name:
    "The server's host vanishes for good while a --reconnect --retry-for 3 pipeline streams: exit 4 within the reply timeout and --retry-for, the first replies printed whole",
  ignore: !isolated,
  async fn() {
    await using network = await IsolatedNetwork.create();
    await using server = await network.startServer("--quiet");
    let vanished = 0;
    const { input, expected } = streamedLines(50_000, 1_000, async (n) => {
      if (n !== 5) return;
      await client.stdout.waitFor(/^999 HOLA/m); // the server has answered
      await network.vanish(server.addr.port);
      vanished = performance.now();
    });
    const flags = ["--reconnect", "--retry-for", "3", "--reply-timeout", "2"];
    await using client: Running = network.spawnClient(server.addr.port, input, ...flags);
    assert.equal(await client.exited, 4, client.stderr.text());
    const took = performance.now() - vanished;
    assert(took < 2_000 + 3_000 + SLACK_MS, `gave up ${took} ms after the host vanished`);
    const errors = client.stderr.text().trimEnd().split("\n");
    assert.deepEqual(errors.slice(0, -1), ["Connection lost; reconnecting..."]);
    assert.match(
      errors.at(-1)!,
      /^Connection lost, and not made again within 3 s \(--retry-for\): no answer within [\d.]+ s\. Is the host up/,
    );
    const output = client.stdout.text();
    assert(
      output.length >= 5_000,
      `the replies before the host vanished: ${output.length} bytes`,
    );
    assert(output.endsWith("\n") && expected.startsWith(output), "the first replies, whole");
  },
});

Deno.test({
  name:
    "An address whose SYNs vanish: exit 3 after --connect-timeout, and with --reconnect --retry-for 3, exit 3 within it",
  ignore: !isolated,
  async fn() {
    await using network = await IsolatedNetwork.create();
    const port = freePort();
    await network.vanish(port);
    for (
      const [flags, boundMs, line] of [
        [
          ["--connect-timeout", "1"],
          1_000,
          `Cannot connect to 127.0.0.1:${port}: no answer within 1 s`,
        ],
        [
          ["--reconnect", "--retry-for", "3"],
          3_000,
          `Cannot connect to 127.0.0.1:${port} within 3 s (--retry-for): no answer within`,
        ],
      ] as const
    ) {
      const started = performance.now();
      const client = network.spawnClient(port, "hola\n", ...flags);
      assert.equal(await client.exited, 3, flags.join(" "));
      const took = performance.now() - started;
      assert(
        took >= boundMs && took < boundMs + SLACK_MS,
        `${flags.join(" ")}: exit after ${took} ms`,
      );
      const errors = client.stderr.text().trimEnd().split("\n");
      assert(errors.at(-1)!.startsWith(line), errors.join("\n"));
    }
  },
});

Deno.test({
  name:
    "Through HAProxy with deploy/haproxy.cfg, the host of the server holding a --reconnect client's session vanishes: 60,000 lines come back whole, exit 0, within seconds",
  ignore: !isolated || !available.haproxy,
  async fn() {
    await using network = await IsolatedNetwork.create();
    const ports = [freePort(), freePort()];
    const frontend = freePort();
    const haproxy = network.spawn("haproxy", ["-db", "-f", "deploy/haproxy.cfg"], {
      env: {
        UPPERCASE_BIND: `127.0.0.1:${frontend}`,
        UPPERCASE_SERVER_1: `127.0.0.1:${ports[0]}`,
        UPPERCASE_SERVER_2: `127.0.0.1:${ports[1]}`,
        UPPERCASE_STATS: `127.0.0.1:${freePort()}`,
        UPPERCASE_CHECK_INTER: "100ms",
      },
    });
    const servers: Running[] = [];
    let client: Running | undefined;
    const state = (app: string, to: string) =>
      haproxy.stderr.waitFor(new RegExp(`^Server uppercase_servers/${app} is ${to}`, "m"));
    try {
      // Down first, with no server yet, so that their coming up is an event HAProxy logs.
      for (const app of ["app1", "app2"]) await state(app, "DOWN");
      for (const port of ports) {
        servers.push(await network.startServer("--port", String(port), "--proxy-protocol"));
      }
      for (const app of ["app1", "app2"]) await state(app, "UP");
      let vanished = 0;
      const { input, expected } = streamedLines(60_000, 2_000, async (n) => {
        if (n !== 10) return;
        await client!.stdout.waitFor(/^1999 HOLA/m); // the session is up and answering
        // The server that logged a client through the proxy holds the session.
        const holder = servers.findIndex((s) => / connected via /.test(s.stderr.text()));
        assert(holder !== -1, "a server holds the client's session");
        await network.vanish(ports[holder]);
        vanished = performance.now();
      });
      // A reply timeout far past the bound below: only HAProxy closing the session meets it.
      client = network.spawnClient(frontend, input, "--reconnect", "--reply-timeout", "30");
      const errors = await wholeOutput(client, expected);
      const took = performance.now() - vanished;
      assert(took < 10_000, `the outage took ${took} ms`);
      assert.match(errors, /^Connection lost; reconnecting\.\.\.\nReconnected\.\n$/);
    } finally {
      if (client) await stopProcess(client);
      await Promise.all([haproxy, ...servers].map((running) => stopProcess(running)));
    }
  },
});

Deno.test({
  name:
    "The client in a terminal, its server's host vanished after the prompt: it says so within the reply timeout and exits 4",
  ignore: !isolated || !available.script,
  async fn() {
    await using network = await IsolatedNetwork.create();
    await using server = await network.startServer("--quiet");
    const keys = keyboard();
    const command =
      `env -u NO_COLOR NO_COLOR=1 deno run --allow-net client.ts --port ${server.addr.port} --reply-timeout 2`;
    await using client = network.spawn("script", [
      "--quiet",
      "--return",
      "--command",
      command,
      "/dev/null",
    ], {
      input: keys.stream,
    });
    await client.stdout.waitFor(/> /);
    keys.type("hola\r");
    await client.stdout.waitFor(/\r\nHOLA\r\n/);
    await network.vanish(server.addr.port);
    const typed = performance.now();
    keys.type("uno\r");
    assert.equal(await client.exited, 4);
    const took = performance.now() - typed;
    assert(took >= 2_000 && took < 2_000 + SLACK_MS, `said so after ${took} ms`);
    assert.match(
      stripVTControlCharacters(client.stdout.text()),
      /Connection lost before it answered: nothing from the server for 2 s \(--reply-timeout\)\r?\n$/,
    );
  },
});

Deno.test({
  name:
    "A TLS client's host vanishes: keepalive frees its slot within the keepalive time, as over plain TCP, and the log names the reason",
  ignore: !isolated || !available.openssl,
  async fn() {
    await using certificates = await makeTestCertificates();
    await using network = await IsolatedNetwork.create();
    await using server = await network.startServer(
      "--tls-cert",
      certificates.server.certFile,
      "--tls-key",
      certificates.server.keyFile,
    );
    const producer = keyboard();
    await using client = network.spawn(
      "deno",
      [
        "run",
        "--allow-net",
        "--allow-read",
        "client.ts",
        "--port",
        String(server.addr.port),
        "--ca",
        certificates.ca.file,
      ],
      { input: producer.stream },
    );
    producer.type("hola\n");
    await client.stdout.waitFor(/^HOLA$/m);
    // The TLS front's socket has keepalive on; Deno's own TLS sockets had no switch for it.
    await assertReapedByKeepalive(network, server);
  },
});

Deno.test({
  name:
    "deploy/sysctl.d/60-uppercase-tcp.conf applies with sysctl: keepalive after 60 s, 6 probes 10 s apart",
  ignore: !isolated,
  async fn() {
    await using network = await IsolatedNetwork.create();
    const conf = "deploy/sysctl.d/60-uppercase-tcp.conf";
    const applied = network.spawn("sysctl", ["-p", conf]);
    assert.equal(await applied.exited, 0, applied.stderr.text());
    const read = network.spawn("sysctl", [
      "-n",
      "net.ipv4.tcp_keepalive_time",
      "net.ipv4.tcp_keepalive_intvl",
      "net.ipv4.tcp_keepalive_probes",
    ]);
    assert.equal(await read.exited, 0);
    assert.deepEqual(read.stdout.text().trim().split("\n"), ["60", "10", "6"]);
  },
});

Deno.test({
  name:
    "A firewall drops UDP: the server's loop-turn datagrams never arrive, yet a flooding client keeps being answered and another client is served",
  ignore: !isolated,
  async fn() {
    const FLOOD_SECONDS = 3;
    await using network = await IsolatedNetwork.create();
    await network.dropDatagrams();
    await using server = await network.startServer("--quiet");
    const port = String(server.addr.port);
    await using flood = network.spawn("deno", [
      "run",
      "--allow-net",
      "bench/flood.ts",
      port,
      "ascii",
      String(FLOOD_SECONDS),
    ]);
    const other = network.spawnClient(server.addr.port, "hola servidor\nDESCONEXION\n");
    await wholeOutput(other, "HOLA SERVIDOR\n");
    const floodEnded = withDeadline(
      flood.exited,
      "the flood to end",
      () => flood.stderr.text(),
      FLOOD_SECONDS * 1000 + SLACK_MS,
    );
    assert.equal(await floodEnded, 0, flood.stderr.text());
    // Without a bound on the wait for the datagram, the flood's first yield would
    // never end: one line answered at most. With it, the server falls back to a timer.
    const answered = Number(flood.stdout.text());
    assert(answered >= 20, `the flood got ${answered} lines answered in ${FLOOD_SECONDS} s`);
  },
});
