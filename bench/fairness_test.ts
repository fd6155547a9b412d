/**
 * Tests of the bench's fairness section: its report names every server and
 * kind of flood with the other client's round trips, and its flood lines are
 * 1 MiB of the kind asked for.
 *
 * @module
 */

import assert from "node:assert/strict";
import { renderFairness } from "./fairness.ts";
import { floodLine } from "./flood.ts";

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

Deno.test("floodLine makes 1 MiB lines of ASCII, of valid text, and of a letter and an invalid byte", () => {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (const kind of ["ascii", "utf8", "invalid"] as const) {
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
});
