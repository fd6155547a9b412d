/**
 * TLS end to end: the server with a certificate from a throwaway test CA,
 * talked to by our client (both modes), Python's ssl module, openssl
 * s_client, ncat and socat; the client's certificate errors; handshakes that
 * never come; many clients; the server's bad-file errors; and a half-close.
 *
 * `deno task test` grants what they need: openssl to make the certificates,
 * the programs they start, and reading and writing `.test-tmp/`. Without it
 * they are skipped, with a message saying how to include them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { stripVTControlCharacters } from "node:util";
import tls from "node:tls";
import { once } from "node:events";
import { EXIT, runClient } from "../client.ts";
import { collector, keyboard, runPipelineClient, startServer } from "../testing/helpers.ts";
import { allOf, Peer } from "../testing/peers.ts";
import {
  canRun,
  printedBy,
  spawn,
  startServerDirectly,
  stopProcess,
  warnIfMissing,
} from "../testing/processes.ts";
import { canMakeCertificates, makeTestCertificates } from "../testing/certificates.ts";
import { connectTls, tlsServer } from "../testing/tls.ts";
import { TIMED_OUT, withTimeout } from "../io/socket.ts";

const certificates = await canMakeCertificates();
const available = {
  deno: await canRun("deno", ["--version"]),
  python3: await canRun("python3", ["--version"]),
  openssl: certificates,
  ncat: await canRun("ncat", ["--version"]),
  socat: await canRun("socat", ["-V"]),
};
warnIfMissing("tls_test.ts", { available: available, packages: "openssl ncat socat python3" });

const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test({
  name:
    "our client over TLS, in pipeline mode, checks the certificate for localhost and prints the replies",
  ignore: !certificates,
  async fn() {
    await using server = await tlsServer();
    const { status, output, errors } = await runPipelineClient(
      server.addr.port,
      "hola servidor\nñandú\n",
      { hostname: "localhost", tls: { caCerts: [server.certs.ca.pem] } },
    );
    assert.deepEqual([status, output, errors], [EXIT.OK, "HOLA SERVIDOR\nÑANDÚ\n", ""]);
    assert.match(await server.log.waitFor(/closed/), /\(disconnect command\) after 2 messages/);
  },
});

Deno.test({
  name: "our client over TLS, at a terminal, says it is on TLS, answers, and leaves on DESCONEXION",
  ignore: !certificates,
  async fn() {
    await using server = await tlsServer();
    const keys = keyboard(), screen = collector(), errors = collector();
    const session = runClient({
      hostname: "127.0.0.1",
      port: server.addr.port,
      tls: { caCerts: [server.certs.ca.pem] },
      input: keys.stream,
      output: screen.stream,
      errors: errors.stream,
      interactive: true,
    });
    await screen.waitFor(/> /);
    keys.type("hola servidor\r");
    await screen.waitFor(/HOLA SERVIDOR/);
    keys.type("DESCONEXION\r");
    assert.equal(await session, EXIT.OK);
    assert.match(
      stripVTControlCharacters(screen.text()),
      /^Connected to 127\.0\.0\.1:\d+ over TLS\./,
    );
  },
});

Deno.test({
  name: "Python's ssl module verifies the server's certificate and gets its reply",
  ignore: !certificates || !available.python3,
  async fn() {
    await using server = await tlsServer();
    const printed = await printedBy([
      "python3",
      "interop/tls_client.py",
      String(server.addr.port),
      server.certs.ca.file,
      "hola servidor",
    ], "");
    assert.equal(printed, "HOLA SERVIDOR\nverified: localhost\nclosed by the server\n");
  },
});

Deno.test({
  name: "openssl s_client with -verify_return_error verifies the server and gets its replies",
  ignore: !certificates,
  async fn() {
    await using server = await tlsServer();
    const printed = await printedBy([
      "openssl",
      "s_client",
      "-connect",
      `127.0.0.1:${server.addr.port}`,
      "-servername",
      "localhost",
      "-verify_hostname",
      "localhost",
      "-CAfile",
      server.certs.ca.file,
      "-verify_return_error",
      "-quiet",
      "-ign_eof",
    ], "hola openssl\nDESCONEXION\n");
    assert.equal(printed, "HOLA OPENSSL\n");
  },
});

Deno.test({
  name: "ncat --ssl and socat OPENSSL: verify the server and get their replies",
  ignore: !certificates || !available.ncat || !available.socat,
  async fn() {
    await using server = await tlsServer();
    const port = String(server.addr.port), ca = server.certs.ca.file;
    assert.equal(
      await printedBy(
        ["ncat", "--ssl", "--ssl-verify", "--ssl-trustfile", ca, "localhost", port],
        "hola ncat\n",
      ),
      "HOLA NCAT\n",
    );
    assert.equal(
      await printedBy(
        ["socat", "-", `OPENSSL:localhost:${port},cafile=${ca},verify=1`],
        "hola socat\n",
      ),
      "HOLA SOCAT\n",
    );
  },
});

Deno.test({
  name:
    "our client says in one line that the certificate's authority is unknown, or that it is for another name, and exits 3",
  ignore: !certificates || !available.deno,
  async fn() {
    await using certs = await makeTestCertificates();
    const client = (port: number, ...flags: string[]) =>
      spawn("deno", ["task", "--quiet", "client", "--port", String(port), ...flags], {
        input: "hola\n",
      });
    {
      await using server = startServer({
        tls: { cert: certs.server.cert, key: certs.server.key },
      });
      const unknown = client(server.addr.port, "--tls");
      assert.equal(await unknown.exited, 3);
      assert.equal(
        unknown.stderr.text(),
        `Cannot connect to 127.0.0.1:${server.addr.port}: the server's certificate is signed by an ` +
          "authority this client does not trust (unknown issuer). Give that authority's certificate with --ca\n",
      );
    }
    {
      await using server = startServer({
        tls: { cert: certs.wrongName.cert, key: certs.wrongName.key },
      });
      const wrong = client(server.addr.port, "--host", "localhost", "--ca", certs.ca.file);
      assert.equal(await wrong.exited, 3);
      assert.equal(
        wrong.stderr.text(),
        `Cannot connect to localhost:${server.addr.port}: the server's certificate is not valid for ` +
          'the name "localhost" (it is for otherhost). Connect by a name the certificate holds, with --host\n',
      );
    }
  },
});

Deno.test({
  name:
    "a TLS client is answered within 100 ms while a plaintext client and 50 silent handshakes are on the same port, and those are closed and logged",
  ignore: !certificates,
  async fn() {
    await using server = await tlsServer({ tlsHandshakeTimeoutMs: 300 });
    using _silent = allOf(
      await Promise.all(Array.from({ length: 50 }, () => Peer.connect(server.addr))),
    );
    using plaintext = await Peer.connect(server.addr);
    await plaintext.send("hola en claro\n");
    const started = performance.now();
    using tls = await connectTls(server);
    const roundTrip = (async () => {
      await tls.write(encoder.encode("hola\n"));
      const buffer = new Uint8Array(16);
      return decoder.decode(buffer.subarray(0, (await tls.read(buffer)) ?? 0));
    })();
    const reply = await withTimeout(roundTrip, 100);
    if (reply === TIMED_OUT) tls.close();
    assert.equal(reply, "HOLA\n", `answered in ${(performance.now() - started).toFixed(0)} ms`);
    assert.match(
      await server.log.waitFor(/TLS handshake failed/),
      /closed \(TLS handshake failed: .*\) after 0 messages/,
    );
    // At most a TLS alert (a record starting 0x15): never an answer in clear text.
    const answer = await plaintext.readToEnd().catch(() => "");
    assert(answer === "" || answer.charCodeAt(0) === 0x15, JSON.stringify(answer));
    await server.log.waitFor(/closed \(no TLS handshake within 0\.3 s\)/, { count: 50 });
  },
});

Deno.test({
  name: "100 TLS clients at once each make 5 round trips",
  ignore: !certificates,
  async fn() {
    await using server = await tlsServer({ log: null });
    await Promise.all(Array.from({ length: 100 }, async (_, client) => {
      using conn = await connectTls(server);
      const buffer = new Uint8Array(64);
      for (let round = 0; round < 5; round++) {
        await conn.write(encoder.encode(`cliente ${client} ronda ${round}\n`));
        let reply = "";
        while (!reply.endsWith("\n")) {
          reply += decoder.decode(buffer.subarray(0, (await conn.read(buffer))!));
        }
        assert.equal(reply, `CLIENTE ${client} RONDA ${round}\n`);
      }
    }));
  },
});

Deno.test({
  name:
    "a TLS client that sends abc with no newline, then close_notify, gets ABC and end of stream",
  ignore: !certificates,
  async fn() {
    await using server = await tlsServer({ flushDelayMs: 0 });
    using conn = await connectTls(server);
    await conn.write(encoder.encode("abc"));
    await conn.closeWrite(); // close_notify: the end of input, over TLS
    let received = "";
    const buffer = new Uint8Array(64);
    for (let n; (n = await conn.read(buffer)) !== null;) {
      received += decoder.decode(buffer.subarray(0, n));
    }
    assert.equal(received, "ABC");
    assert.match(await server.log.waitFor(/closed/), /\(end of input\) after 1 message/);
  },
});

Deno.test({
  name:
    "the server names the file in one line, without a stack trace, when a TLS file is missing, not PEM or the wrong key, or the flags do not go together",
  ignore: !certificates || !available.deno,
  async fn() {
    await using certs = await makeTestCertificates();
    const { certFile, keyFile } = certs.server;
    const table: [string[], number, string][] = [
      [
        ["--tls-cert", certFile],
        2,
        "--tls-cert and --tls-key go together: give both, or neither",
      ],
      [
        ["--tls-cert", "nope.pem", "--tls-key", keyFile],
        2,
        'Cannot read the TLS certificate "nope.pem": no such file',
      ],
      [
        ["--tls-cert", keyFile, "--tls-key", keyFile],
        2,
        `Cannot use the TLS certificate "${keyFile}": it holds no PEM CERTIFICATE`,
      ],
      [
        ["--tls-cert", certFile, "--tls-key", certs.wrongName.keyFile],
        3,
        `the TLS private key "${certs.wrongName.keyFile}" does not match the certificate "${certFile}"`,
      ],
      [
        ["--tls-cert", certFile, "--tls-key", keyFile, "--proxy-protocol"],
        2,
        "TLS cannot be used with the PROXY protocol",
      ],
    ];
    for (const [flags, code, message] of table) {
      const server = spawn("deno", ["task", "--quiet", "server", "--port", "0", ...flags]);
      assert.equal(await server.exited, code, flags.join(" "));
      const stderr = server.stderr.text();
      assert(stderr.includes(message), stderr);
      assert.equal(stderr.trimEnd().split("\n").length, 1, `one line: ${stderr}`);
    }
    // And with good files, it serves: the task grants the reads it needs.
    const good = await startServerDirectly("--tls-cert", certFile, "--tls-key", keyFile);
    const printed = await printedBy([
      "deno",
      "task",
      "--quiet",
      "client",
      "--port",
      String(good.addr.port),
      "--ca",
      certs.ca.file,
    ], "hola\n");
    assert.equal(printed, "HOLA\n");
    assert.equal(await stopProcess(good), 0);
  },
});

Deno.test({
  name:
    "TLS with --parallel 2: 40 clients verify the certificate and get their replies from both workers",
  ignore: !certificates || !available.deno,
  async fn() {
    await using certs = await makeTestCertificates();
    await using server = await startServerDirectly(
      "--parallel",
      "2",
      "--tls-cert",
      certs.server.certFile,
      "--tls-key",
      certs.server.keyFile,
    );
    await Promise.all(Array.from({ length: 40 }, async (_, client) => {
      using conn = await connectTls({ addr: server.addr, certs });
      await conn.write(encoder.encode(`cliente ${client}\n`));
      const buffer = new Uint8Array(64);
      let reply = "";
      while (!reply.endsWith("\n")) {
        reply += decoder.decode(buffer.subarray(0, (await conn.read(buffer))!));
      }
      assert.equal(reply, `CLIENTE ${client}\n`);
    }));
    await server.stderr.waitFor(/^\[worker 1\] .* connected$/m);
    await server.stderr.waitFor(/^\[worker 2\] .* connected$/m);
    assert.equal(await stopProcess(server), 0);
  },
});

Deno.test({
  name:
    "at the connection limit, TLS connections that never send a ClientHello do not hold up a stop, and the next client is still refused at once",
  ignore: !certificates,
  async fn() {
    await using server = await tlsServer({ maxConnections: 1 });
    using holder = await connectTls(server);
    await holder.write(encoder.encode("ocupado\n"));
    await holder.read(new Uint8Array(64));
    using _silent = allOf(
      await Promise.all(Array.from({ length: 20 }, () => Peer.connect(server.addr))),
    );
    await server.log.waitFor(/refused: too many connections/, { count: 20 });
    // A client that completes its handshake still gets the ERROR line, beside the silent ones.
    using refused = await connectTls(server);
    const line = new Uint8Array(128);
    const n = await refused.read(line);
    assert.match(decoder.decode(line.subarray(0, n ?? 0)), /^ERROR too many connections/);
    const started = performance.now();
    await server.stop();
    const took = performance.now() - started;
    // Within the stop grace (1 s) and a little, not the handshake limit (10 s) nor for ever.
    assert(took < 2_000, `the stop took ${took} ms`);
  },
});

Deno.test({
  name:
    "a TLS client that closes without close_notify is counted as a reset, and logged without a URL",
  ignore: !certificates,
  async fn() {
    await using server = await tlsServer();
    const socket = tls.connect({
      host: "127.0.0.1",
      port: server.addr.port,
      servername: "localhost",
      ca: server.certs.ca.pem,
    });
    await once(socket, "secureConnect");
    socket.write("hola\n");
    await once(socket, "data");
    socket.destroy(); // the TCP connection ends with no TLS close_notify before it
    assert.match(
      await server.log.waitFor(/closed/),
      /closed \(the client closed without TLS close_notify\) after 1 message/,
    );
    assert.equal(server.snapshot().closed.reset, 1);
  },
});
