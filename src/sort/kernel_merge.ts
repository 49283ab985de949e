/**
 * The final merge on the WebAssembly merge kernel: k sorted inputs whose records are spill
 * block payloads (`varint length + bytes`) in the shared memory are merged in place into output
 * lines (record + terminator), `-u` included, by `mergeLines` (src/kernels/assembly/
 * merge_lines.ts). TypeScript only feeds blocks and writes the output:
 *
 * ```
 *  run 0 blocks ──┐  needInput i: copy i's unread tail (a record cut by the block border) to
 *  run 1 blocks ──┼─► its carry, complete it from the next block, then resume in that block
 *  memory run  ───┘   (gathered into a staging page by the gather kernel)
 *        │
 *        ▼ mergeLines(state)             outputFull: hand the half to the writer, continue in
 *  [ output half A ][ output half B ]    the other half (the writer overlaps the merge)
 * ```
 *
 * Used for plain byte orders (`-r`, `-u`, `-s` included) of lines; other orders keep the loser
 * tree of run_merger.ts.
 *
 * @module
 */

import { assert, ResourceError } from "../base/mod.ts";
// Leaf modules, not the layers' mod.ts: this file is in the sort Worker's module graph.
import { CorruptSpillError } from "../io/errors.ts";
import { timelineEnd, timelineStart } from "../io/timeline.ts";
import {
  GatherState,
  type KernelSet,
  KernelStatus,
  type MergeState,
} from "../kernels/kernel_state.ts";
import { MergeLinesState, MergeLinesStatus } from "../kernels/merge_lines_state.ts";
import type { MemoryManager, SegmentLease } from "../memory/mod.ts";
import type { SortBuffer } from "./sort_buffer.ts";

/**
 * Block payloads in the shared memory, one at a time (a {@linkcode RunReader} in block mode,
 * or {@linkcode SortBufferBlocks}). After `nextBlock()` the previous payload may be reused.
 */
export interface BlockSource {
  /** Makes the next block current; false after the last one. */
  nextBlock(): boolean | Promise<boolean>;
  /** Memory offset of the current payload. */
  readonly blockStart: number;
  /** Memory offset of the current payload's end. */
  readonly blockEnd: number;
  /** Whether the current block is the last. */
  readonly isLastBlock: boolean;
  /** The current block's index (for messages). */
  readonly blockIndex: number;
  /** The spill run read, if any (for messages). */
  readonly run?: { readonly path: string } | undefined;
}

/** A range of the shared memory a kernel merge works in. */
export interface MergeRegion {
  /** Memory offset. */
  readonly byteOffset: number;
  /** Bytes. */
  readonly byteLength: number;
}

/**
 * Where a kernel merge gets its memory: on the main thread from the {@linkcode MemoryManager}
 * ({@linkcode managedMergeRegions}), on a Worker from regions lent to it up front.
 */
export interface MergeRegions {
  /** The shared memory. */
  readonly memory: WebAssembly.Memory;
  /** The state block (at least `byteLength` bytes). */
  state(byteLength: number): MergeRegion;
  /** The output halves the kernel fills in turn (at least two, of equal size). */
  outputs(): readonly MergeRegion[];
  /**
   * The carry of input `input`, at least `byteLength` bytes, keeping its first `keepBytes`
   * (a new region replaces a smaller one).
   */
  carry(input: number, byteLength: number, keepBytes: number): MergeRegion;
  /**
   * The `-u` copy of the last record, at least `byteLength` bytes; `moveInto` moves the copy
   * over before a smaller region is given back.
   */
  scratch(byteLength: number, moveInto: (region: MergeRegion) => void): MergeRegion;
  /** Gives everything back. Idempotent. */
  release(): void;
}

