/**
 * The PROXY protocol over real sockets: a server started with
 * `proxyProtocol` takes version 1 and 2 headers however they are cut, logs and
 * uses the client's address from them, answers what came with the header, and
 * closes, without a reply and with the reason in its log, any connection with
 * no header, a bad or endless one, or from an address it does not trust.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startServer } from "../testing/helpers.ts";
import { oneShot, Peer, proxyV2, tcpAddresses } from "../testing/peers.ts";

const encoder = new TextEncoder();

/** A server behind a proxy, on 127.0.0.1 port 0. */
function proxiedServer(options: Parameters<typeof startServer>[0] = {}) {
  return startServer({ proxyProtocol: true, ...options });
}

Deno.test("PROXY v1 TCP4: the server logs the client's address and answers what follows", async () => {
  await using server = proxiedServer();
  using proxy = await Peer.connect(server.addr);
  await proxy.send("PROXY TCP4 192.0.2.7 127.0.0.1 56324 5000\r\nhola servidor\n");
  assert.equal(await proxy.readLine(), "HOLA SERVIDOR\n");
  assert.match(
    await server.log.waitFor(/connected/),
    /^#1 192\.0\.2\.7:56324 connected via 127\.0\.0\.1:\d+$/,
  );
  await proxy.conn.closeWrite();
  assert.match(
    await server.log.waitFor(/closed/),
    /^#1 192\.0\.2\.7:56324 closed \(end of input\)/,
  );
});

