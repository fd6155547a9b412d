/**
 * Tests of the server's command line: the options each flag gives, flags left
 * out left to `serve()`, bad values refused, the help text, and the one-line
 * messages for a server that cannot listen.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  describeListenError,
  MAX_WORKERS,
  metricsAddress,
  SERVER_COMMAND_LINE,
  workerCount,
} from "./command_line.ts";
import { parseFlags, UsageError } from "../cli/flags.ts";

/** The options the command line `args` gives `serve()`. */
const readServerArgs = (args: string[]) =>
  SERVER_COMMAND_LINE.read(parseFlags(args, SERVER_COMMAND_LINE.flags));
const parseServerArgs = (args: string[]) => readServerArgs(args).options;
const SERVER_USAGE = SERVER_COMMAND_LINE.usage;

Deno.test("SERVER_COMMAND_LINE turns each flag into its serve() option, in serve()'s units", () => {
  assert.deepEqual(
    parseServerArgs([
      "--host",
      "::1",
      "--port",
      "0",
      "--flush-delay",
      "20",
      "--max-message-bytes",
      "64",
      "--max-connections",
      "3",
      "--max-connections-per-address",
      "2",
      "--idle-timeout",
      "2",
      "--reuse-port",
      "--proxy-protocol",
      "--trusted-proxies",
      "10.0.0.0/8,::1",
      "--quiet",
      "--log-format",
      "json",
    ]),
    {
      hostname: "::1",
      port: 0,
      flushDelayMs: 20,
      maxMessageBytes: 64,
      maxConnections: 3,
      maxConnectionsPerAddress: 2,
      idleTimeoutMs: 2000,
      reusePort: true,
      proxyProtocol: true,
      trustedProxies: "10.0.0.0/8,::1",
      log: null,
      logFormat: "json",
    },
  );
});

Deno.test("SERVER_COMMAND_LINE leaves flags that were not given to serve()'s defaults", () => {
  assert(Object.values(parseServerArgs([])).every((value) => value === undefined));
});

Deno.test("SERVER_COMMAND_LINE asks for TLS files only as a pair, and never with the PROXY protocol", () => {
  assert.deepEqual(readServerArgs(["--tls-cert", "c.pem", "--tls-key", "k.pem"]).tlsFiles, {
    cert: "c.pem",
    key: "k.pem",
  });
  assert.equal(readServerArgs([]).tlsFiles, undefined);
  for (const args of [["--tls-cert", "c.pem"], ["--tls-key", "k.pem"]]) {
    assert.throws(
      () => readServerArgs(args),
      new UsageError("--tls-cert and --tls-key go together: give both, or neither"),
    );
  }
  assert.throws(
    () => readServerArgs(["--tls-cert", "c.pem", "--tls-key", "k.pem", "--proxy-protocol"]),
    (error) => error instanceof UsageError && /denoland\/deno#18451/.test(error.message),
  );
});