/** Options of {@linkcode mergeBlocksToLines}. */
export interface KernelMergeOptions {
  /** Where the state, the carries, the output halves and the `-u` copy live. */
  regions: MergeRegions;
  /** The kernels, instantiated over the shared memory on this thread. */
  kernels: KernelSet;
  /** Descending byte order (`-r`). */
  reverse: boolean;
  /**
   * The inputs are keyed runs (docs/spill-format.md): records compare by their normalized
   * keys and only the lines are written (`reverse` must be false: the keys encode `-r`).
   */
  keyed?: boolean;
  /** Keyed runs whose keys end with the line, stored once (compared as key + line). */
  lineEndsKey?: boolean;
  /** Keep the first of equal records only (`-u`). */
  unique: boolean;
  /** The byte written after each record. */
  terminator: number;
  /** Records the inputs hold (checked at the end; -1: unknown, not checked). */
  expectedRecords: number;
  /**
   * The sources' blocks are whole text lines, each ending with `terminator`, not block
   * payloads (`sort -m`, `spillway merge`: src/sort/text_merge.ts): merged by `mergeText`.
   */
  text?: boolean;
  /**
   * Filled in by the merge with a function that stops it from a clean state (see
   * {@linkcode KernelMergeControl}); a source's `nextBlock()` may call it.
   */
  control?: KernelMergeControl;
}

/** What {@linkcode mergeBlocksToLines} wrote. */
export interface KernelMergeResult {
  /** Records written. */
  writtenCount: number;
  /** Records dropped by `-u`. */
  droppedCount: number;
  /** Where the inputs stood when a source stopped the merge ({@linkcode KernelMergeControl}). */
  rest?: KernelMergeRest;
}

/**
 * Lets a source stop a kernel merge where it stands, from inside its `nextBlock()` (a text
 * input whose next line cannot be placed in the shared memory: src/sort/text_merge.ts hands the
 * rest of the merge to the loser tree). `stop()` writes the output merged so far (and waits for
 * it), leaves the output halves, the state and the `-u` copy unused from then on, and returns
 * where each input stands; the source then throws {@linkcode KernelMergeStopped}, and the merge
 * returns that {@linkcode KernelMergeRest} as its result's `rest`.
 */
export interface KernelMergeControl {
  /** Set by the merge while it waits for a source's block; undefined otherwise. */
  stop?: (() => Promise<KernelMergeRest>) | undefined;
}

/** Where a stopped kernel merge's inputs stand (offsets in the shared memory). */
export interface KernelMergeRest {
  /**
   * The input whose block was asked for when the merge stopped (its range below is empty), or
   * -1 (the merge stopped itself: the `-u` copy could not grow for the next record).
   */
  asking: number;
  /** Each input's bytes not merged yet: `[byteOffset, byteOffset + byteLength)`, whole lines. */
  inputs: MergeRegion[];
  /** The `-u` copy of the last record written (in the scratch region), if any. */
  lastRecord: MergeRegion | undefined;
  /** Records written before the stop. */
  writtenCount: number;
  /** Records dropped by `-u` before the stop. */
  droppedCount: number;
}

/** What a source throws from `nextBlock()` after it stopped the merge ({@linkcode KernelMergeControl}). */
export class KernelMergeStopped extends Error {
  constructor() {
    super("The kernel merge was stopped by a source");
    this.name = "KernelMergeStopped";
  }
}

/**
 * Sends output half `half` (`byteLength` bytes at `bytes`, a view of the shared memory) on;
 * the half is filled again once the returned promise settles (undefined: at once).
 */
export type BlockWrite = (
  bytes: Uint8Array,
  byteLength: number,
  half: number,
) => PromiseLike<void> | undefined;

interface CarriedInput {
  readonly source: BlockSource;
  carry: MergeRegion | undefined;
  /** The input is reading its carry (one whole record); then it resumes at `rest`. */
  inCarry: boolean;
  rest: number;
}

