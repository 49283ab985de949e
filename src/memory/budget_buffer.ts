import type { MemoryManager } from "./memory_manager.ts";

/** A byte buffer charged to the budget (see {@linkcode allocateBudgetBuffer}). */
export interface BudgetBuffer {
  /** The bytes (at least the length asked for). */
  readonly bytes: Uint8Array;
  /** Whether the bytes are pages of the shared memory (kernels may read them by offset). */
  readonly inSharedMemory: boolean;
  /**
   * Gives the bytes back (pages: poisoned in checked modes up to `writtenBytes`, so that pages
   * never written are not touched). Call once.
   */
  release(writtenBytes?: number): void;
}

/**
 * A buffer of `byteLength` bytes charged to the budget: contiguous free pages of the shared
 * memory when there is such a run, else a heap array with a reservation of its bytes. The pages
 * are better: the memory's pages stay resident once touched, so a heap buffer beside them adds
 * its bytes to the process's RSS beyond the budget (a long record's buffers: docs/count.md,
 * "Limits").
 *
 * @param memory The budget.
 * @param owner Who holds it.
 * @param byteLength Bytes (at least 1).
 * @returns The buffer.
 * @throws {MemoryBudgetError} When the budget cannot hold it either way.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { allocateBudgetBuffer, MemoryManager } from "./mod.ts";
 * const memory = new MemoryManager({ budgetBytes: 16 * 4096, segmentBytes: 4096 });
 * const buffer = allocateBudgetBuffer(memory, "example", 10_000);
 * strictEqual(buffer.inSharedMemory, true);
 * strictEqual(buffer.bytes.length, 10_000);
 * buffer.release();
 * memory.assertAllReleased();
 * ```
 */
export function allocateBudgetBuffer(
  memory: MemoryManager,
  owner: string,
  byteLength: number,
): BudgetBuffer {
  const pages = memory.tryAllocateContiguous(owner, Math.ceil(byteLength / memory.segmentBytes));
  if (pages !== undefined) {
    const segment = pages.segments[0]!;
    return {
      bytes: segment.bytes.subarray(0, byteLength),
      inSharedMemory: true,
      release(writtenBytes?: number): void {
        if (writtenBytes !== undefined) segment.limitWrittenTo(writtenBytes);
        pages.release();
      },
    };
  }
  const reservation = memory.reserve(owner, byteLength);
  return {
    bytes: new Uint8Array(byteLength),
    inSharedMemory: false,
    release: () => reservation.release(),
  };
}
