/**
 * Integration tests: a real server on 127.0.0.1, port 0, talked to over TCP by
 * raw peers and by the client's API in-process. Each test stops what it starts.
 *
 * @module
 */

import assert from "node:assert/strict";
import net from "node:net";
import { once } from "node:events";
import { stripVTControlCharacters } from "node:util";
import { collector, keyboard, runPipelineClient, startServer } from "./testing/helpers.ts";
import { Peer, roundTripsFromManyClients } from "./testing/peers.ts";
import { EXIT, runClient } from "./client.ts";

Deno.test("manual test 1: hola servidor comes back as HOLA SERVIDOR", async () => {
  await using server = startServer();
  using peer = await Peer.connect(server.addr);
  await peer.send("hola servidor\n");
  assert.equal(await peer.readLine(), "HOLA SERVIDOR\n");
});

Deno.test("manual test 2: DESCONEXION closes the connection on both sides and the server accepts a new client", async () => {
  await using server = startServer();
  {
    using peer = await Peer.connect(server.addr);
    await peer.send("hola\nDESCONEXION\n");
    assert.equal(await peer.readToEnd(), "HOLA\n", "no reply to DESCONEXION, then end of stream");
    assert.match(
      await server.log.waitFor(/#1 .* closed/),
      /closed \(disconnect command\) after 1 message/,
    );
  }
  using next = await Peer.connect(server.addr);
  await next.send("sigo aquí\n");
  assert.equal(await next.readLine(), "SIGO AQUÍ\n");
});

Deno.test("server answers a message sent with no newline after the quiet pause, as hand-written clients expect", async () => {
  await using server = startServer({ flushDelayMs: 20 });
  using peer = await Peer.connect(server.addr);
  await peer.send("hola servidor");
  assert.equal(await peer.readText("HOLA SERVIDOR".length), "HOLA SERVIDOR");
  await peer.send("DESCONEXION");
  assert.equal(await peer.readToEnd(), "", "bare DESCONEXION closes with no reply");
});

Deno.test("server answers CRLF lines with CRLF", async () => {
  await using server = startServer();
  using peer = await Peer.connect(server.addr);
  await peer.send("canción\r\nñandú\r\n");
  assert.equal(await peer.readLine(), "CANCIÓN\r\n");
  assert.equal(await peer.readLine(), "ÑANDÚ\r\n");
});

Deno.test("server answers the unterminated rest after a half-close, then ends the stream", async () => {
  await using server = startServer({ flushDelayMs: 0 });
  using peer = await Peer.connect(server.addr);
  await peer.send("abc\ndef");
  await peer.conn.closeWrite();
  assert.equal(await peer.readToEnd(), "ABC\nDEF");
  assert.match(
    await server.log.waitFor(/closed/),
    /\(end of input\) after 2 messages, 7 bytes in, 7 bytes out/,
  );
});

Deno.test("server answers a message over the limit with an ERROR line and closes", async () => {
  await using server = startServer({ maxMessageBytes: 16 });
  for (const tail of ["\n", ""]) {
    using peer = await Peer.connect(server.addr);
    await peer.send(`ok\n${"x".repeat(17)}${tail}`);
    assert.equal(
      await peer.readToEnd(),
      "OK\nERROR message too long (limit 16 bytes)\n",
      JSON.stringify(tail),
    );
  }
});

Deno.test("server serves many clients at once, each getting its own replies in order", async () => {
  await using server = startServer({ log: null });
  await roundTripsFromManyClients(server.addr, { clients: 50, rounds: 10 });
});

Deno.test("DESCONEXION from one client leaves the others connected and new clients are accepted", async () => {
  await using server = startServer();
  using stays = await Peer.connect(server.addr);
  using leaves = await Peer.connect(server.addr);
  await stays.send("antes\n");
  assert.equal(await stays.readLine(), "ANTES\n");
  await leaves.send("Desconexión\n");
  assert.equal(await leaves.readToEnd(), "");
  await stays.send("después\n");
  assert.equal(await stays.readLine(), "DESPUÉS\n");
  using newcomer = await Peer.connect(server.addr);
  await newcomer.send("nuevo\n");
  assert.equal(await newcomer.readLine(), "NUEVO\n");
});

Deno.test("server logs one line when a connection opens and one when it closes", async () => {
  await using server = startServer();
  using peer = await Peer.connect(server.addr);
  await peer.send("hola\n");
  await peer.readLine();
  peer.conn.close();
  const closed = await server.log.waitFor(/#1 .* closed/);
  assert.match(server.log.lines[0], /^#1 127\.0\.0\.1:\d+ connected$/);
  assert.match(
    closed,
    /^#1 127\.0\.0\.1:\d+ closed \(end of input\) after 1 message, 5 bytes in, 5 bytes out, \d+\.\d{3} s$/,
  );
});

Deno.test("server.stop closes idle connections cleanly and settles finished", async () => {
  const server = startServer();
  using peer = await Peer.connect(server.addr);
  await peer.send("hola\n");
  await peer.readLine();
  await server.stop();
  assert.equal(await peer.readToEnd(), "", "the client sees end of stream, not a reset");
  await server.finished;
  assert.match(server.log.lines.at(-1)!, /closed \(server stopping\)/);
});

Deno.test("runClient in pipeline mode prints only the replies, in order, and exits 0", async () => {
  await using server = startServer();
  const { status, output, errors } = await runPipelineClient(server.addr.port, [
    "hola servidor\nstra",
    "ße\r\n\nsin salto",
  ]);
  assert.equal(status, EXIT.OK);
  assert.equal(output, "HOLA SERVIDOR\nSTRASSE\r\n\nSIN SALTO\n");
  assert.equal(errors, "");
  assert.match(await server.log.waitFor(/closed/), /\(disconnect command\) after 4 messages/);
});

Deno.test("runClient in terminal mode prompts, prints the reply and leaves on DESCONEXION", async () => {
  await using server = startServer();
  const output = collector(), errors = collector(), keys = keyboard();
  const session = runClient({
    port: server.addr.port,
    input: keys.stream,
    output: output.stream,
    errors: errors.stream,
    interactive: true,
  });
  keys.type("hola servidor\r");
  await output.waitFor(/HOLA SERVIDOR/);
  keys.type("DESCONEXION\r");
  assert.equal(await session, EXIT.OK);
  const screen = stripVTControlCharacters(output.text());
  assert.match(screen, /^Connected to 127\.0\.0\.1:\d+\. Type a message/);
  assert.match(screen, /> hola servidor\r?\nHOLA SERVIDOR\n/);
  assert.match(screen, /Connection closed\.\n$/);
  assert.match(await server.log.waitFor(/closed/), /\(disconnect command\) after 1 message/);
});

Deno.test("runClient writes an IPv6 server's address in brackets, in its banner and when there is no server", async () => {
  const server = startServer({ hostname: "::1" });
  const port = server.addr.port;
  const output = collector(), keys = keyboard();
  const session = runClient({
    hostname: "::1",
    port,
    input: keys.stream,
    output: output.stream,
    errors: collector().stream,
    interactive: true,
  });
  keys.type("DESCONEXION\r");
  assert.equal(await session, EXIT.OK);
  assert.match(
    stripVTControlCharacters(output.text()),
    /^Connected to \[::1\]:\d+\. Type a message/,
  );
  await server.stop();
  const { status, errors } = await runPipelineClient(port, "hola\n", { hostname: "::1" });
  assert.equal(status, EXIT.NO_SERVER);
  assert.match(
    errors,
    new RegExp(`^Cannot connect to \\[::1\\]:${port}: no server is listening there\\.`),
  );
});

Deno.test("runClient says there is no server and how to start one", async () => {
  const unused = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = unused.addr.port;
  unused.close();
  const { status, errors } = await runPipelineClient(port, "hola\n");
  assert.equal(status, EXIT.NO_SERVER);
  assert.equal(
    errors,
    `Cannot connect to 127.0.0.1:${port}: no server is listening there. ` +
      `Start one with "deno task server", or pick another with --host and --port\n`,
  );
});

Deno.test("--max-connections-per-address turns away one more from an address with an ERROR line, and serves other addresses", async () => {
  await using server = startServer({ maxConnectionsPerAddress: 2 });
  using first = await Peer.connect(server.addr);
  using second = await Peer.connect(server.addr);
  for (const peer of [first, second]) {
    await peer.send("hola\n");
    assert.equal(await peer.readLine(), "HOLA\n");
  }
  using third = await Peer.connect(server.addr);
  assert.equal(
    await third.readToEnd(),
    "ERROR too many connections from your address (limit 2), try again later\n",
  );
  assert.match(
    await server.log.waitFor(/refused/),
    /refused: too many connections from 127\.0\.0\.1 \(limit 2\)$/,
  );
  assert.equal(server.snapshot().refused.max_connections_per_address, 1);
  // Another address (127.0.0.2 plays another host) has slots of its own.
  const socket = net.connect({
    host: "127.0.0.1",
    port: server.addr.port,
    localAddress: "127.0.0.2",
  });
  socket.write("otra\n");
  const [reply] = await once(socket, "data");
  assert.equal(String(reply), "OTRA\n");
  socket.destroy();
  // Once one leaves, its address may connect again.
  first[Symbol.dispose]();
  await server.log.waitFor(/#1 .* closed/);
  using again = await Peer.connect(server.addr);
  await again.send("otra vez\n");
  assert.equal(await again.readLine(), "OTRA VEZ\n");
});
