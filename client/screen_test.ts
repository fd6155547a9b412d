/**
 * Tests of showing a server's text on a terminal: every control character
 * but TAB becomes visible text, and nothing else changes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { showControls } from "./screen.ts";
import { TERMINAL_ATTACKS } from "../testing/helpers.ts";

Deno.test("showControls makes every C0 control but TAB, DEL and every C1 control visible, and nothing else", () => {
  for (let code = 0; code <= 0xff; code++) {
    const character = String.fromCharCode(code);
    const shown = showControls(character);
    const control = (code < 0x20 && code !== 0x09) || (code >= 0x7f && code <= 0x9f);
    if (control) {
      assert.notEqual(shown, character, `U+${code.toString(16)} is shown, not sent`);
      assert(/^[\x20-\x7e]+$/.test(shown), `U+${code.toString(16)} as printable ASCII: ${shown}`);
    } else assert.equal(shown, character, `U+${code.toString(16)} is left as it is`);
  }
  assert.equal(showControls("ñandú 🙂 Ϊ́"), "ñandú 🙂 Ϊ́");
});

Deno.test("showControls defuses the sequences that set a title, clear the screen, write the clipboard and query the terminal", () => {
  for (const attack of TERMINAL_ATTACKS) {
    const shown = showControls(`HOLA${attack}`);
    // deno-lint-ignore no-control-regex -- looking for control characters is the test
    assert(!/[\x00-\x08\x0a-\x1f\x7f-\x9f]/.test(shown), JSON.stringify(shown));
  }
});
