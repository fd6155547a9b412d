/**
 * Tests of the log: the text lines read as they always have, each event's
 * JSON object has the documented keys in order, and a worker is named in
 * both formats.
 *
 * @module
 */

import assert from "node:assert/strict";
import { formatJson, formatText, JSON_LOG_KEYS, type LogEvent, Logger } from "./log.ts";

const EVENTS: [LogEvent, string | undefined][] = [
  [{ event: "connected", id: 1, peer: "127.0.0.1:4000" }, "#1 127.0.0.1:4000 connected"],
  [
    { event: "connected", id: 3, peer: "203.0.113.7:51000", via: "10.0.0.10:40022" },
    "#3 203.0.113.7:51000 connected via 10.0.0.10:40022",
  ],
  [
    { event: "connected", id: 4, peer: "127.0.0.1:4001", local: true },
    "#4 127.0.0.1:4001 connected (the proxy's own connection)",
  ],
  [
    {
      event: "closed",
      id: 1,
      peer: "127.0.0.1:4000",
      reason: "end_of_input",
      detail: "end of input",
      messages: 0,
      bytesIn: 0,
      bytesOut: 0,
      seconds: 0.0004,
    },
    "#1 127.0.0.1:4000 closed (end of input) after 0 messages, 0 bytes in, 0 bytes out, 0.000 s",
  ],
  [
    {
      event: "refused",
      id: 9,
      peer: "127.0.0.1:4009",
      reason: "max_connections",
      detail: "too many connections (limit 50)",
    },
    "#9 127.0.0.1:4009 refused: too many connections (limit 50)",
  ],
  [
    { event: "skipped", count: 1, detail: "Transport endpoint is not connected" },
    "Skipped 1 connection that the client closed before it was accepted (Transport endpoint is not connected)",
  ],
  [
    { event: "accept_error", detail: "Too many open files", retryMs: 5 },
    "Cannot accept a connection: Too many open files; retrying in 5 ms",
  ],
  [{ event: "stopping", open: 3 }, "Stopping: no longer accepting connections; 3 open"],
  [{ event: "listening", address: "127.0.0.1:5000" }, undefined],
  [{ event: "stopped" }, undefined],
  [{ event: "failed", detail: "Worker 2 failed: boom" }, "Worker 2 failed: boom"],
];

Deno.test("formatText writes each event as the text log always has, and leaves listening and stopped to stdout", () => {
  for (const [event, want] of EVENTS) assert.equal(formatText(event), want, event.event);
});

Deno.test("formatText names the worker first, with --parallel", () => {
  assert.equal(formatText(EVENTS[0][0], 2), "[worker 2] #1 127.0.0.1:4000 connected");
});

Deno.test("formatJson writes one object per event: time, level, event, then the keys that apply, in the documented order", () => {
  for (const [event] of EVENTS) {
    const line = formatJson(event, 1, new Date(Date.UTC(2026, 11, 1, 12, 0, 0, 5)));
    assert(!line.includes("\n"), "one line");
    const object = JSON.parse(line);
    const keys = Object.keys(object);
    assert.deepEqual(keys.slice(0, 3), ["time", "level", "event"]);
    assert.deepEqual(
      keys,
      JSON_LOG_KEYS.filter((key) => keys.includes(key)),
      "in the documented order",
    );
    assert.equal(object.time, "2026-12-01T12:00:00.005Z");
    assert.equal(object.worker, 1);
  }
  const closed = JSON.parse(formatJson(EVENTS[3][0]));
  assert.deepEqual(
    [closed.level, closed.reason, closed.bytes_in, closed.seconds],
    ["info", "end_of_input", 0, 0.0004],
  );
  assert.equal(JSON.parse(formatJson(EVENTS[4][0])).level, "warn");
  assert.equal(JSON.parse(formatJson(EVENTS[10][0])).level, "error");
});

Deno.test("Logger writes each event in its format to its sink, and nothing for what the text log leaves out", () => {
  const lines: string[] = [];
  const text = new Logger((line) => lines.push(line), "text", 3);
  text.log({ event: "stopped" });
  text.log({ event: "stopping", open: 0 });
  new Logger((line) => lines.push(line), "json").log({ event: "stopped" });
  assert.equal(lines.length, 2);
  assert.equal(lines[0], "[worker 3] Stopping: no longer accepting connections; 0 open");
  assert.equal(JSON.parse(lines[1]).event, "stopped");
});
