import { assert, formatBytes, isPowerOfTwo, KiB, MiB, ResourceError } from "../base/mod.ts";
import { MemoryBudgetError, MemoryLeakError } from "./errors.ts";
import { type DroppedSegment, type LeakDetectionLevel, LeakTracker } from "./leak_tracker.ts";
import { MemorySegment, takeBacking } from "./memory_segment.ts";
import { type LeaseReleaser, SegmentLease } from "./segment_lease.ts";

/** Smallest segment size. */
export const SEGMENT_BYTES_MIN = 4 * KiB;
/** Largest segment size. */
export const SEGMENT_BYTES_MAX = 16 * MiB;
/** Default segment size (Flink's default is 32 KiB too). */
export const SEGMENT_BYTES_DEFAULT = 32 * KiB;

/** Options of {@linkcode MemoryManager}. */
export interface MemoryManagerOptions {
  /** The hard budget in bytes; the manager owns `floor(budgetBytes / segmentBytes)` pages. */
  budgetBytes: number;
  /** Page size: a power of two from 4 KiB to 16 MiB (default 32 KiB). */
  segmentBytes?: number;
  /** Leak detection level (default `simple`). */
  leakDetection?: LeakDetectionLevel;
}

/** What one owner still holds, for reports. */
export interface OwnerHolding {
  /** The owner. */
  owner: string;
  /** Pages still leased. */
  pages: number;
  /** Bytes: pages times segment size plus reserved bytes. */
  bytes: number;
  /** Bytes reserved with `reserve()` and not given back. */
  reservedBytes: number;
  /** Recorded allocation sites of the pages still held (advanced/paranoid levels). */
  sites: string[];
}

/** The state of the manager's books: what is still held, by whom, and what was dropped. */
export interface LeakReport {
  /** Pages still leased. */
  leakedPages: number;
  /** Bytes still leased or reserved. */
  leakedBytes: number;
  /** Holders, largest first. */
  owners: OwnerHolding[];
  /** Segments garbage-collected without release (paranoid level). */
  dropped: DroppedSegment[];
  /** The report as one readable block (empty when nothing leaked). */
  text: string;
}

/** A byte reservation for a consumer that does not use pages (e.g. a scratch buffer). */
export interface MemoryReservation extends Disposable {
  /** Who reserved. */
  readonly owner: string;
  /** How many bytes. */
  readonly bytes: number;
  /** Gives the bytes back; a second call throws. */
  release(): void;
}

interface OwnerState {
  pages: number;
  reservedBytes: number;
  /** Live segments by id; weak references at the paranoid level so drops can be seen. */
  live: Map<number, MemorySegment | WeakRef<MemorySegment>>;
}

/**
 * Owns a hard budget of fixed-size pages and hands them out to named owners.
 *
 * Pages are created lazily up to the budget and recycled: releasing a segment moves its
 * backing store with `ArrayBuffer.transfer()` into the free list, so stale views go dead.
 * Recycled pages are not zeroed.
 *
 * @example Usage
 * ```ts
 * import { strictEqual, throws } from "node:assert/strict";
 * import { MemoryManager } from "./memory_manager.ts";
 * const memory = new MemoryManager({ budgetBytes: 8 * 4096, segmentBytes: 4096 });
 * const lease = memory.allocate("sort-buffer", 6);
 * strictEqual(memory.freePages, 2);
 * throws(() => memory.allocate("merge-input", 3), /3 segments for "merge-input": 2 of 8 free/);
 * lease.release();
 * memory.assertAllReleased();
 * ```
 */
export class MemoryManager implements LeaseReleaser {
  /** Page size in bytes. */
  readonly segmentBytes: number;
  /** The budget in bytes, as given. */
  readonly budgetBytes: number;
  /** The budget in pages. */
  readonly totalPages: number;
  /** The leak tracker in force. */
  readonly leakTracker: LeakTracker;
  #free: ArrayBuffer[] = [];
  #owners = new Map<string, OwnerState>();
  #usedPages = 0;
  #reservedBytes = 0;
  #peakPages = 0;
  #nextSegmentId = 1;
  #allocationCount = 0;
  #weak: boolean;

