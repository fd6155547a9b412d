/**
 * Tests of one connection on its own, over a real socket pair: it answers,
 * logs its opening and its closing with its counts, tells its server in order,
 * answers a quiet unterminated message, and stops an idle client cleanly.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Connection, type ConnectionLifecycle } from "./connection.ts";
import { resolveSettings, type ServeOptions } from "./settings.ts";
import { Peer, WaitableLog } from "../test_helpers.ts";

/** A connection served by a {@linkcode Connection}, and a raw peer at the other end. */
async function connectionPair(options: ServeOptions = {}) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [peer, conn] = await Promise.all([Peer.connect(listener.addr), listener.accept()]);
  listener.close();
  const log = new WaitableLog();
  const events: string[] = [];
  const lifecycle: ConnectionLifecycle = {
    conversationOver: () => events.push("conversation over"),
    closed: () => events.push("closed"),
  };
  const connection = new Connection(
    7,
    conn,
    resolveSettings({ log: log.write, ...options }),
    lifecycle,
  );
  return { peer, connection, log, events };
}

Deno.test("Connection answers, then logs its close with its counts and tells its server in order", async () => {
  const { peer, connection, log, events } = await connectionPair();
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
