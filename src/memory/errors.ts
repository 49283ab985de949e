import { ResourceError } from "../base/mod.ts";

/** Thrown by every accessor of a segment after it was released: a use-after-free bug. */
export class SegmentReleasedError extends Error {
  /** The error class name. */
  override name = "SegmentReleasedError";
  /**
   * Creates the instance.
   *
   * @param segmentId The id of the released segment.
   * @param owner The owner that held it.
   * @param action What was attempted (`read`, `write`, `release`, ...).
   * @param lent Whether the segment is lent out (to a Worker) rather than released.
   */
  constructor(readonly segmentId: number, readonly owner: string, action: string, lent = false) {
    super(
      `Cannot ${action} segment #${segmentId} of "${owner}": ${
        lent ? "its memory is lent out (to a Worker)" : "it was already released"
      }`,
    );
  }
}

/** Thrown when an allocation does not fit the memory budget: exit 3. */
export class MemoryBudgetError extends ResourceError {
  /** The error class name. */
  override name = "MemoryBudgetError";
  /**
   * Creates the instance.
   *
   * @param owner Who asked.
   * @param requestedPages How many pages were asked for.
   * @param freePages How many were free.
   * @param totalPages The budget in pages.
   * @param fix What the user can do about it.
   */
  constructor(
    readonly owner: string,
    readonly requestedPages: number,
    readonly freePages: number,
    readonly totalPages: number,
    fix = "raise --memory (-S)",
  ) {
    super(
      `Cannot allocate ${requestedPages} segments for "${owner}": ${freePages} of ${totalPages} free; ${fix}`,
    );
  }
}

/** Thrown by `assertAllReleased()` when segments are still leased: a leak. */
export class MemoryLeakError extends Error {
  /** The error class name. */
  override name = "MemoryLeakError";
  /**
   * Creates the instance.
   *
   * @param report The full leak report (first line is the summary).
   */
  constructor(readonly report: string) {
    super(report);
  }
}