  /**

   * Creates the instance.

   *
   * @param options Budget, page size and leak detection level.
   * @throws {RangeError} If the segment size is not a power of two in [4 KiB, 16 MiB].
   * @throws {ResourceError} If the budget is smaller than one segment.
   */
  constructor(options: MemoryManagerOptions) {
    const segmentBytes = options.segmentBytes ?? SEGMENT_BYTES_DEFAULT;
    if (
      !isPowerOfTwo(segmentBytes) || segmentBytes < SEGMENT_BYTES_MIN ||
      segmentBytes > SEGMENT_BYTES_MAX
    ) {
      throw new RangeError(
        `Invalid segment size ${segmentBytes} bytes: must be a power of two from 4 KiB to 16 MiB`,
      );
    }
    if (!Number.isSafeInteger(options.budgetBytes) || options.budgetBytes < segmentBytes) {
      throw new ResourceError(
        `Memory budget of ${formatBytes(options.budgetBytes)} is smaller than one segment of ${
          formatBytes(segmentBytes)
        }; raise --memory (-S) or lower --segment-size`,
      );
    }
    this.segmentBytes = segmentBytes;
    this.budgetBytes = options.budgetBytes;
    this.totalPages = Math.floor(options.budgetBytes / segmentBytes);
    this.leakTracker = new LeakTracker(
      options.leakDetection ?? "simple",
      (dropped) => this.#onDropped(dropped),
    );
    this.#weak = this.leakTracker.holdsWeakly;
  }

  /** Pages leased right now. */
  get usedPages(): number {
    return this.#usedPages;
  }

