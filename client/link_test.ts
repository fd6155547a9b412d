/**
 * Tests of the client's link to its server: the waits between attempts, one
 * connection without `--reconnect`, waiting for a server that is not there
 * yet, telling people once per outage, and giving up after `--retry-for`
 * with the status that says whether a connection ever worked.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  ConnectionLost,
  Link,
  type LinkOptions,
  MAX_RETRY_MS,
  type ReconnectOptions,
  retryDelay,
} from "./link.ts";
import { SessionEnd } from "./session.ts";
import { EXIT } from "../cli/exit_status.ts";
import { startServer } from "../testing/helpers.ts";
import { freePort } from "../testing/processes.ts";

const FRAMING = { maxReplyBytes: 1024, quietMs: 20 };
const TIMEOUTS = { connectTimeoutMs: 5_000, replyTimeoutMs: 10_000 };

/** The options of a link to `port` on 127.0.0.1. */
function linkTo(port: number, reconnect?: ReconnectOptions): LinkOptions {
  return { server: { hostname: "127.0.0.1", port }, framing: FRAMING, ...TIMEOUTS, reconnect };
}
const encoder = new TextEncoder();

/** Reconnecting with `retryForMs`, its notices kept, and a way to wait for one. */
function reconnecting(retryForMs: number) {
  const notices: string[] = [];
  let noticed = Promise.withResolvers<void>();
  return {
    retryForMs,
    notices,
    notify(line: string) {
      notices.push(line);
      noticed.resolve();
      noticed = Promise.withResolvers<void>();
      return Promise.resolve();
    },
    /** Settles once there are `count` notices. */
    async noticed(count: number) {
      while (notices.length < count) await noticed.promise;
    },
  };
}

Deno.test("retryDelay waits 50 ms doubling to 2 s, each wait in the upper half of its step", () => {
  const steps = [50, 100, 200, 400, 800, 1600, 2000, 2000];
  steps.forEach((step, attempt) => {
    assert.equal(retryDelay(attempt, () => 0), step / 2, `attempt ${attempt}, least`);
    assert.equal(retryDelay(attempt, () => 1), step, `attempt ${attempt}, most`);
  });
  for (let i = 0; i < 1000; i++) assert(retryDelay(50) <= MAX_RETRY_MS, "jitter included");
});

Deno.test("Link without --reconnect is one connection, and no server is a session end with 3", async () => {
  const port = freePort();
  await assert.rejects(
    Link.open(linkTo(port)),
    (error) => error instanceof SessionEnd && error.status === EXIT.NO_SERVER,
  );
  await using server = startServer({ log: null });
  const link = await Link.open(linkTo(server.addr.port));
  assert.equal(link.reconnects, false);
  await link.send(encoder.encode("hola\n"));
  const [reply] = await link.replies.take();
  assert.equal(new TextDecoder().decode(reply.bytes), "HOLA");
  await link.close();
});

Deno.test("Link with --reconnect waits for a server that is not there yet, and says so once", async () => {
  const port = freePort();
  const retrying = reconnecting(30_000);
  const opening = Link.open(linkTo(port, retrying));
  await retrying.noticed(1);
  await using _server = startServer({ port, log: null });
  const link = await opening;
  await link.send(encoder.encode("ya\n"));
  assert.equal((await link.replies.take()).length, 1);
  await link.worked();
  await link.close();
  assert.deepEqual(retrying.notices, [
    `No server at 127.0.0.1:${port} yet; waiting for one...`,
    "Connected.",
  ]);
});

Deno.test("Link with --reconnect gives up after --retry-for: 3 when no connection ever worked", async () => {
  const port = freePort();
  const started = performance.now();
  await assert.rejects(
    Link.open(linkTo(port, reconnecting(300))),
    (error) =>
      error instanceof SessionEnd && error.status === EXIT.NO_SERVER &&
      error.message.startsWith(`Cannot connect to 127.0.0.1:${port} within 0.3 s (--retry-for):`),
  );
  assert(performance.now() - started >= 300);
});

Deno.test("Link connects again after a loss, tells people once, and gives up with 4 once the server is gone for good", async () => {
  const server = startServer({ log: null });
  const retrying = reconnecting(300);
  const link = await Link.open(linkTo(server.addr.port, retrying));
  await link.send(encoder.encode("uno\n"));
  await link.replies.take();
  await link.worked();
  await server.stop();
  await link.replies.ended;
  await assert.rejects(
    link.reconnect(),
    (error) =>
      error instanceof SessionEnd && error.status === EXIT.CONNECTION_LOST &&
      error.message.startsWith("Connection lost, and not made again within 0.3 s (--retry-for):"),
  );
  await link.close();
  assert.deepEqual(retrying.notices, ["Connection lost; reconnecting..."]);
});

Deno.test("Link.close stops an attempt to connect again at once", async () => {
  const server = startServer({ log: null });
  const link = await Link.open(linkTo(server.addr.port, reconnecting(30_000)));
  await server.stop();
  const reconnect = link.reconnect();
  await link.close();
  await assert.rejects(reconnect, SessionEnd);
});

Deno.test("Link.withinReplyTimeout gives the connection up once the server is silent that long, not before", async () => {
  // A server that accepts and never answers, as one whose host vanished.
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = listener.accept();
  const link = await Link.open({ ...linkTo(listener.addr.port), replyTimeoutMs: 200 });
  using _accepted = await accepting;
  await link.send(encoder.encode("hola\n"));
  const started = performance.now();
  await assert.rejects(
    link.withinReplyTimeout(link.replies.take(), started),
    (error) =>
      error instanceof ConnectionLost &&
      error.reason === "nothing from the server for 0.2 s (--reply-timeout)",
  );
  assert(performance.now() - started >= 200, "not before the reply timeout");
  await link.close();
});

Deno.test("Link with --reconnect keeps backing off across connections a full server turns away", async () => {
  await using server = startServer({ maxConnections: 1, log: null });
  using _holder = await Deno.connect(server.addr);
  const link = await Link.open(linkTo(server.addr.port, reconnecting(30_000)));
  const started = performance.now();
  for (let refusals = 0; refusals < 5; refusals++) {
    await link.replies.ended; // turned away: the server closes at once
    await link.reconnect();
  }
  // 25-50, 50-100, 100-200, 200-400, 400-800 ms: at least 775 ms in all, where
  // starting again from the first step each time would take 125 ms at least.
  const took = performance.now() - started;
  assert(took >= 775, `five attempts in ${took} ms`);
  await link.close();
});
