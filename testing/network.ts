/**
 * A network of a test's own, where a host can vanish without a word: a Linux
 * network namespace (`unshare -n`) with its loopback up and TCP keepalive
 * shortened to 2 s + 2 × 1 s, in which the test runs its servers, clients and
 * proxies (`nsenter`). {@linkcode IsolatedNetwork.vanish} has nftables drop
 * every packet to or from a port: no FIN, no RST, as when a machine loses
 * power. A stopped process is not that: its kernel still closes or resets.
 *
 * It needs root, `unshare`, `nsenter` and `nft` (Debian's util-linux and
 * nftables), which `deno task test` may run; without them the tests that use
 * it are skipped. Nothing leaves the namespace, and disposing of it stops the
 * process that holds it.
 *
 * @module
 */

import {
  canRun,
  clientArgs,
  listening,
  type Running,
  serverCommand,
  spawn,
  stopProcess,
} from "./processes.ts";
import { until } from "./helpers.ts";

/** The namespace's keepalive: a silent peer is probed after 2 s, then every 1 s, and given up after 2 probes. */
export const KEEPALIVE = { timeSeconds: 2, intervalSeconds: 1, probes: 2 } as const;

/** How long the namespace's kernel takes to give up on a vanished peer of an idle connection, in ms. */
export const KEEPALIVE_REAP_MS =
  (KEEPALIVE.timeSeconds + KEEPALIVE.probes * KEEPALIVE.intervalSeconds) * 1000;

/**
 * Whether this run can make an isolated network: root, and `unshare`,
 * `nsenter` and `nft` installed and granted.
 */
export async function canIsolateNetwork(): Promise<boolean> {
  return await canRun("nsenter", ["--version"]) &&
    await canRun("unshare", ["--net", "nft", "list", "ruleset"]);
}

/** A network namespace of the test's own; see the module's documentation. */
export class IsolatedNetwork implements AsyncDisposable {
  readonly #holder: Running;
  readonly #pid: string;

  private constructor(holder: Running) {
    this.#holder = holder;
    this.#pid = String(holder.child.pid);
  }

  /** Makes the namespace, brings its loopback up and sets its keepalive times. */
  static async create(): Promise<IsolatedNetwork> {
    const setUp = [
      "ip link set lo up",
      "sysctl -q -w" +
      ` net.ipv4.tcp_keepalive_time=${KEEPALIVE.timeSeconds}` +
      ` net.ipv4.tcp_keepalive_intvl=${KEEPALIVE.intervalSeconds}` +
      ` net.ipv4.tcp_keepalive_probes=${KEEPALIVE.probes}`,
      "echo ready",
      "exec sleep infinity",
    ].join(" && ");
    const holder = spawn("unshare", ["--net", "sh", "-c", setUp]);
    await Promise.race([
      holder.stdout.waitFor(/^ready$/m),
      holder.exited.then((code) => {
        throw new Error(`Cannot make a network namespace (exit ${code}): ${holder.stderr.text()}`);
      }),
    ]);
    return new IsolatedNetwork(holder);
  }

  /**
   * Starts a program inside the namespace, as `spawn` does outside it.
   *
   * @param command The program.
   * @param args Its arguments.
   * @param options As `spawn`'s.
   */
  spawn(
    command: string,
    args: string[],
    options: Parameters<typeof spawn>[2] = {},
  ): Running {
    return spawn("nsenter", ["--target", this.#pid, "--net", "--", command, ...args], options);
  }

  /** Starts the server with the command `deno task server` runs, on a free port, and waits until it listens. */
  startServer(...flags: string[]): Promise<Running & { addr: Deno.NetAddr }> {
    const [program, ...args] = serverCommand(...flags);
    return listening(this.spawn(program, args));
  }

  /** Starts the real client on `port`, with `input` piped in. */
  spawnClient(port: number, input: string | ReadableStream<Uint8Array>, ...flags: string[]) {
    return this.spawn("deno", clientArgs(port, ...flags), { input });
  }

  /** Fetches `url` from inside the namespace and gives the body. */
  async fetch(url: string): Promise<string> {
    const get =
      "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())";
    const run = this.spawn("python3", ["-c", get, url]);
    if (await run.exited !== 0) throw new Error(`Cannot fetch ${url}: ${run.stderr.text()}`);
    return run.stdout.text();
  }

  /**
   * Waits until every byte sent on `port`'s connections has been acknowledged.
   * A vanish test wants an idle connection: a byte still unacknowledged (an
   * ACK delayed by up to 40 ms, as after a TLS handshake) is retransmitted for
   * many minutes, and keepalive waits for none of it.
   */
  async acknowledged(port: number): Promise<void> {
    const unacknowledged = async () => {
      const ss = this.spawn("ss", ["-tnH", `( sport = :${port} or dport = :${port} )`]);
      if (await ss.exited !== 0) throw new Error(`ss failed: ${ss.stderr.text()}`);
      // Each line: state, Recv-Q, Send-Q (bytes sent and not yet acknowledged), addresses.
      return ss.stdout.text().split("\n").filter(Boolean).map((line) => line.split(/\s+/)[2]);
    };
    await until(
      async () => (await unacknowledged()).every((sendQueue) => sendQueue === "0"),
      `every byte on port ${port} acknowledged`,
    );
  }

  /**
   * Makes the host behind `port` vanish: every packet to or from that port is
   * dropped from now on, both ways, so that neither end hears from the other again.
   */
  vanish(port: number): Promise<void> {
    const drop = `tcp dport ${port} drop; tcp sport ${port} drop;`;
    return this.#filter(`vanished_${port}`, { incoming: drop, outgoing: drop });
  }

  /**
   * Drops every UDP datagram as it arrives, from now on: a firewall that
   * allows only TCP in, whose sender learns nothing (its send succeeds).
   */
  dropDatagrams(): Promise<void> {
    return this.#filter("no_udp", { incoming: "meta l4proto udp drop;", outgoing: "" });
  }

  async #filter(table: string, rules: { incoming: string; outgoing: string }): Promise<void> {
    const ruleset = `table inet ${table} {
      chain incoming { type filter hook input priority 0; ${rules.incoming} }
      chain outgoing { type filter hook output priority 0; ${rules.outgoing} }
    }\n`;
    const nft = this.spawn("nft", ["-f", "-"], { input: ruleset });
    if (await nft.exited !== 0) throw new Error(`nft refused the rules: ${nft.stderr.text()}`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await stopProcess(this.#holder);
  }
}