/**
 * Merges the sources into lines with the merge kernel (see the module doc); ties go to the
 * lower source index, so sources in input order keep the sort stable.
 *
 * @param sources The sorted inputs (not started: the first `nextBlock()` is the merge's).
 * @param write Receives each filled output half, in order.
 * @param options Kernels, order, budget.
 * @returns Records written and dropped.
 * @throws {CorruptSpillError} When a run ends inside a record or holds a bad length.
 */
export async function mergeBlocksToLines(
  sources: readonly BlockSource[],
  write: BlockWrite,
  options: KernelMergeOptions,
): Promise<KernelMergeResult> {
  const merger = new KernelLineMerger(sources, options);
  try {
    return await merger.run(write);
  } finally {
    options.regions.release();
  }
}

/** Bytes {@linkcode warmMergeKernel} writes from its `byteOffset`. */
export const MERGE_WARM_BYTES: number = MergeLinesState.bytes(1) + 64;

/**
 * Compiles the merge kernel now, on this thread, by one call on an empty merge (one finished,
 * empty input) in `[byteOffset, byteOffset + MERGE_WARM_BYTES)`. With `--no-liftoff` a kernel
 * function is compiled by TurboFan on its first call, 4-8 ms for `mergeLines`; the compiled code
 * belongs to the `WebAssembly.Module`, which every thread shares (`compileKernels()` is posted to
 * the Workers), so the merge Worker's first call then runs at once. Call it where this thread
 * would wait anyway.
 *
 * @param kernels This thread's kernels.
 * @param memory The shared memory.
 * @param byteOffset Where the scratch starts (free memory this thread holds).
 */
export function warmMergeKernel(
  kernels: KernelSet,
  memory: WebAssembly.Memory,
  byteOffset: number,
): void {
  const state = new MergeLinesState(memory, { byteOffset, inputCount: 1 });
  state.start({ reverse: false, terminator: 10, unique: false });
  const dataOffset = byteOffset + MergeLinesState.bytes(1);
  state.merge.setInput(0, { byteOffset: dataOffset, byteEnd: dataOffset, finished: true });
  state.merge.setOutput(dataOffset, dataOffset + 64);
  const status = kernels.mergeLines(state.byteOffset);
  assert(status === KernelStatus.done, `an empty merge returned status ${status}`);
  assert(state.merge.mergedCount === 0, "an empty merge wrote records");
}

class KernelLineMerger {
  readonly #regions: MergeRegions;
  readonly #options: KernelMergeOptions;
  readonly #sources: readonly BlockSource[];
  #state: MergeLinesState | undefined = undefined;
  #halves: readonly MergeRegion[] = [];
  #half = 0;
  /**
   * The write in flight: awaited before the next write starts (writes stay in order, one at
   * a time) and so before its half is filled again; the kernel fills the other half meanwhile.
   */
  #writing: Promise<void> | undefined = undefined;
  /** Where the inputs stood when a source stopped the merge. */
  #rest: KernelMergeRest | undefined = undefined;

  constructor(sources: readonly BlockSource[], options: KernelMergeOptions) {
    assert(sources.length >= 1, "a kernel merge needs at least one input");
    this.#regions = options.regions;
    this.#options = options;
    this.#sources = sources;
  }

