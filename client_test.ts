/**
 * Tests of `runClient()`, the client's library entry point: how a session's
 * end becomes an exit status and a line on the errors stream, and that both
 * streams it was given are closed when it returns. Each mode has its own tests
 * in `client/terminal_test.ts` and `client/pipeline_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { EXIT, runClient } from "./client.ts";
import { runPipelineClient, startServer, textStream } from "./testing/helpers.ts";

Deno.test("client reports an ERROR line from the server and exits 5", async () => {
  await using server = startServer({ maxMessageBytes: 8 });
  const { status, output, errors } = await runPipelineClient(
    server.addr.port,
    "corto\ndemasiado largo\nnunca\n",
  );
  assert.equal(status, EXIT.SERVER_ERROR);
  assert.equal(output, "CORTO\n");
  assert.equal(
    errors,
    "The server refused the message: ERROR message too long (limit 8 bytes)\n",
  );
});

Deno.test("runClient closes its output and errors streams when it returns, even without a server", async () => {
  using unused = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = unused.addr.port;
  unused.close();
  const closed: string[] = [];
  const stream = (name: string) =>
    new WritableStream<Uint8Array>({ close: () => void closed.push(name) });
  const status = await runClient({
    port,
    input: textStream("hola\n"),
    output: stream("output"),
    errors: stream("errors"),
  });
  assert.equal(status, EXIT.NO_SERVER);
  assert.deepEqual(closed.sort(), ["errors", "output"]);
});
