/**
 * Tests of the server's defaults: what `serve()` runs with when an option is
 * left out, and how "none" is spelled for the idle limit and the log.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DEFAULT_MAX_CONNECTIONS, resolveSettings } from "./settings.ts";
import {
  DEFAULT_FLUSH_DELAY_MS,
  DEFAULT_HOSTNAME,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_PORT,
} from "../protocol.ts";

Deno.test("resolveSettings fills in every default, loopback and port 5000 included", () => {
  assert.deepEqual(resolveSettings({}), {
    hostname: DEFAULT_HOSTNAME,
    port: DEFAULT_PORT,
    flushDelayMs: DEFAULT_FLUSH_DELAY_MS,
    maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
    maxConnections: DEFAULT_MAX_CONNECTIONS,
    idleTimeoutMs: undefined,
    log: console.error,
  });
  assert.equal(DEFAULT_HOSTNAME, "127.0.0.1", "never every interface by default");
  assert.equal(DEFAULT_PORT, 5000);
});

Deno.test("resolveSettings keeps what was given, and reads 0 as no idle limit and null as no log", () => {
  const given = {
    hostname: "::1",
    port: 0,
    flushDelayMs: 0,
    maxMessageBytes: 8,
    maxConnections: 3,
    idleTimeoutMs: 100,
    log: (_line: string) => {},
  };
  assert.deepEqual(resolveSettings(given), given);
  assert.equal(resolveSettings({ idleTimeoutMs: 0 }).idleTimeoutMs, undefined);
  assert.equal(resolveSettings({ log: null }).log, undefined);
});
