import { assert } from "../base/mod.ts";
import type { MemoryManager, MemoryReservation } from "../memory/mod.ts";
import type { RecordEmitter } from "./count_merger.ts";
import { ReservedScratch } from "./count_merger.ts";
import { copyBytes } from "./copy_bytes.ts";

/** Bytes of bookkeeping per heap slot (count f64, word start u32, word length u32). */
const SLOT_BYTES = 16;
/** Past this many bytes the word arena grows by what is needed instead of doubling. */
const LONG_WORD_BYTES = 1024 * 1024;
/** What an arena holding a long word keeps free for the short words beside it. */
const LONG_WORD_HEADROOM_BYTES = 64 * 1024;

/**
 * Keeps the `limit` best words by (count descending, word ascending) out of a stream, with a
 * bounded binary heap whose root is the worst word kept: no full sort of the stream.
 *
 * Words live in one byte arena reserved from the budget; evicted words leave garbage that is
 * compacted away when the arena fills.
 *
 * @example Usage
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { MemoryManager } from "../memory/mod.ts";
 * import { TopHeap } from "./top_heap.ts";
 * const memory = new MemoryManager({ budgetBytes: 16 * 4096, segmentBytes: 4096 });
 * const heap = new TopHeap(memory, 2);
 * const bytes = new TextEncoder().encode("abc");
 * heap.offer(bytes, 0, 1, 5);
 * heap.offer(bytes, 1, 1, 9);
 * heap.offer(bytes, 2, 1, 7);
 * const seen: number[] = [];
 * await heap.drain("count", (_b, _o, _n, count) => { seen.push(count); return undefined; });
 * deepStrictEqual(seen, [9, 7]);
 * heap.close();
 * memory.assertAllReleased();
 * ```
 */
export class TopHeap {
  /** Most words kept. */
  readonly limit: number;
  #reservation: MemoryReservation;
  #arena: ReservedScratch;
  #counts: Float64Array;
  #starts: Uint32Array;
  #lengths: Uint32Array;
  #size = 0;
  #arenaUsed = 0;
  #garbage = 0;

  /**
   * Makes an empty heap and reserves its slots.
   *
   * @param memory The budget for the slots and the word arena.
   * @param limit How many words to keep (at least 1).
   * @throws {MemoryBudgetError} If the slots do not fit the budget.
   */
  constructor(memory: MemoryManager, limit: number) {
    assert(Number.isSafeInteger(limit) && limit >= 1, `top limit ${limit} < 1`);
    this.limit = limit;
    this.#reservation = memory.reserve("count-top", limit * SLOT_BYTES);
    this.#counts = new Float64Array(limit);
    this.#starts = new Uint32Array(limit);
    this.#lengths = new Uint32Array(limit);
    this.#arena = new ReservedScratch(memory, "count-top");
  }

  /** Words kept so far. */
  get size(): number {
    return this.#size;
  }

