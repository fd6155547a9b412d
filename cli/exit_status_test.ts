/**
 * Tests of the exit-status table: each program gives each meaning its own
 * code, and the codes follow the conventions scripts and supervisors know.
 *
 * @module
 */

import assert from "node:assert/strict";
import { EXIT, EXIT_STATUSES } from "./exit_status.ts";

Deno.test("EXIT gives each meaning of a program its own code", () => {
  for (const program of ["server", "client"]) {
    const codes = Object.values(EXIT_STATUSES)
      .filter((status) => status.program === program || status.program === "both")
      .map((status) => status.code);
    assert.equal(new Set(codes).size, codes.length, `${program}: ${codes}`);
  }
});

Deno.test("EXIT follows the conventions: 2 for usage, 70 for EX_SOFTWARE, 128 + 13 for SIGPIPE", () => {
  assert.equal(EXIT.USAGE, 2);
  assert.equal(EXIT.SOFTWARE, 70, "sysexits.h's EX_SOFTWARE, which supervisors restart");
  assert.equal(EXIT.INTERRUPTED, 128 + 2, "the status of a process killed by SIGINT");
  assert.equal(EXIT.OUTPUT_CLOSED, 128 + 13, "the status of a process killed by SIGPIPE");
});
