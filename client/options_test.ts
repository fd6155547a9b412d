/**
 * Tests of the client's options: every default filled in once, and what the
 * caller gave kept.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DEFAULT_REPLY_QUIET_MS, resolveClientSettings } from "./options.ts";
import { DEFAULT_MAX_MESSAGE_BYTES } from "../protocol.ts";

const streams = {
  input: new ReadableStream<Uint8Array>(),
  output: new WritableStream<Uint8Array>(),
  errors: new WritableStream<Uint8Array>(),
};

Deno.test("resolveClientSettings connects to 127.0.0.1:5000 in pipeline mode, without colour, by default", () => {
  const settings = resolveClientSettings(streams);
  assert.deepEqual(
    [settings.hostname, settings.port, settings.maxMessageBytes, settings.replyQuietMs],
    ["127.0.0.1", 5000, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_REPLY_QUIET_MS],
  );
  assert.deepEqual([settings.interactive, settings.color, settings.tls], [false, false, undefined]);
});

Deno.test("resolveClientSettings keeps what the caller gave", () => {
  const settings = resolveClientSettings({
    ...streams,
    hostname: "::1",
    port: 6000,
    maxMessageBytes: 8,
    replyQuietMs: 10,
    interactive: true,
    color: true,
    tls: { caCerts: ["pem"] },
  });
  assert.deepEqual(
    [settings.hostname, settings.port, settings.maxMessageBytes, settings.replyQuietMs],
    ["::1", 6000, 8, 10],
  );
  assert.deepEqual([settings.interactive, settings.color, settings.tls], [true, true, {
    caCerts: ["pem"],
  }]);
});