Deno.test("PROXY v2 TCP4 and TCP6 give the client's address; LOCAL and v1 UNKNOWN keep the socket's", async () => {
  await using server = proxiedServer();
  const table: [Uint8Array, RegExp][] = [
    [
      proxyV2("PROXY", tcpAddresses("198.51.100.9:40000", "127.0.0.1:5000")),
      /^#\d+ 198\.51\.100\.9:40000 connected via 127\.0\.0\.1:\d+$/,
    ],
    [
      proxyV2("PROXY", tcpAddresses("[2001:db8::9]:40001", "[::1]:5000")),
      /^#\d+ \[2001:db8::9\]:40001 connected via 127\.0\.0\.1:\d+$/,
    ],
    [
      proxyV2("LOCAL"),
      /^#\d+ 127\.0\.0\.1:\d+ connected \(the proxy's own connection\)$/,
    ],
    [
      encoder.encode("PROXY UNKNOWN\r\n"),
      /^#\d+ 127\.0\.0\.1:\d+ connected \(the proxy's own connection\)$/,
    ],
    // A client the proxy could not give as a TCP address (AF_UNIX, unspecified): not the proxy's own.
    [proxyV2("PROXY"), /^#\d+ 127\.0\.0\.1:\d+ connected$/],
    [
      proxyV2("PROXY", { family: 0x31, bytes: new Uint8Array(216) }),
      /^#\d+ 127\.0\.0\.1:\d+ connected$/,
    ],
    [
      proxyV2("PROXY", tcpAddresses("[::ffff:1.2.3.4]:40002", "[::1]:5000")),
      /^#\d+ \[::ffff:1\.2\.3\.4\]:40002 connected via 127\.0\.0\.1:\d+$/,
    ],
  ];
  for (const [i, [header, logged]] of table.entries()) {
    using proxy = await Peer.connect(server.addr);
    await proxy.send(header);
    await proxy.send("ping\n");
    assert.equal(await proxy.readLine(), "PING\n");
    assert.match(await server.log.waitFor(/connected/, { count: i + 1 }), logged);
  }
});

Deno.test("PROXY headers sent one byte at a time are read whole, v1 and v2", async () => {
  await using server = proxiedServer();
  const headers = [
    encoder.encode("PROXY TCP4 192.0.2.7 127.0.0.1 56324 5000\r\n"),
    proxyV2("PROXY", tcpAddresses("192.0.2.8:56325", "127.0.0.1:5000")),
  ];
  for (const [i, header] of headers.entries()) {
    using proxy = await Peer.connect(server.addr);
    proxy.conn.setNoDelay(true); // each byte its own segment, as far as the kernel allows
    for (const byte of header) await proxy.send(Uint8Array.of(byte));
    await proxy.send("lento\n");
    assert.equal(await proxy.readLine(), "LENTO\n");
    assert.match(
      await server.log.waitFor(/connected/, { count: i + 1 }),
      /192\.0\.2\.\d:5632\d connected/,
    );
  }
});

Deno.test("A PROXY header and messages in one packet: the messages are answered, none lost", async () => {
  await using server = proxiedServer();
  using proxy = await Peer.connect(server.addr);
  const header = proxyV2("PROXY", tcpAddresses("192.0.2.7:1", "127.0.0.1:5000"));
  await proxy.send(Uint8Array.of(...header, ...encoder.encode("uno\ndos\nDESCONEXION\n")));
  assert.equal(await proxy.readToEnd(), "UNO\nDOS\n");
  assert.match(
    await server.log.waitFor(/closed/),
    /closed \(disconnect command\) after 2 messages/,
  );
});

Deno.test("The server closes without a reply, and logs why, a connection whose PROXY header is missing, malformed or too long", async () => {
  await using server = proxiedServer();
  const table: [string, RegExp][] = [
    ["hola servidor\n", /closed \(no PROXY header\)/],
    [
      "PROXY TCP4 192.0.2.7 127.0.0.1 56324\r\nhola\n",
      /closed \(malformed PROXY v1 header: want two addresses and two ports\)/,
    ],
    [
      "PROXY TCP4 256.0.0.1 127.0.0.1 1 2\r\nhola\n",
      /closed \(malformed PROXY v1 header: not TCP4 addresses\)/,
    ],
    ["PROXY UNKNOWN " + "x".repeat(200), /closed \(PROXY v1 header longer than 107 bytes\)/],
  ];
  for (const [i, [input, logged]] of table.entries()) {
    using client = await Peer.connect(server.addr);
    await client.send(input);
    assert.equal(await client.readToEnd(), "", `no reply to ${JSON.stringify(input)}`);
    assert.match(await server.log.waitFor(/closed/, { count: i + 1 }), logged);
  }
  assert.equal(server.log.lines.filter((line) => /connected/.test(line)).length, 0);
});

Deno.test("The server closes a connection whose PROXY header never completes, once the header time is up", async () => {
  await using server = proxiedServer({ proxyHeaderTimeoutMs: 100 });
  using client = await Peer.connect(server.addr);
  await client.send("PROXY TCP4 192.0.2.7");
  assert.equal(await client.readToEnd(), "");
  assert.match(
    await server.log.waitFor(/closed/),
    /^#1 127\.0\.0\.1:\d+ closed \(no complete PROXY header within 0\.1 s\) after 0 messages, 20 bytes in, 0 bytes out/,
  );
});

Deno.test("The server closes a connection from an untrusted address at once, before reading a byte", async () => {
  await using server = proxiedServer({ trustedProxies: "127.0.0.1/32" });
  // A client on 127.0.0.2 claims to be someone else.
  const reply = await oneShot(server.addr, {
    localAddress: "127.0.0.2",
    send: "PROXY TCP4 203.0.113.1 127.0.0.1 1 5000\r\nhola\n",
    read: "until closed",
  });
  assert.equal(reply, "", "no reply");
  assert.match(
    await server.log.waitFor(/refused/),
    /^#1 127\.0\.0\.2:\d+ refused: not a trusted proxy \(127\.0\.0\.1\/32\)$/,
  );
  assert.doesNotMatch(server.log.lines.join("\n"), /203\.0\.113\.1|connected/);
  // The trusted proxy is still served.
  using proxy = await Peer.connect(server.addr);
  await proxy.send("PROXY TCP4 203.0.113.1 127.0.0.1 1 5000\r\nhola\n");
  assert.equal(await proxy.readLine(), "HOLA\n");
});

Deno.test("--max-connections-per-address behind a proxy counts the client's address from the header, not the proxy's", async () => {
  await using server = proxiedServer({ maxConnectionsPerAddress: 2 });
  /** A connection from the proxy for `client`, and the reply to its first line. */
  const through = async (client: string, port: number) => {
    const proxy = await Peer.connect(server.addr);
    await proxy.send(`PROXY TCP4 ${client} 127.0.0.1 ${port} 5000\r\nhola\n`);
    return Object.assign(proxy, { reply: await proxy.readLine() });
  };
  using first = await through("192.0.2.1", 1001), second = await through("192.0.2.1", 1002);
  using other = await through("192.0.2.2", 2001);
  using third = await through("192.0.2.1", 1003);
  assert.deepEqual([first, second, other].map((c) => c.reply), ["HOLA\n", "HOLA\n", "HOLA\n"]);
  assert.equal(
    third.reply,
    "ERROR too many connections from your address (limit 2), try again later\n",
  );
  assert.match(
    await server.log.waitFor(/192\.0\.2\.1:1003 closed/),
    /closed \(too many connections from 192\.0\.2\.1 \(limit 2\)\) after 0 messages/,
  );
  assert.equal(server.snapshot().closed.max_connections_per_address, 1);
});
