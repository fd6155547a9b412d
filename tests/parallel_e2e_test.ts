/**
 * `--parallel` with the real program: several workers in one process, one
 * port, and one server to the outside (shared connection limit, unique ids,
 * one log, one clean stop), talked to over real sockets.
 *
 * They start `deno` (and read `/proc` through `ls` and `cat`), which
 * `deno task test` grants; otherwise they are skipped, with a message.
 *
 * @module
 */

import assert from "node:assert/strict";
import { allOf, Peer } from "../testing/peers.ts";
import {
  canRun,
  processResources,
  type Running,
  spawn,
  startServerDirectly,
  startServerProcess,
  stopProcess,
  warnIfMissing,
} from "../testing/processes.ts";
import { withTimeout } from "../io/socket.ts";

const available = {
  deno: await canRun("deno", ["--version"]),
  ls: await canRun("ls", ["--version"]),
  cat: await canRun("cat", ["--version"]),
};
warnIfMissing("parallel_e2e_test.ts", { available: available, packages: "coreutils" });

/** The number of each worker that logged a connection, as often as it did. */
function connectionsByWorker(server: Running): Map<string, number> {
  const counts = new Map<string, number>();
  for (
    const [, worker] of server.stderr.text().matchAll(/^\[worker (\d+)\] #\d+ \S+ connected$/gm)
  ) {
    counts.set(worker, (counts.get(worker) ?? 0) + 1);
  }
  return counts;
}

/** Connects `count` clients at once. */
function connectMany(addr: Deno.NetAddr, count: number): Promise<Peer[]> {
  return Promise.all(Array.from({ length: count }, () => Peer.connect(addr)));
}

Deno.test({
  name:
    "--parallel 2 answers 400 clients, both workers serve some, ids are unique and every log line names its worker",
  ignore: !available.deno,
  async fn() {
    await using server = await startServerProcess("--parallel", "2");
    assert.match(
      server.stdout.text(),
      /^Listening on 127\.0\.0\.1:\d+ with 2 workers \(Ctrl-C to stop\)\n$/,
    );
    await Promise.all(Array.from({ length: 400 }, async (_, i) => {
      using peer = await Peer.connect(server.addr);
      await peer.send(`cliente ${i}\n`);
      assert.equal(await peer.readLine(), `CLIENTE ${i}\n`);
    }));
    await server.stderr.waitFor(/ closed \(/m, { count: 400 });
    assert.equal(await stopProcess(server), 0);
    const byWorker = connectionsByWorker(server);
    assert.deepEqual([...byWorker.keys()].sort(), ["1", "2"], "both workers served clients");
    assert.equal(byWorker.get("1")! + byWorker.get("2")!, 400);
    const ids = [...server.stderr.text().matchAll(/#(\d+) \S+ connected$/gm)].map((m) => m[1]);
    assert.equal(new Set(ids).size, 400, "no id given twice");
    const lines = server.stderr.text().trimEnd().split("\n");
    assert.deepEqual(lines.filter((line) => !/^\[worker [12]\] /.test(line)), []);
  },
});

Deno.test({
  name:
    "--max-connections 50 --parallel 2: of 60 idle clients exactly 50 are served and 10 refused, and once 5 leave, 5 more are served",
  ignore: !available.deno,
  async fn() {
    await using server = await startServerDirectly("--max-connections", "50", "--parallel", "2");
    using peers = allOf<Peer>([]);
    peers.push(...await connectMany(server.addr, 60));
    // Every one accepted, by one worker or the other: served or refused.
    await server.stderr.waitFor(/ (connected|refused: too many connections \(limit 50\))$/m, {
      count: 60,
    });
    const answers = await Promise.all(peers.map(async (peer) => {
      await peer.send("hola\n").catch(() => {}); // a refused client may be closed already
      return await peer.readLine();
    }));
    const refusal = "ERROR too many connections (limit 50), try again later\n";
    assert.equal(answers.filter((answer) => answer === "HOLA\n").length, 50);
    assert.equal(answers.filter((answer) => answer === refusal).length, 10);

    const served = peers.filter((_, i) => answers[i] === "HOLA\n");
    for (const peer of served.slice(0, 5)) peer[Symbol.dispose]();
    await server.stderr.waitFor(/ closed \(end of input\)/m, { count: 5 });
    const newcomers = await connectMany(server.addr, 6);
    peers.push(...newcomers);
    const welcomed = await Promise.all(newcomers.map(async (peer) => {
      await peer.send("otra vez\n").catch(() => {});
      return await peer.readLine();
    }));
    assert.deepEqual(welcomed.toSorted(), [refusal, ...Array(5).fill("OTRA VEZ\n")]);
    assert.equal(await stopProcess(server), 0);
  },
});

Deno.test({
  name:
    "--parallel 2 on SIGTERM with 200 clients open: every client sees its end, and the process exits 0 within 2 s",
  ignore: !available.deno,
  async fn() {
    await using server = await startServerDirectly("--parallel", "2", "--quiet");
    using peers = allOf(await connectMany(server.addr, 200));
    for (const peer of peers) await peer.send("hola\n");
    for (const peer of peers) assert.equal(await peer.readLine(), "HOLA\n");
    const started = performance.now();
    server.child.kill("SIGTERM");
    assert.equal(await withTimeout(server.exited, 2_000), 0, "exit 0 within 2 s");
    assert(performance.now() - started < 2_000);
    const ends = await Promise.all(peers.map((peer) => peer.readToEnd()));
    assert.deepEqual(new Set(ends), new Set([""]), "each sees end of stream, not a reset");
    assert.equal(server.stderr.text(), "", "--quiet holds in every worker");
  },
});

Deno.test({
  name: "--parallel with a bad count, 0 or x, is a usage error in one line, exit 2",
  ignore: !available.deno,
  async fn() {
    for (const count of ["0", "x"]) {
      const run = spawn("deno", ["task", "--quiet", "server", "--parallel", count]);
      assert.equal(await run.exited, 2, count);
      assert.equal(
        run.stderr.text(),
        `Invalid value "${count}" for --parallel: expected a whole number from 1 to 256 ` +
          "(run with --help to see the options)\n",
      );
    }
  },
});

Deno.test({
  name: "--parallel 1 runs as the server always has: one listener, no workers named",
  ignore: !available.deno,
  async fn() {
    await using server = await startServerProcess("--parallel", "1");
    assert.match(server.stdout.text(), /^Listening on 127\.0\.0\.1:\d+ \(Ctrl-C to stop\)\n$/);
    using peer = await Peer.connect(server.addr);
    await peer.send("hola\n");
    assert.equal(await peer.readLine(), "HOLA\n");
    await server.stderr.waitFor(/^#1 127\.0\.0\.1:\d+ connected$/m);
    assert.equal(await stopProcess(server), 0);
  },
});

Deno.test({
  name: "--parallel 2 --reuse-port twice: two processes with two workers each share one port",
  ignore: !available.deno,
  async fn() {
    await using first = await startServerDirectly("--parallel", "2", "--reuse-port");
    await using second = await startServerDirectly(
      "--parallel",
      "2",
      "--reuse-port",
      "--port",
      String(first.addr.port),
    );
    await Promise.all(Array.from({ length: 200 }, async () => {
      using peer = await Peer.connect(first.addr);
      await peer.send("hola\n");
      assert.equal(await peer.readLine(), "HOLA\n");
    }));
    for (const server of [first, second]) await server.stderr.waitFor(/ connected$/m);
    assert.equal(await stopProcess(first), 0);
    assert.equal(await stopProcess(second), 0);
  },
});

Deno.test({
  name:
    "--parallel 2 --proxy-protocol reads each connection's PROXY header in whichever worker took it",
  ignore: !available.deno,
  async fn() {
    await using server = await startServerDirectly("--parallel", "2", "--proxy-protocol");
    for (let i = 0; i < 20; i++) {
      using peer = await Peer.connect(server.addr);
      await peer.send(`PROXY TCP4 192.0.2.${i} 10.0.0.1 4000${i % 10} 5000\r\nhola\n`);
      assert.equal(await peer.readLine(), "HOLA\n");
    }
    await server.stderr.waitFor(/ connected via /m, { count: 20 });
    assert.equal(await stopProcess(server), 0);
    const clients = [
      ...server.stderr.text().matchAll(/\] #\d+ (192\.0\.2\.\d+):\d+ connected via/g),
    ];
    assert.equal(clients.length, 20, "each client logged by its own address");
  },
});

Deno.test({
  name:
    "--parallel 2 holds no more file handles, and no memory a leak would take, after 10,000 connect/close cycles",
  ignore: !available.deno || !available.ls || !available.cat,
  async fn() {
    await using server = await startServerDirectly("--parallel", "2", "--quiet", "--metrics", "0");
    await server.stdout.waitFor(/^Metrics on \S+$/m);
    const metrics = server.stdout.text().match(/^Metrics on (\S+)$/m)![1];
    /** Waits until the server has closed every connection, draining included. */
    const settled = async () => {
      for (;;) {
        const text = await (await fetch(metrics)).text();
        if (/^uppercase_connections_open 0$/m.test(text)) return;
      }
    };
    const cycles = async (count: number) => {
      for (let done = 0; done < count; done += 50) {
        await Promise.all(Array.from({ length: 50 }, async () => {
          using peer = await Peer.connect(server.addr);
          await peer.send("hola\n");
          await peer.readLine();
        }));
      }
      await settled();
    };
    await cycles(2_000); // the heaps of both workers warm up
    const before = await processResources(server.child.pid);
    await cycles(10_000);
    const after = await processResources(server.child.pid);
    assert(after.fds <= before.fds, `file handles: ${before.fds} then ${after.fds}`);
    // A leaked connection keeps its objects, 4 KiB and more: 10,000 of them would
    // be 40 MiB. What the garbage collector has yet to give back stays well under 16.
    const growthMib = (after.rssKib - before.rssKib) / 1024;
    assert(growthMib < 16, `resident memory grew by ${growthMib.toFixed(1)} MiB`);
    console.log(
      `file handles ${before.fds} → ${after.fds}; resident memory ` +
        `${(before.rssKib / 1024).toFixed(1)} → ${(after.rssKib / 1024).toFixed(1)} MiB`,
    );
    assert.equal(await stopProcess(server), 0);
  },
});
