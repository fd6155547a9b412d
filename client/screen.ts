/**
 * Text from the server, made safe to show on a terminal. A terminal obeys the
 * control characters it is sent: `ESC ]0;… BEL` sets the window's title,
 * `ESC [2J` clears the screen, `ESC ]52;…` writes the clipboard, and some
 * queries make the terminal type its answer into the input. A server's bytes
 * must not do that to the client's user, so where they reach a terminal,
 * every control character but TAB is shown as visible text instead of sent.
 * Output that goes to a pipe or a file is left byte for byte as it came.
 *
 * @module
 */

// C0 but TAB, DEL, and C1 (U+0080-U+009F, which terminals may obey as 8-bit controls):
// matching control characters is this expression's purpose.
// deno-lint-ignore no-control-regex
const CONTROLS = /[\x00-\x08\x0a-\x1f\x7f\x80-\x9f]/g;

/**
 * Shows each control character of `text` as visible text: C0 in caret
 * notation (`^[` for ESC, `^M` for a lone CR, `^J` for a newline inside a
 * reply), DEL as `^?`, C1 as `\x9b`. TAB is left as it is.
 *
 * @example What a server cannot do to a terminal
 * ```ts
 * import assert from "node:assert/strict";
 * import { showControls } from "./screen.ts";
 *
 * assert.equal(showControls("\x1b]0;owned\x07HOLA"), "^[]0;owned^GHOLA");
 * assert.equal(showControls("a\tb\rc\x7f\x9b"), "a\tb^Mc^?\\x9b");
 * ```
 *
 * @param text Text from the server (a reply, an `ERROR` line), or a message quoting it.
 * @returns The text, with nothing a terminal would act on.
 */
export function showControls(text: string): string {
  return text.replace(CONTROLS, (control) => {
    const code = control.charCodeAt(0);
    if (code < 0x20) return "^" + String.fromCharCode(code + 0x40);
    if (code === 0x7f) return "^?";
    return "\\x" + code.toString(16);
  });
}
