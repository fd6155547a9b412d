/**
 * Hostile clients and faults: whatever one client does, the server keeps serving
 * everyone else promptly, with bounded memory and no leaked handles. Limits are
 * set low so the tests run fast; the resource sanitizer proves every socket closed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { sleep, startServer, until, withDeadline } from "../testing/helpers.ts";
import { allOf, oneShot, Peer, roundTripsFromManyClients } from "../testing/peers.ts";
import {
  canRun,
  processResources,
  spawn,
  startServerDirectly,
  stopProcess,
} from "../testing/processes.ts";
import { writeAll } from "../io/socket.ts";
import type { UppercaseServer } from "../server.ts";
import { FLOOD_KINDS } from "../bench/flood.ts";
import { canMakeCertificates } from "../testing/certificates.ts";
import { tlsServer } from "../testing/tls.ts";

const canRunDeno = await canRun("deno", ["--version"]);
const canCountHandles = await canRun("ls", ["/proc/self/fd"]) && await canMakeCertificates();

/** Proves the server still answers a new client, and promptly: a round trip, no timing. */
async function assertStillServing(server: UppercaseServer): Promise<void> {
  using witness = await Peer.connect(server.addr);
  await witness.send("sigo vivo\n");
  assert.equal(await witness.readLine(), "SIGO VIVO\n");
}

Deno.test("server sends the ERROR line for a message over the limit even when more input follows", async () => {
  await using server = startServer({ maxMessageBytes: 1024 });
  using peer = await Peer.connect(server.addr);
  // More than the limit, then far more that the server will never read as messages.
  await peer.send("x".repeat(2048) + "\n" + "y".repeat(256 * 1024));
  await peer.conn.closeWrite();
  assert.equal(
    await peer.readToEnd(),
    "ERROR message too long (limit 1024 bytes)\n",
    "the ERROR line, then end of stream",
  );
  await assertStillServing(server);
});

Deno.test("server answers 16 MiB of random bytes with no newline with one ERROR line and keeps serving", async () => {
  await using server = startServer({ maxMessageBytes: 64 * 1024 });
  using peer = await Peer.connect(server.addr);
  const noise = crypto.getRandomValues(new Uint8Array(16 * 1024 * 1024).subarray(0, 65536)).map((
    b,
  ) => b === 0x0a ? 0x0b : b);
  const sending = (async () => {
    for (let sent = 0; sent < 16 * 1024 * 1024; sent += noise.length) await peer.send(noise);
  })().catch(() => "the server closed before all 16 MiB were sent");
  assert.equal(await peer.readLine(), "ERROR message too long (limit 65536 bytes)\n");
  await sending;
  await assertStillServing(server);
});

Deno.test("server returns invalid UTF-8 unchanged around uppercased text", async () => {
  await using server = startServer();
  using peer = await Peer.connect(server.addr);
  await peer.send(Uint8Array.of(0x61, 0xff, 0xc3, 0xb1, 0xc3, 0x0a));
  assert.deepEqual(await peer.readBytes(6), Uint8Array.of(0x41, 0xff, 0xc3, 0x91, 0xc3, 0x0a));
});

Deno.test("server keeps NUL, ESC, DEL and U+2028 inside lines", async () => {
  await using server = startServer();
  using peer = await Peer.connect(server.addr);
  await peer.send("a\0b\x1bc\x7fd\u2028e\n");
  assert.equal(await peer.readLine(), "A\0B\x1bC\x7fD\u2028E\n");
});

