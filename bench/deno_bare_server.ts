/**
 * The runtime's floor, for `deno task bench --compare`: the least a server on
 * `Deno.listen` and `Deno.Conn` can do. For each read, the ASCII letters are
 * uppercased in place and written back; no framing, no `DESCONEXION`, no
 * limits, no log. What our server costs beyond it is ours; what it costs
 * beyond the C server is the runtime's.
 *
 * Its read buffer starts small and grows when a read fills it, as our
 * server's does, so that idle connections cost what the runtime makes them.
 *
 *   deno run --allow-net bench/deno_bare_server.ts 0
 *
 * @module
 */

const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(Deno.args[0] ?? 0) });
console.log(`Listening on 127.0.0.1:${listener.addr.port}`);
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  let buffer = new Uint8Array(128);
  for (let n; (n = await conn.read(buffer)) !== null;) {
    for (let i = 0; i < n; i++) if (buffer[i] >= 0x61 && buffer[i] <= 0x7a) buffer[i] -= 0x20;
    for (let written = 0; written < n;) written += await conn.write(buffer.subarray(written, n));
    if (n === buffer.length && n < 65536) buffer = new Uint8Array(n * 4);
  }
}

for await (const conn of listener) serve(conn).catch(() => {}).finally(() => conn.close());
