/**
 * The client's pipeline mode as scripts use it, driven in-process with its own
 * input and output streams: replies only, in order; ERROR lines told from
 * replies; servers of other styles; a server that goes away; a closed output;
 * lines over the limit.
 *
 * @module
 */

import assert from "node:assert/strict";
import net from "node:net";
import { once } from "node:events";
import { EXIT, runClient } from "../client.ts";
import { collector, keyboard, runPipelineClient, sleep, startServer } from "../testing/helpers.ts";
import { fakeServer } from "../testing/peers.ts";

Deno.test("client takes a reply that starts with ERROR for a reply when the message did too", async () => {
  await using server = startServer();
  const { status, output } = await runPipelineClient(server.addr.port, "error 404\nerrores\n");
  assert.equal(status, EXIT.OK);
  assert.equal(output, "ERROR 404\nERRORES\n");
});

Deno.test("client in a pipeline reports a server that closes before answering every line, and exits 4", async () => {
  await using server = await fakeServer((socket) => socket.once("data", () => socket.end("UNO\n")));
  const { status, output, errors } = await runPipelineClient(server.port, "uno\ndos\ntres\n");
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
  const { status, output } = await runPipelineClient(server.port, "uno\ndos\n");
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
  const input = "\u0390".repeat(5) + "\n"; // 10 bytes; uppercased, 30
  const { status, output, errors } = await runPipelineClient(server.addr.port, input, {
    maxMessageBytes: 10,
  });
  assert.equal(errors, "");
  assert.equal(status, EXIT.OK);
  assert.equal(output, input.toUpperCase());
});

Deno.test("client refuses a piped line over the limit and exits 1", async () => {
  await using server = startServer();
  const { status, errors } = await runPipelineClient(server.addr.port, "x".repeat(20) + "\n", {
    maxMessageBytes: 10,
  });
  assert.equal(status, EXIT.FAILURE);
  assert.equal(errors, "Cannot send a line longer than 10 bytes\n");
});

/** An output that takes `accepted` writes, then fails every write with `error`. */
function failingOutput(accepted: number, error: Error) {
  const written: string[] = [];
  const stream = new WritableStream<Uint8Array>({
    write(chunk) {
      if (written.length >= accepted) throw error;
      written.push(new TextDecoder().decode(chunk));
    },
  });
  return { stream, written };
}

Deno.test("client in a pipeline stops quietly with 141 when its output is closed early", async () => {
  await using server = startServer({ log: null });
  const output = failingOutput(1, new Deno.errors.BrokenPipe("Broken pipe (os error 32)"));
  const { status, errors } = await runPipelineClient(
    server.addr.port,
    ["uno\n", "dos\n", "tres\n".repeat(1000)],
    { output: output.stream },
  );
  assert.equal(status, EXIT.OUTPUT_CLOSED);
  assert.equal(errors, "", "no message, as for cat | head");
  assert.equal(output.written[0], "UNO\n");
});

Deno.test("client in a pipeline says why when its output fails otherwise, and exits 1", async () => {
  await using server = startServer({ log: null });
  const output = failingOutput(0, new Error("No space left on device (os error 28)"));
  const { status, errors } = await runPipelineClient(server.addr.port, "uno\n", {
    output: output.stream,
  });
  assert.equal(status, EXIT.FAILURE);
  assert.equal(
    errors,
    "Cannot write the replies: No space left on device (os error 28)\n",
  );
});

/** A server that hands its n-th connection to `handlers[n]`; the connections it has had, counted. */
async function serverOfTurns(handlers: ((socket: net.Socket) => void)[]) {
  let turn = 0;
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    handlers[Math.min(turn++, handlers.length - 1)](socket);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return turn;
    },
    async [Symbol.asyncDispose]() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

/** Answers each line uppercased, as our server does, and closes at DESCONEXION. */
function uppercasing(received: string[] = []) {
  return (socket: net.Socket) => {
    socket.setEncoding("utf8");
    let pending = "";
    socket.on("data", (text: string) => {
      received.push(text);
      pending += text;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      socket.write(lines.map((line) => line.toUpperCase() + "\n").join(""));
      if (pending === "DESCONEXION") socket.end();
    });
    socket.on("error", () => {});
  };
}

Deno.test("client with --reconnect throws away a reply cut by a lost connection and sends its line again, printing no reply twice", async () => {
  const second: string[] = [];
  await using server = await serverOfTurns([
    (socket) => {
      // Answers two lines whole, then cuts the third line's reply and resets.
      socket.setEncoding("utf8");
      let lines = 0;
      socket.on("data", (text: string) => {
        for (const line of text.split("\n").slice(0, -1)) {
          if (++lines < 3) socket.write(line.toUpperCase() + "\n");
          else if (lines === 3) {
            socket.write(line.toUpperCase().slice(0, 2));
            socket.resetAndDestroy();
          }
        }
      });
      socket.on("error", () => {});
    },
    uppercasing(second),
  ]);
  const { status, output, errors } = await runPipelineClient(
    server.port,
    "uno\ndos\ntres\ncuatro\n",
    { reconnect: true },
  );
  assert.equal(status, EXIT.OK, errors);
  assert.equal(output, "UNO\nDOS\nTRES\nCUATRO\n");
  assert.match(second.join(""), /^tres\ncuatro\n/, "the unanswered lines first, in order");
  assert.equal(errors, "Connection lost; reconnecting...\nReconnected.\n");
});

