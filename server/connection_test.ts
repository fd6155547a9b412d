/**
 * Tests of one connection on its own, over a real socket pair: it answers,
 * logs its opening and its closing with its counts, tells its server in order,
 * answers a quiet unterminated message, and stops an idle client cleanly.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Connection, type ConnectionContext } from "./connection.ts";
import { resolveSettings, type ServeOptions } from "./settings.ts";
import { Logger } from "./log.ts";
import { ServerStats } from "./stats.ts";
import { WaitableLog } from "../testing/helpers.ts";
import { Peer } from "../testing/peers.ts";
import net from "node:net";
import { once } from "node:events";

/** A connection served by a {@linkcode Connection}, and a raw peer at the other end. */
async function connectionPair(options: ServeOptions = {}) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [peer, conn] = await Promise.all([Peer.connect(listener.addr), listener.accept()]);
  listener.close();
  const log = new WaitableLog();
  const events: string[] = [];
  const settings = resolveSettings({ log: log.write, ...options });
  const context: ConnectionContext = {
    settings,
    logger: new Logger(log.write, settings.logFormat),
    stats: new ServerStats(),
    conversationOver: () => events.push("conversation over"),
    admit: () => true,
    leave: () => {},
    closed: () => events.push("closed"),
  };
  const connection = new Connection(conn, { id: 7, context });
  return { peer, connection, log, events, stats: context.stats };
}

Deno.test("Connection answers, then logs its close with its counts and tells its server in order", async () => {
  const { peer, connection, log, events, stats } = await connectionPair();
  using _ = peer;
  await peer.send("hola\n");
  assert.equal(await peer.readLine(), "HOLA\n");
  await peer.conn.closeWrite();
  assert.equal(await peer.readToEnd(), "");
  await connection.closed;
  assert.match(log.lines[0], /^#7 127\.0\.0\.1:\d+ connected$/);
  assert.match(
    log.lines[1],
    /^#7 127\.0\.0\.1:\d+ closed \(end of input\) after 1 message, 5 bytes in, 5 bytes out, \d+\.\d{3} s$/,
  );
  assert.deepEqual(events, ["conversation over", "closed"]);
  assert.deepEqual(
    [stats.messages, stats.receivedBytes, stats.sentBytes, stats.closed.end_of_input],
    [1, 5, 5, 1],
    "the server's counts, as the log's",
  );
});

Deno.test("Connection answers an unterminated message once the input has been quiet for the flush delay", async () => {
  const { peer, connection } = await connectionPair({ flushDelayMs: 10 });
  using _ = peer;
  await peer.send("sin salto");
  assert.equal(await peer.readText("SIN SALTO".length), "SIN SALTO");
  await peer.send("DESCONEXION");
  assert.equal(await peer.readToEnd(), "");
  await connection.closed;
});

Deno.test("Connection.stop ends an idle connection at once with end of stream, not a reset", async () => {
  const { peer, connection, log } = await connectionPair();
  using _ = peer;
  connection.stop();
  assert.equal(await peer.readToEnd(), "");
  peer.conn.close();
  await connection.closed;
  assert.match(await log.waitFor(/closed/), /closed \(server stopping\) after 0 messages/);
});

Deno.test("Connection sends the idle-timeout ERROR line and closes a client silent past the limit", async () => {
  const { peer, connection, log } = await connectionPair({ idleTimeoutMs: 20 });
  using _ = peer;
  assert.equal(await peer.readToEnd(), "ERROR idle timeout (nothing received for 0.02 s)\n");
  await connection.closed;
  assert.match(await log.waitFor(/closed/), /closed \(idle timeout\)/);
});

Deno.test("Connection counts its close by reason, and the command is not a message", async () => {
  const { peer, connection, stats, log } = await connectionPair();
  using _ = peer;
  await peer.send("uno\ndos\nDESCONEXION\n");
  assert.equal(await peer.readToEnd(), "UNO\nDOS\n");
  await connection.closed;
  assert.equal(stats.messages, 2);
  assert.equal(stats.closed.disconnect_command, 1);
  assert.match(
    log.lines[1],
    /closed \(disconnect command\) after 2 messages, 20 bytes in, 8 bytes out/,
  );
});

Deno.test("Connection counts a reset as a reset, and writes JSON log lines when asked", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const socket = net.connect(listener.addr.port, "127.0.0.1");
  const conn = await listener.accept();
  listener.close();
  const log = new WaitableLog();
  const stats = new ServerStats();
  const connection = new Connection(conn, {
    id: 3,
    context: {
      settings: resolveSettings({ log: log.write, logFormat: "json" }),
      logger: new Logger(log.write, "json", 2),
      stats,
      conversationOver: () => {},
      admit: () => true,
      leave: () => {},
      closed: () => {},
    },
  });
  await once(socket, "connect");
  socket.resetAndDestroy();
  await connection.closed;
  assert.equal(stats.closed.reset, 1);
  const [opened, closed] = log.lines.map((line) => JSON.parse(line));
  assert.deepEqual(Object.keys(opened), ["time", "level", "event", "id", "worker", "peer"]);
  assert.deepEqual([opened.event, opened.id, opened.worker], ["connected", 3, 2]);
  assert.deepEqual(
    { ...closed, time: undefined, peer: undefined, seconds: undefined },
    {
      time: undefined,
      level: "info",
      event: "closed",
      id: 3,
      worker: 2,
      peer: undefined,
      reason: "reset",
      messages: 0,
      bytes_in: 0,
      bytes_out: 0,
      seconds: undefined,
      detail: "connection reset by peer",
    },
  );
});
