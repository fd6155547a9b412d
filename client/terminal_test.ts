/**
 * The client's terminal mode as a person uses it, driven in-process with its
 * own keyboard and screen: the prompt, empty input, Ctrl-D, Ctrl-C, history,
 * colours, a server that goes away or resets while the user types, and, with
 * `--reconnect`, one that comes back.
 *
 * @module
 */

import assert from "node:assert/strict";
import { stripVTControlCharacters } from "node:util";
import { type ClientOptions, EXIT, runClient } from "../client.ts";
import { collector, keyboard, startServer } from "../testing/helpers.ts";
import { fakeServer } from "../testing/peers.ts";

/** Runs the client in terminal mode against `port`; returns its keyboard, screen and exit status. */
function terminalSession(port: number, options: Partial<ClientOptions> = {}) {
  const keys = keyboard(), screen = collector(), errors = collector();
  const status = runClient({
    port,
    input: keys.stream,
    output: screen.stream,
    errors: errors.stream,
    interactive: true,
    ...options,
  });
  return { keys, screen, errors, status, text: () => stripVTControlCharacters(screen.text()) };
}

Deno.test("client at a terminal does not send empty input", async () => {
  await using server = startServer();
  const session = terminalSession(server.addr.port);
  await session.screen.waitFor(/> /);
  session.keys.type("\r   \r");
  session.keys.type("hola\r");
  await session.screen.waitFor(/HOLA/);
  session.keys.type("\x04");
  assert.equal(await session.status, EXIT.OK);
  assert.match(
    await server.log.waitFor(/closed/),
    /\(disconnect command\) after 1 message, 16 bytes in/,
  );
});

Deno.test("client at a terminal leaves on Ctrl-D like DESCONEXION and exits 0", async () => {
  await using server = startServer();
  const session = terminalSession(server.addr.port);
  await session.screen.waitFor(/> /);
  session.keys.type("\x04");
  assert.equal(await session.status, EXIT.OK);
  assert.match(session.text(), /Connection closed\.\n$/);
  assert.match(await server.log.waitFor(/closed/), /\(disconnect command\)/);
});

Deno.test("client at a terminal disconnects on Ctrl-C and exits 130", async () => {
  await using server = startServer();
  const session = terminalSession(server.addr.port);
  await session.screen.waitFor(/> /);
  session.keys.type("a medias\x03");
  assert.equal(await session.status, EXIT.INTERRUPTED);
  assert.match(await server.log.waitFor(/closed/), /\(disconnect command\) after 0 messages/);
});

Deno.test("client at a terminal recalls earlier messages with Up", async () => {
  await using server = startServer();
  const session = terminalSession(server.addr.port);
  session.keys.type("hola servidor\r");
  await session.screen.waitFor(/HOLA SERVIDOR/);
  session.keys.type("\x1b[A\r");
  await session.screen.waitFor(/HOLA SERVIDOR[^]*HOLA SERVIDOR/);
  session.keys.type("DESCONEXION\r");
  assert.equal(await session.status, EXIT.OK);
  assert.match(await server.log.waitFor(/closed/), /after 2 messages/);
});

Deno.test("client at a terminal colours replies only when asked to", async () => {
  await using server = startServer();
  for (const color of [true, false]) {
    const session = terminalSession(server.addr.port, { color });
    session.keys.type("hola\r");
    await session.screen.waitFor(/HOLA/);
    session.keys.type("\x04");
    assert.equal(await session.status, EXIT.OK);
    assert.equal(session.screen.text().includes("\x1b[1;32mHOLA\x1b[0m"), color, `color: ${color}`);
  }
});

Deno.test("client at a terminal says at once when the server goes away while the user types, and exits 4", async () => {
  const server = startServer();
  const session = terminalSession(server.addr.port);
  await session.screen.waitFor(/> /);
  await server.stop(); // no key is pressed: the client must notice by itself
  assert.equal(await session.status, EXIT.CONNECTION_LOST);
  assert.equal(
    session.errors.text(),
    "\nConnection lost while you were typing: the server closed the connection\n",
  );
});

Deno.test("client at a terminal reports a reset by the server and exits 4", async () => {
  await using server = await fakeServer((socket) =>
    socket.on("data", () => socket.resetAndDestroy())
  );
  const session = terminalSession(server.port);
  session.keys.type("hola\r");
  assert.equal(await session.status, EXIT.CONNECTION_LOST);
  assert.match(
    session.errors.text(),
    /^\n?Connection lost (before it answered|while you were typing): connection reset by peer\n$/,
  );
});

Deno.test("client at a terminal with --reconnect sends the waiting message again on a new connection, says so on stderr, and keeps its history", async () => {
  await using first = startServer({ log: null });
  const port = first.addr.port;
  const session = terminalSession(port, { reconnect: true });
  session.keys.type("uno\r");
  await session.screen.waitFor(/UNO\n/);
  await first.stop(); // the server restarts while the user is about to type
  await session.errors.waitFor(/^Connection lost; reconnecting\.\.\.$/m);
  await using _second = startServer({ port, log: null });
  await session.errors.waitFor(/^Reconnected\.$/m);
  session.keys.type("\x1b[A\r"); // Up: the history survived
  await session.screen.waitFor(/UNO\n[^]*UNO\n/);
  session.keys.type("DESCONEXION\r");
  assert.equal(await session.status, EXIT.OK);
  assert.equal(session.errors.text(), "Connection lost; reconnecting...\nReconnected.\n");
});

Deno.test("client at a terminal with --reconnect answers a message whose connection was reset before its reply", async () => {
  let connections = 0;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const conn of listener) {
      const turn = ++connections;
      (async () => {
        const buffer = new Uint8Array(64);
        for (let n; (n = await conn.read(buffer)) !== null;) {
          const text = new TextDecoder().decode(buffer.subarray(0, n));
          if (turn === 1) return conn.close(); // the first connection ends before any reply
          if (text === "DESCONEXION") return conn.close();
          await conn.write(new TextEncoder().encode(text.toUpperCase()));
        }
        conn.close();
      })().catch(() => {});
    }
  })();
  const session = terminalSession(listener.addr.port, { reconnect: true });
  session.keys.type("hola\r");
  await session.screen.waitFor(/HOLA\n/);
  session.keys.type("\x04");
  assert.equal(await session.status, EXIT.OK);
  listener.close();
  await serving;
  assert.equal(connections, 2);
  // The first connection never answered: this is the first that works.
  assert.equal(session.errors.text(), "Connection lost; reconnecting...\nConnected.\n");
});
