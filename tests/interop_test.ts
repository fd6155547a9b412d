/**
 * Interoperability, end to end with real programs: nc, ncat and socat against
 * our server, a CRLF client in telnet's style, and Python peers written the way
 * hand-written ones of this exercise are (`interop/`).
 *
 * `deno task test` grants the programs they start; a program that is missing
 * or not granted skips its tests, with a message saying how to include them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startServer } from "../testing/helpers.ts";
import { Peer } from "../testing/peers.ts";
import { canRun, printedBy, runClientProcess, spawn, warnIfMissing } from "../testing/processes.ts";

const available = {
  nc: await canRun("nc", ["-h"]),
  ncat: await canRun("ncat", ["--version"]),
  socat: await canRun("socat", ["-V"]),
  python3: await canRun("python3", ["--version"]),
  deno: await canRun("deno", ["--version"]),
};
warnIfMissing("interop_test.ts", {
  available: available,
  packages: "netcat-openbsd ncat socat python3",
});

Deno.test({
  name: "manual test 1 through nc: hola servidor comes back as HOLA SERVIDOR",
  ignore: !available.nc,
  async fn() {
    await using server = startServer();
    const port = String(server.addr.port);
    assert.equal(
      await printedBy(["nc", "-N", "127.0.0.1", port], "hola servidor\n"),
      "HOLA SERVIDOR\n",
    );
  },
});

Deno.test({
  name: "manual test 2 through nc: DESCONEXION ends nc's connection and the next nc is served",
  ignore: !available.nc,
  async fn() {
    await using server = startServer();
    const port = String(server.addr.port);
    // Without -N, nc keeps its side open: only the server's close can end it.
    assert.equal(await printedBy(["nc", "127.0.0.1", port], "hola\nDESCONEXION\n"), "HOLA\n");
    assert.match(await server.log.waitFor(/#1 .* closed/), /\(disconnect command\)/);
    assert.equal(await printedBy(["nc", "-N", "127.0.0.1", port], "otra vez\n"), "OTRA VEZ\n");
  },
});

Deno.test({
  name: "ncat gets every reply after it half-closes at the end of its input",
  ignore: !available.ncat,
  async fn() {
    await using server = startServer();
    const port = String(server.addr.port);
    assert.equal(await printedBy(["ncat", "127.0.0.1", port], "abc\nñandú\n"), "ABC\nÑANDÚ\n");
  },
});

Deno.test({
  name: "socat gets its reply after it half-closes, and speaks CRLF with the crlf option",
  ignore: !available.socat,
  async fn() {
    await using server = startServer();
    const address = `TCP:127.0.0.1:${server.addr.port}`;
    assert.equal(await printedBy(["socat", "-", address], "abc\n"), "ABC\n");
    assert.equal(
      await printedBy(["socat", "-", `${address},crlf`], "canción\n"),
      "CANCIÓN\n",
      "sent as CRLF, answered in CRLF, shown as LF",
    );
  },
});

Deno.test("a CRLF client in telnet's style gets CRLF replies and is closed by DESCONEXION", async () => {
  await using server = startServer();
  using telnet = await Peer.connect(server.addr);
  for (const line of ["hola servidor", "ñandú"]) {
    await telnet.send(`${line}\r\n`);
    assert.equal(await telnet.readLine(), `${line.toUpperCase()}\r\n`);
  }
  await telnet.send("DESCONEXION\r\n");
  assert.equal(await telnet.readToEnd(), "");
});

Deno.test({
  name:
    "a Python client that sends without a newline and reads one recv(1024) gets HOLA SERVIDOR and ends cleanly",
  ignore: !available.python3,
  async fn() {
    await using server = startServer();
    const client = spawn("python3", [
      "interop/recv_client.py",
      String(server.addr.port),
      "hola servidor",
    ]);
    assert.equal(await client.exited, 0, client.stderr.text());
    assert.equal(client.stdout.text(), "HOLA SERVIDOR\nclosed by the server\n");
    assert.match(await server.log.waitFor(/closed/), /\(disconnect command\) after 1 message/);
  },
});

for (const variant of [[], ["--strip"]]) {
  Deno.test({
    name: `our client works with a Python server that takes one recv(1024) as one message${
      variant.length ? " and strips the newline" : ""
    }, which recognises DESCONEXION and serves the next client`,
    ignore: !available.python3 || !available.deno,
    async fn() {
      const server = spawn("python3", ["interop/recv_server.py", "2", ...variant]);
      await server.stdout.waitFor(/^\d+\n/);
      const port = Number(server.stdout.text().trim());
      for (const message of ["hola servidor", "otro cliente"]) {
        const client = await runClientProcess(port, `${message}\nDESCONEXION\n`);
        assert.equal(client.code, 0, client.stderr.text());
        assert.equal(client.stdout.text(), `${message.toUpperCase()}\n`);
      }
      assert.equal(await server.exited, 0, server.stderr.text());
      assert.equal(server.stdout.text(), `${port}\nDESCONEXION received\nDESCONEXION received\n`);
    },
  });
}