  async run(write: BlockWrite): Promise<KernelMergeResult> {
    const regions = this.#regions;
    const options = this.#options;
    const k = this.#sources.length;
    const state = new MergeLinesState(regions.memory, {
      byteOffset: regions.state(MergeLinesState.bytes(k)).byteOffset,
      inputCount: k,
    });
    this.#state = state;
    assert(!(options.keyed === true && options.reverse), "keyed records encode -r in the keys");
    assert(!(options.keyed === true && options.text === true), "text lines are not keyed");
    state.start({
      reverse: options.reverse,
      terminator: options.terminator,
      unique: options.unique,
      keyed: options.keyed === true,
      lineEndsKey: options.keyed === true && options.lineEndsKey === true,
    });
    const inputs = new BlockInputs(this.#sources, regions, state.merge);
    if (options.unique) this.#growScratch(1);
    const halves = regions.outputs();
    this.#halves = halves;
    assert(halves.length >= 2, "a kernel merge needs two output halves");
    const merge = state.merge;
    merge.setOutput(halves[0]!.byteOffset, halves[0]!.byteOffset + halves[0]!.byteLength);
    const kernels = options.kernels;
    const text = options.text === true;
    for (;;) {
      const spanMs = timelineStart();
      const status = text
        ? kernels.mergeText(state.byteOffset)
        : kernels.mergeLines(state.byteOffset);
      timelineEnd("merge-kernel", spanMs);
      if (status === KernelStatus.needInput) {
        if (!(await this.#refill(inputs, write))) break;
        continue;
      }
      if (status === MergeLinesStatus.needScratch) {
        if (this.#growScratchOrStop(state.scratchNeeded)) continue;
        await this.#stop(write, -1);
        break;
      }
      if (status === KernelStatus.corrupt) inputs.corrupt(merge.inputAsking);
      if (status !== KernelStatus.outputFull && status !== KernelStatus.done) {
        assert(false, `merge kernel returned ${status}`); // per block: built on failure only
      }
      await this.#writeHalf(write);
      if (status === KernelStatus.done) break;
      this.#half = (this.#half + 1) % halves.length;
      const next = halves[this.#half]!;
      merge.setOutput(next.byteOffset, next.byteOffset + next.byteLength);
    }
    if (this.#writing !== undefined) await this.#writing;
    const rest = this.#rest;
    if (rest !== undefined) {
      return { writtenCount: rest.writtenCount, droppedCount: rest.droppedCount, rest };
    }
    const writtenCount = merge.mergedCount;
    const droppedCount = state.droppedCount;
    if (
      options.expectedRecords >= 0 &&
      (writtenCount + droppedCount) >>> 0 !== options.expectedRecords >>> 0
    ) {
      throw new Error(
        `The merge kernel merged ${
          writtenCount + droppedCount
        } records, the inputs hold ${options.expectedRecords}`,
      );
    }
    return { writtenCount, droppedCount };
  }

  /**
   * Gives the asking input its next bytes; false when a source stopped the merge meanwhile
   * ({@linkcode KernelMergeControl}).
   */
  async #refill(inputs: BlockInputs, write: BlockWrite): Promise<boolean> {
    const control = this.#options.control;
    if (control === undefined) {
      await inputs.refill(this.#state!.merge.inputAsking);
      return true;
    }
    control.stop = () => this.#stop(write, this.#state!.merge.inputAsking);
    try {
      await inputs.refill(this.#state!.merge.inputAsking);
      return true;
    } catch (error) {
      if (error instanceof KernelMergeStopped && this.#rest !== undefined) return false;
      throw error;
    } finally {
      control.stop = undefined;
    }
  }

  /** Writes what the current half holds (after the write in flight) and starts its write. */
  async #writeHalf(write: BlockWrite): Promise<void> {
    const region = this.#halves[this.#half]!;
    const filled = this.#state!.merge.outputOffset - region.byteOffset;
    if (this.#writing !== undefined) await this.#writing;
    this.#writing = undefined;
    if (filled <= 0) return;
    const bytes = new Uint8Array(this.#regions.memory.buffer, region.byteOffset, filled);
    const pending = write(bytes, filled, this.#half);
    if (pending !== undefined) {
      this.#writing = Promise.resolve(pending);
      // A failed write surfaces where it is awaited; until then it is not "unhandled".
      this.#writing.catch(() => {});
    }
  }

  /**
   * {@linkcode KernelMergeControl.stop}: called while the merge waits in `#refill` for input
   * `asking`, or by the merge itself (`asking` -1) when the `-u` copy cannot grow.
   */
  async #stop(write: BlockWrite, asking: number): Promise<KernelMergeRest> {
    assert(this.#rest === undefined, "a kernel merge stopped twice");
    const state = this.#state!;
    const merge = state.merge;
    await this.#writeHalf(write);
    if (this.#writing !== undefined) await this.#writing;
    this.#writing = undefined;
    const inputs: MergeRegion[] = [];
    for (let i = 0; i < merge.inputCount; i += 1) {
      const byteOffset = merge.inputOffset(i);
      inputs.push({ byteOffset, byteLength: Math.max(0, merge.inputEnd(i) - byteOffset) });
    }
    assert(asking < 0 || inputs[asking]!.byteLength === 0, "a stopped merge's input holds bytes");
    this.#rest = {
      asking,
      inputs,
      lastRecord: state.lastRecord,
      writtenCount: merge.mergedCount,
      droppedCount: state.droppedCount,
    };
    return this.#rest;
  }

  /**
   * Grows the `-u` copy; false when the budget has no room for it and the merge can be stopped
   * instead ({@linkcode KernelMergeControl}: the loser tree keeps the copy off the pages).
   */
  #growScratchOrStop(byteLength: number): boolean {
    if (this.#options.control === undefined) {
      this.#growScratch(byteLength);
      return true;
    }
    try {
      this.#growScratch(byteLength);
      return true;
    } catch (error) {
      if (error instanceof ResourceError) return false; // the budget's MemoryBudgetError
      throw error;
    }
  }

  #growScratch(byteLength: number): void {
    const state = this.#state!;
    this.#regions.scratch(byteLength, (region) => {
      state.setScratch(
        region.byteOffset,
        region.byteLength,
        new Uint8Array(this.#regions.memory.buffer),
      );
    });
  }
}

/**
 * The inputs of a kernel merge (the merge step's, or any kernel sharing its input layout):
 * gives input `i` its next bytes when the kernel asks (status `needInput`), completing a record
 * cut by a block border in the input's carry (see the module doc).
 */
export class BlockInputs {
  readonly #regions: MergeRegions;
  readonly #merge: MergeState;
  readonly #inputs: CarriedInput[];

  /**
   * Feeds `merge`'s inputs from `sources`, one source per input.
   *
   * @param sources The inputs (not started: the first `nextBlock()` is the merge's).
   * @param regions Where the carries come from.
   * @param merge The merge state whose inputs are fed.
   */
  constructor(sources: readonly BlockSource[], regions: MergeRegions, merge: MergeState) {
    assert(sources.length === merge.inputCount, "one source per merge input");
    this.#regions = regions;
    this.#merge = merge;
    this.#inputs = sources.map((source) => ({ source, carry: undefined, inCarry: false, rest: 0 }));
  }

  /** Gives input `i` its next bytes: the rest of its block, a carried record, or a block. */
  async refill(i: number): Promise<void> {
    const input = this.#inputs[i]!;
    const source = input.source;
    const merge = this.#merge;
    if (input.inCarry) {
      assert(merge.inputOffset(i) === merge.inputEnd(i), "a carried record was not consumed");
      input.inCarry = false;
      merge.setInput(i, {
        byteOffset: input.rest,
        byteEnd: source.blockEnd,
        finished: source.isLastBlock,
      });
      return;
    }
    const tailStart = merge.inputOffset(i);
    let filled = merge.inputEnd(i) - tailStart;
    if (filled > 0) {
      // The tail lives in the block the next read reuses: copy it out first.
      const carry = this.#carry(i, filled, 0);
      this.#bytes().copyWithin(carry, tailStart, tailStart + filled);
    }
    for (;;) {
      let more = source.nextBlock();
      if (more instanceof Promise) more = await more;
      if (!more) {
        assert(filled === 0, "a source ended without its last-block flag");
        merge.setInput(i, { byteOffset: 0, byteEnd: 0, finished: true });
        return;
      }
      const start = source.blockStart;
      const end = source.blockEnd;
      if (filled === 0) {
        merge.setInput(i, { byteOffset: start, byteEnd: end, finished: source.isLastBlock });
        return;
      }
      const needed = encodedLength(this.#bytes(), input.carry!.byteOffset, filled, start, end);
      if (needed === -2) this.corrupt(i);
      if (needed >= 0 && needed - filled <= end - start) {
        const carry = this.#carry(i, needed, filled);
        const take = needed - filled;
        this.#bytes().copyWithin(carry + filled, start, start + take);
        input.inCarry = true;
        input.rest = start + take;
        merge.setInput(i, { byteOffset: carry, byteEnd: carry + needed, finished: false });
        return;
      }
      if (source.isLastBlock) this.corrupt(i);
      // A record longer than the block: all of it goes to the carry.
      const carry = this.#carry(i, filled + end - start, filled);
      this.#bytes().copyWithin(carry + filled, start, end);
      filled += end - start;
    }
  }

  /** The carry of input `i`, at least `byteLength` long, keeping its first `keepBytes`. */
  #carry(i: number, byteLength: number, keepBytes: number): number {
    const input = this.#inputs[i]!;
    const old = input.carry;
    if (old !== undefined && old.byteLength >= byteLength) return old.byteOffset;
    input.carry = this.#regions.carry(i, byteLength, keepBytes);
    return input.carry.byteOffset;
  }

  #bytes(): Uint8Array {
    return new Uint8Array(this.#regions.memory.buffer);
  }

  /**
   * Throws the error of a corrupt input `i` (status `corrupt`).
   *
   * @throws {CorruptSpillError} Always.
   */
  corrupt(i: number): never {
    const source = this.#inputs[i]!.source;
    const path = source.run?.path ?? "(in memory)";
    throw new CorruptSpillError(path, source.blockIndex, "record", "whole records", "a cut record");
  }
}

/**
 * {@linkcode MergeRegions} from the budget: every region is a segment of contiguous pages
 * booked under `owner`; a grown carry or scratch replaces the smaller one.
 *
 * @param memory The budget.
 * @param options Owner, and the segments of the two output halves together (at least 2).
 * @returns The regions; `release()` gives every page back.
 */
export function managedMergeRegions(
  memory: MemoryManager,
  options: { owner: string; outputSegments: number },
): MergeRegions {
  const leases: SegmentLease[] = [];
  const carries = new Map<number, SegmentLease>();
  let scratch: SegmentLease | undefined = undefined;
  const take = (byteLength: number): SegmentLease => {
    const segmentCount = Math.ceil(Math.max(byteLength, 1) / memory.segmentBytes);
    const lease = segmentCount === 1
      ? memory.allocate(options.owner, 1)
      : memory.allocateContiguous(options.owner, segmentCount);
    leases.push(lease);
    return lease;
  };
  const drop = (lease: SegmentLease): void => {
    leases.splice(leases.indexOf(lease), 1);
    lease.release();
  };
  const region = (lease: SegmentLease): MergeRegion => {
    const segment = lease.segments[0]!;
    return { byteOffset: segment.memoryOffset, byteLength: segment.byteLength };
  };
  return {
    memory: memory.wasmMemory,
    state: (byteLength) => region(take(byteLength)),
    outputs: () => {
      const halfBytes = Math.max(1, Math.floor(options.outputSegments / 2)) * memory.segmentBytes;
      return [region(take(halfBytes)), region(take(halfBytes))];
    },
    carry: (input, byteLength, keepBytes) => {
      const lease = take(byteLength);
      const old = carries.get(input);
      const next = region(lease);
      if (old !== undefined) {
        const from = region(old).byteOffset;
        new Uint8Array(memory.wasmMemory.buffer).copyWithin(
          next.byteOffset,
          from,
          from + keepBytes,
        );
        drop(old);
      }
      carries.set(input, lease);
      return next;
    },
    scratch: (byteLength, moveInto) => {
      const lease = take(byteLength);
      moveInto(region(lease));
      if (scratch !== undefined) drop(scratch);
      scratch = lease;
      return region(lease);
    },
    release: () => {
      for (const lease of leases) lease.release();
      leases.length = 0;
      carries.clear();
      scratch = undefined;
    },
  };
}

/**
 * Bytes of the encoded record (varint + bytes) that starts at `carry` (`filled` bytes there)
 * and continues at `[start, end)`; -1 when the varint does not end in these bytes, -2 when it
 * is overlong.
 */
function encodedLength(
  bytes: Uint8Array,
  carry: number,
  filled: number,
  start: number,
  end: number,
): number {
  let length = 0;
  let scale = 1;
  const available = filled + (end - start);
  for (let k = 0; k < 5; k += 1) {
    if (k >= available) return -1;
    const byte = k < filled ? bytes[carry + k]! : bytes[start + k - filled]!;
    length += (byte & 0x7f) * scale;
    if (byte < 0x80) return k + 1 + length;
    scale *= 128;
  }
  return -2;
}

/** Where a started {@linkcode GatherState} and its staging page are (offsets: postable). */
export interface GatherPlace {
  /** Memory offset of the started gather state. */
  stateOffset: number;
  /** Memory offset of the staging page. */
  stageOffset: number;
  /** Bytes of the staging page. */
  stageBytes: number;
  /** The buffer holds keyed records: gather them as a keyed run's (the gatherKeyed kernel). */
  keyed?: boolean;
}

/**
 * Block payloads gathered by the gather kernel from a started {@linkcode GatherState}, one
 * staging page at a time; runs on whichever thread merges (the state is in the shared memory).
 */
export class GatherBlocks implements BlockSource {
  readonly #kernels: KernelSet;
  readonly #state: GatherState;
  readonly #place: GatherPlace;
  #blockStart = 0;
  #blockEnd = 0;
  #last = false;
  #blockIndex = -1;

  /**
   * Gathers from the started state at `place` into its staging page.
   *
   * @param memory The shared memory.
   * @param kernels This thread's kernels.
   * @param place The started state and the staging page.
   */
  constructor(memory: WebAssembly.Memory, kernels: KernelSet, place: GatherPlace) {
    this.#kernels = kernels;
    this.#place = place;
    this.#state = new GatherState(memory, place.stateOffset);
  }

  /** Gathers the next records into the staging page. */
  nextBlock(): boolean {
    if (this.#last) return false;
    const stage = this.#place.stageOffset;
    this.#state.setOutput(stage, stage + this.#place.stageBytes);
    const status = this.#place.keyed === true
      ? this.#kernels.gatherKeyed(this.#state.byteOffset)
      : this.#kernels.gather(this.#state.byteOffset);
    this.#blockStart = stage;
    this.#blockEnd = this.#state.outputOffset;
    this.#last = status === KernelStatus.done;
    this.#blockIndex += 1;
    return true;
  }

  /** Memory offset of the gathered payload. */
  get blockStart(): number {
    return this.#blockStart;
  }

  /** Its end. */
  get blockEnd(): number {
    return this.#blockEnd;
  }

  /** Whether every record is gathered. */
  get isLastBlock(): boolean {
    return this.#last;
  }

  /** Blocks gathered so far, less one. */
  get blockIndex(): number {
    return this.#blockIndex;
  }
}

/**
 * A sorted {@linkcode SortBuffer} as block payloads (the final merge's in-memory last run): a
 * {@linkcode GatherBlocks} over the buffer's index. The buffer is lent (booked under `owner`)
 * until {@linkcode SortBufferBlocks.close}; the merge Worker may gather from it instead
 * ({@linkcode SortBufferBlocks.place}).
 */
export class SortBufferBlocks implements BlockSource {
  /** The started gather state and staging page (for a Worker to gather from). */
  readonly place: GatherPlace;
  readonly #buffer: SortBuffer;
  /** The staging page, then the state and page table (contiguous pages). */
  readonly #leases: SegmentLease[] = [];
  readonly #blocks: GatherBlocks;

  /**
   * Lends the sorted buffer's pages and index, and takes a staging page and the gather state
   * with its page table ({@linkcode sortBufferBlocksSegments} pages in all). On any failure
   * here the buffer is taken back and the pages given back before the error is thrown.
   *
   * @param buffer A sorted buffer (keyed records are gathered as a keyed run's).
   * @param options The kernels, the budget, and the owner of both.
   */
  constructor(
    buffer: SortBuffer,
    options: { kernels: KernelSet; memory: MemoryManager; owner: string },
  ) {
    const memory = options.memory;
    const segmentBytes = memory.segmentBytes;
    const job = buffer.lend(options.owner);
    this.#buffer = buffer;
    try {
      const stage = memory.allocate(options.owner, 1);
      this.#leases.push(stage);
      // The state and the page table (4 bytes per data page: more than a page for a run of
      // over ~1000 pages of 4 KiB) are read as one range: contiguous pages.
      const tablePages = Math.ceil(tableBytes(job.segments.length) / segmentBytes);
      const tableLease = tablePages === 1
        ? memory.allocate(options.owner, 1)
        : memory.allocateContiguous(options.owner, tablePages);
      this.#leases.push(tableLease);
      const table = tableLease.segments[0]!.memoryOffset;
      new Uint32Array(memory.wasmMemory.buffer, table + GatherState.BYTES, job.segments.length)
        .set(job.segments);
      new GatherState(memory.wasmMemory, table).start({
        indexOffset: job.index,
        recordCount: job.recordCount,
        pageTableOffset: table + GatherState.BYTES,
        segmentShift: job.segmentShift,
        lineEndsKey: buffer.keyed && buffer.keyEndsWithLine,
        prefixHoldsRecord: !buffer.keyed && job.prefixHoldsRecord === true,
        prefixInverted: job.prefixInverted === true,
      });
      this.place = {
        stateOffset: table,
        stageOffset: stage.segments[0]!.memoryOffset,
        stageBytes: segmentBytes,
        keyed: buffer.keyed,
      };
      this.#blocks = new GatherBlocks(memory.wasmMemory, options.kernels, this.place);
    } catch (error) {
      for (const lease of this.#leases) lease.release();
      this.#leases.length = 0;
      buffer.takeBack(true);
      throw error;
    }
  }

  /** Gathers the next records into the staging page. */
  nextBlock(): boolean {
    return this.#blocks.nextBlock();
  }

  /** Memory offset of the gathered payload. */
  get blockStart(): number {
    return this.#blocks.blockStart;
  }

  /** Its end. */
  get blockEnd(): number {
    return this.#blocks.blockEnd;
  }

  /** Whether every record is gathered. */
  get isLastBlock(): boolean {
    return this.#blocks.isLastBlock;
  }

  /** Blocks gathered so far, less one. */
  get blockIndex(): number {
    return this.#blocks.blockIndex;
  }

  /** Takes the buffer back and gives the staging page and table back. Idempotent. */
  close(): void {
    if (this.#leases.length === 0) return;
    for (const lease of this.#leases) lease.release();
    this.#leases.length = 0;
    this.#buffer.takeBack(true);
  }
}

function tableBytes(pageCount: number): number {
  return GatherState.BYTES + 4 * pageCount;
}

/**
 * Pages a {@linkcode SortBufferBlocks} takes for a buffer of `dataPages` data pages: the
 * staging page and the gather state with its page table.
 *
 * @param segmentBytes Bytes per segment.
 * @param dataPages The buffer's data pages.
 * @returns The pages.
 */
export function sortBufferBlocksSegments(segmentBytes: number, dataPages: number): number {
  return 1 + Math.ceil(tableBytes(dataPages) / segmentBytes);
}
