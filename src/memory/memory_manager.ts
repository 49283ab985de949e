import { assert, formatBytes, isPowerOfTwo, KiB, MiB, ResourceError } from "../base/mod.ts";
import {
  MemoryBudgetError,
  MemoryLeakError,
  SegmentPoisonError,
  SegmentReleasedError,
} from "./errors.ts";
import { type DroppedSegment, type LeakDetectionLevel, LeakTracker } from "./leak_tracker.ts";
import { MemorySegment, segmentInternals } from "./memory_segment.ts";
import { firstDirtyByte, POISON_BYTE, type PoisonOps, poisonOps } from "./_poison_scan.ts";
import {
  checkPoisonWithHelp,
  endPoisonHelp,
  newPoisonHelpControl,
  POISON_CHUNK_BYTES,
  POISON_CHUNKS_MAX,
  POISON_HELP_BYTES_MIN,
  type PoisonCheckHelp,
  type PoisonHelper,
} from "./poison_help.ts";
import { type LeaseReleaser, SegmentLease } from "./segment_lease.ts";

/** Smallest segment size. */
export const SEGMENT_BYTES_MIN = 4 * KiB;
/** Largest segment size. */
export const SEGMENT_BYTES_MAX = 16 * MiB;
/** Default segment size (Flink's default is 32 KiB too). */
export const SEGMENT_BYTES_DEFAULT = 32 * KiB;
/** Bytes of one WebAssembly memory page (the unit the shared memory grows by). */
export const WASM_PAGE_BYTES = 64 * KiB;
/**
 * The start of the shared memory that is never handed out as pages, so that offset 0 (and
 * small offsets) are never a valid address: a zero offset reaching a kernel is a bug. Room for
 * a module's static data too, should one ever have any. Address space only, not memory.
 */
export const STATIC_AREA_BYTES: number = WASM_PAGE_BYTES;
/**
 * The most bytes of pages one manager can hold: what one 32-bit `WebAssembly.Memory` (4 GiB)
 * addresses, less the static area. Larger budgets are capped to it
 * ({@linkcode MemoryManager.budgetCapped}).
 */
export const POOL_BYTES_MAX = 4 * 1024 * MiB - STATIC_AREA_BYTES;
export { POISON_BYTE };

/**
 * What a page holds, as a borrower's manager reports it ({@linkcode MemoryManager.pageContents})
 * and {@linkcode MemoryManager.takeBack} takes it: one byte a page.
 */
export const PageContent = {
  /** Never written since it was lent: as the lender handed it out. */
  untouched: 0,
  /** Free and filled with the poison, checked since its release. */
  poisoned: 1,
  /** Anything else (written, or held). */
  written: 2,
} as const;

/** Options of {@linkcode MemoryManager}. */
export interface MemoryManagerOptions {
  /** The hard budget in bytes; the manager owns `floor(budgetBytes / segmentBytes)` pages. */
  budgetBytes: number;
  /** Page size: a power of two from 4 KiB to 16 MiB (default 32 KiB). */
  segmentBytes?: number;
  /** Leak detection level (default `simple`); every level but `disabled` poisons pages. */
  leakDetection?: LeakDetectionLevel;
  /**
   * Bytes of a fixed scratch area for WebAssembly kernels, taken from the budget at
   * construction (rounded up to whole pages; default 0). See
   * {@linkcode MemoryManager.kernelScratch}.
   */
  kernelScratchBytes?: number;
  /**
   * Manage a range of an existing shared memory instead of creating one: what a Worker does
   * with the range the main thread's manager lent it. The range is never grown.
   */
  region?: MemoryRegion;
}

/** Where {@linkcode MemoryManager.allocateContiguous} puts a range. */
export interface ContiguousOptions {
  /**
   * `low` (the default): the lowest free range that fits, which reuses pages touched before.
   * `high`: the highest, for a large range of which only a part may ever be written (a bucket
   * arena sized for the worst case): its unwritten pages stay out of the RSS, and the pages
   * touched before stay free for the allocations that write all they take.
   */
  placement?: "low" | "high";
}