Deno.test("server survives resets right after connecting, in the middle of a message and with replies unread", async () => {
  await using server = startServer();
  await oneShot(server.addr, { read: "nothing", leave: "reset" });
  await oneShot(server.addr, { send: "medio mens", read: "nothing", leave: "reset" });
  {
    const unread = await Deno.connect(server.addr);
    await unread.write(new TextEncoder().encode("respuesta sin leer\n".repeat(10_000)));
    unread.close(); // unread replies make the kernel reset the connection
  }
  await server.log.waitFor(/#3 .* closed/);
  await server.log.waitFor(/#2 .* closed \(connection reset by peer\)/);
  await assertStillServing(server);
  await server.log.waitFor(/#4 .* closed/);
  assert.equal(server.connections, 0, "every slot is free again");
});

Deno.test("server handles 2,000 connect/close cycles in a row and holds no connection after", async () => {
  await using server = startServer();
  for (let i = 0; i < 2000; i++) (await Deno.connect(server.addr)).close();
  await server.log.waitFor(/ closed \(end of input\)/, { count: 2000 });
  assert.equal(server.connections, 0, "every slot is free again");
  await assertStillServing(server);
});

Deno.test("server serves 1,000 clients at once, each doing 10 round trips", async () => {
  await using server = startServer({ log: null });
  await roundTripsFromManyClients(server.addr, { clients: 1000, rounds: 10 });
});

Deno.test("server answers a new client at once while 200 clients trickle one byte at a time", async () => {
  await using server = startServer({ log: null, flushDelayMs: 0 });
  using tricklers = allOf(
    await Promise.all(Array.from({ length: 200 }, () => Peer.connect(server.addr))),
  );
  for (const byte of "lento") {
    await Promise.all(tricklers.map((peer) => peer.send(byte)));
    await assertStillServing(server);
  }
  await Promise.all(tricklers.map((peer) => peer.send("\n")));
  for (const peer of tricklers) assert.equal(await peer.readLine(), "LENTO\n");
});

Deno.test("server stops reading from a client that does not read its replies, with bounded memory", async () => {
  await using server = startServer({ log: null });
  const before = Deno.memoryUsage().rss;
  const flooder = await Deno.connect(server.addr);
  const lines = new TextEncoder().encode(
    "una linea de sesenta y cuatro bytes para llenar el buffer....\n".repeat(16 * 1024),
  );
  let sent = 0;
  const flooding = (async () => {
    while (sent < 200 * 1024 * 1024) {
      sent += await flooder.write(lines);
    }
  })().catch(() => {});
  // Other clients keep getting answers while the flood is stuck.
  for (let i = 0; i < 200; i++) await assertStillServing(server);
  const grownMb = (Deno.memoryUsage().rss - before) / 1024 / 1024;
  assert(
    sent < 200 * 1024 * 1024,
    `all 200 MB went through (${sent} bytes): nothing held the flood back`,
  );
  assert(grownMb < 32, `memory grew by ${grownMb.toFixed(1)} MB`);
  flooder.close();
  await flooding;
});

Deno.test("server over --max-connections answers ERROR and closes, and a freed slot is reusable at once", async () => {
  await using server = startServer({ maxConnections: 3 });
  using peers = allOf(await Promise.all([1, 2, 3].map(() => Peer.connect(server.addr))));
  for (const peer of peers) {
    await peer.send("dentro\n");
    assert.equal(await peer.readLine(), "DENTRO\n");
  }
  {
    using extra = await Peer.connect(server.addr);
    assert.equal(
      await extra.readToEnd(),
      "ERROR too many connections (limit 3), try again later\n",
    );
  }
  await peers[0].send("DESCONEXION\n");
  assert.equal(await peers[0].readToEnd(), "");
  using next = await Peer.connect(server.addr);
  await next.send("hay sitio\n");
  assert.equal(await next.readLine(), "HAY SITIO\n");
  assert.match(
    server.log.lines.join("\n"),
    /#4 127\.0\.0\.1:\d+ refused: too many connections \(limit 3\)/,
  );
});

Deno.test("server closes a silent connection after --idle-timeout and says why", async () => {
  await using server = startServer({ idleTimeoutMs: 100 });
  using peer = await Peer.connect(server.addr);
  assert.equal(await peer.readToEnd(), "ERROR idle timeout (nothing received for 0.1 s)\n");
  assert.match(await server.log.waitFor(/closed/), /closed \(idle timeout\) after 0 messages/);
});

Deno.test("server never cuts off a client that keeps talking past --idle-timeout", async () => {
  await using server = startServer({ idleTimeoutMs: 100 });
  using peer = await Peer.connect(server.addr);
  const started = performance.now();
  for (let round = 0; performance.now() - started < 400; round++) {
    await peer.send(`ronda ${round}\n`);
    assert.equal(await peer.readLine(), `RONDA ${round}\n`);
  }
  assert.equal(server.connections, 1);
});

Deno.test("server cuts a client that stops reading its replies after --idle-timeout", async () => {
  await using server = startServer({ idleTimeoutMs: 100 });
  const flooder = await Deno.connect(server.addr);
  const lines = new TextEncoder().encode("sin leer\n".repeat(64 * 1024));
  const flooding = (async () => {
    for (;;) await flooder.write(lines);
  })().catch(() => {});
  assert.match(
    await server.log.waitFor(/closed/),
    /closed \(timed out: no progress writing for 100 ms: the peer stopped reading\)/,
  );
  flooder.close();
  await flooding;
  await assertStillServing(server);
});

Deno.test({
  name:
    "server keeps answering another client promptly while one floods it with 1 MiB lines of ASCII, of other text, of invalid bytes, and of combining marks",
  ignore: !canRunDeno,
  async fn() {
    // The server and the flood are processes of their own, so that only the server's
    // event loop is shared; the figures themselves are the bench's (its fairness section).
    await using server = await startServerDirectly("--quiet");
    for (const kind of FLOOD_KINDS) {
      const flood = spawn("deno", [
        "run",
        "--allow-net",
        "bench/flood.ts",
        String(server.addr.port),
        kind,
        "2",
      ]);
      using peer = await Peer.connect(server.addr);
      let slowest = 0;
      for (let i = 0; flood.stdout.text() === ""; i++) {
        const sent = performance.now();
        await peer.send(`ping ${i}\n`);
        assert.equal(await peer.readLine(), `PING ${i}\n`);
        slowest = Math.max(slowest, performance.now() - sent);
      }
      assert.equal(await flood.exited, 0, flood.stderr.text());
      const answered = Number(flood.stdout.text());
      assert(answered > 0, `${kind}: the flood is answered too`);
      // Before the server yielded, one round trip took 0.5 s to 20 s; now a few ms.
      assert(slowest < 500, `${kind}: the slowest round trip took ${slowest} ms`);
    }
  },
});

Deno.test({
  name:
    "a client that sends 1 MiB lines without reading its replies costs the server about twice the message limit, as docs/limits.md says",
  ignore: !canRunDeno,
  async fn() {
    const server = await startServerDirectly("--quiet");
    const clients: Deno.TcpConn[] = [];
    try {
      const before = (await processResources(server.child.pid)).rssKib;
      const line = new Uint8Array(1024 * 1024).fill(0x61);
      line[line.length - 1] = 0x0a;
      let written = 0;
      const { hostname, port } = server.addr;
      for (let i = 0; i < 20; i++) clients.push(await Deno.connect({ hostname, port }));
      // Each sends for as long as the server reads; none reads a byte of its replies.
      const sending = clients.map(async (conn) => {
        try {
          for (;;) {
            await writeAll(conn, line);
            written += line.length;
          }
        } catch {
          // Closed at the end of the test.
        }
      });
      // The server has stopped reading once nothing more goes out for a second.
      for (let last = -1; written !== last;) {
        last = written;
        await sleep(1_000); // a window: nothing moved in it
      }
      const grownKib = (await processResources(server.child.pid)).rssKib - before;
      const perClientKib = grownKib / clients.length;
      // Twice the limit (a reply waiting to be written, the next message) and the read
      // buffer are held; resident memory adds what the garbage collector has not taken
      // back yet, 2.4-3.3 MB measured: the figure in docs/limits.md, held here to 4 × the limit.
      assert(perClientKib <= 4 * 1024, `${perClientKib.toFixed(0)} KiB a client`);
      for (const conn of clients) conn.close();
      await Promise.all(sending);
    } finally {
      for (const conn of clients) {
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      }
      await stopProcess(server);
    }
  },
});

Deno.test({
  name:
    "silent TLS clients, served or refused at the limit, see their connection end at the handshake limit, and the server keeps no socket for them",
  ignore: !canCountHandles,
  async fn() {
    const handles = async () => (await processResources(Deno.pid)).fds;
    await using server = await tlsServer({ maxConnections: 10, tlsHandshakeTimeoutMs: 300 });
    const before = await handles();
    // 10 take every slot and 10 more are refused; none sends a ClientHello.
    using silent = allOf(
      await Promise.all(Array.from({ length: 20 }, () => Peer.connect(server.addr))),
    );
    await server.log.waitFor(/refused: too many connections/, { count: 10 });
    const ended = await withDeadline(
      Promise.all(silent.map((peer) => peer.readToEnd())),
      "the end of every silent client's input",
      () => `${silent.filter((peer) => peer.ended).length} of ${silent.length} ended`,
    );
    assert.deepEqual(ended, silent.map(() => ""));
    // Only the clients' own sockets are left: each server side is closed, not held by
    // Deno's TLS stream until the client speaks (20 more handles before the TLS front).
    await until(async () => await handles() <= before + silent.length, "the server's handles back");
  },
});