Deno.test("client with --reconnect still ends on an ERROR line that is not the connection limit, with 5", async () => {
  await using server = await serverOfTurns([
    (socket) => socket.once("data", () => socket.end("ERROR message too long (limit 8 bytes)\n")),
  ]);
  const { status, errors } = await runPipelineClient(server.port, "demasiado largo\n", {
    reconnect: true,
  });
  assert.equal(status, EXIT.SERVER_ERROR);
  assert.match(errors, /^The server refused the message: ERROR message too long/);
  assert.equal(server.connections, 1);
});

Deno.test("client with --reconnect never sends DESCONEXION again: once sent, it is done, even if the server resets", async () => {
  const received: string[] = [];
  await using server = await serverOfTurns([(socket) => {
    socket.setEncoding("utf8");
    socket.on("data", (text: string) => {
      received.push(text);
      if (text.includes("DESCONEXION")) socket.resetAndDestroy();
      else socket.write(text.toUpperCase());
    });
  }]);
  const { status, output } = await runPipelineClient(server.port, "uno\nDESCONEXION\nnunca\n", {
    reconnect: true,
  });
  assert.equal(status, EXIT.OK);
  assert.equal(output, "UNO\n");
  assert.equal(server.connections, 1, "no second connection");
  assert.equal(received.join("").match(/DESCONEXION/g)?.length, 1);
});

Deno.test("client in a pipeline shows a reply's control characters visibly only where its output is a terminal", async () => {
  const attack = "HOLA\x1b]0;owned\x07\x1b[2J\x9b6n";
  for (const output of [true, false]) {
    await using server = await fakeServer((socket) =>
      socket.once("data", () => socket.write(`${attack}\n`))
    );
    const run = await runPipelineClient(server.port, "hola\n", {
      terminals: { output, errors: false },
    });
    assert.equal(run.status, EXIT.OK);
    assert.equal(
      run.output,
      output ? "HOLA^[]0;owned^G^[[2J\\x9b6n\n" : `${attack}\n`,
      output ? "a terminal: shown, not obeyed" : "a pipe: byte for byte",
    );
  }
});

Deno.test("client shows the server's ERROR line with its control characters visible where stderr is a terminal", async () => {
  await using server = await fakeServer((socket) =>
    socket.once("data", () => socket.end("ERROR no\x1b[2J\n"))
  );
  const run = await runPipelineClient(server.port, "hola\n", {
    terminals: { output: false, errors: true },
  });
  assert.equal(run.status, EXIT.SERVER_ERROR);
  assert.equal(run.errors, "The server refused the message: ERROR no^[[2J\n");
});

Deno.test("client in a pipeline ends with 4 on a line that answers nothing it sent, and with 5 on an unasked ERROR line", async () => {
  const cases = [
    ["UNO\nDE MÁS\n", EXIT.CONNECTION_LOST, /does not speak this protocol/],
    ["UNO\nERROR idle timeout (nothing received for 1 s)\n", EXIT.SERVER_ERROR, /idle timeout/],
  ] as const;
  for (const [replies, status, why] of cases) {
    const producer = keyboard();
    await using server = await fakeServer((socket) =>
      socket.once("data", () => socket.write(replies))
    );
    const output = collector(), errors = collector();
    const running = runClient({
      port: server.port,
      input: producer.stream,
      output: output.stream,
      errors: errors.stream,
    });
    producer.type("uno\n"); // and the input stays open: only the server can end this
    assert.equal(await running, status);
    assert.equal(output.text(), "UNO\n");
    assert.match(errors.text(), why);
  }
});

Deno.test("client with nothing waiting for a reply never times out, however long its input is quiet", async () => {
  await using server = startServer({ log: null });
  const producer = keyboard();
  const output = collector(), errors = collector();
  const running = runClient({
    port: server.addr.port,
    input: producer.stream,
    output: output.stream,
    errors: errors.stream,
    replyTimeoutMs: 100,
  });
  producer.type("uno\n");
  await output.waitFor(/^UNO\n$/);
  // Quiet input for many reply timeouts: a window, as silence is what is tested.
  await sleep(500);
  producer.type("dos\n");
  await output.waitFor(/^UNO\nDOS\n$/);
  producer.end();
  assert.equal(await running, EXIT.OK, errors.text());
});
