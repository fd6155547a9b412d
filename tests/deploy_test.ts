/**
 * Running more than one server, as `docs/running.md` says,
 * with the real programs: `deploy/haproxy.cfg` in the real HAProxy in front of
 * two server processes that take the PROXY protocol, two processes sharing
 * one port with `--reuse-port`, and `deploy/uppercase-tcp.service` checked by
 * systemd's own `systemd-analyze`.
 *
 * They start `deno`, `haproxy` and `systemd-analyze`, which `deno task test`
 * grants. Without them (plain `deno test --allow-net`, or the programs not
 * installed) they are skipped, with a message saying how to include them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { SERVER_COMMAND_LINE } from "../server/command_line.ts";
import { parseFlags } from "../cli/flags.ts";
import unit from "../deploy/uppercase-tcp.service" with { type: "text" };
import { sleep } from "../testing/helpers.ts";
import { oneShot, roundTripsFromManyClients } from "../testing/peers.ts";
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

const available = {
  deno: await canRun("deno", ["--version"]),
  haproxy: await canRun("haproxy", ["-v"]),
  "systemd-analyze": await canRun("systemd-analyze", ["--version"]),
};
warnIfMissing("deploy_test.ts", { available: available, packages: "haproxy systemd" });
const mayWriteTestTmp =
  (await Deno.permissions.query({ name: "write", path: ".test-tmp" })).state === "granted";

const LOOPBACK = "127.0.0.1";

/** The server's log lines for clients that came through a proxy, as `[client, proxy]` addresses. */
function proxiedClients(server: Running): [string, string][] {
  return [...server.stderr.text().matchAll(/^#\d+ (\S+) connected via (\S+)$/gm)]
    .map((match) => [match[1], match[2]]);
}

/**
 * Two servers behind a proxy on reserved ports, and HAProxy running
 * `deploy/haproxy.cfg` for them, with more configuration if given.
 */
async function startDeployment(extraConfig: (ports: number[]) => string = () => "") {
  const ports = [freePort(), freePort()];
  const frontend = freePort(), stats = freePort();
  // Started before the servers, so that their coming up is an event HAProxy logs.
  const haproxy = spawn("haproxy", ["-db", "-f", "deploy/haproxy.cfg", "-f", "/dev/stdin"], {
    input: extraConfig(ports),
    env: {
      UPPERCASE_BIND: `${LOOPBACK}:${frontend}`,
      UPPERCASE_SERVER_1: `${LOOPBACK}:${ports[0]}`,
      UPPERCASE_SERVER_2: `${LOOPBACK}:${ports[1]}`,
      UPPERCASE_STATS: `${LOOPBACK}:${stats}`,
      UPPERCASE_CHECK_INTER: "100ms",
    },
  });
  for (const app of ["app1", "app2"]) await haproxy.stderr.waitFor(serverState(app, "DOWN"));
  const servers = await Promise.all(ports.map(startBehindProxy));
  for (const app of ["app1", "app2"]) await haproxy.stderr.waitFor(serverState(app, "UP"));
  return {
    haproxy,
    servers,
    ports,
    frontend,
    /** HAProxy's view of each server of a backend: `[status, last check's status]`, such as `["UP", "L7OK"]`. */
    async checks(backend = "uppercase_servers"): Promise<Record<string, [string, string]>> {
      const csv = await (await fetch(`http://${LOOPBACK}:${stats}/;csv`)).text();
      const rows = csv.split("\n").map((row) => row.split(","));
      const column = (name: string) => rows[0].indexOf(name === "pxname" ? "# pxname" : name);
      return Object.fromEntries(
        rows.filter((row) => row[column("pxname")] === backend && row[1] !== "BACKEND")
          // "* L4OK": a "*" marks a check under way; the status is the last one's.
          .map((
            row,
          ) => [row[1], [row[column("status")], row[column("check_status")].replace(/^\* /, "")]]),
      );
    },
    async [Symbol.asyncDispose]() {
      await Promise.all([haproxy, ...servers].map((running) => stopProcess(running)));
    },
  };
}

/** A connection that ended before it sent a byte, as a server logs it: one, or a summary of many. */
const RESET_BEFORE_HEADER =
  /^(Skipped \d+ connections? that the client closed before it was accepted|#\d+ .* closed \((connection reset by peer|end of input before a complete PROXY header)\) after 0 messages, 0 bytes in)/m;

/** Connects to each port and resets at once, every 50 ms, until stopped. */
function resetEvery50ms(ports: number[]) {
  let stopped = false;
  const probing = (async () => {
    while (!stopped) {
      await Promise.all(
        ports.map((port) =>
          oneShot({ hostname: LOOPBACK, port }, { read: "nothing", leave: "reset" })
        ),
      );
      await sleep(50); // pacing, not synchronisation
    }
  })();
  return {
    stop() {
      stopped = true;
      return probing;
    },
  };
}

function startBehindProxy(port: number) {
  return startServerDirectly("--port", String(port), "--proxy-protocol");
}

/** HAProxy's log line for a server's change of state. */
function serverState(app: string, state: "UP" | "DOWN"): RegExp {
  // Each change is logged twice: as a [WARNING], and as a plain line, matched here.
  return new RegExp(`^Server uppercase_servers/${app} is ${state}`, "m");
}

Deno.test({
  name:
    "HAProxy with deploy/haproxy.cfg checks both servers UP and passes 200 clients from 127.0.0.2 through, logged as themselves, while plain checks and connect-and-reset probes hit both servers every 50 ms",
  ignore: !available.deno || !available.haproxy,
  async fn() {
    // A second backend with HAProxy's plain check, which aborts the handshake
    // with a reset: the servers never see it, and must stay healthy under it.
    await using deployment = await startDeployment((ports) =>
      "backend plain_checks\n" +
      ports.map((port, i) => `    server plain${i} ${LOOPBACK}:${port} check inter 50ms\n`).join("")
    );
    const { servers, ports } = deployment;
    assert.deepEqual(await deployment.checks(), { app1: ["UP", "L7OK"], app2: ["UP", "L7OK"] });
    // Checks that complete the handshake, then reset, as other load balancers' do.
    const probes = resetEvery50ms(ports);

    // Rounds of 200 clients for at least six check intervals.
    const started = performance.now();
    let rounds = 0;
    try {
      for (; rounds < 1 || performance.now() - started < 300; rounds++) {
        const clients = Array.from({ length: 200 }, (_, i) => `cliente ${i} ronda ${rounds}\n`);
        const replies = await Promise.all(
          clients.map((line) =>
            oneShot({ hostname: LOOPBACK, port: deployment.frontend }, {
              localAddress: "127.0.0.2",
              send: line,
            })
          ),
        );
        assert.deepEqual(replies, clients.map((line) => line.toUpperCase()));
      }
    } finally {
      await probes.stop();
    }
    assert.deepEqual(await deployment.checks("plain_checks"), {
      plain0: ["UP", "L4OK"],
      plain1: ["UP", "L4OK"],
    });
    for (const server of servers) await server.stderr.waitFor(RESET_BEFORE_HEADER);

    const proxied = servers.flatMap(proxiedClients);
    assert.equal(proxied.length, 200 * rounds, "every client logged once, by one server");
    for (const [client, proxy] of proxied) {
      assert.match(client, /^127\.0\.0\.2:\d+$/, "the client's own address");
      assert.match(proxy, /^127\.0\.0\.1:\d+$/, "HAProxy's, shown as the way it came");
    }
    assert(servers.every((server) => proxiedClients(server).length > 0), "both took clients");
  },
});

Deno.test({
  name:
    "A server stopped with SIGTERM behind HAProxy and started again: no client arriving after the stop fails, and the restarted server gets clients again",
  ignore: !available.deno || !available.haproxy,
  async fn() {
    await using deployment = await startDeployment();
    const clients = arriveEvery20ms(deployment.frontend);
    await clients.answered(10);

    const stopping = deployment.servers[0];
    stopping.child.kill("SIGTERM");
    await stopping.stderr.waitFor(/^Stopping: no longer accepting connections/m);
    const stoppedAt = performance.now();
    assert.equal(await stopping.exited, 0);
    await deployment.haproxy.stderr.waitFor(serverState("app1", "DOWN"), { count: 2 });

    const restarted = await startBehindProxy(deployment.ports[0]);
    deployment.servers[0] = restarted;
    await deployment.haproxy.stderr.waitFor(serverState("app1", "UP"), { count: 2 });
    await restarted.stderr.waitFor(/ connected via /);
    const results = await clients.stop();

    const afterStop = results.filter((client) => client.startedAt > stoppedAt);
    assert(afterStop.length > 0, "clients kept arriving after the stop");
    assert.deepEqual(afterStop.filter((client) => client.reply !== client.want), []);
  },
});

/** Clients that arrive every 20 ms through `port`, each with one round trip, until stopped. */
function arriveEvery20ms(port: number) {
  const results: { startedAt: number; want: string; reply: string }[] = [];
  const waiting: { count: number; resolve: () => void }[] = [];
  let stopped = false;
  const arriving = (async () => {
    const trips: Promise<void>[] = [];
    for (let i = 0; !stopped; i++) {
      const startedAt = performance.now(), line = `cliente ${i}\n`;
      trips.push(
        oneShot({ hostname: LOOPBACK, port }, { send: line }).catch((error) => `failed: ${error}`)
          .then((reply) => {
            results.push({ startedAt, want: line.toUpperCase(), reply });
            for (const waiter of waiting.filter((w) => results.length >= w.count)) waiter.resolve();
          }),
      );
      await sleep(20); // pacing, not synchronisation
    }
    await Promise.all(trips);
  })();
  return {
    /** Settles once `count` clients have had their reply, or failed. */
    answered(count: number): Promise<void> {
      return new Promise((resolve) => waiting.push({ count, resolve }));
    },
    /** Stops new arrivals, waits for those under way, and gives every client's result. */
    async stop() {
      stopped = true;
      await arriving;
      return results;
    },
  };
}

Deno.test({
  name:
    "Two --reuse-port processes share one port and 200 clients; with one stopped, the other serves every new client; without the flag the port is still refused",
  ignore: !available.deno,
  async fn() {
    await using first = await startServerDirectly("--reuse-port");
    const port = String(first.addr.port);
    await using second = await startServerDirectly("--reuse-port", "--port", port);
    const served = (server: Running, count: number) =>
      server.stderr.waitFor(/ connected$/m, { count: count });
    const connected = (server: Running) => server.stderr.text().match(/ connected$/gm)?.length ?? 0;
    const without = spawn("deno", ["run", "--allow-net", "server.ts", "--port", port]);
    assert.equal(await without.exited, 3, "no --reuse-port: the port is in use");
    assert.match(without.stderr.text(), /address already in use/);

    await roundTripsFromManyClients(first.addr, { clients: 200, rounds: 1 });
    await served(first, 1);
    await served(second, 1);
    assert.equal(connected(first) + connected(second), 200, "each client served by one");

    first.child.kill("SIGTERM");
    assert.equal(await first.exited, 0);
    const before = connected(second);
    await roundTripsFromManyClients(first.addr, { clients: 200, rounds: 1 });
    await served(second, before + 200);
  },
});

Deno.test({
  name:
    "A --reconnect client streams 200,000 lines through HAProxy while each server is restarted with SIGTERM, twice: its output is whole, exit 0",
  ignore: !available.deno || !available.haproxy,
  async fn() {
    await using deployment = await startDeployment();
    const stopped: string[] = [];
    const changes = { app1: 1, app2: 1 }; // each went DOWN and UP once as the deployment started
    /**
     * Stops server `i` with SIGTERM and keeps its log; once HAProxy has taken it
     * out, starts it again and waits until HAProxy has it back, as an operator would.
     */
    const restart = async (i: 0 | 1) => {
      const app = i === 0 ? "app1" : "app2";
      const server = deployment.servers[i];
      server.child.kill("SIGTERM");
      assert.equal(await server.exited, 0);
      stopped.push(server.stderr.text());
      const times = ++changes[app];
      await deployment.haproxy.stderr.waitFor(serverState(app, "DOWN"), { count: times });
      deployment.servers[i] = await startBehindProxy(deployment.ports[i]);
      await deployment.haproxy.stderr.waitFor(serverState(app, "UP"), { count: times });
    };
    // Each restart starts while lines stream, once the one before it is over.
    const plan: Record<number, 0 | 1> = { 4: 0, 12: 1, 20: 0, 28: 1 };
    let restarting = Promise.resolve();
    const { input, expected } = streamedLines(200_000, 5_000, async (n) => {
      if (n in plan) {
        await restarting;
        restarting = restart(plan[n]);
      }
      if (n === 39) await restarting;
    });
    await using client = spawnClient(deployment.frontend, input, "--reconnect");
    const errors = await wholeOutput(client, expected);
    assert.match(errors, /^(Connection lost; reconnecting\.\.\.\nReconnected\.\n)+$/);
    // The servers' own word that the client was cut over: a stopped server closed
    // a proxied connection that had answered many lines.
    const cut = stopped.join("").match(/ closed \(server stopping\) after (\d+) messages/g) ?? [];
    assert(
      cut.some((line) => Number(line.match(/after (\d+)/)![1]) > 100),
      `no stopped server was serving the client:\n${stopped.join("")}`,
    );
  },
});

/** Runs `systemd-analyze` with `args`; gives its exit code and what it printed. */
async function systemdAnalyze(args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command("systemd-analyze", { args }).output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

Deno.test({
  name: "deploy/uppercase-tcp.service passes systemd-analyze verify without a warning",
  ignore: !available["systemd-analyze"] || !mayWriteTestTmp,
  async fn() {
    // verify also checks that the executable exists: the one place where the
    // unit is changed, to name an executable every machine has.
    const executable = "/usr/local/bin/uppercase-server";
    assert(unit.includes(`ExecStart=${executable} `));
    await Deno.mkdir(".test-tmp", { recursive: true });
    const folder = await Deno.makeTempDir({ dir: ".test-tmp", prefix: "systemd-" });
    try {
      const path = `${folder}/uppercase-tcp.service`;
      await Deno.writeTextFile(
        path,
        unit.replace(`ExecStart=${executable} `, "ExecStart=/bin/sh "),
      );
      const { code, output } = await systemdAnalyze(["verify", path]);
      assert.deepEqual({ code, output }, { code: 0, output: "" });
    } finally {
      await Deno.remove(folder, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "deploy/uppercase-tcp.service is rated OK by systemd-analyze security --offline=yes, exposure 2.0 or lower",
  ignore: !available["systemd-analyze"],
  async fn() {
    const { code, output } = await systemdAnalyze([
      "security",
      "--offline=yes",
      "--threshold=20", // tenths: fail above 2.0
      "deploy/uppercase-tcp.service",
    ]);
    const rating = output.match(
      /Overall exposure level for uppercase-tcp\.service: ([\d.]+) (\w+)/,
    );
    assert(rating, output);
    console.log(`systemd-analyze security: exposure ${rating[1]} ${rating[2]}`);
    assert.equal(code, 0, output);
    assert(Number(rating[1]) <= 2.0 && rating[2] === "OK", rating[0]);
  },
});

Deno.test("deploy/uppercase-tcp.service starts the server with flags it takes: a cap per address and an idle timeout", () => {
  const execStart = unit.match(/^ExecStart=\S+ (.*)$/m)![1].split(" ");
  const command = SERVER_COMMAND_LINE.read(parseFlags(execStart, SERVER_COMMAND_LINE.flags));
  assert.equal(command.options.maxConnectionsPerAddress, 64);
  assert.equal(command.options.idleTimeoutMs, 600_000);
});
