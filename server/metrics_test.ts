/**
 * Tests of the metrics endpoint over real HTTP: `/metrics` answers the
 * server's counts as Prometheus text, `/healthz` answers 200 while the server
 * accepts connections and 503 once it stops, and anything else is 404.
 *
 * @module
 */

import assert from "node:assert/strict";
import { serveMetrics } from "./metrics.ts";
import { ServerStats } from "./stats.ts";
import { EXPOSITION_CONTENT_TYPE } from "./exposition.ts";

/** An endpoint on a free loopback port, over counts the test sets, and a way to fetch from it. */
function endpoint() {
  const stats = new ServerStats();
  const source = { accepting: true, snapshot: () => stats.snapshot() };
  const metrics = serveMetrics(source, {
    address: { hostname: "127.0.0.1", port: 0 },
    maxConnections: 50,
  });
  const get = async (path: string, method = "GET") => {
    const response = await fetch(`http://127.0.0.1:${metrics.addr.port}${path}`, { method });
    return {
      status: response.status,
      type: response.headers.get("content-type"),
      body: await response.text(),
    };
  };
  return { stats, source, metrics, get };
}

Deno.test("GET /metrics answers the counts as Prometheus text, version 0.0.4", async () => {
  const { stats, metrics, get } = endpoint();
  await using _ = metrics;
  stats.messages = 42;
  const response = await get("/metrics");
  assert.equal(response.status, 200);
  assert.equal(response.type, EXPOSITION_CONTENT_TYPE);
  assert.match(response.body, /^uppercase_messages_total 42$/m);
  assert.match(response.body, /^process_resident_memory_bytes \d+$/m);
});

Deno.test("GET /healthz answers 200 while the server accepts connections, then 503", async () => {
  const { source, metrics, get } = endpoint();
  await using _ = metrics;
  assert.deepEqual([(await get("/healthz")).status, (await get("/healthz")).body], [200, "ok\n"]);
  source.accepting = false;
  assert.deepEqual([(await get("/healthz")).status, (await get("/healthz")).body], [
    503,
    "stopping\n",
  ]);
});

Deno.test("Any other path is 404, any other method 405, and HEAD answers as GET without the body", async () => {
  const { metrics, get } = endpoint();
  await using _ = metrics;
  for (const path of ["/", "/metrics/x"]) assert.equal((await get(path)).status, 404, path);
  assert.equal((await get("/metrics", "POST")).status, 405);
  const head = await get("/metrics", "HEAD");
  assert.deepEqual([head.status, head.type, head.body], [200, EXPOSITION_CONTENT_TYPE, ""]);
});
