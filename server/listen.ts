/**
 * Starting a server from its settings: the listener, plain TCP or TLS (through
 * `TlsFront`), and the accept loop over it. `serve()` in `server.ts` and each
 * worker of `--parallel` start theirs here.
 *
 * @module
 */

import { AcceptLoop } from "./accept_loop.ts";
import type { Settings } from "./settings.ts";
import { TlsFront } from "./tls_front.ts";

/**
 * Listens as `settings` say and starts accepting.
 *
 * @param settings Every option, defaults filled in.
 * @returns The running server.
 * @throws {Deno.errors.AddrInUse} When the address is taken, and the other errors of `Deno.listen`.
 * @throws {Deno.errors.InvalidData} When `tls` holds no certificate or no key.
 */
export function listenWith(settings: Settings): AcceptLoop {
  const address = {
    hostname: settings.hostname,
    port: settings.port,
    reusePort: settings.reusePort,
  };
  const listener = settings.tls
    ? new TlsFront({ address, cert: settings.tls.cert, key: settings.tls.key })
    : Deno.listen(address);
  return new AcceptLoop(listener, settings);
}
