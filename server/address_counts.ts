/**
 * Connections open per client address, for `--max-connections-per-address`:
 * so that one address cannot take every slot of `--max-connections`.
 *
 * @module
 */

import { ERROR_LINES } from "../protocol.ts";

/**
 * How a connection over the limit from `address` is refused: why, in the
 * metrics' and the log's words, and the `ERROR` line the client is sent.
 */
export function overAddressLimit(address: string, limit: number) {
  return {
    reason: "max_connections_per_address",
    detail: `too many connections from ${address} (limit ${limit})`,
    line: ERROR_LINES.tooManyFromAddress(limit),
  } as const;
}

/** How many connections each address has open; an address with none is forgotten. */
export class AddressCounts {
  readonly #open = new Map<string, number>();

  /**
   * Counts one more connection from `address`, if it has fewer than `limit`.
   *
   * @example Two of two, then no more until one leaves
   * ```ts
   * import assert from "node:assert/strict";
   * import { AddressCounts } from "./address_counts.ts";
   *
   * const counts = new AddressCounts();
   * assert(counts.take("10.0.0.1", 2) && counts.take("10.0.0.1", 2));
   * assert(!counts.take("10.0.0.1", 2));
   * assert(counts.take("10.0.0.2", 2), "another address");
   * counts.release("10.0.0.1");
   * assert(counts.take("10.0.0.1", 2));
   * ```
   *
   * @returns Whether it was counted; a connection not counted must not be released.
   */
  take(address: string, limit: number): boolean {
    const open = this.#open.get(address) ?? 0;
    if (open >= limit) return false;
    this.#open.set(address, open + 1);
    return true;
  }

  /** Counts one connection from `address` closed. */
  release(address: string): void {
    const open = this.#open.get(address) ?? 0;
    if (open <= 1) this.#open.delete(address);
    else this.#open.set(address, open - 1);
  }

  /** How many addresses have connections open. */
  get addresses(): number {
    return this.#open.size;
  }
}
