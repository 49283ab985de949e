/**
 * Managed memory: fixed-size segments of one shared `WebAssembly.Memory`, from a hard page
 * budget, owned, scoped, lent to Workers and tracked.
 *
 * @module
 */
export {
  MemoryBudgetError,
  MemoryLeakError,
  SegmentPoisonError,
  SegmentReleasedError,
} from "./errors.ts";
export type { DroppedSegment, LeakDetectionLevel } from "./leak_tracker.ts";
export { ADVANCED_SAMPLE_INTERVAL, leakDetectionLevels, LeakTracker } from "./leak_tracker.ts";
export type {
  ContiguousOptions,
  LeakReport,
  MemoryManagerOptions,
  MemoryRegion,
  MemoryReservation,
  OwnerHolding,
  PoisonViolation,
} from "./memory_manager.ts";
export {
  MemoryManager,
  PageContent,
  POISON_BYTE,
  POOL_BYTES_MAX,
  SEGMENT_BYTES_DEFAULT,
  SEGMENT_BYTES_MAX,
  SEGMENT_BYTES_MIN,
  STATIC_AREA_BYTES,
  WASM_PAGE_BYTES,
} from "./memory_manager.ts";
export { compareBytes, MemorySegment } from "./memory_segment.ts";
export type { PoisonCheckHelp, PoisonHelper } from "./poison_help.ts";
export { helpPoisonCheck } from "./poison_help.ts";
export type { BudgetBuffer } from "./budget_buffer.ts";
export { allocateBudgetBuffer } from "./budget_buffer.ts";
export type { LeaseReleaser } from "./segment_lease.ts";
export { SegmentLease } from "./segment_lease.ts";
export type { BuddyAllocatorOptions, BuddyStats } from "./buddy_allocator.ts";
export { BuddyAllocator, BuddyBlock } from "./buddy_allocator.ts";
