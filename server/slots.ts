/**
 * Connection ids and `--max-connections` slots, counted either by one accept
 * loop alone or by every worker of a process at once. Workers share a
 * `SharedArrayBuffer` and count with `Atomics`: no lock and no message per
 * connection, and the limit holds whichever worker accepted a client.
 *
 * @module
 */

/** Where connection ids come from, and how many connections are served at once. */
export interface ConnectionSlots {
  /** A new connection's id: 1, 2, 3... unique across the workers sharing the slots. */
  nextId(): number;
  /**
   * Takes a slot for a connection, unless `limit` are already taken.
   *
   * @returns Whether it got one; a connection without a slot is refused.
   */
  take(limit: number): boolean;
  /** Gives a slot back, once its connection's conversation is over. */
  release(): void;
}

/** Slots counted by one accept loop alone, with plain numbers. */
export class LocalSlots implements ConnectionSlots {
  #lastId = 0;
  #taken = 0;

  nextId(): number {
    return ++this.#lastId;
  }

  take(limit: number): boolean {
    if (this.#taken >= limit) return false;
    this.#taken++;
    return true;
  }

  release(): void {
    this.#taken--;
  }
}

/**
 * Slots shared by every worker of a process through one `SharedArrayBuffer`.
 *
 * @example Two workers' views of one buffer
 * ```ts
 * import assert from "node:assert/strict";
 * import { SharedSlots } from "./slots.ts";
 *
 * const buffer = SharedSlots.buffer();
 * const [a, b] = [new SharedSlots(buffer), new SharedSlots(buffer)];
 * assert.deepEqual([a.nextId(), b.nextId()], [1, 2]);
 * assert(a.take(1));
 * assert(!b.take(1), "the one slot is taken, whoever asks");
 * ```
 */
export class SharedSlots implements ConnectionSlots {
  // The buffer holds the last id given, 64 bits so that ids never wrap, then
  // the slots taken, 32 bits; each is a one-element view.
  readonly #lastId: BigInt64Array;
  readonly #taken: Int32Array;

  /** A buffer for a new set of shared slots, to be passed to every worker. */
  static buffer(): SharedArrayBuffer {
    return new SharedArrayBuffer(12);
  }

  /** Counts in `buffer`, made by {@linkcode SharedSlots.buffer}. */
  constructor(buffer: SharedArrayBuffer) {
    this.#lastId = new BigInt64Array(buffer, 0, 1);
    this.#taken = new Int32Array(buffer, 8, 1);
  }

  nextId(): number {
    return Number(Atomics.add(this.#lastId, 0, 1n)) + 1;
  }

  take(limit: number): boolean {
    // Taken first and given back if over: two workers can never both get the last slot.
    if (Atomics.add(this.#taken, 0, 1) < limit) return true;
    Atomics.sub(this.#taken, 0, 1);
    return false;
  }

  release(): void {
    Atomics.sub(this.#taken, 0, 1);
  }
}
