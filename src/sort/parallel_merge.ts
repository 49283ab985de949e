/**
 * The final merge on two threads: the merge Worker (src/sort/merge_worker.ts) runs the merge
 * kernel loop while this thread reads and checks the run blocks (and gathers the in-memory
 * run), copies each block into one of its input's two buffers, and writes the output halves
 * the Worker fills, in order. Same bytes as {@linkcode mergeBlocksToLines} on one thread.
 *
 * ```
 *  main thread                                  merge Worker
 *  RunReader.nextBlock ─ copy ─► buffer 0/1 ──► slot i ──► mergeLines ──► output half h
 *     ▲                                     "took i"  ◄──┘                       │
 *     └──────── fill the other buffer ◄──────────────┘      "out h" ────────────►│
 *  sink.write(half h) ── free slot h ──────────────────────────────────────────────┘
 * ```
 *
 * @module
 */
import { assert } from "../base/mod.ts";
import { CorruptSpillError } from "../io/mod.ts";
import { compileKernels } from "../kernels/mod.ts";
import type { MemoryManager, SegmentLease } from "../memory/mod.ts";
import {
  type BlockSource,
  type KernelMergeResult,
  type MergeRegion,
  SortBufferBlocks,
} from "./kernel_merge.ts";
import {
  controlBytes,
  inputSlot,
  type MergeEvent,
  type MergeStart,
  outputSlot,
} from "./merge_worker.ts";
import { MergeLinesState } from "../kernels/mod.ts";

/** The owner name of the pages the merge Worker is lent. */
export const MERGE_WORKER_OWNER = "sort-merge-worker";

/** Options of {@linkcode mergeOnWorker}. */
export interface ParallelMergeOptions {
  /** The budget every buffer comes from. */
  memory: MemoryManager;
  /** `-r`. */
  reverse: boolean;
  /** `-u`. */
  unique: boolean;
  /** Line terminator. */
  terminator: number;
  /** Records the sources hold. */
  expectedRecords: number;
  /** Segments of the two output halves together. */
  outputSegments: number;
}

/**
 * Segments {@linkcode mergeOnWorker} takes for `inputCount` inputs before any carry: the
 * control block and state, the output halves, two buffers per input.
 */
export function parallelMergeSegments(
  memory: MemoryManager,
  inputCount: number,
  outputSegments: number,
): number {
  const small = Math.ceil(
    (controlBytes(inputCount, 2) + MergeLinesState.bytes(inputCount)) / memory.segmentBytes,
  );
  return small + 2 * Math.max(1, Math.floor(outputSegments / 2)) + 2 * inputCount;
}

/**
 * Starts a merge Worker (the sort Worker's module, which runs merges too): it takes ~0.1 s to
 * load, so a sort without a sort Worker starts it when it spills its first run and hands it to
 * {@linkcode mergeOnWorker} later. Terminate it if it is not used.
 *
 * @returns The Worker, waiting for its start message.
 */
export function startMergeWorker(): Worker {
  return new Worker(new URL("./sort_worker.ts", import.meta.url).href, { type: "module" });
}

/**
 * Merges the sources into lines on the merge Worker (see the module doc).
 *
 * @param sources The sorted inputs (this thread reads them).
 * @param write Receives each filled output half, in order; the view is reused once it settles.
 * @param options Budget, order, `-u`, terminator, and a Worker from
 *   {@linkcode startMergeWorker} if one was started already (it is terminated at the end).
 * @returns Records written and dropped.
 */
