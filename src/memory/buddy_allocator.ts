import { assert, formatBytes } from "../base/mod.ts";
import { MemoryBudgetError, MemoryLeakError, SegmentReleasedError } from "./errors.ts";
import type { ContiguousOptions, MemoryManager } from "./memory_manager.ts";
import type { MemorySegment } from "./memory_segment.ts";
import type { SegmentLease } from "./segment_lease.ts";

/** Options of {@linkcode BuddyAllocator}. */
export interface BuddyAllocatorOptions {
  /** Size of the arena in segments (any positive count; taken from the budget at once). */
  segmentCount: number;
  /** Owner of the arena in the memory manager's books (default `buddy-arena`). */
  owner?: string;
  /**
   * Where the arena goes in the budget's pages (default `low`): `high` for an arena that may
   * stay mostly unwritten, so that the pages touched before serve the allocations beside it
   * (see {@linkcode ContiguousOptions}).
   */
  placement?: ContiguousOptions["placement"];
}

/** Counters of a {@linkcode BuddyAllocator}, for `--stats`. */
export interface BuddyStats {
  /** Arena size in segments. */
  arenaSegments: number;
  /** Segments in allocated blocks. */
  usedSegments: number;
  /** Segments in free blocks. */
  freeSegments: number;
  /** The largest free block in segments (the largest request that can succeed now). */
  largestFreeSegments: number;
  /** `1 - largestFree / free`: 0 when all free space is one block, near 1 when scattered. */
  fragmentation: number;
  /** Most segments allocated at once. */
  peakUsedSegments: number;
  /** Blocks allocated over the allocator's life. */
  allocationCount: number;
  /** Block splits and buddy merges over the allocator's life. */
  splitCount: number;
  /** Buddy merges over the allocator's life. */
  mergeCount: number;
}

/**
 * A contiguous block of `2^k` segments carved out of a {@linkcode BuddyAllocator}'s arena.
 *
 * `bytes` and `words` are views of the arena (in the shared memory); they throw after the block
 * is released. Views taken before stay usable (shared memory cannot be detached): when the
 * allocator closes, the arena goes back to the manager, which poisons it (checked levels) and
 * reports a later write through such a view.
 */
export class BuddyBlock implements Disposable {
  /** Who holds the block. */
  readonly owner: string;
  /** First segment of the block inside the arena. */
  readonly segmentIndex: number;
  /** Size in segments (a power of two). */
  readonly segmentCount: number;
  /** Byte offset inside the arena. */
  readonly byteOffset: number;
  /** Size in bytes. */
  readonly byteLength: number;
  /** Byte offset of the block in the shared `WebAssembly.Memory` (for kernels). */
  readonly memoryOffset: number;
  #allocator: BuddyAllocator;
  #bytes: Uint8Array;
  #words: Uint32Array;
  #released = false;

  /**
   * Made only by the {@linkcode BuddyAllocator}.
   *
   * @param allocator The allocator that owns the arena.
   * @param init Where the block is and who holds it.
   */
  constructor(
    allocator: BuddyAllocator,
    init: { owner: string; segmentIndex: number; segmentCount: number; arena: Uint8Array },
  ) {
    this.#allocator = allocator;
    this.owner = init.owner;
    this.segmentIndex = init.segmentIndex;
    this.segmentCount = init.segmentCount;
    this.byteOffset = init.segmentIndex * allocator.segmentBytes;
    this.byteLength = init.segmentCount * allocator.segmentBytes;
    const arena = init.arena;
    this.memoryOffset = arena.byteOffset + this.byteOffset;
    this.#bytes = new Uint8Array(arena.buffer, this.memoryOffset, this.byteLength);
    this.#words = new Uint32Array(arena.buffer, this.memoryOffset, this.byteLength >>> 2);
  }

  /** Whether the block was released. */
  get isReleased(): boolean {
    return this.#released;
  }

