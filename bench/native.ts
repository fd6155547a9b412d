/**
 * The bench's native programs: the load generator (`load_generator.c`) and
 * the syscalls-only server (`epoll_server.c`), compiled with the system's `cc`
 * when the bench runs, and the generator's scenarios driven through them.
 *
 * A generator on Deno's sockets pays for a promise-based read and write per
 * message, as the server does, so with one core each it sets the pace. The
 * native one pays only for its system calls.
 *
 * @module
 */

import type { Load, Measurement, RunOptions, Target } from "./load.ts";
import { LINE, ReplyMismatch } from "./load.ts";

const SOURCES = new URL(".", import.meta.url).pathname;
// Each is built from the C file of the same name in this folder.
const PROGRAM_NAMES = { generator: "load_generator", server: "epoll_server" } as const;

/** The compiled programs. */
export interface NativePrograms {
  /** The load generator's executable. */
  generator: string;
  /** The syscalls-only server's executable. */
  server: string;
}

/**
 * Compiles the generator and the server with `cc -O2` into `dir`.
 *
 * @param dir Where to put the executables.
 * @returns Their paths, or why they could not be built (no compiler, say).
 */
export async function compileNative(dir: string): Promise<NativePrograms | { failed: string }> {
  for (const name of Object.values(PROGRAM_NAMES)) {
    try {
      const { success, stderr } = await new Deno.Command("cc", {
        args: ["-O2", "-o", `${dir}/${name}`, `${SOURCES}${name}.c`],
        stdout: "null",
      }).output();
      if (!success) {
        return {
          failed: `cc could not build ${name}.c: ${new TextDecoder().decode(stderr).trim()}`,
        };
      }
    } catch (error) {
      return {
        failed: error instanceof Deno.errors.NotFound
          ? "there is no C compiler (cc)"
          : `cannot run cc: ${error instanceof Error ? error.message : error}`,
      };
    }
  }
  return {
    generator: `${dir}/${PROGRAM_NAMES.generator}`,
    server: `${dir}/${PROGRAM_NAMES.server}`,
  };
}

/**
 * Runs a scenario through the native generator.
 *
 * @param generator The generator's executable.
 * @param run The traffic (`mode`: `ping-pong`; or `pipelined` or
 *   `small-writes`, with `depth` lines in flight per connection), the server
 *   (`target`, which must have an IPv4 address), how many connections at once,
 *   and durations.
 * @throws {ReplyMismatch} When a reply is wrong or missing.
 */
export async function runNative(
  generator: string,
  run: Load & RunOptions & { target: Target; depth?: number },
): Promise<Measurement> {
  const { mode: scenario, connections, target, depth = 1 } = run;
  run.onProgress?.(`${scenario} ${connections} (native generator)`);
  const { stdout } = await new Deno.Command(generator, {
    args: [
      scenario,
      target.hostname,
      String(target.port),
      String(connections),
      String(run.warmupSeconds),
      String(run.seconds),
      String(depth),
      new TextDecoder().decode(LINE),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const result = JSON.parse(new TextDecoder().decode(stdout));
  if (result.error) throw new ReplyMismatch(result.error);
  return {
    scenario,
    connections,
    messages: result.messages,
    seconds: run.seconds,
    messagesPerSecond: result.messages / run.seconds,
    megabytesPerSecond: result.messages * LINE.length / run.seconds / 1e6,
    latencyMs: scenario === "ping-pong" ? result.latencyMs : undefined,
    generatorCpu: result.generatorCpu,
  };
}
