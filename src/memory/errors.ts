import { ResourceError } from "../base/mod.ts";

/** Thrown by every accessor of a segment after it was released: a use-after-free bug. */
export class SegmentReleasedError extends Error {
  /** The error class name. */
  override name = "SegmentReleasedError";
  /**
   * Reports an access through a stale handle, naming the segment and its owner.
   *
   * @param segmentId The id of the released segment.
   * @param owner The owner that held it.
   * @param action What was attempted (`read`, `write`, `release`, ...).
   * @param lentTo The borrower, if the segment is lent out (to a Worker) rather than released.
   */
  constructor(
    readonly segmentId: number,
    readonly owner: string,
    action: string,
    readonly lentTo?: string,
  ) {
    super(
      `Cannot ${action} segment #${segmentId} of "${owner}": ${
        lentTo === undefined
          ? "it was already released"
          : `it is lent out to "${lentTo}" (a Worker holds it)`
      }`,
    );
  }
}

/** Thrown when an allocation does not fit the memory budget: exit 3. */
export class MemoryBudgetError extends ResourceError {
  /** The error class name. */
  override name = "MemoryBudgetError";
  /**
   * Reports an allocation the budget cannot cover, with the numbers and the fix.
   *
   * @param owner Who asked.
   * @param requestedSegments How many pages were asked for.
   * @param freeSegments How many were free.
   * @param totalSegments The budget in pages.
   * @param fix What the user can do about it.
   */
  constructor(
    readonly owner: string,
    readonly requestedSegments: number,
    readonly freeSegments: number,
    readonly totalSegments: number,
    fix = "raise --memory (-S)",
  ) {
    super(
      `Cannot allocate ${requestedSegments} segments for "${owner}": ${freeSegments} of ${totalSegments} free; ${fix}`,
    );
  }
}

/** Thrown by `assertAllReleased()` when segments are still leased: a leak. */
export class MemoryLeakError extends Error {
  /** The error class name. */
  override name = "MemoryLeakError";
  /**
   * Wraps a leak report: segments still held when an owner or the job closed.
   *
   * @param report The full leak report (first line is the summary).
   */
  constructor(readonly report: string) {
    super(report);
  }
}

/**
 * Thrown when a released page's poison was overwritten before the page was handed out again:
 * something wrote through a stale raw view (a use-after-release bug). Names the segment, the
 * owner that released it and, when recorded (advanced/paranoid), where it was released.
 */
export class SegmentPoisonError extends Error {
  /** The error class name. */
  override name = "SegmentPoisonError";
  /**
   * Reports a write through a stale raw view, found in a poisoned released segment.
   *
   * @param segmentId The id of the released segment that was written to.
   * @param owner The owner that released it.
   * @param detail Where the poison was found broken (page, byte, value).
   * @param context `releaseSite`: where it was released, when recorded; `lastBorrower`: the
   *   borrower (a Worker) the owner last lent segments to before, if any: the likeliest writer.
   */
  constructor(
    readonly segmentId: number,
    readonly owner: string,
    detail: string,
    context: { releaseSite?: string | undefined; lastBorrower?: string | undefined } = {},
  ) {
    const { releaseSite, lastBorrower } = context;
    super(
      `Write after release: segment #${segmentId} of "${owner}" was written after "${owner}" released it (${detail})` +
        (lastBorrower === undefined ? "" : `; "${owner}" last lent pages to "${lastBorrower}"`) +
        (releaseSite === undefined ? "" : `; released at ${releaseSite}`),
    );
    this.releaseSite = releaseSite;
    this.lastBorrower = lastBorrower;
  }

  /** Where the segment was released, when recorded (advanced/paranoid levels). */
  readonly releaseSite: string | undefined;
  /** The borrower the owner last lent segments to before the release, if any. */
  readonly lastBorrower: string | undefined;
}
