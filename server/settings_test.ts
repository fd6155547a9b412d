/**
 * Tests of the server's defaults: what `serve()` runs with when an option is
 * left out, and how "none" is spelled for the idle limit and the log.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_TRUSTED_PROXIES,
  resolveSettings,
  TLS_WITH_PROXY_PROTOCOL,
} from "./settings.ts";
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
    maxConnectionsPerAddress: undefined,
    idleTimeoutMs: undefined,
    reusePort: false,
    proxy: undefined,
    tls: undefined,
    log: console.error,
    logFormat: "text",
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
    maxConnectionsPerAddress: 2,
    idleTimeoutMs: 100,
    log: (_line: string) => {},
    logFormat: "json" as const,
  };
  assert.deepEqual(resolveSettings(given), {
    ...given,
    reusePort: false,
    proxy: undefined,
    tls: undefined,
  });
  assert.equal(resolveSettings({ idleTimeoutMs: 0 }).idleTimeoutMs, undefined);
  assert.equal(resolveSettings({ log: null }).log, undefined);
});

Deno.test("resolveSettings trusts this machine's proxies by default, waits 5 s for a header, and refuses a bad range", () => {
  const proxy = resolveSettings({ proxyProtocol: true }).proxy!;
  assert.equal(proxy.trustedText, DEFAULT_TRUSTED_PROXIES);
  assert.equal(proxy.headerTimeoutMs, 5_000);
  assert(proxy.trusted.includes("127.0.0.1") && proxy.trusted.includes("::1"));
  assert(!proxy.trusted.includes("192.0.2.1"));
  const given = resolveSettings({
    proxyProtocol: true,
    trustedProxies: "10.0.0.0/8",
    proxyHeaderTimeoutMs: 100,
  }).proxy!;
  assert.deepEqual([given.trustedText, given.headerTimeoutMs], ["10.0.0.0/8", 100]);
  assert.equal(resolveSettings({ trustedProxies: "10.0.0.0/8" }).proxy, undefined);
  assert.throws(() => resolveSettings({ proxyProtocol: true, trustedProxies: "10/8" }), RangeError);
});

Deno.test("resolveSettings gives TLS a 10 s handshake limit, and refuses TLS with the PROXY protocol", () => {
  const tls = { cert: "CERT", key: "KEY" };
  assert.deepEqual(resolveSettings({ tls }).tls, { ...tls, handshakeTimeoutMs: 10_000 });
  assert.equal(resolveSettings({ tls, tlsHandshakeTimeoutMs: 50 }).tls?.handshakeTimeoutMs, 50);
  assert.throws(
    () => resolveSettings({ tls, proxyProtocol: true }),
    new TypeError(TLS_WITH_PROXY_PROTOCOL),
  );
});
