/**
 * The real Prometheus for the monitoring tests, configured with the files in
 * `deploy/` and read back through its query API.
 *
 * @module
 */

import assert from "node:assert/strict";
import prometheusConfig from "../deploy/prometheus.yml" with { type: "text" };
import alertRules from "../deploy/alerts.yml" with { type: "text" };
import { until } from "./helpers.ts";
import { freePort, spawn, stopProcess } from "./processes.ts";

/** A running Prometheus; disposing of it stops it and removes its data. */
export interface Prometheus extends AsyncDisposable {
  /** The value of an instant query that gives one number. */
  query(expression: string): Promise<number>;
  /** Waits for a successful scrape that started after `time` (ms since the epoch). */
  scrapedAfter(time: number): Promise<void>;
}

/**
 * The real Prometheus with `deploy/prometheus.yml`, changed only to scrape
 * `target` every second, with the rules of `deploy/alerts.yml` beside it and
 * its data in a folder of its own under `.test-tmp/`.
 */
export async function startPrometheus(target: string): Promise<Prometheus> {
  await Deno.mkdir(".test-tmp", { recursive: true });
  const folder = await Deno.makeTempDir({ dir: ".test-tmp", prefix: "prometheus-" });
  const config = prometheusConfig
    .replaceAll("15s", "1s")
    .replace('targets: ["127.0.0.1:9464"]', `targets: ["${target}"]`);
  assert(config.includes(target) && config.includes("scrape_interval: 1s"));
  await Deno.writeTextFile(`${folder}/prometheus.yml`, config);
  await Deno.writeTextFile(`${folder}/alerts.yml`, alertRules);
  const api = `http://127.0.0.1:${freePort()}`;
  const prometheus = spawn("prometheus", [
    `--config.file=${folder}/prometheus.yml`,
    `--storage.tsdb.path=${folder}/data`,
    `--web.listen-address=${api.slice("http://".length)}`,
    "--log.level=warn",
  ]);
  let exited = false;
  prometheus.exited.then(() => exited = true);
  // Ready once it answers its readiness endpoint; nothing else says so.
  await until(async () => {
    assert(!exited, `prometheus exited: ${prometheus.stderr.text()}`);
    return await fetch(`${api}/-/ready`).then(async (r) => (await r.text(), r.ok), () => false);
  }, "Prometheus to be ready");
  return {
    async query(expression: string): Promise<number> {
      const response = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expression)}`);
      const body = await response.json();
      assert.equal(body.status, "success", JSON.stringify(body));
      assert.equal(body.data.result.length, 1, `${expression}: ${JSON.stringify(body.data)}`);
      return Number(body.data.result[0].value[1]);
    },
    async scrapedAfter(time: number): Promise<void> {
      await until(async () => {
        const { data } = await (await fetch(`${api}/api/v1/targets`)).json();
        const [target] = data.activeTargets;
        return target?.health === "up" && Date.parse(target.lastScrape) > time;
      }, `a scrape after ${new Date(time).toISOString()}`);
    },
    async [Symbol.asyncDispose]() {
      await stopProcess(prometheus);
      await Deno.remove(folder, { recursive: true });
    },
  };
}
