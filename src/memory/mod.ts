/**
 * Managed memory: fixed-size segments from a hard page budget, owned, scoped and tracked.
 *
 * @module
 */
export { MemoryBudgetError, MemoryLeakError, SegmentReleasedError } from "./errors.ts";
export type { DroppedSegment, LeakDetectionLevel } from "./leak_tracker.ts";
export { ADVANCED_SAMPLE_INTERVAL, leakDetectionLevels, LeakTracker } from "./leak_tracker.ts";
export type {
  LeakReport,
  MemoryManagerOptions,
  MemoryReservation,
  OwnerHolding,
} from "./memory_manager.ts";
export {
  MemoryManager,
  SEGMENT_BYTES_DEFAULT,
  SEGMENT_BYTES_MAX,
  SEGMENT_BYTES_MIN,
} from "./memory_manager.ts";
export { compareBytes, MemorySegment } from "./memory_segment.ts";
export type { LeaseReleaser } from "./segment_lease.ts";
export { SegmentLease } from "./segment_lease.ts";
export type { BuddyAllocatorOptions, BuddyStats } from "./buddy_allocator.ts";
export { BuddyAllocator, BuddyBlock } from "./buddy_allocator.ts";
