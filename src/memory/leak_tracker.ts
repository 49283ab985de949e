import type { MemorySegment } from "./memory_segment.ts";

/** Netty's leak detection levels. */
export type LeakDetectionLevel = "disabled" | "simple" | "advanced" | "paranoid";

/** All levels, in order of cost. */
export const leakDetectionLevels: readonly LeakDetectionLevel[] = [
  "disabled",
  "simple",
  "advanced",
  "paranoid",
];

/** One segment that was garbage-collected without being released (paranoid level only). */
export interface DroppedSegment {
  /** The segment id. */
  segmentId: number;
  /** Its owner. */
  owner: string;
  /** Where it was allocated, when recorded. */
  site: string | undefined;
  /** Its first page in the manager's pool. */
  pageIndex: number;
  /** How many pages it spans. */
  pageCount: number;
  /** The page generation it stood for. */
  generation: number;
}

/** Every how many allocations the `advanced` level records a site. */
export const ADVANCED_SAMPLE_INTERVAL = 16;

const MEMORY_FRAME = /\/src\/memory\//;

/**
 * Records allocation sites and, at the `paranoid` level, segments dropped without release.
 *
 * - `disabled`: nothing is recorded; per-owner counts (kept by the manager) still work.
 * - `simple`: per-owner counts, reported when the manager closes.
 * - `advanced`: plus the allocation site of one allocation in {@linkcode ADVANCED_SAMPLE_INTERVAL}.
 * - `paranoid`: every allocation site, and a `FinalizationRegistry` that reports segments
 *   collected without release.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { LeakTracker } from "./leak_tracker.ts";
 * const tracker = new LeakTracker("simple");
 * strictEqual(tracker.level, "simple");
 * ```
 */
export class LeakTracker {
  /** The level in force. */
  readonly level: LeakDetectionLevel;
  #sites = new Map<number, string>();
  #allocationCount = 0;
  #dropped: DroppedSegment[] = [];
  #registry: FinalizationRegistry<DroppedSegment> | undefined;
  #onDropped: ((dropped: DroppedSegment) => void) | undefined;

  /**

   * Starts tracking at `level` (nothing is recorded at `disabled`).

   *
   * @param level How much to record.
   * @param onDropped Called (paranoid level) when a segment was collected without release.
   */
  constructor(level: LeakDetectionLevel, onDropped?: (dropped: DroppedSegment) => void) {
    this.level = level;
    this.#onDropped = onDropped;
    if (level === "paranoid") {
      this.#registry = new FinalizationRegistry((dropped) => {
        this.#sites.delete(dropped.segmentId);
        this.#dropped.push(dropped);
        this.#onDropped?.(dropped);
      });
    }
  }

  /** Whether allocated segments must be held weakly (so that drops can be seen). */
  get holdsWeakly(): boolean {
    return this.#registry !== undefined;
  }

  /** Segments collected without release so far. */
  get dropped(): readonly DroppedSegment[] {
    return this.#dropped;
  }

  /** Whether released pages are poisoned and verified on reuse (every level but `disabled`). */
  get poisons(): boolean {
    return this.level !== "disabled";
  }

  /** Where a release happens (advanced/paranoid levels), for reports of writes after release. */
  releaseSite(): string | undefined {
    return this.level === "advanced" || this.level === "paranoid" ? captureSite() : undefined;
  }

  /**
   * Records an allocation.
   *
   * @param segment The new segment.
   * @param pageCount How many pages it spans.
   */
  onAllocate(segment: MemorySegment, pageCount = 1): void {
    if (this.level === "disabled" || this.level === "simple") return;
    const sample = this.level === "paranoid" ||
      this.#allocationCount % ADVANCED_SAMPLE_INTERVAL === 0;
    this.#allocationCount += 1;
    if (!sample) return;
    const site = captureSite();
    this.#sites.set(segment.id, site);
    this.#registry?.register(
      segment,
      {
        segmentId: segment.id,
        owner: segment.owner,
        site,
        pageIndex: segment.pageIndex,
        pageCount,
        generation: segment.generation,
      },
      segment,
    );
  }

  /** Records a release. */
  onRelease(segment: MemorySegment): void {
    if (this.level === "disabled" || this.level === "simple") return;
    this.#sites.delete(segment.id);
    this.#registry?.unregister(segment);
  }

  /** The recorded allocation site of a live segment, if any. */
  siteOf(segmentId: number): string | undefined {
    return this.#sites.get(segmentId);
  }
}

function captureSite(): string {
  const stack = new Error().stack ?? "";
  const frames = stack.split("\n").slice(1).map((line) => line.trim()).filter((line) =>
    !MEMORY_FRAME.test(line)
  );
  return frames.slice(0, 3).join(" <- ") || "(unknown site)";
}
