/**
 * Monitoring with the real programs: the server with `--metrics`, scraped by
 * the real Prometheus every second with `deploy/prometheus.yml` and
 * `deploy/alerts.yml`, read back through Prometheus' query API after known
 * traffic; `promtool` checking the scrape, the configuration and the rules;
 * `/healthz` through a stop; and `--log-format json` under load, alone and
 * with `--parallel 2`.
 *
 * They start `deno`, `prometheus` and `promtool` (Debian's `prometheus`
 * package), which `deno task test` grants; Prometheus keeps its data in
 * `.test-tmp/`. Otherwise they are skipped, with a message.
 *
 * @module
 */

import assert from "node:assert/strict";
import { sleep } from "../testing/helpers.ts";
import { allOf, oneShot, Peer } from "../testing/peers.ts";
import { startPrometheus } from "../testing/prometheus.ts";
import {
  canRun,
  listening,
  type Running,
  spawn,
  startServerDirectly,
  stopProcess,
  warnIfMissing,
} from "../testing/processes.ts";
import { ERROR_LINES } from "../protocol.ts";
import { JSON_LOG_KEYS, LOG_LEVELS } from "../server/log.ts";

const available = {
  deno: await canRun("deno", ["--version"]),
  prometheus: await canRun("prometheus", ["--version"]),
  promtool: await canRun("promtool", ["--version"]),
};
warnIfMissing("monitoring_test.ts", { available: available, packages: "prometheus" });
const mayWriteTestTmp =
  (await Deno.permissions.query({ name: "write", path: ".test-tmp" })).state === "granted";

/** Starts the server with `--metrics` on a free loopback port; adds the endpoint's address. */
async function serverWithMetrics(...flags: string[]) {
  const server = await startServerDirectly("--metrics", "127.0.0.1:0", ...flags);
  await server.stdout.waitFor(/^Metrics on http:\/\/\S+\/metrics$/m);
  const metrics = server.stdout.text().match(/^Metrics on (http:\/\/\S+)\/metrics$/m)![1];
  return { ...server, metrics };
}

/** Runs a program with `input` on its standard input; gives its exit code and output. */
async function run(program: string, args: string[], input = "") {
  const child = spawn(program, args, { input });
  const code = await child.exited;
  return { code, output: child.stdout.text() + child.stderr.text() };
}

