/**
 * The uppercase TCP client, for people at a terminal and for scripts.
 *
 * At a terminal it shows where it is connected, prompts for a message (with
 * line editing and history), sends it and prints the reply. In a pipeline it
 * prints only the replies, one per line, so `deno task client < in.txt > out.txt`
 * uppercases a file. `DESCONEXION`, end of input or Ctrl-D send `DESCONEXION`
 * bare, shut the write side and exit 0; Ctrl-C does the same and exits 130.
 *
 * It talks to any server of this exercise: a reply ends at its newline, or
 * after a quiet pause for servers that send none; and the disconnect command is
 * sent with no terminator, so servers that compare it exactly recognise it.
 *
 * This module holds `runClient()` and the command line. The modes live in
 * `client/terminal.ts` and `client/pipeline.ts`; `client/replies.ts` frames the
 * server's replies; `client/session.ts` holds what both modes share.
 *
 * @module
 */

import { replyLimit } from "./protocol.ts";
import { readCommandLine } from "./cli/flags.ts";
import { giveUpReading, readArgumentFiles, readPemFile } from "./cli/argument_files.ts";
import { formatAddress } from "./io/socket.ts";
import { CLIENT_COMMAND_LINE } from "./client/command_line.ts";
import { Link } from "./client/link.ts";
import { Pipeline } from "./client/pipeline.ts";
import { runTerminal, styleFor } from "./client/terminal.ts";
import { SessionEnd } from "./client/session.ts";
import { showControls } from "./client/screen.ts";
import { type ClientOptions, resolveClientSettings } from "./client/options.ts";

export { EXIT, EXIT_STATUSES, type ExitStatus, type Program } from "./cli/exit_status.ts";
export { CLOSE_WAIT_MS } from "./client/session.ts";
export { MAX_IN_FLIGHT } from "./client/pipeline.ts";
export {
  type ClientOptions,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_REPLY_QUIET_MS,
  DEFAULT_REPLY_TIMEOUT_MS,
} from "./client/options.ts";

const encoder = new TextEncoder();

/**
 * Runs one session against a server, until the user or the input disconnects.
 *
 * @example Uppercasing two lines in pipeline mode
 * ```ts
 * import assert from "node:assert/strict";
 * import { runClient } from "./client.ts";
 * import { serve } from "./server.ts";
 *
 * await using server = serve({ port: 0, log: null });
 * let printed = "";
 * const status = await runClient({
 *   port: server.addr.port,
 *   input: ReadableStream.from([new TextEncoder().encode("hola\nservidor\n")]),
 *   output: new WritableStream({ write: (bytes) => void (printed += new TextDecoder().decode(bytes)) }),
 *   errors: new WritableStream(),
 * });
 * assert.equal(status, 0);
 * assert.equal(printed, "HOLA\nSERVIDOR\n");
 * ```
 *
 * @param options The server, the streams and the mode.
 * @returns The exit status, one of {@linkcode EXIT}.
 */
export async function runClient(options: ClientOptions): Promise<number> {
  const { hostname, port, maxMessageBytes, ...settings } = resolveClientSettings(options);
  const style = styleFor({ color: settings.color });
  const output = options.output.getWriter();
  const shownOn = (terminal: boolean) => terminal ? showControls : undefined;
  // Line by line: our own messages may span lines; a line of the server's never does.
  const visible = shownOn(settings.terminals.errors);
  const forErrors = (text: string) => visible ? text.split("\n").map(visible).join("\n") : text;
  const reconnect = settings.reconnect
    ? {
      retryForMs: settings.retryForMs,
      notify: (line: string) => tell(options.errors, style.info(forErrors(line)) + "\n"),
    }
    : undefined;
  let status: number;
  try {
    const link = await Link.open({
      server: { hostname, port, tls: options.tls },
      framing: { maxReplyBytes: replyLimit(maxMessageBytes), quietMs: settings.replyQuietMs },
      connectTimeoutMs: settings.connectTimeoutMs,
      replyTimeoutMs: settings.replyTimeoutMs,
      reconnect,
    });
    try {
      status = settings.interactive
        ? await runTerminal(link, {
          input: options.input,
          output,
          style,
          address: formatAddress({ hostname, port }) + (options.tls ? " over TLS" : ""),
          maxMessageBytes,
          visible: shownOn(settings.terminals.output),
        })
        : await new Pipeline(link, {
          output,
          maxMessageBytes,
          visible: shownOn(settings.terminals.output),
        }).run(options.input);
    } finally {
      await link.close();
    }
  } catch (error) {
    if (!(error instanceof SessionEnd)) throw error;
    if (error.message) await tell(options.errors, style.error(forErrors(error.message)) + "\n");
    status = error.status;
  }
  // Either may fail once the reader of the output has gone: there is no one left to tell.
  await output.close().catch(() => {});
  await options.errors.close().catch(() => {});
  return status;
}

async function tell(errors: WritableStream<Uint8Array>, text: string): Promise<void> {
  const writer = errors.getWriter();
  await writer.write(encoder.encode(text)).catch(() => {});
  writer.releaseLock();
}

/**
 * Runs the client's command line on the process's own terminal or pipes.
 *
 * @param args The command-line arguments.
 * @returns The exit status, one of {@linkcode EXIT}.
 */
export async function main(args: string[]): Promise<number> {
  const command = readCommandLine(args, CLIENT_COMMAND_LINE);
  if (typeof command === "number") return command;
  const { tls, caFile, ...target } = command;
  const caCerts = await readArgumentFiles(async () =>
    caFile === undefined
      ? undefined
      : [await readPemFile(caFile, { what: "CA certificate", label: "CERTIFICATE" })]
  );
  if (typeof caCerts === "number") return caCerts;
  giveUpReading();
  const interactive = Deno.stdin.isTerminal();
  // Raw mode hands every key to the line editor; Ctrl-C arrives as a key, not a signal.
  if (interactive) Deno.stdin.setRaw(true);
  try {
    return await runClient({
      ...target,
      tls: tls ? { caCerts } : undefined,
      input: Deno.stdin.readable,
      output: Deno.stdout.writable,
      errors: Deno.stderr.writable,
      interactive,
      color: interactive && Deno.stdout.isTerminal() && !Deno.noColor,
      terminals: { output: Deno.stdout.isTerminal(), errors: Deno.stderr.isTerminal() },
    });
  } finally {
    if (interactive) Deno.stdin.setRaw(false);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
