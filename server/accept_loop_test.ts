/**
 * Tests of the accept loop on its own: that a burst of clients that leave first costs no waiting and one log line, that
 * an accept completing after `stop()` began cannot hold the stop up, and that
 * a listener that keeps failing is given up on.
 *
 * @module
 */

import assert from "node:assert/strict";
import { AcceptLoop, type ConnectionSource, ServerFailedError } from "./accept_loop.ts";
import { resolveSettings } from "./settings.ts";
import { WaitableLog } from "../testing/helpers.ts";
import { Peer } from "../testing/peers.ts";
import { TIMED_OUT, withTimeout } from "../io/socket.ts";

/** An OS error as Deno reports one it has no class for: a plain Error with a code. */
function rawError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * A real listener whose accepts are held at a gate: `accepted` settles when the
 * kernel has handed over a connection, and the loop sees it only on `open()`.
 */
function gatedListener(): ConnectionSource & {
  accepted: Promise<void>;
  open: () => void;
  inner: Deno.TcpListener;
} {
  const inner = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = Promise.withResolvers<void>();
  const gate = Promise.withResolvers<void>();
  return {
    inner,
    addr: inner.addr,
    accepted: accepted.promise,
    open: gate.resolve,
    async accept() {
      const conn = await inner.accept();
      accepted.resolve();
      await gate.promise;
      return conn;
    },
    // Closing the real listener now would not undo an accept that already
    // completed: exactly the race being tested.
    close: () => inner.close(),
  };
}

Deno.test("AcceptLoop closes a connection accepted after stop() began, so stop() does not wait for that client", async () => {
  const listener = gatedListener();
  const log = new WaitableLog();
  const server = new AcceptLoop(listener, resolveSettings({ log: log.write }));
  using late = await Peer.connect(listener.addr as Deno.NetAddr);
  await listener.accepted;
  const stopping = server.stop();
  listener.open();
  // Left to run, the late client never leaves on its own: stop() must not wait for it.
  assert.notEqual(
    await withTimeout(stopping, 5_000),
    TIMED_OUT,
    "stop() hung until the late client would leave",
  );
  assert.equal(await late.readToEnd(), "", "the late client sees its connection closed");
  assert.equal(log.lines.filter((line) => / connected$/.test(line)).length, 0);
});

Deno.test("AcceptLoop answers a new client at once after 100 clients reset before they were accepted, and logs one summary line", async () => {
  const listener = gatedListener();
  const log = new WaitableLog();
  // Every accept fails as Deno's does for a client that reset while queued, 100 times.
  let failed = 0;
  const flaky: ConnectionSource = {
    addr: listener.addr,
    accept: () =>
      failed++ < 100
        ? Promise.reject(new Deno.errors.NotConnected("Transport endpoint is not connected"))
        : listener.inner.accept(),
    close: () => listener.close(),
  };
  await using server = new AcceptLoop(flaky, resolveSettings({ log: log.write }));
  using witness = await Peer.connect(server.addr);
  await witness.send("hola\n");
  assert.equal(await witness.readLine(), "HOLA\n");
  assert.match(
    await log.waitFor(/Skipped/),
    /^Skipped 100 connections that the client closed before it was accepted \(Transport endpoint is not connected\)$/,
  );
  assert.equal(log.lines.filter((line) => /Cannot accept/.test(line)).length, 0, "no backoff");
});

/** A listener that hands over real connections, or fails as each entry of `script` says, in turn. */
function scriptedListener(
  script: ("accept" | Error)[],
): ConnectionSource & { inner: Deno.TcpListener } {
  const inner = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return {
    inner,
    addr: inner.addr,
    accept() {
      const next = script.shift() ?? "accept";
      return next === "accept" ? inner.accept() : Promise.reject(next);
    },
    close: () => inner.close(),
  };
}

Deno.test("AcceptLoop gives up after 10 accept failures in a row that it cannot name: it closes its connections and finished rejects", async () => {
  const listener = scriptedListener([
    "accept",
    ...Array.from({ length: 10 }, () => rawError("EINVAL", "Invalid argument (os error 22)")),
  ]);
  const log = new WaitableLog();
  const server = new AcceptLoop(listener, resolveSettings({ log: log.write }));
  using client = await Peer.connect(server.addr);
  await client.send("hola\n");
  assert.equal(await client.readLine(), "HOLA\n");
  await assert.rejects(
    server.finished,
    new ServerFailedError(
      "Cannot accept connections: Invalid argument (os error 22); gave up after 10 failures in a row",
    ),
  );
  assert.equal(await client.readToEnd(), "", "the connection is closed cleanly");
  assert.deepEqual(
    log.lines.filter((line) => /Cannot accept/.test(line)).map((line) => line.match(/\d+ ms/)?.[0]),
    ["5 ms", "10 ms", "20 ms", "40 ms", "80 ms", "160 ms", "320 ms", "640 ms", "1000 ms"],
  );
  assert.match(log.lines.join("\n"), /closed \(server stopping\)/);
});

Deno.test("AcceptLoop counts only failures in a row: 1, then a connection, then 9 more keep it serving", async () => {
  const einval = () => rawError("EINVAL", "Invalid argument (os error 22)");
  const listener = scriptedListener([einval(), "accept", ...Array.from({ length: 9 }, einval)]);
  await using server = new AcceptLoop(listener, resolveSettings({ log: null }));
  for (let client = 0; client < 2; client++) {
    using peer = await Peer.connect(server.addr);
    await peer.send("sigo\n");
    assert.equal(await peer.readLine(), "SIGO\n");
  }
});
