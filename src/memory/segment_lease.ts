import type { MemorySegment } from "./memory_segment.ts";

/** What a lease needs from its manager. */
export interface LeaseReleaser {
  /** Releases the lease's segments that are still held. */
  releaseLease(lease: SegmentLease): void;
}

/**
 * A set of segments allocated together to one owner; `using` releases them at scope end.
 *
 * `release()` twice throws (a bug); disposing an already released lease does nothing, so
 * `using` and an explicit early `release()` combine safely.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { MemoryManager } from "./memory_manager.ts";
 * const memory = new MemoryManager({ budgetBytes: 1 << 20, segmentBytes: 4096 });
 * {
 *   using lease = memory.allocate("sort-buffer", 4);
 *   strictEqual(lease.segments.length, 4);
 * }
 * strictEqual(memory.usedPages, 0);
 * ```
 */
export class SegmentLease implements Disposable {
  /** Who holds the segments. */
  readonly owner: string;
  /** The leased segments, in allocation order. */
  readonly segments: readonly MemorySegment[];
  #releaser: LeaseReleaser;
  #released = false;

  /**
   * Made only by the {@linkcode MemoryManager}.
   *
   * @param owner Who holds the segments.
   * @param segments The segments.
   * @param releaser The manager that takes them back.
   */
  constructor(owner: string, segments: readonly MemorySegment[], releaser: LeaseReleaser) {
    this.owner = owner;
    this.segments = segments;
    this.#releaser = releaser;
  }

  /** Whether the lease was released. */
  get isReleased(): boolean {
    return this.#released;
  }

  /**
   * Releases every segment of the lease that is still held.
   *
   * @throws {Error} If the lease was released already.
   */
  release(): void {
    if (this.#released) {
      throw new Error(`Cannot release the lease of "${this.owner}" twice`);
    }
    this.#released = true;
    this.#releaser.releaseLease(this);
  }

  /** Releases the lease unless it was released already. */
  [Symbol.dispose](): void {
    if (!this.#released) this.release();
  }
}
