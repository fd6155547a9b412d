/**
 * The client as a person and a script use it, driven in-process with its own
 * input and output streams: terminal mode (prompt, history, Ctrl-D, Ctrl-C, a
 * server that goes away while the user types), pipeline mode, exit codes, and
 * servers of other styles (replies without newlines, resets).
 *
 * @module
 */

import assert from "node:assert/strict";
import net from "node:net";
import { once } from "node:events";
import { stripVTControlCharacters } from "node:util";
import { type ClientOptions, EXIT, runClient } from "./client.ts";
import { collector, keyboard, startServer, textStream } from "./test_helpers.ts";
import type { TcpAddr } from "./server.ts";

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

/** Runs the client in pipeline mode with `input`; returns what it printed and its exit status. */
async function pipelineSession(port: number, input: string) {
  const output = collector(), errors = collector();
  const status = await runClient({
    port,
    input: textStream(input),
    output: output.stream,
    errors: errors.stream,
  });
  return { status, output: output.text(), errors: errors.text() };
}

/** A one-connection server of another style, written with node:net; stops after that connection. */
async function fakeServer(
  handle: (socket: net.Socket) => void,
): Promise<TcpAddr & AsyncDisposable> {
  const server = net.createServer((socket) => {
    handle(socket);
    server.close();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  return {
    transport: "tcp",
    hostname: "127.0.0.1",
    port,
    async [Symbol.asyncDispose]() {
      if (server.listening) server.close();
      if (server.listening) await once(server, "close");
    },
  };
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
    /\(disconnect command\) after 2 messages, 16 bytes in/,
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
  assert.match(await server.log.waitFor(/closed/), /\(disconnect command\) after 1 messages/);
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
  assert.match(await server.log.waitFor(/closed/), /after 3 messages/);
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

Deno.test("client reports an ERROR line from the server and exits 5", async () => {
  await using server = startServer({ maxMessageBytes: 8 });
  const { status, output, errors } = await pipelineSession(
    server.addr.port,
    "corto\ndemasiado largo\nnunca\n",
  );
  assert.equal(status, EXIT.SERVER_ERROR);
  assert.equal(output, "CORTO\n");
  assert.equal(errors, "The server refused the message: ERROR message too long (limit 8 bytes)\n");
});

Deno.test("client takes a reply that starts with ERROR for a reply when the message did too", async () => {
  await using server = startServer();
  const { status, output } = await pipelineSession(server.addr.port, "error 404\nerrores\n");
  assert.equal(status, EXIT.OK);
  assert.equal(output, "ERROR 404\nERRORES\n");
});

Deno.test("client in a pipeline reports a server that closes before answering every line, and exits 4", async () => {
  await using server = await fakeServer((socket) => socket.once("data", () => socket.end("UNO\n")));
  const { status, output, errors } = await pipelineSession(server.port, "uno\ndos\ntres\n");
  assert.equal(status, EXIT.CONNECTION_LOST);
  assert.equal(output, "UNO\n");
  assert.equal(
    errors,
    "Connection lost before answering every line: the server closed the connection\n",
  );
});

Deno.test("client ends a reply without a newline after the quiet pause, one message at a time", async () => {
  const received: string[] = [];
  await using server = await fakeServer((socket) => {
    socket.setEncoding("utf8");
    socket.on("data", (text: string) => {
      received.push(text);
      if (text === "DESCONEXION") socket.end();
      else socket.write(text.trim().toUpperCase()); // strips the newline, as some servers do
    });
  });
  const { status, output } = await pipelineSession(server.port, "uno\ndos\n");
  assert.equal(status, EXIT.OK);
  assert.equal(output, "UNO\nDOS\n");
  assert.deepEqual(
    received,
    ["uno\n", "dos\n", "DESCONEXION"],
    "one message per read, DESCONEXION bare",
  );
});

Deno.test("client in a pipeline says at once that the server went away while its input is still open, and exits 4", async () => {
  const server = startServer();
  const keys = keyboard(), output = collector(), errors = collector();
  const status = runClient({
    port: server.addr.port,
    input: keys.stream,
    output: output.stream,
    errors: errors.stream,
  });
  keys.type("hola\n");
  await output.waitFor(/HOLA\n/);
  await server.stop(); // the input stays open: the client must notice by itself
  assert.equal(await status, EXIT.CONNECTION_LOST);
  assert.equal(
    errors.text(),
    "Connection lost before the input ended: the server closed the connection\n",
  );
});

Deno.test("client in a pipeline takes a reply three times as long as its message, as uppercasing can make it", async () => {
  await using server = startServer({ maxMessageBytes: 10 });
  const output = collector(), errors = collector();
  const status = await runClient({
    port: server.addr.port,
    input: textStream("\u0390".repeat(5) + "\n"), // 10 bytes; uppercased, 30
    output: output.stream,
    errors: errors.stream,
    maxMessageBytes: 10,
  });
  assert.equal(errors.text(), "");
  assert.equal(status, EXIT.OK);
  assert.equal(output.text(), "\u0390".repeat(5).toUpperCase() + "\n");
});

Deno.test("client refuses a piped line over the limit and exits 1", async () => {
  await using server = startServer();
  const output = collector(), errors = collector();
  const status = await runClient({
    port: server.addr.port,
    input: textStream("x".repeat(20) + "\n"),
    output: output.stream,
    errors: errors.stream,
    maxMessageBytes: 10,
  });
  assert.equal(status, EXIT.FAILURE);
  assert.equal(errors.text(), "Cannot send a line longer than 10 bytes\n");
});
