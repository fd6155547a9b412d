/**
 * Tests of the bench's native programs, compiled with the system's cc: the
 * generator counts the replies of a server that answers as the rules say, in
 * both scenarios, and reports a wrong reply as a ReplyMismatch; the
 * syscalls-only server answers lines uppercased.
 *
 * They need cc, and permission to run what it builds in `.test-tmp/native/`,
 * which `deno task test` grants. Otherwise they are skipped, with a message.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startServer } from "../testing/helpers.ts";
import { echoingServer, Peer } from "../testing/peers.ts";
import { canRun, warnIfMissing } from "../testing/processes.ts";
import { compileNative, type NativePrograms, runNative } from "./native.ts";
import { ReplyMismatch } from "./load.ts";

const BUILD = ".test-tmp/native";
const available = {
  cc: await canRun("cc", ["--version"]) &&
    (await Deno.permissions.query({ name: "run", command: `./${BUILD}/load_generator` }))
        .state === "granted",
};
warnIfMissing("bench/native_test.ts", { available: available, packages: "gcc" });

let built: Promise<NativePrograms> | undefined;
/** Builds the programs once for the file's tests. */
function programs(): Promise<NativePrograms> {
  return built ??= (async () => {
    await Deno.mkdir(BUILD, { recursive: true });
    const result = await compileNative(`./${BUILD}`);
    if ("failed" in result) throw new Error(result.failed);
    return result;
  })();
}

const SHORT_RUN = { warmupSeconds: 0, seconds: 0.3 };

Deno.test({
  name:
    "the native generator counts ping-pong round trips and their latencies, and pipelined replies in both modes",
  ignore: !available.cc,
  async fn() {
    const { generator } = await programs();
    await using server = startServer({ log: null });
    const pingPong = await runNative(generator, {
      ...SHORT_RUN,
      mode: "ping-pong",
      target: server.addr,
      connections: 10,
    });
    assert.equal(pingPong.scenario, "ping-pong");
    assert(pingPong.messages > 10, JSON.stringify(pingPong));
    assert(pingPong.latencyMs!.p50 > 0 && pingPong.latencyMs!.p99 >= pingPong.latencyMs!.p50);
    assert(pingPong.generatorCpu > 0);
    for (const mode of ["pipelined", "small-writes"] as const) {
      const pipelined = await runNative(generator, {
        ...SHORT_RUN,
        mode,
        target: server.addr,
        connections: 2,
        depth: 64,
      });
      assert.equal(pipelined.scenario, mode);
      assert(pipelined.messages > 128, JSON.stringify(pipelined));
    }
  },
});

Deno.test({
  name:
    "the native generator reports a reply that is not uppercased as a ReplyMismatch, never a figure",
  ignore: !available.cc,
  async fn() {
    const { generator } = await programs();
    await using echo = echoingServer();
    await assert.rejects(
      runNative(generator, {
        ...SHORT_RUN,
        mode: "ping-pong",
        target: echo.addr,
        connections: 1,
      }),
      (error) =>
        error instanceof ReplyMismatch && /reply byte 0 is 0x68, expected 0x48/.test(error.message),
    );
  },
});

Deno.test({
  name: "the syscalls-only C server answers lines uppercased, pipelined ones whole",
  ignore: !available.cc,
  async fn() {
    const { server } = await programs();
    const child = new Deno.Command(server, { args: ["0"], stdout: "piped" }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      let banner = "";
      while (!/:\d+\n/.test(banner)) banner += (await reader.read()).value ?? "";
      const port = Number(banner.match(/:(\d+)/)![1]);
      using peer = await Peer.connect({ transport: "tcp", hostname: "127.0.0.1", port });
      const lines = "hola servidor\n".repeat(5000);
      await peer.send(lines);
      assert.equal(await peer.readText(lines.length), lines.toUpperCase());
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await reader.cancel();
    }
  },
});