/** A byte range of a shared `WebAssembly.Memory`. */
export interface MemoryRegion {
  /** The memory (shared: `buffer` is a `SharedArrayBuffer`). */
  memory: WebAssembly.Memory;
  /** Where the range starts. */
  byteOffset: number;
  /** How long it is. */
  byteLength: number;
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

/** A write through a stale view, found when a released page's poison was checked. */
export interface PoisonViolation {
  /** The released segment that was written to. */
  segmentId: number;
  /** The owner that released it. */
  owner: string;
  /** Where it was released (advanced/paranoid levels). */
  releaseSite: string | undefined;
  /**
   * The borrower (a Worker) its owner last lent segments to before the release, if it ever
   * lent any: the likeliest writer, a Worker still at work on pages it was not lent.
   */
  lastBorrower: string | undefined;
  /** Page, byte offset and value found. */
  detail: string;
}

/** The state of the manager's books: what is still held, by whom, and what was dropped. */
export interface LeakReport {
  /** Pages still leased. */
  leakedSegments: number;
  /** Bytes still leased or reserved. */
  leakedBytes: number;
  /** Holders, largest first. */
  owners: OwnerHolding[];
  /** Segments garbage-collected without release (paranoid level). */
  dropped: DroppedSegment[];
  /** Writes after release found in poisoned pages (every level but `disabled`). */
  poisonViolations: PoisonViolation[];
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

interface ReleaseRecord {
  segmentId: number;
  owner: string;
  site: string | undefined;
  /** The borrower the owner last lent segments to, when it was released. */
  lastBorrower: string | undefined;
}

/** Page states. */
const FRESH = 0; // never handed out: zero, not verified
const POISONED = 1; // free, filled with POISON_BYTE: verified when handed out
const DIRTY = 2; // free, content unknown (leak detection disabled)
const USED = 3; // handed out (or the kernel scratch)

/**
 * Owns a hard budget of fixed-size pages in one shared `WebAssembly.Memory` and hands them
 * out to named owners.
 *
 * ```
 * shared memory:  [ static area 64 KiB | kernel scratch | page 0 | page 1 | ... ]   <= 4 GiB
 *                   (never handed out)
 *                                                        ^ grown lazily, as pages are first used
 * ```
 * Pages are handed out lazily (a huge budget on a tiny input costs what is used), recycled
 * (last released first) and not zeroed. Releasing bumps the page's generation, so the
 * stale handle throws; in every leak-detection level but `disabled`, a released page that was
 * written is filled with {@linkcode POISON_BYTE} and verified when handed out again (and by
 * {@linkcode MemoryManager.assertAllReleased}), so a write through a stale raw view is
 * reported with the segment and the owner that released it. Segments lent to a Worker
 * ({@linkcode MemoryManager.lend}) are booked under the Worker's name until they come back.
 *
 * @example Usage
 * ```ts
 * import { strictEqual, throws } from "node:assert/strict";
 * import { MemoryManager } from "./memory_manager.ts";
 * const memory = new MemoryManager({ budgetBytes: 8 * 4096, segmentBytes: 4096 });
 * const lease = memory.allocate("sort-buffer", 6);
 * strictEqual(memory.freeSegments, 2);
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
  /** The budget in pages (after the cap, with the kernel scratch). */
  readonly totalSegments: number;
  /** Whether the budget was larger than one memory can hold and was capped to it. */
  readonly budgetCapped: boolean;
  /** The leak tracker in force. */
  readonly leakTracker: LeakTracker;
  /** The shared memory every segment lives in (give it to Workers and kernels once). */
  readonly wasmMemory: WebAssembly.Memory;
  /** Where the kernel scratch area is in the shared memory (`byteLength` 0 when none). */
  readonly kernelScratch: { readonly byteOffset: number; readonly byteLength: number };
  readonly #base: number;
  readonly #growable: boolean;
  readonly #pool: { generations: Uint32Array; buffer: SharedArrayBuffer };
  readonly #pageState: Uint8Array;
  readonly #releasedBy: (ReleaseRecord | undefined)[] = [];
  /** The borrower each owner last lent segments to (a few owner names: never cleared). */
  readonly #lastBorrowers = new Map<string, string>();
  readonly #scratchPages: number;
  /** Recycled free pages, last released on top; may hold stale entries (skipped). */
  #freeStack: number[] = [];
  /**
   * Pages below this index were all handed out at least once; the pages from it on were not,
   * but for ranges placed high ({@linkcode ContiguousOptions}).
   */
  #highWater = 0;
  /** One past the highest page ever handed out (a range placed high included). */
  #extentPages = 0;
  #owners = new Map<string, OwnerState>();
  #usedPages = 0;
  #reservedBytes = 0;
  #peakSegments = 0;
  #nextSegmentId = 1;
  #allocationCount = 0;
  #weak: boolean;
  #poisons: boolean;
  #violations: PoisonViolation[] = [];
  /** Poisoning and its check in WebAssembly (null: not available here); made on first use. */
  #ops: PoisonOps | null | undefined = undefined;
  /** Another thread that helps check many free pages' poison (poison_help.ts), if lent one. */
  #helper: { helper: PoisonHelper; help: PoisonCheckHelp } | undefined = undefined;
  /** The chunks of a shared check (two words each: first page, page count). */
  readonly #chunkWords = new Int32Array(2 * POISON_CHUNKS_MAX);

