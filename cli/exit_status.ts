/**
 * Every exit status of the server and the client, in one table: the code, `--help`
 * and the docs all read it, so a status has one code and one meaning everywhere.
 *
 * @module
 */

/** Which program an exit status belongs to. */
export type Program = "server" | "client" | "both";

/** One exit status: its code, which program exits with it, and what it means. */
export interface ExitStatus {
  /** The process's exit code. */
  readonly code: number;
  /** Which program exits with it. */
  readonly program: Program;
  /** What it means, for `--help` and the docs. */
  readonly meaning: string;
}

/** Every exit status of both programs, by name: the one table the code, `--help` and the docs use. */
export const EXIT_STATUSES = {
  OK: {
    code: 0,
    program: "both",
    meaning: "Done: client disconnected as asked; server stopped by a signal",
  },
  FAILURE: {
    code: 1,
    program: "client",
    meaning: "Bad input, such as a piped line longer than the limit",
  },
  USAGE: { code: 2, program: "both", meaning: "Bad flag or argument (the message says which)" },
  CANNOT_LISTEN: {
    code: 3,
    program: "server",
    meaning: "Cannot listen: address in use, no permission, no such address",
  },
  NO_SERVER: {
    code: 3,
    program: "client",
    meaning:
      "Cannot connect: no server there, or no answer within `--connect-timeout` (with `--reconnect`, none within `--retry-for`)",
  },
  CONNECTION_LOST: {
    code: 4,
    program: "client",
    meaning:
      "The server closed or reset the connection, or was silent past `--reply-timeout`, before the client was done (with `--reconnect`, and was not back within `--retry-for`)",
  },
  SERVER_ERROR: { code: 5, program: "client", meaning: "The server answered with an `ERROR` line" },
  SOFTWARE: {
    code: 70,
    program: "server",
    meaning:
      "Internal failure (`EX_SOFTWARE`): the listener kept failing, or a worker failed; restart it",
  },
  INTERRUPTED: { code: 130, program: "client", meaning: "Interrupted with Ctrl-C" },
  OUTPUT_CLOSED: {
    code: 141,
    program: "client",
    meaning: "Its output was closed early (`| head`), as for a filter killed by SIGPIPE",
  },
} as const satisfies Record<string, ExitStatus>;

/** The exit codes by name, such as `EXIT.NO_SERVER` (3), from {@linkcode EXIT_STATUSES}. */
export const EXIT: { readonly [Name in keyof typeof EXIT_STATUSES]: number } = Object.fromEntries(
  Object.entries(EXIT_STATUSES).map(([name, status]) => [name, status.code]),
) as { [Name in keyof typeof EXIT_STATUSES]: number };
