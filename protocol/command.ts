/**
 * The disconnect command (rule 5 of `protocol.ts`), on text and, for the
 * server's hot path, on raw bytes.
 *
 * @module
 */

/** The message that asks the server to close the connection. */
export const DISCONNECT_COMMAND = "DESCONEXION";

/**
 * A byte that every ASCII spelling of the command holds once uppercased: its
 * `X`, the rarest of its letters in ordinary text. So a run of ASCII lines,
 * uppercased, that holds no `X` holds no disconnect command, and the server
 * may answer it without looking at each line (the whole-chunk pass of
 * `server/conversation.ts`).
 */
export const DISCONNECT_MARK: number = DISCONNECT_COMMAND.charCodeAt(
  DISCONNECT_COMMAND.indexOf("X"),
);

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Tells whether a message is the disconnect command (rule 5): trimmed, it equals
 * `DESCONEXION` ignoring case and accents.
 *
 * @example Recognising the command
 * ```ts
 * import assert from "node:assert/strict";
 * import { isDisconnectCommand } from "../protocol.ts";
 *
 * assert(isDisconnectCommand(" Desconexión\r\n"));
 * assert(!isDisconnectCommand("DESCONEXION ya"));
 * ```
 */
export function isDisconnectCommand(text: string): boolean {
  const bare = text.trim().normalize("NFD").replace(/\p{M}/gu, "");
  return bare.toUpperCase() === DISCONNECT_COMMAND;
}

const isAsciiSpace = (byte: number) => byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);

/**
 * Rule 5 on the bytes `bytes[start..end)`, decoding them only when a cheap test
 * allows it, so that ordinary messages cost no decoding.
 */
export function isDisconnectMessage(bytes: Uint8Array, start: number, end: number): boolean {
  return mayBeDisconnectCommand(bytes, start, end) &&
    isDisconnectCommand(decoder.decode(bytes.subarray(start, end)));
}

/**
 * Cheap byte test that rules out almost every ordinary message before the full
 * check decodes it: once ASCII whitespace is skipped, the command can only
 * start with `D`, `d` or a non-ASCII byte (`Ď` and the like) and end likewise with `N`.
 */
function mayBeDisconnectCommand(bytes: Uint8Array, start: number, end: number): boolean {
  let first = start;
  while (first < end && isAsciiSpace(bytes[first])) first++;
  let last = end - 1;
  while (last > first && isAsciiSpace(bytes[last])) last--;
  if (first >= last) return false;
  const head = bytes[first] | 0x20, tail = bytes[last] | 0x20;
  return (head === 0x64 || bytes[first] >= 0x80) && (tail === 0x6e || bytes[last] >= 0x80);
}