  /**
   * Offers a word; it is kept if it beats the worst word kept (or the heap is not full).
   *
   * @param bytes The word's bytes (copied when kept).
   * @param byteOffset Where the word starts.
   * @param byteLength Its length.
   * @param count Its count.
   */
  offer(bytes: Uint8Array, byteOffset: number, byteLength: number, count: number): void {
    if (this.#size === this.limit) {
      // Keep only if better than the root: higher count, or equal count and smaller word.
      const rootCount = this.#counts[0]!;
      if (count < rootCount) return;
      if (count === rootCount && this.#compareWith(0, bytes, byteOffset, byteLength) <= 0) return;
      this.#garbage += this.#lengths[0]!;
      this.#lengths[0] = 0; // the root's old word is garbage: compaction must not keep it
      this.#store(0, bytes, byteOffset, byteLength, count);
      this.#siftDown(0);
      return;
    }
    const slot = this.#size;
    this.#size += 1;
    this.#store(slot, bytes, byteOffset, byteLength, count);
    this.#siftUp(slot);
  }

  /**
   * Emits the kept words, best first (`count`) or in byte order of words (`word`).
   *
   * @param order The output order.
   * @param emit Receives each word and count.
   */
  async drain(order: "count" | "word", emit: RecordEmitter): Promise<void> {
    const slots = Array.from({ length: this.#size }, (_, i) => i);
    slots.sort((a, b) => order === "count" ? this.#better(a, b) : this.#compareSlots(a, b));
    const arena = this.#arena.bytes;
    for (const slot of slots) {
      const pending = emit(arena, this.#starts[slot]!, this.#lengths[slot]!, this.#counts[slot]!);
      if (pending) await pending;
    }
  }

  /** Gives the memory back. Idempotent. */
  close(): void {
    this.#arena.close();
    if (this.#size >= 0) {
      this.#size = -1;
      this.#reservation.release();
    }
  }

  #store(slot: number, bytes: Uint8Array, byteOffset: number, byteLength: number, count: number) {
    if (this.#arenaUsed + byteLength > this.#arena.bytes.length) this.#compact(byteLength);
    const arena = this.#arena.bytes;
    copyBytes(bytes, byteOffset, arena, this.#arenaUsed, byteLength);
    this.#starts[slot] = this.#arenaUsed;
    this.#lengths[slot] = byteLength;
    this.#counts[slot] = count;
    this.#arenaUsed += byteLength;
  }

  /**
   * Moves the live words to the front of the arena, in place, and grows it only when they and
   * `extraBytes` do not fit: churn among short words next to a long word never needs a second
   * copy of the long word.
   */
  #compact(extraBytes: number): void {
    const needed = this.#arenaUsed - this.#garbage + extraBytes;
    // Growing when less than half the arena (short words) or half the headroom (past a long
    // word) would be left free keeps compactions rare: each one then frees that much at least.
    // Doubling amortizes short words; past a long word the arena adds what is needed and the
    // headroom for the short words, which the count plan set aside with it.
    if (needed > LONG_WORD_BYTES) {
      if (needed + LONG_WORD_HEADROOM_BYTES / 2 > this.#arena.bytes.length) {
        this.#arena.ensure(needed + LONG_WORD_HEADROOM_BYTES);
      }
    } else if (2 * needed > this.#arena.bytes.length) {
      this.#arena.ensure(Math.max(2 * needed, 4096));
    }
    const arena = this.#arena.bytes;
    const slots = Array.from({ length: this.#size }, (_, i) => i);
    slots.sort((a, b) => this.#starts[a]! - this.#starts[b]!);
    let at = 0;
    for (const slot of slots) {
      const start = this.#starts[slot]!;
      const length = this.#lengths[slot]!;
      arena.copyWithin(at, start, start + length); // at <= start: front to back is safe
      this.#starts[slot] = at;
      at += length;
    }
    this.#arenaUsed = at;
    this.#garbage = 0;
  }

  /** Negative if slot a should come first in the output (count desc, word asc). */
  #better(a: number, b: number): number {
    const difference = this.#counts[b]! - this.#counts[a]!;
    return difference !== 0 ? difference : this.#compareSlots(a, b);
  }

  #compareSlots(a: number, b: number): number {
    return this.#compareWith(
      a,
      this.#arena.bytes,
      this.#starts[b]!,
      this.#lengths[b]!,
    );
  }

  /** Compares the word in `slot` with a word given as bytes. */
  #compareWith(slot: number, bytes: Uint8Array, byteOffset: number, byteLength: number): number {
    const arena = this.#arena.bytes;
    const start = this.#starts[slot]!;
    const length = this.#lengths[slot]!;
    const common = length < byteLength ? length : byteLength;
    for (let i = 0; i < common; i += 1) {
      const difference = arena[start + i]! - bytes[byteOffset + i]!;
      if (difference !== 0) return difference;
    }
    return length - byteLength;
  }

  /** Whether slot a is worse than slot b (belongs nearer the root). */
  #worse(a: number, b: number): boolean {
    return this.#better(a, b) > 0;
  }

  #swap(a: number, b: number): void {
    const count = this.#counts[a]!;
    const start = this.#starts[a]!;
    const length = this.#lengths[a]!;
    this.#counts[a] = this.#counts[b]!;
    this.#starts[a] = this.#starts[b]!;
    this.#lengths[a] = this.#lengths[b]!;
    this.#counts[b] = count;
    this.#starts[b] = start;
    this.#lengths[b] = length;
  }

  #siftUp(slot: number): void {
    while (slot > 0) {
      const parent = (slot - 1) >>> 1;
      if (!this.#worse(slot, parent)) return;
      this.#swap(slot, parent);
      slot = parent;
    }
  }

  #siftDown(slot: number): void {
    for (;;) {
      const left = slot * 2 + 1;
      if (left >= this.#size) return;
      const right = left + 1;
      const worst = right < this.#size && this.#worse(right, left) ? right : left;
      if (!this.#worse(worst, slot)) return;
      this.#swap(worst, slot);
      slot = worst;
    }
  }
}