Deno.test({
  name:
    "Prometheus scraping the server every second reads exactly the traffic sent: messages, DESCONEXION closes, resets and refusals",
  ignore: !available.deno || !available.prometheus || !mayWriteTestTmp,
  async fn() {
    await using server = await serverWithMetrics("--max-connections", "5");
    await using prometheus = await startPrometheus(server.metrics.slice("http://".length));
    const sent = { in: 0, out: 0 };
    // M = 4 connections, N = 100 messages, then K = 4 DESCONEXION closes.
    await Promise.all([0, 1, 2, 3].map(async (client) => {
      using peer = await Peer.connect(server.addr);
      for (let i = 0; i < 25; i++) {
        const line = `mensaje ${client}-${i}\n`;
        await peer.send(line);
        assert.equal(await peer.readLine(), line.toUpperCase());
        sent.in += line.length;
        sent.out += line.length;
      }
      await peer.send("DESCONEXION\n");
      sent.in += "DESCONEXION\n".length;
      assert.equal(await peer.readToEnd(), "");
    }));
    // R = 3 resets, each after one message.
    for (let i = 0; i < 3; i++) {
      const reply = await oneShot(server.addr, { send: "hola\n", leave: "reset" });
      assert.equal(reply, "HOLA\n");
      sent.in += 5;
      sent.out += 5;
    }
    // 5 idle clients fill the limit; 2 more are refused; then the 5 leave.
    const idle = await Promise.all(Array.from({ length: 5 }, () => Peer.connect(server.addr)));
    await server.stderr.waitFor(/ connected$/m, { count: 4 + 3 + 5 });
    for (let i = 0; i < 2; i++) {
      using refused = await Peer.connect(server.addr);
      assert.equal(await refused.readToEnd(), ERROR_LINES.tooManyConnections(5));
      sent.out += ERROR_LINES.tooManyConnections(5).length;
    }
    for (const peer of idle) peer[Symbol.dispose]();
    await server.stderr.waitFor(/ closed \(/m, { count: 12 });
    await prometheus.scrapedAfter(Date.now());

    const metrics: Record<string, number> = {
      "uppercase_connections_accepted_total": 12,
      "uppercase_connections_open": 0,
      'uppercase_connections_closed_total{reason="disconnect_command"}': 4,
      'uppercase_connections_closed_total{reason="reset"}': 3,
      'uppercase_connections_closed_total{reason="end_of_input"}': 5,
      'uppercase_connections_closed_total{reason="other"}': 0,
      'uppercase_connections_refused_total{reason="max_connections"}': 2,
      'uppercase_connections_refused_total{reason="untrusted_proxy"}': 0,
      "uppercase_accepts_skipped_total": 0,
      "uppercase_accept_errors_total": 0,
      "uppercase_messages_total": 100 + 3,
      "uppercase_received_bytes_total": sent.in,
      "uppercase_sent_bytes_total": sent.out,
      "uppercase_max_connections": 5,
      "sum(uppercase_connections_closed_total)": 12,
      'uppercase_build_info{version="1.0.0"}': 1,
    };
    for (const [expression, want] of Object.entries(metrics)) {
      assert.equal(await prometheus.query(expression), want, expression);
    }
    assert(await prometheus.query("uppercase_event_loop_delay_seconds_count") > 0);
    assert(await prometheus.query("process_resident_memory_bytes") > 1e6);
    assert(await prometheus.query("process_cpu_seconds_total") > 0);
    assert.equal(await prometheus.query('up{job="uppercase-tcp"}'), 1);
    assert.equal(await stopProcess(server), 0);
  },
});

Deno.test({
  name:
    "promtool passes deploy/prometheus.yml, deploy/alerts.yml and its rule tests, and a scrape taken under load",
  ignore: !available.deno || !available.promtool,
  async fn() {
    for (
      const args of [
        ["check", "config", "deploy/prometheus.yml"],
        ["check", "rules", "deploy/alerts.yml"],
        ["test", "rules", "deploy/alerts_test.yml"],
      ]
    ) {
      const { code, output } = await run("promtool", args);
      assert.equal(code, 0, output);
    }
    const server = await serverWithMetrics("--parallel", "2", "--quiet");
    let loading = true;
    const load = Promise.all(Array.from({ length: 50 }, async (_, client) => {
      using peer = await Peer.connect(server.addr);
      for (let i = 0; loading; i++) {
        await peer.send(`carga ${client} ${i}\n`);
        await peer.readLine();
      }
    }));
    try {
      // Under load: some messages answered already, clients still connected.
      let scrape = "";
      while (!/^uppercase_messages_total [1-9]\d{3,}$/m.test(scrape)) {
        scrape = await (await fetch(`${server.metrics}/metrics`)).text();
      }
      assert.match(scrape, /^uppercase_connections_open [1-9]\d*$/m);
      const { code, output } = await run("promtool", ["check", "metrics"], scrape);
      assert.deepEqual({ code, output }, { code: 0, output: "" });
    } finally {
      loading = false;
      await load;
      assert.equal(await stopProcess(server), 0);
    }
  },
});

Deno.test({
  name:
    "/healthz answers 200 while the server accepts, and 503 from SIGTERM on, while a connection still drains",
  ignore: !available.deno,
  async fn() {
    const server = await serverWithMetrics();
    const healthStatus = async () => {
      const response = await fetch(`${server.metrics}/healthz`);
      await response.body?.cancel();
      return response.status;
    };
    assert.equal(await healthStatus(), 200);
    // A client that sends and never reads: the server's reply write stalls, so
    // its stop has a connection to drain for up to a second.
    const flooder = await Peer.connect(server.addr);
    const chunk = new TextEncoder().encode(("y".repeat(1023) + "\n").repeat(1024));
    const flooding = (async () => {
      for (let i = 0; i < 64; i++) await flooder.send(chunk);
    })().catch(() => {}); // the server cuts it in the end
    try {
      let received = -1;
      for (let same = 0; same < 3;) {
        const text = await (await fetch(`${server.metrics}/metrics`)).text();
        const now = Number(text.match(/^uppercase_received_bytes_total (\d+)$/m)![1]);
        same = now > 0 && now === received ? same + 1 : 0;
        received = now;
        await sleep(50); // polling for the stall
      }
      server.child.kill("SIGTERM");
      await server.stderr.waitFor(/^Stopping: no longer accepting connections; 1 open$/m);
      assert.equal(await healthStatus(), 503, "stopping: no longer ready");
      const drain = await (await fetch(`${server.metrics}/metrics`)).text();
      assert.match(drain, /^uppercase_connections_open 1$/m, "the last scrapes see the drain");
      assert.equal(await server.exited, 0);
    } finally {
      flooder[Symbol.dispose]();
      await flooding;
      await stopProcess(server);
    }
  },
});

const JSON_KEYS = new Set<string>(JSON_LOG_KEYS);

/** Every stderr line of a server, parsed as JSON and checked against the documented keys. */
function jsonLog(server: Running): Record<string, unknown>[] {
  return server.stderr.text().trimEnd().split("\n").map((line) => {
    const object = JSON.parse(line);
    for (const key of Object.keys(object)) assert(JSON_KEYS.has(key), `undocumented key ${key}`);
    assert(Object.hasOwn(LOG_LEVELS, object.event), `unknown event ${object.event}`);
    assert.match(object.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert(["info", "warn", "error"].includes(object.level));
    return object;
  });
}

for (const workers of ["1", "2"]) {
  Deno.test({
    name:
      `--log-format json with --parallel ${workers}: under 1,000 connections, every stderr line is a JSON object with the documented keys`,
    ignore: !available.deno,
    async fn() {
      await using server = await startServerDirectly("--log-format", "json", "--parallel", workers);
      // 1,000 connections open at once, each answered, then closed.
      const peers = await Promise.all(
        Array.from({ length: 1000 }, () => Peer.connect(server.addr)),
      );
      await Promise.all(peers.map(async (peer, i) => {
        await peer.send(`cliente ${i}\n`);
        await peer.readLine();
      }));
      for (const peer of peers) peer[Symbol.dispose]();
      await server.stderr.waitFor(/"event":"closed"/, { count: 1000 });
      assert.equal(await stopProcess(server), 0);
      const log = jsonLog(server);
      const count = (event: string) => log.filter((entry) => entry.event === event).length;
      assert.deepEqual(
        [count("listening"), count("connected"), count("closed"), count("stopped")],
        [
          1,
          1000,
          1000,
          1,
        ],
      );
      const closed = log.filter((entry) => entry.event === "closed");
      assert(closed.every((entry) => entry.reason === "end_of_input" && entry.messages === 1));
      const named = log.filter((entry) => entry.worker !== undefined).length;
      assert.equal(named, workers === "1" ? 0 : 2000 + 2, "every worker's line names it");
    },
  });
}

Deno.test({
  name:
    "--parallel 2: the endpoint's totals equal the sum of what each worker served, as its log says",
  ignore: !available.deno,
  async fn() {
    await using server = await serverWithMetrics("--parallel", "2", "--log-format", "json");
    await Promise.all(Array.from({ length: 200 }, async (_, client) => {
      using peer = await Peer.connect(server.addr);
      for (let i = 0; i < 3; i++) {
        await peer.send(`cliente ${client} mensaje ${i}\n`);
        await peer.readLine();
      }
    }));
    await server.stderr.waitFor(/"event":"closed"/, { count: 200 });
    const scrape = await (await fetch(`${server.metrics}/metrics`)).text();
    const metric = (name: string) => Number(scrape.match(new RegExp(`^${name} (\\d+)$`, "m"))![1]);
    const closed = server.stderr.text().trimEnd().split("\n").map((line) => JSON.parse(line))
      .filter((entry) => entry.event === "closed");
    const byWorker = (worker: number, key: string) =>
      closed.filter((entry) => entry.worker === worker).reduce(
        (sum, entry) => sum + entry[key],
        0,
      );
    assert(byWorker(1, "messages") > 0 && byWorker(2, "messages") > 0, "both workers served");
    assert.equal(
      metric("uppercase_messages_total"),
      byWorker(1, "messages") + byWorker(2, "messages"),
    );
    assert.equal(metric("uppercase_messages_total"), 600);
    assert.equal(metric("uppercase_connections_accepted_total"), 200);
    assert.equal(
      metric("uppercase_received_bytes_total"),
      byWorker(1, "bytes_in") + byWorker(2, "bytes_in"),
    );
    assert.equal(
      metric("uppercase_sent_bytes_total"),
      byWorker(1, "bytes_out") + byWorker(2, "bytes_out"),
    );
    assert.equal(await stopProcess(server), 0);
  },
});

Deno.test({
  name:
    "500 idle connections to --metrics, with 400 file handles, neither take the server down nor stop it serving clients; /metrics answers 503 at once while full, then 200",
  ignore: !available.deno || !(await canRun("prlimit", ["--version"])),
  async fn() {
    await using server = await listening(
      spawn("prlimit", [
        "--nofile=400",
        "deno",
        "run",
        "--allow-net",
        "server.ts",
        "--port",
        "0",
        "--metrics",
        "127.0.0.1:0",
      ]),
    );
    using peers = allOf<Peer>([]);
    await server.stdout.waitFor(/^Metrics on http:\/\/\S+\/metrics$/m);
    const port = Number(server.stdout.text().match(/^Metrics on http:\/\/[\d.]+:(\d+)/m)![1]);
    const metrics = { transport: "tcp" as const, hostname: "127.0.0.1", port };
    for (let i = 0; i < 500; i++) peers.push(await Peer.connect(metrics));
    // A client of the protocol is still answered, at once: the endpoint's caps keep
    // the process well within its file handles.
    const started = performance.now();
    using client = await Peer.connect(server.addr);
    await client.send("sigo aquí\n");
    assert.equal(await client.readLine(), "SIGO AQUÍ\n");
    assert(performance.now() - started < 2_000, "answered at once");
    // The endpoint is full of idle connections: a scrape is turned away at once, not held.
    using scrape = await Peer.connect(metrics);
    await scrape.send("GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n").catch(() => {});
    assert.match(await scrape.readToEnd().catch(() => "reset"), /^(HTTP\/1\.1 503 |reset$|$)/);
    for (const peer of peers.splice(0)) peer[Symbol.dispose]();
    const deadline = performance.now() + 10_000;
    for (let status = 0; status !== 200;) {
      assert(performance.now() < deadline, "/metrics never answered again");
      status = await fetch(`http://127.0.0.1:${port}/metrics`).then(async (r) => {
        await r.body?.cancel();
        return r.status;
      }, () => 0);
    }
    assert(!/Cannot accept|Uncaught/.test(server.stderr.text()), server.stderr.text());
    assert.equal(await stopProcess(server), 0, server.stderr.text());
  },
});
