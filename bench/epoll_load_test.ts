/**
 * Tests of the benchmark's libc ping-pong generator: it counts only replies
 * that are right, and reports a wrong one as an error, never a figure.
 *
 * They need FFI, so `deno task test` grants `--allow-ffi`. Under plain
 * `deno test --allow-net`, or off Linux, they are skipped with a message.
 *
 * @module
 */

import assert from "node:assert/strict";
import { echoingServer, startServer } from "../test_helpers.ts";
import { epollAvailable, pingPongThroughEpoll } from "./epoll_load.ts";
import { ReplyMismatch } from "./load.ts";

const available = epollAvailable({ hostname: "127.0.0.1", port: 0 });
if (!available) {
  console.warn(
    "bench/epoll_load_test.ts: skipping, the libc generator needs Linux, glibc and --allow-ffi; " +
      "run `deno task test` (it grants --allow-ffi) to include it",
  );
}

// The generator blocks this thread for up to a slice at a time, so a server in
// this process answers only between slices: slow, but every reply still counts.
const SHORT_RUN = { warmupSeconds: 0, seconds: 0.5 };

Deno.test({
  name: "pingPongThroughEpoll counts the replies of a server that answers as the rules say",
  ignore: !available,
  async fn() {
    await using server = startServer();
    const measurement = await pingPongThroughEpoll(server.addr, 2, SHORT_RUN);
    assert.equal(measurement.scenario, "ping-pong");
    assert.ok(measurement.messages > 0, `no replies counted: ${JSON.stringify(measurement)}`);
    assert.ok(measurement.latencyMs!.p50 > 0);
  },
});

Deno.test({
  name: "pingPongThroughEpoll reports a reply that is not uppercased as a ReplyMismatch",
  ignore: !available,
  async fn() {
    await using echo = echoingServer();
    await assert.rejects(
      pingPongThroughEpoll(echo.addr, 1, SHORT_RUN),
      (error) => error instanceof ReplyMismatch && /reply byte 0 is 0x68/.test(error.message),
    );
  },
});
