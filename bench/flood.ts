/**
 * A hostile client for the bench's fairness scenario: it sends 1 MiB lines
 * back to back, as fast as the server takes them, reads its replies, and at
 * the end prints how many lines were answered. The lines are of one kind:
 * ASCII, valid non-ASCII text (`añañ…`), a letter and an invalid byte
 * repeated (`a\xff…`), which costs a naive uppercaser one run per byte, or
 * `d`, combining marks of two classes, `n`, which a naive disconnect check
 * normalises in quadratic time.
 *
 *   deno run --allow-net bench/flood.ts <port> <ascii|utf8|invalid|marks> <seconds>
 *
 * @module
 */

/** The kinds of line it floods with. */
export const FLOOD_KINDS = ["ascii", "utf8", "invalid", "marks"] as const;

/** One kind of {@linkcode FLOOD_KINDS}. */
export type FloodKind = typeof FLOOD_KINDS[number];

const LINE_BYTES = 1024 * 1024 - 1;

const UNITS: Record<FloodKind, number[]> = {
  ascii: [0x61],
  utf8: [0x61, 0xc3, 0xb1], // "añ"
  invalid: [0x61, 0xff], // "a", then a byte that is never UTF-8
  marks: [0xcc, 0x81, 0xcc, 0x96], // U+0301 (class 230) and U+0316 (class 220)
};

/** One line of `kind`, newline included, 1 MiB in all. */
export function floodLine(kind: FloodKind): Uint8Array {
  const unit = UNITS[kind];
  const line = new Uint8Array(LINE_BYTES + 1);
  for (let i = 0; i < LINE_BYTES; i++) line[i] = unit[i % unit.length];
  // A cut-off character at the end would be kept, not uppercased: end on a whole unit.
  line.fill(0x61, LINE_BYTES - (LINE_BYTES % unit.length), LINE_BYTES);
  if (kind === "marks") {
    // Starting with "d" and ending with "n", each line may be the command, and is decoded to tell.
    line.fill(0x61, 0, unit.length);
    line[0] = 0x64;
    line[LINE_BYTES - 1] = 0x6e;
  }
  line[LINE_BYTES] = 0x0a;
  return line;
}

async function main(
  { port, kind, seconds }: { port: number; kind: FloodKind; seconds: number },
): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const line = floodLine(kind);
  const until = performance.now() + seconds * 1000;
  let answered = 0;
  const reading = (async () => {
    const buffer = new Uint8Array(256 * 1024);
    for (let n; (n = await conn.read(buffer).catch(() => null)) !== null;) {
      // indexOf, not a loop over each byte: the flood must not be slower than the server.
      const replies = buffer.subarray(0, n);
      for (let i = replies.indexOf(0x0a); i !== -1; i = replies.indexOf(0x0a, i + 1)) answered++;
    }
  })();
  try {
    while (performance.now() < until) {
      for (let written = 0; written < line.length;) {
        written += await conn.write(line.subarray(written));
      }
    }
  } catch {
    // The server closed the connection: the count so far stands.
  }
  console.log(answered);
  conn.close();
  await reading;
}

if (import.meta.main) {
  const [port, kind, seconds] = Deno.args;
  if (!FLOOD_KINDS.includes(kind as FloodKind)) throw new Error(`kind: one of ${FLOOD_KINDS}`);
  await main({ port: Number(port), kind: kind as FloodKind, seconds: Number(seconds ?? 5) });
}