Deno.test("SERVER_COMMAND_LINE refuses values out of range with a UsageError naming the flag", () => {
  const table: [string[], RegExp][] = [
    [["--port", "65536"], /--port: expected a whole number from 0 to 65535/],
    [["--max-message-bytes", "0"], /--max-message-bytes: expected a whole number from 1 to/],
    [["--max-connections", "0"], /--max-connections/],
    [["--flush-delay", "-5"], /Missing or invalid value for "--flush-delay|--flush-delay/],
    [["--idle-timeout", "1.5"], /--idle-timeout/],
    [["--verbose"], /Unknown option "--verbose"/],
    [["--trusted-proxies", "10.0.0.0/8"], /^--trusted-proxies needs --proxy-protocol$/],
    [
      ["--proxy-protocol", "--trusted-proxies", "10.0.0/8"],
      /^Invalid value "10\.0\.0\/8" for --trusted-proxies: "10\.0\.0\/8" is not an IP address or a CIDR range$/,
    ],
  ];
  for (const [args, want] of table) {
    assert.throws(
      () => parseServerArgs(args),
      (error) => error instanceof UsageError && want.test(error.message),
      args.join(" "),
    );
  }
});

Deno.test("The server's --help fits 80 columns and lists every flag with its default", () => {
  for (const line of SERVER_USAGE.split("\n")) assert(line.length <= 80, line);
  for (const flag of ["--host", "--port", "--flush-delay", "--max-message-bytes", "--quiet"]) {
    assert(SERVER_USAGE.includes(flag), flag);
  }
  assert.match(SERVER_USAGE, /\(default 127\.0\.0\.1\)/);
});

Deno.test("describeListenError says what happened and what to do, in one line", () => {
  const table: [unknown, string][] = [
    [
      new Deno.errors.AddrInUse(),
      "Cannot listen on 127.0.0.1:5000: address already in use. Stop the program using it, or pick another port with --port",
    ],
    [
      new Deno.errors.PermissionDenied(),
      "Cannot listen on 127.0.0.1:5000: permission denied. Ports below 1024 need privileges; pick another with --port",
    ],
    [
      new Deno.errors.AddrNotAvailable(),
      "Cannot listen on 127.0.0.1:5000: no such address on this machine. Check --host",
    ],
    [
      new Deno.errors.NotCapable(),
      "Cannot listen on 127.0.0.1:5000: network access not granted. Run it with deno task server, or deno run --allow-net",
    ],
    [new Error("odd"), "Cannot listen on 127.0.0.1:5000: odd"],
  ];
  for (const [error, want] of table) {
    const line = describeListenError(error, "127.0.0.1:5000");
    assert.equal(line, want);
    assert(!line.includes("\n"));
  }
});

Deno.test("workerCount takes the count given, else DENO_JOBS, else one worker per core", () => {
  const linux = { os: "linux", cores: 4 };
  assert.equal(workerCount(undefined, linux), 1, "no --parallel: the server alone");
  assert.equal(workerCount("", linux), 4);
  assert.equal(workerCount("", { ...linux, jobs: "3" }), 3);
  assert.equal(workerCount("2", { ...linux, jobs: "3" }), 2, "the flag's count wins");
  assert.equal(workerCount("", { os: "linux", cores: 1000 }), MAX_WORKERS);
});

Deno.test("workerCount refuses a bad count, from the flag or DENO_JOBS, naming where it came from", () => {
  const linux = { os: "linux", cores: 4 };
  for (const bad of ["0", "x", "-1", "257"]) {
    assert.throws(
      () => workerCount(bad, linux),
      new UsageError(
        `Invalid value "${bad}" for --parallel: expected a whole number from 1 to 256`,
      ),
    );
  }
  assert.throws(
    () => workerCount("", { ...linux, jobs: "many" }),
    new UsageError('Invalid value "many" for DENO_JOBS: expected a whole number from 1 to 256'),
  );
});

Deno.test("workerCount refuses --parallel off Linux, where SO_REUSEPORT does not balance", () => {
  for (const os of ["darwin", "windows", "freebsd"]) {
    assert.throws(
      () => workerCount("2", { os, cores: 4 }),
      /^UsageError: --parallel works on Linux only/,
    );
  }
  assert.equal(
    workerCount(undefined, { os: "darwin", cores: 4 }),
    1,
    "without it, nothing changes",
  );
});

Deno.test("metricsAddress reads host:port, [IPv6]:port, or a port alone on loopback", () => {
  const table: [string, { hostname: string; port: number }][] = [
    ["127.0.0.1:9464", { hostname: "127.0.0.1", port: 9464 }],
    ["0.0.0.0:0", { hostname: "0.0.0.0", port: 0 }],
    ["[::1]:9464", { hostname: "::1", port: 9464 }],
    ["9464", { hostname: "127.0.0.1", port: 9464 }],
    [":9464", { hostname: "127.0.0.1", port: 9464 }],
  ];
  for (const [value, want] of table) assert.deepEqual(metricsAddress(value), want, value);
  assert.equal(metricsAddress(undefined), undefined);
  for (const bad of ["localhost", "127.0.0.1:", "127.0.0.1:70000", "::1:9464", "a:b"]) {
    assert.throws(
      () => metricsAddress(bad),
      /^UsageError: Invalid value ".*" for --metrics: expected host:port/,
    );
  }
});

Deno.test("SERVER_COMMAND_LINE reads --log-format text or json, and refuses anything else", () => {
  const read = (args: string[]) =>
    SERVER_COMMAND_LINE.read(parseFlags(args, SERVER_COMMAND_LINE.flags));
  assert.equal(read(["--log-format", "json"]).options.logFormat, "json");
  assert.equal(read([]).options.logFormat, undefined, "left to serve()'s default, text");
  assert.throws(
    () => read(["--log-format", "yaml"]),
    new UsageError('Invalid value "yaml" for --log-format: expected text or json'),
  );
  assert.deepEqual(read(["--metrics", "9464"]).metrics, { hostname: "127.0.0.1", port: 9464 });
});