  /** Pages taken by byte reservations (rounded up). */
  get reservedPages(): number {
    return Math.ceil(this.#reservedBytes / this.segmentBytes);
  }

  /** Bytes reserved right now. */
  get reservedBytes(): number {
    return this.#reservedBytes;
  }

  /** Pages that can still be allocated. */
  get freePages(): number {
    return this.totalPages - this.#usedPages - this.reservedPages;
  }

  /** The most pages (leased plus reserved) ever in use at once. */
  get peakPages(): number {
    return this.#peakPages;
  }

  /** How many segments were collected without release so far (paranoid level). */
  leakDetectionDropped(): number {
    return this.leakTracker.dropped.length;
  }

  /** How many segments were allocated over the manager's life. */
  get allocationCount(): number {
    return this.#allocationCount;
  }

  /**
   * Allocates `segmentCount` pages to `owner`, all or nothing.
   *
   * @param owner Who asks (named in errors and leak reports).
   * @param segmentCount How many pages (at least 1).
   * @returns A lease; `using` it releases the pages at scope end.
   * @throws {MemoryBudgetError} If fewer pages are free.
   */
  allocate(owner: string, segmentCount: number): SegmentLease {
    const lease = this.tryAllocate(owner, segmentCount);
    if (lease === undefined) {
      throw new MemoryBudgetError(owner, segmentCount, this.freePages, this.totalPages);
    }
    return lease;
  }

  /**
   * Like {@linkcode MemoryManager.allocate} but returns `undefined` when memory is short.
   *
   * @param owner Who asks.
   * @param segmentCount How many pages (at least 1).
   * @returns The lease, or `undefined` if fewer pages are free.
   */
  tryAllocate(owner: string, segmentCount: number): SegmentLease | undefined {
    assert(
      Number.isSafeInteger(segmentCount) && segmentCount >= 1,
      `segmentCount must be a positive integer, got ${segmentCount}`,
    );
    if (segmentCount > this.freePages) return undefined;
    const state = this.#ownerState(owner);
    const segments: MemorySegment[] = [];
    for (let i = 0; i < segmentCount; i += 1) {
      const buffer = this.#free.pop() ?? new ArrayBuffer(this.segmentBytes);
      const segment = new MemorySegment(buffer, this.#nextSegmentId, owner);
      this.#nextSegmentId += 1;
      state.live.set(segment.id, this.#weak ? new WeakRef(segment) : segment);
      this.leakTracker.onAllocate(segment);
      segments.push(segment);
    }
    state.pages += segmentCount;
    this.#usedPages += segmentCount;
    this.#allocationCount += segmentCount;
    this.#notePeak();
    return new SegmentLease(owner, segments, this);
  }

  /**
   * Releases one segment, several, or a whole lease.
   *
   * @param target What to release.
   * @throws {SegmentReleasedError} If a segment was released already.
   */
  release(target: MemorySegment | readonly MemorySegment[] | SegmentLease): void {
    if (target instanceof SegmentLease) {
      target.release();
    } else if (target instanceof MemorySegment) {
      this.#releaseSegment(target);
    } else {
      for (const segment of target) this.#releaseSegment(segment);
    }
  }

  /** Releases the segments of a lease that are still held (called by the lease). */
  releaseLease(lease: SegmentLease): void {
    for (const segment of lease.segments) {
      if (!segment.isReleased) this.#releaseSegment(segment);
    }
  }

  /**
   * Releases everything `owner` still holds: pages and reserved bytes.
   *
   * @param owner The owner to clear.
   * @returns How many pages were still held (so callers can report them).
   */
  releaseAll(owner: string): number {
    const state = this.#owners.get(owner);
    if (state === undefined) return 0;
    const held = state.pages;
    for (const entry of [...state.live.values()]) {
      const segment = entry instanceof WeakRef ? entry.deref() : entry;
      if (segment !== undefined && !segment.isReleased) this.#releaseSegment(segment);
    }
    this.#reservedBytes -= state.reservedBytes;
    state.reservedBytes = 0;
    this.#owners.delete(owner);
    return held;
  }

  /**
   * Reserves bytes of the budget for a consumer that does not use pages.
   *
   * @param owner Who reserves.
   * @param bytes How many bytes (counted in whole pages against the budget).
   * @returns A reservation; `using` it gives the bytes back at scope end.
   * @throws {MemoryBudgetError} If the bytes do not fit.
   */
  reserve(owner: string, bytes: number): MemoryReservation {
    assert(Number.isSafeInteger(bytes) && bytes >= 0, `bytes must be >= 0, got ${bytes}`);
    const pagesAfter = this.#usedPages +
      Math.ceil((this.#reservedBytes + bytes) / this.segmentBytes);
    if (pagesAfter > this.totalPages) {
      throw new MemoryBudgetError(
        owner,
        Math.ceil(bytes / this.segmentBytes),
        this.freePages,
        this.totalPages,
      );
    }
    const state = this.#ownerState(owner);
    state.reservedBytes += bytes;
    this.#reservedBytes += bytes;
    this.#notePeak();
    let released = false;
    const unreserve = () => this.unreserve(owner, bytes);
    return {
      owner,
      bytes,
      release(): void {
        if (released) throw new Error(`Cannot release the reservation of "${owner}" twice`);
        released = true;
        unreserve();
      },
      [Symbol.dispose](): void {
        if (!released) this.release();
      },
    };
  }

  /**
   * Gives back reserved bytes.
   *
   * @throws {Error} If `owner` did not reserve that many bytes.
   */
  unreserve(owner: string, bytes: number): void {
    const state = this.#owners.get(owner);
    if (state === undefined || state.reservedBytes < bytes) {
      throw new Error(
        `Cannot unreserve ${bytes} bytes for "${owner}": it holds ${state?.reservedBytes ?? 0}`,
      );
    }
    state.reservedBytes -= bytes;
    this.#reservedBytes -= bytes;
    this.#dropIfEmpty(owner, state);
  }

  /** Pages held per owner right now. */
  holdings(): Map<string, number> {
    const result = new Map<string, number>();
    for (const [owner, state] of this.#owners) {
      if (state.pages > 0) result.set(owner, state.pages);
    }
    return result;
  }

  /** What is still held, by whom, and what was dropped, as data and as one readable block. */
  leakReport(): LeakReport {
    const owners: OwnerHolding[] = [];
    for (const [owner, state] of this.#owners) {
      if (state.pages === 0 && state.reservedBytes === 0) continue;
      const sites: string[] = [];
      for (const [id, entry] of state.live) {
        const site = this.leakTracker.siteOf(id);
        if (site !== undefined && (entry instanceof WeakRef ? entry.deref() : entry)) {
          sites.push(`#${id} ${site}`);
        }
      }
      owners.push({
        owner,
        pages: state.pages,
        bytes: state.pages * this.segmentBytes + state.reservedBytes,
        reservedBytes: state.reservedBytes,
        sites,
      });
    }
    owners.sort((a, b) => b.bytes - a.bytes || (a.owner < b.owner ? -1 : 1));
    const dropped = [...this.leakTracker.dropped];
    const leakedPages = this.#usedPages;
    const leakedBytes = leakedPages * this.segmentBytes + this.#reservedBytes;
    let text = "";
    if (owners.length > 0 || dropped.length > 0) {
      const summary = owners.map((h) => `${h.owner}=${h.pages}`).join(", ");
      const lines = [
        `Memory leak: ${leakedPages} segments (${formatBytes(leakedBytes)}) still leased` +
        (summary ? `: ${summary}` : "") +
        (dropped.length > 0 ? `; ${dropped.length} dropped without release` : ""),
      ];
      for (const holding of owners) {
        const reserved = holding.reservedBytes > 0
          ? ` (+${formatBytes(holding.reservedBytes)} reserved)`
          : "";
        lines.push(
          `  ${holding.owner}: ${holding.pages} pages, ${formatBytes(holding.bytes)}${reserved}`,
        );
        for (const site of holding.sites.slice(0, 8)) lines.push(`    at ${site}`);
        if (holding.sites.length > 8) lines.push(`    ... ${holding.sites.length - 8} more sites`);
      }
      for (const drop of dropped.slice(0, 8)) {
        lines.push(
          `  dropped without release: segment #${drop.segmentId} of "${drop.owner}"` +
            (drop.site ? ` at ${drop.site}` : ""),
        );
      }
      text = lines.join("\n");
    }
    return { leakedPages, leakedBytes, owners, dropped, text };
  }

  /**
   * Throws if any page is still leased, any byte still reserved, or any segment was dropped.
   *
   * @throws {MemoryLeakError} Listing owners and pages, largest first, with sites when recorded.
   */
  assertAllReleased(): void {
    const report = this.leakReport();
    if (report.text !== "") throw new MemoryLeakError(report.text);
  }

  #ownerState(owner: string): OwnerState {
    let state = this.#owners.get(owner);
    if (state === undefined) {
      state = { pages: 0, reservedBytes: 0, live: new Map() };
      this.#owners.set(owner, state);
    }
    return state;
  }

  #releaseSegment(segment: MemorySegment): void {
    const buffer = takeBacking(segment); // throws SegmentReleasedError on a second release
    const state = this.#owners.get(segment.owner);
    assert(state !== undefined && state.live.delete(segment.id), `segment #${segment.id} unknown`);
    this.leakTracker.onRelease(segment);
    state.pages -= 1;
    this.#usedPages -= 1;
    this.#free.push(buffer);
    this.#dropIfEmpty(segment.owner, state);
  }

  #dropIfEmpty(owner: string, state: OwnerState): void {
    if (state.pages === 0 && state.reservedBytes === 0) this.#owners.delete(owner);
  }

  #notePeak(): void {
    const pages = this.#usedPages + this.reservedPages;
    if (pages > this.#peakPages) this.#peakPages = pages;
  }

  #onDropped(dropped: DroppedSegment): void {
    // The page went with the collected segment; forget it so the budget stays usable.
    const state = this.#owners.get(dropped.owner);
    if (state?.live.delete(dropped.segmentId)) {
      state.pages -= 1;
      this.#usedPages -= 1;
      this.#dropIfEmpty(dropped.owner, state);
    }
  }
}
