/**
 * Tests of the accept-failure policy: each error sorted into the class that
 * decides what a loop does, the pause that grows with failures in a row, and
 * the accepting that follows both.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  acceptBackoff,
  type AcceptFailure,
  acceptPatiently,
  classifyAcceptError,
} from "./accept_errors.ts";

/** An OS error as Deno reports one it has no class for: a plain Error with a code. */
function rawError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

Deno.test("classifyAcceptError sorts each error into the class that decides what the loop does", () => {
  const table: [unknown, AcceptFailure][] = [
    [new Deno.errors.BadResource("Listener has been closed"), "listener closed"],
    [new Deno.errors.NotConnected("Transport endpoint is not connected"), "client gone"],
    [new Deno.errors.ConnectionAborted(), "client gone"],
    [new Deno.errors.ConnectionReset(), "client gone"],
    [new Deno.errors.Interrupted(), "client gone"],
    [rawError("EPROTO", "Protocol error (os error 71)"), "client gone"],
    [rawError("ECONNABORTED", "Software caused connection abort"), "client gone"],
    [rawError("EMFILE", "Too many open files (os error 24)"), "out of resources"],
    [rawError("ENFILE", "Too many open files in system"), "out of resources"],
    [rawError("ENOBUFS", "No buffer space available"), "out of resources"],
    [rawError("ENOMEM", "Cannot allocate memory"), "out of resources"],
    [rawError("EINVAL", "Invalid argument"), "unexpected"],
    [new Error("no code at all"), "unexpected"],
    ["not even an Error", "unexpected"],
  ];
  for (const [error, want] of table) {
    assert.equal(classifyAcceptError(error), want, `got the wrong class for ${String(error)}`);
  }
});

Deno.test("acceptBackoff waits 5 ms after a first failure, doubling up to 1 s", () => {
  const waits: number[] = [];
  for (let last = 0, i = 0; i < 10; i++) waits.push(last = acceptBackoff(last));
  assert.deepEqual(waits, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
});

Deno.test("acceptPatiently skips a client gone, waits out a shortage, and gives undefined once the listener is closed", async () => {
  const outcomes: (() => string)[] = [
    () => {
      throw new Deno.errors.ConnectionAborted();
    },
    () => {
      throw rawError("EMFILE", "Too many open files");
    },
    () => "conexión",
    () => {
      throw new Deno.errors.BadResource("Listener has been closed");
    },
  ];
  const listener = { accept: () => Promise.resolve().then(outcomes.shift()!) };
  const stopping = new AbortController();
  const started = performance.now();
  assert.equal(await acceptPatiently(listener, stopping.signal), "conexión");
  assert(performance.now() - started >= acceptBackoff(0) - 1, "the shortage was waited out");
  assert.equal(await acceptPatiently(listener, stopping.signal), undefined);
  assert.equal(outcomes.length, 0, "every outcome was met");
  stopping.abort();
  assert.equal(await acceptPatiently(listener, stopping.signal), undefined, "stopped: no accept");
});