export async function mergeOnWorker(
  sources: readonly BlockSource[],
  write: (bytes: Uint8Array, byteLength: number) => PromiseLike<void> | undefined,
  options: ParallelMergeOptions & { worker?: Worker | undefined },
): Promise<KernelMergeResult> {
  const memory = options.memory;
  const k = sources.length;
  const leases: SegmentLease[] = [];
  /** The carry (by input) or `-u` copy (key -1) each grow request replaced. */
  const grown = new Map<number, SegmentLease>();
  /** Replaced regions: given back at the Worker's next message (it has moved off them then). */
  let retired: SegmentLease[] = [];
  const allocate = (byteLength: number): SegmentLease => {
    const segmentCount = Math.ceil(Math.max(1, byteLength) / memory.segmentBytes);
    const lease = segmentCount === 1
      ? memory.allocate(MERGE_WORKER_OWNER, 1)
      : memory.allocateContiguous(MERGE_WORKER_OWNER, segmentCount);
    leases.push(lease);
    return lease;
  };
  const regionOf = (lease: SegmentLease): MergeRegion => {
    const segment = lease.segments[0]!;
    return { byteOffset: segment.memoryOffset, byteLength: segment.byteLength };
  };
  const take = (byteLength: number): MergeRegion => regionOf(allocate(byteLength));
  let worker: Worker | undefined = options.worker;
  try {
    const controlRegion = take(controlBytes(k, 2) + MergeLinesState.bytes(k) + 64);
    const control = new Int32Array(
      memory.wasmMemory.buffer,
      controlRegion.byteOffset,
      8 + 4 * k + 8,
    );
    control.fill(0);
    const stateOffset = controlRegion.byteOffset + Math.ceil(controlBytes(k, 2) / 64) * 64;
    const halfBytes = Math.max(1, Math.floor(options.outputSegments / 2)) * memory.segmentBytes;
    const outputs = [take(halfBytes), take(halfBytes)];
    // The in-memory run is gathered by the Worker itself: no buffers, no copies here.
    const gathers = sources.map((source) =>
      source instanceof SortBufferBlocks ? source.place : null
    );
    const buffers = sources.map((_source, i) =>
      gathers[i] === null ? [take(memory.segmentBytes), take(memory.segmentBytes)] : []
    );
    const nextBuffer = sources.map(() => 0);
    const start: MergeStart = {
      type: "start",
      memory: memory.wasmMemory,
      module: compileKernels(),
      control: controlRegion.byteOffset,
      paths: sources.map((source) => source.run?.path ?? ""),
      gathers,
      state: { byteOffset: stateOffset, byteLength: MergeLinesState.bytes(k) },
      outputs,
      reverse: options.reverse,
      unique: options.unique,
      terminator: options.terminator,
      expectedRecords: options.expectedRecords,
    };
    worker ??= startMergeWorker();
    const running = worker;
    return await new Promise<KernelMergeResult>((resolve, reject) => {
      let failed = false;
      const fail = (error: unknown) => {
        if (failed) return;
        failed = true;
        running.terminate();
        reject(error);
      };
      /** Reads input i's next block into its next buffer and hands it to the Worker. */
      const fill = async (i: number): Promise<void> => {
        const source = sources[i]!;
        let more = source.nextBlock();
        if (more instanceof Promise) more = await more;
        if (!more || failed) return;
        const buffer = buffers[i]![nextBuffer[i]!]!;
        nextBuffer[i] = 1 - nextBuffer[i]!;
        const length = source.blockEnd - source.blockStart;
        assert(length <= buffer.byteLength, "a block payload is larger than a page");
        new Uint8Array(memory.wasmMemory.buffer).copyWithin(
          buffer.byteOffset,
          source.blockStart,
          source.blockEnd,
        );
        const at = inputSlot(i);
        assert(Atomics.load(control, at) === 0, "input slot filled twice");
        control[at + 1] = buffer.byteOffset;
        control[at + 2] = buffer.byteOffset + length;
        control[at + 3] = source.isLastBlock ? 1 : 0;
        Atomics.store(control, at, 1);
        Atomics.notify(control, at);
      };
      let writing: Promise<void> = Promise.resolve();
      const writeHalf = (half: number): Promise<void> => {
        const at = outputSlot(k, half);
        const byteLength = control[at + 1]!;
        const region = outputs[half]!;
        const bytes = new Uint8Array(memory.wasmMemory.buffer, region.byteOffset, byteLength);
        return Promise.resolve(write(bytes, byteLength)).then(() => {
          Atomics.store(control, at, 0);
          Atomics.notify(control, at);
        });
      };
      const grow = (): void => {
        try {
          const lease = allocate(control[1]!);
          const key = control[4]!;
          const old = grown.get(key);
          if (old !== undefined) retired.push(old);
          grown.set(key, lease);
          const region = regionOf(lease);
          control[2] = region.byteOffset;
          control[3] = region.byteLength;
          Atomics.store(control, 0, 2);
        } catch (error) {
          Atomics.store(control, 0, 3);
          fail(error);
        }
        Atomics.notify(control, 0);
      };
      running.onmessage = (event: MessageEvent<MergeEvent>) => {
        const message = event.data;
        for (const lease of retired) {
          leases.splice(leases.indexOf(lease), 1);
          lease.release();
        }
        retired = [];
        switch (message.type) {
          case "took":
            fill(message.input).catch(fail);
            return;
          case "out":
            writing = writing.then(() => writeHalf(message.half));
            writing.catch(fail);
            return;
          case "grow":
            grow();
            return;
          case "done":
            writing.then(() => {
              running.terminate();
              resolve({ writtenCount: message.writtenCount, droppedCount: message.droppedCount });
            }, fail);
            return;
          case "error":
            fail(
              message.path === undefined
                ? new Error(`Merge worker failed: ${message.message}`)
                : new CorruptSpillError(
                  message.path,
                  message.blockIndex ?? -1,
                  "record",
                  "whole records",
                  "a cut record",
                ),
            );
        }
      };
      running.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        fail(new Error(`Merge worker crashed: ${event.message}`));
      };
      running.postMessage(start);
      for (let i = 0; i < k; i += 1) if (gathers[i] === null) fill(i).catch(fail);
    });
  } finally {
    worker?.terminate();
    // The Worker is gone: nothing touches the pages any more.
    for (const lease of leases) lease.release();
  }
}
