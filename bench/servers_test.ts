/**
 * Tests of the bench's servers: a server process is started, its port read
 * from its "Listening on" line, and stopped; the bare `Deno.Conn` loop, the
 * runtime's floor, answers lines uppercased, pipelined ones whole; our server
 * runs as `deno task server` does.
 *
 * They start `deno`, which `deno task test` grants; otherwise they are skipped.
 *
 * @module
 */

import assert from "node:assert/strict";
import config from "../deno.json" with { type: "json" };
import { Peer } from "../testing/peers.ts";
import { canRun, warnIfMissing } from "../testing/processes.ts";
import { BASELINES, ourServerCommand, startServer } from "./servers.ts";

const available = { deno: await canRun("deno", ["--version"]) };
warnIfMissing("bench/servers_test.ts", { available: available, packages: "deno" });

Deno.test({
  name:
    "startServer starts the bare Deno.Conn loop, which answers lines uppercased, pipelined ones whole",
  ignore: !available.deno,
  async fn() {
    const server = await startServer(BASELINES.denoBare.name, [...BASELINES.denoBare.command]);
    try {
      using peer = await Peer.connect({ transport: "tcp", ...server.target });
      const lines = "hola servidor\n".repeat(5000);
      await peer.send(lines);
      assert.equal(await peer.readText(lines.length), lines.toUpperCase());
    } finally {
      await server.stop();
    }
  },
});

Deno.test("ourServerCommand runs the server as deno task server does, quiet, on a free port", () => {
  const task = config.tasks.server.command.split(" ");
  assert.deepEqual(ourServerCommand("--flush-delay", "0"), [
    ...task,
    ...["--port", "0", "--quiet", "--max-connections", "20000", "--flush-delay", "0"],
  ]);
});
