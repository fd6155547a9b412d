/**
 * Tests of the metrics endpoint's HTTP server with raw connections: requests
 * kept alive, and each limit that keeps a hostile client from holding it: the
 * head's size and time, the idle wait, the cap on connections, bodies and
 * methods it does not take.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MAX_HEAD_BYTES, parseHead, serveHttp } from "./http_endpoint.ts";
import { Peer } from "../testing/peers.ts";

/** An endpoint that answers every path with its name, with small limits. */
function endpoint(limits = {}) {
  return serveHttp(
    { hostname: "127.0.0.1", port: 0 },
    (path) => ({ status: 200, body: `at ${path}\n` }),
    { headTimeoutMs: 200, idleTimeoutMs: 300, maxConnections: 2, ...limits },
  );
}

Deno.test("serveHttp answers requests one after another on a kept-alive connection, and closes on Connection: close", async () => {
  await using http = endpoint();
  using peer = await Peer.connect(http.addr);
  await peer.send("GET /uno HTTP/1.1\r\nHost: x\r\n\r\nHEAD /dos HTTP/1.1\r\n\r\n");
  await peer.send("GET /tres?q=1 HTTP/1.1\r\nConnection: close\r\n\r\n");
  const text = await peer.readToEnd();
  const statuses = [...text.matchAll(/^HTTP\/1\.1 200 OK\r$/gm)].length;
  assert.equal(statuses, 3, text);
  assert.match(text, /\r\n\r\nat \/uno\n/);
  assert(!text.includes("at /dos"), "HEAD: no body");
  assert.match(text, /connection: close\r\n\r\nat \/tres\n$/);
});

Deno.test("serveHttp closes a connection whose head is not in within its limit, or that idles past its limit", async () => {
  await using http = endpoint();
  for (const [sent, limitMs] of [["GET /slow HTTP/1.1\r\nHost:", 200], ["", 200]] as const) {
    using peer = await Peer.connect(http.addr);
    const started = performance.now();
    if (sent) await peer.send(sent);
    assert.equal(await peer.readToEnd(), "", "closed without an answer");
    const took = performance.now() - started;
    assert(took >= limitMs - 10 && took < limitMs + 2_000, `closed after ${took} ms`);
  }
  using kept = await Peer.connect(http.addr);
  await kept.send("GET / HTTP/1.1\r\n\r\n");
  await kept.readLine();
  const answered = performance.now();
  await kept.readToEnd();
  const idle = performance.now() - answered;
  assert(idle >= 290 && idle < 2_300, `idle connection closed after ${idle} ms`);
});

Deno.test("serveHttp answers 431 to a head over 8 KiB, 405 to other methods and 400 to a body or a bad line, and closes", async () => {
  await using http = endpoint();
  const cases: [string, RegExp][] = [
    [`GET /${"x".repeat(MAX_HEAD_BYTES)} HTTP/1.1\r\n\r\n`, /^HTTP\/1\.1 431 /],
    ["POST /metrics HTTP/1.1\r\n\r\n", /^HTTP\/1\.1 405 [^]*allow: GET, HEAD\r\n/],
    ["GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", /^HTTP\/1\.1 400 /],
    ["GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", /^HTTP\/1\.1 400 /],
    ["hola\r\n\r\n", /^HTTP\/1\.1 400 /],
  ];
  for (const [request, want] of cases) {
    using peer = await Peer.connect(http.addr);
    await peer.send(request).catch(() => {}); // a head too large may be cut off mid-send
    assert.match(await peer.readToEnd().catch(() => ""), want, request.slice(0, 40));
  }
});

Deno.test("serveHttp answers 503 at once to a connection over its cap, and serves again once one closes", async () => {
  await using http = endpoint({ maxConnections: 2, headTimeoutMs: 60_000, idleTimeoutMs: 60_000 });
  const held = await Promise.all([Peer.connect(http.addr), Peer.connect(http.addr)]);
  // The endpoint knows of both once each has been answered once.
  for (const peer of held) {
    await peer.send("GET / HTTP/1.1\r\n\r\n");
    await peer.readLine();
  }
  {
    using over = await Peer.connect(http.addr);
    assert.match(await over.readToEnd(), /^HTTP\/1\.1 503 [^]*connection: close\r\n\r\nbusy/);
  }
  held[0][Symbol.dispose]();
  // The endpoint learns of the close when it reads: each try is a real request, answered at once.
  const deadline = performance.now() + 5_000;
  for (let answer = ""; !/^HTTP\/1\.1 200 [^]*at \/otra\n$/.test(answer);) {
    assert(performance.now() < deadline, `never served again; last answer: ${answer}`);
    using again = await Peer.connect(http.addr);
    await again.send("GET /otra HTTP/1.1\r\nConnection: close\r\n\r\n").catch(() => {});
    answer = await again.readToEnd().catch(() => "");
  }
  held[1][Symbol.dispose]();
});

Deno.test("parseHead takes GET and HEAD of a path, HTTP/1.0 closing unless kept alive, and refuses the rest", () => {
  const table: [string, unknown][] = [
    ["GET /metrics HTTP/1.1\r\nHost: a", { method: "GET", path: "/metrics", close: false }],
    ["HEAD /healthz?x HTTP/1.1", { method: "HEAD", path: "/healthz", close: false }],
    ["GET / HTTP/1.0", { method: "GET", path: "/", close: true }],
    ["GET / HTTP/1.0\r\nConnection: Keep-Alive", { method: "GET", path: "/", close: false }],
    ["GET http://h/metrics HTTP/1.1", { method: "GET", path: "/metrics", close: false }],
  ];
  for (const [head, want] of table) assert.deepEqual(parseHead(head), want, head);
  for (const head of ["GET / HTTP/2.0", "GET /", "GET / HTTP/1.1\r\nBad Header: x", ""]) {
    assert.equal((parseHead(head) as { status: number }).status, 400, head);
  }
});