  /**
   * Creates the instance (and its shared memory, unless given a region).
   *
   * @param options Budget, page size, leak detection level, scratch and region.
   * @throws {RangeError} If the segment size is not a power of two in [4 KiB, 16 MiB].
   * @throws {ResourceError} If the budget is smaller than one segment (plus the scratch), or
   *   the memory's address space cannot be reserved.
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
    const scratchBytes = options.kernelScratchBytes ?? 0;
    assert(Number.isSafeInteger(scratchBytes) && scratchBytes >= 0, "bad kernel scratch size");
    const scratchPages = Math.ceil(scratchBytes / segmentBytes);
    const region = options.region;
    const poolBytesMax = region === undefined ? POOL_BYTES_MAX : region.byteLength;
    const capped = options.budgetBytes > poolBytesMax;
    const totalSegments = Math.floor(Math.min(options.budgetBytes, poolBytesMax) / segmentBytes);
    if (totalSegments < scratchPages + 1) {
      throw new ResourceError(
        `Memory budget of ${formatBytes(options.budgetBytes)} leaves no segment of ${
          formatBytes(segmentBytes)
        } beside the kernel scratch of ${formatBytes(scratchBytes)}; raise --memory (-S)`,
      );
    }
    this.segmentBytes = segmentBytes;
    this.budgetBytes = options.budgetBytes;
    this.totalSegments = totalSegments;
    this.budgetCapped = capped;
    this.leakTracker = new LeakTracker(
      options.leakDetection ?? "simple",
      (dropped) => this.#onDropped(dropped),
    );
    this.#weak = this.leakTracker.holdsWeakly;
    this.#poisons = this.leakTracker.poisons;
    if (region === undefined) {
      this.#base = STATIC_AREA_BYTES;
      this.#growable = true;
      const maximum = Math.ceil((this.#base + totalSegments * segmentBytes) / WASM_PAGE_BYTES);
      try {
        this.wasmMemory = new WebAssembly.Memory({ initial: 1, maximum, shared: true });
      } catch (error) {
        throw new ResourceError(
          `Cannot reserve ${
            formatBytes(maximum * WASM_PAGE_BYTES)
          } of address space for the memory budget (${
            error instanceof Error ? error.message : String(error)
          }); lower --memory (-S)`,
        );
      }
    } else {
      assert(
        region.byteOffset % 8 === 0 &&
          region.byteOffset + region.byteLength <= region.memory.buffer.byteLength,
        "a memory region must be 8-byte aligned and inside its memory",
      );
      this.#base = region.byteOffset;
      this.#growable = false;
      this.wasmMemory = region.memory;
    }
    const buffer = this.wasmMemory.buffer;
    assert(buffer instanceof SharedArrayBuffer, "the memory pool must be a shared memory");
    this.#pool = { generations: new Uint32Array(totalSegments), buffer };
    this.#pageState = new Uint8Array(totalSegments);
    this.#scratchPages = scratchPages;
    this.kernelScratch = { byteOffset: this.#base, byteLength: scratchPages * segmentBytes };
    if (scratchPages > 0) {
      this.#pageState.fill(USED, 0, scratchPages);
      this.#highWater = scratchPages;
      this.#extentPages = scratchPages;
      this.#ensureCommitted(scratchPages);
    }
  }

  /** Pages leased right now (lent ones included). */
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
  get freeSegments(): number {
    return this.totalSegments - this.#scratchPages - this.#usedPages - this.reservedPages;
  }

  /** The most pages (leased plus reserved) ever in use at once. */
  get peakSegments(): number {
    return this.#peakSegments;
  }

  /** Bytes of the shared memory in use so far (it grows as pages are first handed out). */
  get committedBytes(): number {
    return this.#growable
      ? this.wasmMemory.buffer.byteLength
      : this.totalSegments * this.segmentBytes;
  }

