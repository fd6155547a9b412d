/**
 * Files named on the command line (TLS certificates and keys, a CA): read once
 * at startup, checked to hold what they should, and then read access given up
 * for good, so that nothing a peer sends can make the program read a file.
 * (The server gives it up once its workers, if any, have loaded their code.)
 *
 * @module
 */

import { EXIT } from "./exit_status.ts";

/** A file named on the command line that cannot be used, reported as one line without a stack trace. */
export class FileArgumentError extends Error {
  override name = "FileArgumentError";
}

/**
 * Reads a PEM file named on the command line, such as a TLS certificate.
 *
 * @param path The file, as given.
 * @param expected `what` it holds, for messages, such as `TLS certificate`; the PEM `label` it
 *   must hold, such as `CERTIFICATE` or `PRIVATE KEY`.
 * @returns The file's text.
 * @throws {FileArgumentError} Naming the file and saying what is wrong with it.
 */
export async function readPemFile(
  path: string,
  { what, label }: { what: string; label: string },
): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new FileArgumentError(`Cannot read the ${what} "${path}": ${describeReadError(error)}`);
  }
  if (!new RegExp(`-----BEGIN [A-Z ]*${label}-----`).test(text)) {
    throw new FileArgumentError(`Cannot use the ${what} "${path}": it holds no PEM ${label}`);
  }
  return text;
}

/**
 * Reads the files named on the command line. A file that cannot be used is
 * reported in one line on stderr. Call {@linkcode giveUpReading} once the
 * program needs no more files.
 *
 * @param read Reads the files, with {@linkcode readPemFile}.
 * @returns What `read` gave, or {@linkcode EXIT.USAGE} when a file cannot be used.
 */
export async function readArgumentFiles<T extends object | undefined>(
  read: () => Promise<T>,
): Promise<T | number> {
  let files: T;
  try {
    files = await read();
  } catch (error) {
    if (!(error instanceof FileArgumentError)) throw error;
    console.error(error.message);
    return EXIT.USAGE;
  }
  return files;
}

/**
 * Gives up reading files for good, for the whole process and its workers:
 * whatever peers send, the program cannot read a file after this.
 */
export function giveUpReading(): void {
  Deno.permissions.revokeSync({ name: "read" });
}

function describeReadError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.IsADirectory) return "it is a folder";
  if (error instanceof Deno.errors.NotCapable) {
    return "read access not granted. Run it with deno task, or deno run --allow-read";
  }
  return error instanceof Error ? error.message : String(error);
}