  /**
   * The block's bytes, for hot loops of the operator that holds it.
   *
   * @throws {SegmentReleasedError} If the block was released.
   */
  get bytes(): Uint8Array {
    if (this.#released) this.#throwReleased();
    return this.#bytes;
  }

  /**
   * The block as native-endian 32-bit words.
   *
   * @throws {SegmentReleasedError} If the block was released.
   */
  get words(): Uint32Array {
    if (this.#released) this.#throwReleased();
    return this.#words;
  }

  /**
   * Gives the block back to its allocator (same as `allocator.release(block)`).
   *
   * @throws {SegmentReleasedError} If the block was released already.
   */
  release(): void {
    this.#allocator.release(this);
  }

  /** Releases the block unless it was released already. */
  [Symbol.dispose](): void {
    if (!this.#released) this.#allocator.release(this);
  }

  /** Marks the block released; only the allocator calls this. */
  markReleased(): void {
    if (this.#released) this.#throwReleased();
    this.#released = true;
  }

  #throwReleased(): never {
    throw new SegmentReleasedError(this.segmentIndex, this.owner, "use the buddy block at segment");
  }
}

/**
 * A buddy allocator for contiguous blocks of `2^k` segments (hash-table bucket arrays that
 * double as they grow), carved from the same budget as the page pool.
 *
 * The arena is one contiguous segment of the manager's shared memory
 * (`memory.allocateContiguous()`), taken at construction and held until
 * {@linkcode BuddyAllocator.close}, so an allocator that is never closed shows up in the
 * manager's leak report. Allocation splits the smallest free block that fits inside the part
 * of the arena used so far, else the lowest-addressed block that fits (so the touched part of
 * the arena, and RSS, grows only as needed); release merges a block with its buddy while the
 * buddy is free. An arena that is not a power of two is cut
 * into aligned top-level blocks (6 segments: one of 4 and one of 2).
 *
 * ```
 * arena (8 segments):  [0 1 2 3 4 5 6 7]
 * allocate(2) -> split 8 -> 4+4 -> 2+2: [A A . . | . . . .]   free: 2@2, 4@4
 * release(A)  -> 2@0 merges with 2@2, then 4@0 with 4@4: one free block of 8 again
 * ```
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { BuddyAllocator, MemoryManager } from "./mod.ts";
 * const memory = new MemoryManager({ budgetBytes: 64 * 4096, segmentBytes: 4096 });
 * const buddy = new BuddyAllocator(memory, { segmentCount: 16 });
 * const buckets = buddy.allocate("count-buckets", 4);
 * strictEqual(buckets.byteLength, 4 * 4096);
 * buckets.release();
 * strictEqual(buddy.stats().largestFreeSegments, 16);
 * buddy.close();
 * memory.assertAllReleased();
 * ```
 */
export class BuddyAllocator implements Disposable {
  /** Segment size in bytes (the manager's). */
  readonly segmentBytes: number;
  /** Arena size in segments. */
  readonly segmentCount: number;
  /** Owner of the arena reservation. */
  readonly owner: string;
  #arena: Uint8Array;
  #arenaLease: SegmentLease;
  /** Free block starts per order (order k: blocks of 2^k segments). */
  #free: Set<number>[] = [];
  /** Live blocks by first segment. */
  #live = new Map<number, BuddyBlock>();
  #usedSegments = 0;
  /** The end of the highest block ever handed out (the arena beyond was never written). */
  #highWaterSegments = 0;
  #peakUsedSegments = 0;
  #allocationCount = 0;
  #splitCount = 0;
  #mergeCount = 0;
  #closed = false;

  /**
   * Takes the arena from the memory budget.
   *
   * @param memory The manager whose budget the arena comes from.
   * @param options Arena size and owner name.
   * @throws {MemoryBudgetError} If the arena does not fit the budget.
   */
  constructor(memory: MemoryManager, options: BuddyAllocatorOptions) {
    const segmentCount = options.segmentCount;
    assert(
      Number.isSafeInteger(segmentCount) && segmentCount >= 1,
      `segmentCount must be a positive integer, got ${segmentCount}`,
    );
    this.segmentBytes = memory.segmentBytes;
    this.segmentCount = segmentCount;
    this.owner = options.owner ?? "buddy-arena";
    this.#arenaLease = memory.allocateContiguous(this.owner, segmentCount, {
      placement: options.placement ?? "low",
    });
    this.#arena = this.#arenaLease.segments[0]!.bytes;
    const orderCount = Math.floor(Math.log2(segmentCount)) + 1;
    for (let order = 0; order < orderCount; order += 1) this.#free.push(new Set());
    // Cut the arena into aligned top-level blocks, largest first (the bits of segmentCount).
    let start = 0;
    for (let order = orderCount - 1; order >= 0; order -= 1) {
      if (Math.floor(segmentCount / 2 ** order) % 2 === 1) {
        this.#free[order]!.add(start);
        start += 2 ** order;
      }
    }
    assert(start === segmentCount, `top-level blocks cover ${start} of ${segmentCount} segments`);
  }

  /** The arena segment (for kernels: its `memoryOffset`). */
  get arena(): MemorySegment {
    return this.#arenaLease.segments[0]!;
  }

  /** Whether the allocator was closed. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Segments in allocated blocks right now. */
  get usedSegments(): number {
    return this.#usedSegments;
  }

  /**
   * The largest block (in segments, a power of two) that could ever be allocated from this
   * arena: its largest top-level block.
   */
  get blockSegmentsMax(): number {
    return 2 ** (this.#free.length - 1);
  }

  /**
   * Allocates a contiguous block of `segmentCount` segments.
   *
   * @param owner Who asks (named in errors and leak reports).
   * @param segmentCount A power of two.
   * @returns The block.
   * @throws {MemoryBudgetError} If no free block is large enough.
   */
  allocate(owner: string, segmentCount: number): BuddyBlock {
    const block = this.tryAllocate(owner, segmentCount);
    if (block === undefined) {
      const stats = this.stats();
      throw new MemoryBudgetError(
        owner,
        segmentCount,
        stats.largestFreeSegments,
        this.segmentCount,
        `the largest free contiguous block has ${stats.largestFreeSegments} segments; raise --memory (-S)`,
      );
    }
    return block;
  }

  /**
   * Like {@linkcode BuddyAllocator.allocate} but returns `undefined` when no block fits.
   *
   * @param owner Who asks.
   * @param segmentCount A power of two.
   * @returns The block, or `undefined`.
   */
  tryAllocate(owner: string, segmentCount: number): BuddyBlock | undefined {
    assert(!this.#closed, "the buddy allocator is closed");
    assert(
      Number.isSafeInteger(segmentCount) && segmentCount >= 1 &&
        (segmentCount & (segmentCount - 1)) === 0,
      `segmentCount must be a power of two, got ${segmentCount}`,
    );
    const order = Math.log2(segmentCount);
    // Best fit inside the part of the arena blocks ever reached (already touched); else the
    // lowest-addressed block that fits, so that the touched part (RSS) grows only as needed.
    let from = -1;
    let start = Infinity;
    for (let o = order; o < this.#free.length; o += 1) {
      if (this.#free[o]!.size === 0) continue;
      const candidate = lowest(this.#free[o]!);
      if (candidate + segmentCount <= this.#highWaterSegments) {
        from = o;
        start = candidate;
        break;
      }
      if (candidate < start) {
        from = o;
        start = candidate;
      }
    }
    if (from < 0) return undefined;
    this.#free[from]!.delete(start);
    while (from > order) {
      // Split: keep the lower half, free the upper half (the buddy).
      from -= 1;
      this.#free[from]!.add(start + 2 ** from);
      this.#splitCount += 1;
    }
    const block = new BuddyBlock(this, {
      owner,
      segmentIndex: start,
      segmentCount,
      arena: this.#arena,
    });
    this.#live.set(start, block);
    if (start + segmentCount > this.#highWaterSegments) {
      this.#highWaterSegments = start + segmentCount;
    }
    this.#usedSegments += segmentCount;
    this.#allocationCount += 1;
    if (this.#usedSegments > this.#peakUsedSegments) this.#peakUsedSegments = this.#usedSegments;
    return block;
  }

  /**
   * Gives a block back and merges it with its free buddies.
   *
   * @param block A block of this allocator.
   * @throws {SegmentReleasedError} If the block was released already.
   */
  release(block: BuddyBlock): void {
    if (block.isReleased || this.#live.get(block.segmentIndex) !== block) {
      throw new SegmentReleasedError(block.segmentIndex, block.owner, "release the buddy block at");
    }
    block.markReleased();
    this.#live.delete(block.segmentIndex);
    this.#usedSegments -= block.segmentCount;
    let start = block.segmentIndex;
    let order = Math.log2(block.segmentCount);
    while (order + 1 < this.#free.length) {
      const size = 2 ** order;
      const buddy = start ^ size;
      const merged = Math.min(start, buddy);
      if (merged + 2 * size > this.segmentCount || !this.#free[order]!.has(buddy)) break;
      this.#free[order]!.delete(buddy);
      start = merged;
      order += 1;
      this.#mergeCount += 1;
    }
    this.#free[order]!.add(start);
  }

  /** The allocator's counters, including fragmentation. */
  stats(): BuddyStats {
    let freeSegments = 0;
    let largestFreeSegments = 0;
    for (let order = 0; order < this.#free.length; order += 1) {
      const count = this.#free[order]!.size;
      freeSegments += count * 2 ** order;
      if (count > 0) largestFreeSegments = 2 ** order;
    }
    return {
      arenaSegments: this.segmentCount,
      usedSegments: this.#usedSegments,
      freeSegments,
      largestFreeSegments,
      fragmentation: freeSegments === 0 ? 0 : 1 - largestFreeSegments / freeSegments,
      peakUsedSegments: this.#peakUsedSegments,
      allocationCount: this.#allocationCount,
      splitCount: this.#splitCount,
      mergeCount: this.#mergeCount,
    };
  }

  /**
   * Blocks still held, per owner, largest first.
   *
   * @returns A readable block of text, empty when nothing is held.
   */
  leakReport(): string {
    if (this.#live.size === 0) return "";
    const byOwner = new Map<string, { blocks: number; segments: number }>();
    for (const block of this.#live.values()) {
      const entry = byOwner.get(block.owner) ?? { blocks: 0, segments: 0 };
      entry.blocks += 1;
      entry.segments += block.segmentCount;
      byOwner.set(block.owner, entry);
    }
    const owners = [...byOwner.entries()].sort((a, b) =>
      b[1].segments - a[1].segments || (a[0] < b[0] ? -1 : 1)
    );
    const summary = owners.map(([owner, entry]) => `${owner}=${entry.segments}`).join(", ");
    const lines = [
      `Memory leak: ${this.#usedSegments} segments (${
        formatBytes(this.#usedSegments * this.segmentBytes)
      }) still held in buddy blocks of "${this.owner}": ${summary}`,
    ];
    for (const [owner, entry] of owners) {
      lines.push(`  ${owner}: ${entry.blocks} blocks, ${entry.segments} segments`);
    }
    return lines.join("\n");
  }

  /**
   * Gives the arena back to the budget (blocks still held are marked released; their views
   * go to the manager's poisoning). Idempotent.
   *
   * @throws {MemoryLeakError} If blocks were still held (after freeing the arena anyway),
   *   naming their owners.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const report = this.leakReport();
    for (const block of this.#live.values()) block.markReleased();
    this.#live.clear();
    this.#arena = new Uint8Array(0);
    // Blocks write only inside themselves: the arena past the highest block is untouched.
    this.arena.limitWrittenTo(this.#highWaterSegments * this.segmentBytes);
    this.#arenaLease.release();
    if (report !== "") throw new MemoryLeakError(report);
  }

  /** Closes the allocator (see {@linkcode BuddyAllocator.close}). */
  [Symbol.dispose](): void {
    this.close();
  }
}

function lowest(set: Set<number>): number {
  let best = Infinity;
  for (const value of set) if (value < best) best = value;
  return best;
}
