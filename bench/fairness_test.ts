/**
 * Tests of the bench's fairness section: its report names every server and
 * kind of flood with the other client's round trips, and its flood lines are
 * 1 MiB of the kind asked for.
 *
 * @module
 */

import assert from "node:assert/strict";
import { renderFairness } from "./fairness.ts";
import { FLOOD_KINDS, floodLine } from "./flood.ts";

Deno.test("renderFairness shows each server under each flood, with the other client's median and max", () => {
  const lines = renderFairness([
    {
      server: "ours",
      kind: "invalid",
      medianMs: 0.25,
      maxMs: 2.5,
      roundTrips: 400,
      floodAnswered: 3000,
    },
  ]);
  assert.match(lines.join("\n"), /^ours +invalid +0\.25 +2\.5 +400 +3000$/m);
  assert.deepEqual(renderFairness(undefined), []);
});

Deno.test("floodLine makes 1 MiB lines of ASCII, of valid text, of a letter and an invalid byte, and of marks between d and n", () => {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (const kind of FLOOD_KINDS) {
    const line = floodLine(kind);
    assert.equal(line.length, 1024 * 1024);
    assert.equal(line.indexOf(0x0a), line.length - 1, `${kind}: one line`);
    const valid = (() => {
      try {
        decoder.decode(line);
        return true;
      } catch {
        return false;
      }
    })();
    assert.equal(valid, kind !== "invalid", kind);
    assert.equal(line.some((byte) => byte >= 0x80), kind !== "ascii", kind);
  }
  const marks = new TextDecoder().decode(floodLine("marks")).trim();
  assert.match(marks, /^da+(\u0301\u0316)+a+n$/u);
});

Deno.test("renderFairness adds /metrics' figures where the row has them", () => {
  const text = renderFairness([
    { server: "ours", kind: "ascii", medianMs: 1, maxMs: 2, roundTrips: 3, floodAnswered: 4 },
    {
      server: "ours --parallel 2",
      kind: "every kind",
      medianMs: 5,
      maxMs: 6,
      roundTrips: 7,
      floodAnswered: 8,
      metricsMs: { median: 9.5, max: 30 },
    },
  ]).join("\n");
  assert.match(text, /^ours +ascii +1\.00 +2\.0 +3 +4$/m);
  assert.match(text, /^ours --parallel 2 +every kind +5\.00 +6\.0 +7 +8 +9\.5 +30\.0$/m);
});