  /**
   * Pages ever handed out from the low end (the high-water mark of the pool, which bounds its
   * RSS); a range placed high ({@linkcode ContiguousOptions}) is not counted: its pages are
   * resident only as far as its owner writes them.
   */
  get highWaterPages(): number {
    return this.#highWater;
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
   * @throws {SegmentPoisonError} If a recycled page was written after its release.
   */
  allocate(owner: string, segmentCount: number): SegmentLease {
    const lease = this.tryAllocate(owner, segmentCount);
    if (lease === undefined) {
      throw new MemoryBudgetError(owner, segmentCount, this.freeSegments, this.totalSegments);
    }
    return lease;
  }

  /**
   * Like {@linkcode MemoryManager.allocate} but returns `undefined` when memory is short.
   *
   * @param owner Who asks.
   * @param segmentCount How many pages (at least 1).
   * @returns The lease, or `undefined` if fewer pages are free.
   * @throws {SegmentPoisonError} If a recycled page was written after its release.
   */
  tryAllocate(owner: string, segmentCount: number): SegmentLease | undefined {
    assert(
      Number.isSafeInteger(segmentCount) && segmentCount >= 1,
      `segmentCount must be a positive integer, got ${segmentCount}`,
    );
    if (segmentCount > this.freeSegments) return undefined;
    const pages: number[] = [];
    const violationsBefore = this.#violations.length;
    for (let i = 0; i < segmentCount; i += 1) pages.push(this.#takeFreePage());
    if (this.#violations.length > violationsBefore) {
      for (const page of pages) this.#giveBackUnused(page);
      const violation = this.#violations[violationsBefore]!;
      throw poisonError(violation);
    }
    this.#noteExtent(this.#highWater);
    const segments: MemorySegment[] = [];
    for (const page of pages) segments.push(this.#handOut(owner, page, 1));
    return this.#lease(owner, segments, segmentCount);
  }

  /**
   * Allocates one segment of `segmentCount` contiguous pages (an index, a hash-table arena,
   * a kernel's working area), from the same budget.
   *
   * @param owner Who asks.
   * @param segmentCount How many pages (at least 1).
   * @param options Where the range goes (default: the lowest that fits).
   * @returns A lease of one segment of `segmentCount * segmentBytes` bytes.
   * @throws {MemoryBudgetError} If fewer pages are free, or no contiguous range is.
   */
  allocateContiguous(
    owner: string,
    segmentCount: number,
    options?: ContiguousOptions,
  ): SegmentLease {
    const lease = this.tryAllocateContiguous(owner, segmentCount, options);
    if (lease !== undefined) return lease;
    if (segmentCount > this.freeSegments) {
      throw new MemoryBudgetError(owner, segmentCount, this.freeSegments, this.totalSegments);
    }
    throw new MemoryBudgetError(
      owner,
      segmentCount,
      this.freeSegments,
      this.totalSegments,
      "no contiguous range is free (fragmented); raise --memory (-S)",
    );
  }

  /**
   * Like {@linkcode MemoryManager.allocateContiguous}, for callers with another way to go:
   * undefined instead of an error when the pages are not free or not contiguous.
   *
   * @param owner Who asks.
   * @param segmentCount How many pages (at least 1).
   * @param options Where the range goes (default: the lowest that fits).
   * @returns A lease of one segment, or undefined.
   */
  tryAllocateContiguous(
    owner: string,
    segmentCount: number,
    options?: ContiguousOptions,
  ): SegmentLease | undefined {
    assert(
      Number.isSafeInteger(segmentCount) && segmentCount >= 1,
      `segmentCount must be a positive integer, got ${segmentCount}`,
    );
    if (segmentCount > this.freeSegments) return undefined;
    const high = options?.placement === "high";
    const start = high ? this.#findRunHigh(segmentCount) : this.#findRun(segmentCount);
    if (start < 0) return undefined;
    const end = start + segmentCount;
    // A range placed high leaves the pages below it to the low end (#takeFreePage).
    if (!high && end > this.#highWater) this.#highWater = end;
    this.#noteExtent(end);
    this.#verifyPoison(start, segmentCount);
    this.#pageState.fill(USED, start, end);
    const segment = this.#handOut(owner, start, segmentCount);
    return this.#lease(owner, [segment], segmentCount);
  }

  /**
   * Lends segments to a Worker: they are booked under `borrower` (the Worker's owner name)
   * and every accessor of the handles throws until {@linkcode MemoryManager.takeBack}.
   * Nothing is copied or moved: the Worker works on the same shared memory, by offset.
   *
   * @param borrower The Worker's owner name.
   * @param segments Live segments of this manager, not lent already.
   * @returns The segments' offsets in the shared memory, for the Worker.
   * @throws {SegmentReleasedError} If a segment was released or is lent already.
   */
  lend(borrower: string, segments: readonly MemorySegment[]): number[] {
    const to = this.#ownerState(borrower);
    const offsets: number[] = [];
    for (const segment of segments) {
      if (segmentInternals.borrower(segment) !== undefined) {
        throw new SegmentReleasedError(
          segment.id,
          segment.owner,
          "lend",
          segmentInternals.borrower(segment),
        );
      }
      offsets.push(segmentInternals.lend(segment, borrower)); // throws if released
      this.#moveBooking(segment, segment.owner, to);
      this.#lastBorrowers.set(segment.owner, borrower);
    }
    return offsets;
  }

  /**
   * Notes that `borrower` (a Worker) works on pages of `owner` by offset without a lend, while
   * the owner's thread works on them too (a split sort's help): nothing is booked, but a write
   * after release found in the owner's pages names `borrower` as the last one lent them.
   *
   * @param owner The owner of the pages.
   * @param borrower The Worker's owner name.
   */
  noteBorrower(owner: string, borrower: string): void {
    this.#lastBorrowers.set(owner, borrower);
  }

  /**
   * Takes back segments lent with {@linkcode MemoryManager.lend}, checking they were lent to
   * `borrower` and are still the same leases.
   *
   * @param borrower The Worker's owner name.
   * @param segments The segments as lent.
   * @param writtenBytes What the borrower wrote into each segment (a prefix length in bytes, in
   *   the order of `segments`; a Worker's own manager over a lent region reports its
   *   high-water mark); by default all of it. The rest is released as never written (not
   *   poisoned, so it stays untouched).
   * @param options `pageContents`: what the borrower left in each page of each segment (its
   *   own manager's {@linkcode MemoryManager.pageContents}, after its leak report checked the
   *   poison), in the order of `segments`: pages it left poisoned are not filled again on
   *   release, untouched ones are not touched, and the written prefix follows from it.
   * @throws {Error} If a segment is not lent to `borrower`.
   */
  takeBack(
    borrower: string,
    segments: readonly MemorySegment[],
    writtenBytes?: readonly number[],
    options: { pageContents?: readonly (Uint8Array | undefined)[] } = {},
  ): void {
    for (let i = 0; i < segments.length; i += 1) {
      const segment = segments[i]!;
      const holder = segmentInternals.borrower(segment);
      if (holder !== borrower || segment.isReleased) {
        throw new Error(
          `Cannot take segment #${segment.id} of "${segment.owner}" back from "${borrower}": ${
            holder === undefined ? "it is not lent out" : `it is lent to "${holder}"`
          }`,
        );
      }
      segmentInternals.takeBack(segment);
      const contents = options.pageContents?.[i];
      let written = writtenBytes === undefined ? segment.byteLength : writtenBytes[i] ?? 0;
      if (contents !== undefined) {
        const pageCount = this.#pageCount(segment);
        let end = Math.min(contents.length, pageCount);
        while (end > 0 && contents[end - 1] === PageContent.untouched) end -= 1;
        written = end * this.segmentBytes;
        if (segmentInternals.writtenBytes(segment) === 0) {
          segmentInternals.setPageContents(segment, contents.slice(0, pageCount));
        }
      }
      segmentInternals.addWrittenBytes(segment, Math.min(written, segment.byteLength));
      this.#moveBooking(segment, borrower, this.#ownerState(segment.owner));
    }
  }

  /**
   * Releases one segment, several, or a whole lease.
   *
   * @param target What to release.
   * @throws {SegmentReleasedError} If a segment was released already or is lent out.
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
   * Releases everything `owner` still holds: pages (taken back first if lent out; lent to
   * `owner`: released for their owner) and reserved bytes.
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
      if (segment === undefined || segment.isReleased) continue;
      const borrower = segmentInternals.borrower(segment);
      if (borrower !== undefined) this.takeBack(borrower, [segment]);
      this.#releaseSegment(segment);
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
    const pagesAfter = this.#scratchPages + this.#usedPages +
      Math.ceil((this.#reservedBytes + bytes) / this.segmentBytes);
    if (pagesAfter > this.totalSegments) {
      throw new MemoryBudgetError(
        owner,
        Math.ceil(bytes / this.segmentBytes),
        this.freeSegments,
        this.totalSegments,
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

  /** Pages held per owner right now (lent pages under their borrower). */
  holdings(): Map<string, number> {
    const result = new Map<string, number>();
    for (const [owner, state] of this.#owners) {
      if (state.pages > 0) result.set(owner, state.pages);
    }
    return result;
  }

  /**
   * What each page of this manager holds ({@linkcode PageContent}): for a Worker's manager over
   * a lent region to report when the region goes back ({@linkcode MemoryManager.takeBack}), so
   * the lender neither poisons again what this manager poisoned nor touches what it never
   * wrote. Call it after {@linkcode MemoryManager.leakReport} (which checks the poison).
   *
   * @returns One byte a page, up to the highest page ever handed out.
   */
  pageContents(): Uint8Array {
    const contents = new Uint8Array(this.#extentPages);
    const states = this.#pageState;
    for (let page = 0; page < contents.length; page += 1) {
      const state = states[page];
      contents[page] = state === POISONED
        ? PageContent.poisoned
        : state === FRESH && this.#releasedBy[page] === undefined
        ? PageContent.untouched
        : PageContent.written;
    }
    return contents;
  }

  /**
   * Checks the poison of every free page released since its last check (every level but
   * `disabled`), recording writes after release for the leak report.
   *
   * @returns The writes after release found so far.
   */
  verifyPoison(): readonly PoisonViolation[] {
    if (!this.#poisons) return this.#violations;
    const states = this.#pageState;
    const count = this.#helper === undefined ? 0 : this.#poisonedChunks();
    if (count > 0) {
      // Both threads scan; only a chunk found dirty is checked page by page, as below.
      const chunks = this.#chunkWords;
      const dirty = checkPoisonWithHelp(chunks, count, {
        ...this.#helper!,
        isClean: (page, pageCount) =>
          firstDirtyByte(
            this.#poisonOps(),
            this.#pool.buffer,
            this.#base + page * this.segmentBytes,
            pageCount * this.segmentBytes,
          ) < 0,
      });
      for (let chunk = 0; chunk < count; chunk += 1) {
        if (!dirty[chunk]) continue;
        const first = chunks[2 * chunk]!;
        for (let page = first; page < first + chunks[2 * chunk + 1]!; page += 1) {
          if (states[page] === POISONED) this.#checkPoison(page, 1, false);
        }
      }
      return this.#violations;
    }
    for (let page = 0; page < this.#extentPages; page += 1) {
      if (states[page] === POISONED) this.#checkPoison(page, 1, false);
    }
    return this.#violations;
  }

  /**
   * Lends the manager another thread (an idle Worker over the same shared memory) for its
   * checks of many free pages' poison ({@linkcode MemoryManager.verifyPoison}, the leak
   * report's), until {@linkcode MemoryManager.detachPoisonHelper}. The reports are the same with
   * or without it.
   *
   * @param helper The other thread's side of poison_help.ts: asked at once, it then waits for
   *   the checks; the manager ends its wait and disposes it when detached.
   */
  attachPoisonHelper(helper: PoisonHelper): void {
    this.detachPoisonHelper();
    const help = {
      memory: this.wasmMemory,
      control: newPoisonHelpControl(),
      baseOffset: this.#base,
      segmentBytes: this.segmentBytes,
    };
    this.#helper = { helper, help };
    helper.post(help); // it then waits for a check, woken by the control block
  }

  /** Ends the lent helper, if any (its wait, then disposes it). Idempotent. */
  detachPoisonHelper(): void {
    const lent = this.#helper;
    this.#helper = undefined;
    if (lent === undefined) return;
    endPoisonHelp(lent.help.control);
    lent.helper[Symbol.dispose]();
  }

  /**
   * Cuts the poisoned pages into chunks of consecutive pages in {@linkcode #chunkWords} (first
   * page, page count): POISON_CHUNK_BYTES each, more where the pages could make more than
   * POISON_CHUNKS_MAX. One pass (it runs once, cold, at a command's end).
   *
   * @returns How many chunks; 0 when the pages are too few to share, or too scattered.
   */
  #poisonedChunks(): number {
    const states = this.#pageState;
    const extent = this.#extentPages;
    const chunkPages = Math.max(
      Math.ceil(POISON_CHUNK_BYTES / this.segmentBytes),
      Math.ceil(extent / POISON_CHUNKS_MAX),
    );
    const words = this.#chunkWords;
    let count = 0;
    let poisonedPages = 0;
    let end = -1; // one past the last chunk's last page
    for (let page = 0; page < extent; page += 1) {
      if (states[page] !== POISONED) continue;
      poisonedPages += 1;
      if (page === end && words[2 * count - 1]! < chunkPages) {
        words[2 * count - 1] = words[2 * count - 1]! + 1;
      } else if (count === POISON_CHUNKS_MAX) {
        return 0;
      } else {
        words[2 * count] = page;
        words[2 * count + 1] = 1;
        count += 1;
      }
      end = page + 1;
    }
    return poisonedPages * this.segmentBytes < POISON_HELP_BYTES_MIN ? 0 : count;
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
    const poisonViolations = [...this.verifyPoison()];
    const leakedSegments = this.#usedPages;
    const leakedBytes = leakedSegments * this.segmentBytes + this.#reservedBytes;
    let text = "";
    if (owners.length > 0 || dropped.length > 0) {
      const summary = owners.map((h) => `${h.owner}=${h.pages}`).join(", ");
      const lines = [
        `Memory leak: ${leakedSegments} segments (${formatBytes(leakedBytes)}) still leased` +
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
    if (poisonViolations.length > 0) {
      const lines = poisonViolations.slice(0, 8).map((violation) => poisonError(violation).message);
      text = (text === "" ? "" : text + "\n") + lines.join("\n");
    }
    return { leakedSegments, leakedBytes, owners, dropped, poisonViolations, text };
  }

  /**
   * Throws if any page is still leased, any byte still reserved, any segment was dropped, or
   * any released page was written after its release.
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

  #moveBooking(segment: MemorySegment, from: string, to: OwnerState): void {
    const state = this.#owners.get(from);
    const entry = state?.live.get(segment.id);
    assert(state !== undefined && entry !== undefined, `segment #${segment.id} unknown`);
    const pageCount = this.#pageCount(segment);
    state.live.delete(segment.id);
    state.pages -= pageCount;
    to.live.set(segment.id, entry);
    to.pages += pageCount;
    this.#dropIfEmpty(from, state);
  }

  #pageCount(segment: MemorySegment): number {
    return segment.byteLength / this.segmentBytes;
  }

  /**
   * Takes a free page: the last recycled one (its poison checked), else a page never used.
   */
  #takeFreePage(): number {
    const states = this.#pageState;
    const stack = this.#freeStack;
    // A released page is on the stack until taken (a range placed high too): the low end
    // meets only pages never handed out, and steps over the used ones of such a range.
    while (stack.length > 0) {
      const page = stack.pop()!;
      const state = states[page];
      if (state !== USED) {
        if (state === POISONED) this.#checkPoison(page, 1, false);
        states[page] = USED;
        return page;
      }
    }
    while (states[this.#highWater] === USED) this.#highWater += 1;
    const page = this.#highWater;
    assert(page < this.totalSegments, "free page count out of step with the pool");
    states[page] = USED;
    this.#highWater += 1;
    return page;
  }

  /** Undoes #takeFreePage for a page that was not handed out (its content is unchanged). */
  #giveBackUnused(page: number): void {
    this.#pageState[page] = this.#releasedBy[page] === undefined
      ? FRESH
      : this.#poisons
      ? POISONED
      : DIRTY;
    this.#freeStack.push(page);
  }

  /** The last run of `pageCount` free pages (the highest that fits), or -1. */
  #findRunHigh(pageCount: number): number {
    const states = this.#pageState;
    let runLength = 0;
    for (let page = this.totalSegments - 1; page >= this.#scratchPages; page -= 1) {
      runLength = states[page] === USED ? 0 : runLength + 1;
      if (runLength === pageCount) return page;
    }
    return -1;
  }

  /** The first run of `pageCount` free pages (first fit), or -1. */
  #findRun(pageCount: number): number {
    const states = this.#pageState;
    let runStart = 0;
    let runLength = 0;
    for (let page = this.#scratchPages; page < this.totalSegments; page += 1) {
      if (states[page] === USED) {
        runLength = 0;
        continue;
      }
      if (runLength === 0) runStart = page;
      runLength += 1;
      if (runLength === pageCount) return runStart;
    }
    return -1;
  }

  #handOut(owner: string, page: number, pageCount: number): MemorySegment {
    const segment = new MemorySegment(this.#pool, {
      id: this.#nextSegmentId,
      owner,
      pageIndex: page,
      memoryOffset: this.#base + page * this.segmentBytes,
      byteLength: pageCount * this.segmentBytes,
      generation: this.#pool.generations[page]!,
    });
    this.#nextSegmentId += 1;
    this.leakTracker.onAllocate(segment, pageCount);
    return segment;
  }

  #lease(owner: string, segments: MemorySegment[], pageCount: number): SegmentLease {
    const state = this.#ownerState(owner);
    for (const segment of segments) {
      state.live.set(segment.id, this.#weak ? new WeakRef(segment) : segment);
    }
    state.pages += pageCount;
    this.#usedPages += pageCount;
    this.#allocationCount += segments.length;
    this.#notePeak();
    return new SegmentLease(owner, segments, this);
  }

  /** Notes pages [0, pageCount) as handed out at least once and grows the memory over them. */
  #noteExtent(pageCount: number): void {
    if (pageCount > this.#extentPages) this.#extentPages = pageCount;
    this.#ensureCommitted(this.#extentPages);
  }

  /** Grows the memory (never shrinks) so that pages [0, pageCount) are inside it. */
  #ensureCommitted(pageCount: number): void {
    const neededBytes = this.#base + pageCount * this.segmentBytes;
    if (this.#pool.buffer.byteLength >= neededBytes) return;
    assert(this.#growable, "a memory region is never grown");
    const current = this.#pool.buffer.byteLength / WASM_PAGE_BYTES;
    const maximum = Math.ceil(
      (this.#base + this.totalSegments * this.segmentBytes) / WASM_PAGE_BYTES,
    );
    // Grow at least twofold: few distinct buffers, and growing costs address space, not RSS.
    const wanted = Math.max(Math.ceil(neededBytes / WASM_PAGE_BYTES), 2 * current);
    const target = Math.min(maximum, wanted);
    try {
      this.wasmMemory.grow(target - current);
    } catch (error) {
      throw new ResourceError(
        `Cannot grow the memory pool to ${formatBytes(target * WASM_PAGE_BYTES)} (${
          error instanceof Error ? error.message : String(error)
        }); lower --memory (-S)`,
      );
    }
    this.#pool.buffer = this.wasmMemory.buffer as SharedArrayBuffer;
  }

  #bytesOf(page: number, pageCount: number): Uint8Array {
    return new Uint8Array(
      this.#pool.buffer,
      this.#base + page * this.segmentBytes,
      pageCount * this.segmentBytes,
    );
  }

  /** Verifies the poison of free pages about to be handed out; throws on a write after release. */
  #verifyPoison(page: number, pageCount: number): void {
    const states = this.#pageState;
    for (let p = page; p < page + pageCount; p += 1) {
      if (states[p] === POISONED) this.#checkPoison(p, 1, true);
    }
  }

  #poisonOps(): PoisonOps | null {
    if (this.#ops === undefined) this.#ops = poisonOps(this.wasmMemory) ?? null;
    return this.#ops;
  }

  /** Fills pages with the poison. */
  #poison(page: number, pageCount: number): void {
    const ops = this.#poisonOps();
    if (ops === null) {
      this.#bytesOf(page, pageCount).fill(POISON_BYTE);
    } else {
      ops.fill(this.#base + page * this.segmentBytes, pageCount * this.segmentBytes, POISON_BYTE);
    }
  }

  #checkPoison(page: number, pageCount: number, throwing: boolean): void {
    const byteIndex = firstDirtyByte(
      this.#poisonOps(),
      this.#pool.buffer,
      this.#base + page * this.segmentBytes,
      pageCount * this.segmentBytes,
    );
    if (byteIndex < 0) return;
    // The page is checked: back to "free and poisoned" either way, so one write is reported once.
    const bytes = this.#bytesOf(page, pageCount);
    const record = this.#releasedBy[page];
    const violation: PoisonViolation = {
      segmentId: record?.segmentId ?? 0,
      owner: record?.owner ?? "(unknown)",
      releaseSite: record?.site,
      lastBorrower: record?.lastBorrower,
      detail: `page ${page + Math.floor(byteIndex / this.segmentBytes)}, byte ${
        byteIndex % this.segmentBytes
      } is 0x${bytes[byteIndex]!.toString(16).padStart(2, "0")}, not the poison 0x${
        POISON_BYTE.toString(16)
      }`,
    };
    this.#violations.push(violation);
    this.#poison(page, pageCount);
    if (throwing) {
      throw poisonError(violation);
    }
  }

  #releaseSegment(segment: MemorySegment): void {
    const borrower = segmentInternals.borrower(segment);
    if (segment.isReleased || borrower !== undefined) {
      throw new SegmentReleasedError(segment.id, segment.owner, "release", borrower);
    }
    const state = this.#owners.get(segment.owner);
    assert(state !== undefined && state.live.delete(segment.id), `segment #${segment.id} unknown`);
    const pageCount = this.#pageCount(segment);
    this.#freeSegments(segment.pageIndex, pageCount, {
      writtenPages: Math.ceil(segmentInternals.writtenBytes(segment) / this.segmentBytes),
      record: {
        segmentId: segment.id,
        owner: segment.owner,
        site: undefined,
        lastBorrower: this.#lastBorrowers.get(segment.owner),
      },
      contents: segmentInternals.pageContents(segment),
    });
    this.leakTracker.onRelease(segment);
    state.pages -= pageCount;
    this.#usedPages -= pageCount;
    this.#dropIfEmpty(segment.owner, state);
  }

