/**
 * Tests of the server's `ERROR` lines as a client reads them: told from a
 * reply that happens to start with ERROR, and named, so that a client knows
 * the one that means "try again later".
 *
 * @module
 */

import assert from "node:assert/strict";
import { ERROR_LINES, errorLineKind, isErrorLine } from "./error_lines.ts";

Deno.test("isErrorLine takes a line for the server's ERROR only when its message did not start with error", () => {
  const table: [line: string, message: string, want: boolean][] = [
    ["ERROR message too long (limit 8 bytes)", "demasiado largo", true],
    ["ERROR 404", "error 404", false],
    ["ERRORES", "errores", false],
    ["ERROR idle timeout (nothing received for 1 s)", "", true],
    ["HOLA", "hola", false],
    ["ERROR", "Error", false],
  ];
  for (const [line, message, want] of table) {
    assert.equal(isErrorLine(line, message), want, `${line} after ${message}`);
  }
});

Deno.test("errorLineKind names each ERROR line whatever its figures, and nothing else", () => {
  for (const kind of Object.keys(ERROR_LINES) as (keyof typeof ERROR_LINES)[]) {
    for (const figure of [0, 1, 50, 1_000_000]) {
      const line = ERROR_LINES[kind](figure);
      assert.equal(errorLineKind(line), kind, line);
      assert.equal(errorLineKind(line.trimEnd()), kind, "without its terminator");
    }
  }
  for (const other of ["ERROR 404", "ERROR too many", "HOLA", "", "error too many connections ("]) {
    assert.equal(errorLineKind(other), undefined, other);
  }
});