  /**
   * Bumps the generations of released pages (stale handles throw from now on), poisons them
   * if they may have been written, and puts them on the free stack.
   */
  #freeSegments(
    page: number,
    pageCount: number,
    how: { writtenPages: number; record: ReleaseRecord; contents?: Uint8Array | undefined },
  ): void {
    const generations = this.#pool.generations;
    const states = this.#pageState;
    const contents = how.contents;
    const writtenEnd = page + how.writtenPages;
    if (how.writtenPages > 0 && this.#poisons) {
      if (contents === undefined) {
        this.#poison(page, how.writtenPages);
      } else {
        // A borrower's report: fill only the pages it wrote and did not poison itself.
        for (let p = page; p < writtenEnd; p += 1) {
          if (contents[p - page] === PageContent.written) this.#poison(p, 1);
        }
      }
      how.record.site = this.leakTracker.releaseSite();
    }
    for (let p = page + pageCount - 1; p >= page; p -= 1) {
      generations[p] = generations[p]! + 1;
      if (
        p < writtenEnd && (contents === undefined || contents[p - page] !== PageContent.untouched)
      ) {
        states[p] = this.#poisons ? POISONED : DIRTY;
        this.#releasedBy[p] = how.record;
      } else {
        // Never written through this lease: the content is what it was when handed out.
        states[p] = this.#releasedBy[p] === undefined ? FRESH : (this.#poisons ? POISONED : DIRTY);
      }
      this.#freeStack.push(p);
    }
  }

  #dropIfEmpty(owner: string, state: OwnerState): void {
    if (state.pages === 0 && state.reservedBytes === 0) this.#owners.delete(owner);
  }

  #notePeak(): void {
    const pages = this.#usedPages + this.reservedPages;
    if (pages > this.#peakSegments) this.#peakSegments = pages;
  }

  #onDropped(dropped: DroppedSegment): void {
    // The handle is gone: free its pages so the budget stays usable (and poison them: a raw
    // view of them may still be around).
    const state = this.#owners.get(dropped.owner);
    if (state?.live.delete(dropped.segmentId)) {
      if (this.#pool.generations[dropped.pageIndex] === dropped.generation) {
        this.#freeSegments(dropped.pageIndex, dropped.pageCount, {
          writtenPages: dropped.pageCount,
          record: {
            segmentId: dropped.segmentId,
            owner: dropped.owner,
            site: dropped.site,
            lastBorrower: this.#lastBorrowers.get(dropped.owner),
          },
        });
      }
      state.pages -= dropped.pageCount;
      this.#usedPages -= dropped.pageCount;
      this.#dropIfEmpty(dropped.owner, state);
    }
  }
}

/** The error that reports `violation`. */
function poisonError(violation: PoisonViolation): SegmentPoisonError {
  return new SegmentPoisonError(violation.segmentId, violation.owner, violation.detail, {
    releaseSite: violation.releaseSite,
    lastBorrower: violation.lastBorrower,
  });
}
