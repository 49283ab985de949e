/**
 * One sorted buffer's gather into a run file by two threads at once (issue 11: the gather side
 * of run generation). The sort Worker gathers a sorted buffer into sealed blocks and writes
 * them to the run file (sort_worker.ts `writeRun`); the main thread, when it would otherwise
 * wait for that spill to end, takes chunks of the same run and gathers and writes them itself.
 *
 * A run's payload is one byte stream cut into blocks of `blockBytes - 16` payload bytes: every
 * block but the last is full, and a record may continue into the next block. So where each
 * block starts in the stream is known from the sorted index alone (each record's encoding is
 * varint(length) + length), and a gather can start at any block border: at entry `rank`, with
 * `pendingBytes` of its encoding in the block before. The Worker cuts the run into chunks of
 * `chunkBlocks` blocks and publishes where each starts ({@linkcode publishGatherSplit}); then
 * the Worker takes chunks from the low end and this thread from the high end (all but the last
 * one left), each claimed by a compare-exchange, and each thread writes its blocks at their places in the file. The blocks
 * are the bytes one gather writes, so the run file is the same, byte for byte.
 *
 * ```
 * control (Int32Array, SPLIT_GATHER_WORDS):
 * | claims: low cursor (bits 0-15) | high cursor (bits 16-31) | chunk blocks | chunk count |
 * | record count | block count | per chunk: rank, pending bytes, long varint bytes |
 * ```
 *
 * This thread helps only synchronously, between its own steps (external_sort.ts): it has
 * written every chunk it claimed before it handles the Worker's reply, and the Worker replies
 * only once no chunk is left to claim; so the run is complete when the spill's promise settles.
 *
 * @module
 */
// Leaf modules only: this file is in the sort Worker's module graph.
import { assert } from "../base/mod.ts";
import { BLOCK_HEADER_BYTES } from "../io/spill_format.ts";
import type { SortJob } from "./job_sort.ts";
import {
  type BlockFirstKeys,
  BlockGather,
  FIRST_KEYS_BYTES_MAX,
  type GatherStart,
} from "./kernel_sort.ts";
import type { KernelSet } from "../kernels/kernel_state.ts";
import type { WasmKernels } from "../kernels/wasm_kernels.ts";

const CLAIMS = 0;
const CHUNK_BLOCKS = 1;
const CHUNK_COUNT = 2;
const RECORD_COUNT = 3;
const BLOCK_COUNT = 4;
const STARTS = 5;
const START_WORDS = 3;
/** The most chunks a run is cut into (the claim cursors are 16 bits). */
const CHUNKS_MAX = 256;
/** The fewest blocks of a chunk (128 KiB blocks: 512 KiB, ~1 ms of gather and write). */
const CHUNK_BLOCKS_MIN = 4;

/** How often {@linkcode awaitGatherSplit} checks whether the Worker is still at it. */
const PUBLISH_POLL_MS = 2;

/** Bytes of the kernels' scratch {@linkcode publishGatherSplit} writes the chunk starts into. */
export const SCRATCH_BYTES = 4 * START_WORDS * CHUNKS_MAX;
/** Words of a split gather's control block. */
export const SPLIT_GATHER_WORDS = STARTS + START_WORDS * CHUNKS_MAX;
/** Records from which a sorted buffer's gather is shared (below, the Worker gathers it alone). */
export const SPLIT_GATHER_RECORDS_MIN = 8192;

/** Clears `control` before its job is posted: nothing can be claimed until it is published. */
export function resetGatherSplit(control: Int32Array): void {
  control[BLOCK_COUNT] = 0;
  control[CHUNK_COUNT] = 0;
  Atomics.store(control, CLAIMS, 0);
}

/**
 * Cuts the sorted `job` (plain records, `-u` duplicates dropped) into chunks of whole blocks
 * of `blockBytes` and publishes where each chunk starts (the Worker, before its gather; the
 * kernel `gatherChunkStarts` scans the index into `scratchOffset`, {@linkcode SCRATCH_BYTES}).
 *
 * @param control The control block ({@linkcode SPLIT_GATHER_WORDS} words).
 * @param job The sorted job.
 * @param options The kernels, their scratch (free while the job gathers) and the block size.
 */
export function publishGatherSplit(
  control: Int32Array,
  job: SortJob,
  options: { kernels: WasmKernels; scratchOffset: number; blockBytes: number },
): void {
  assert(job.keyed !== true, "a split gather is of plain records");
  const count = job.recordCount;
  const payloadBytes = options.blockBytes - BLOCK_HEADER_BYTES;
  // An upper bound of the blocks (every page full, 5 varint bytes a record) sizes the chunks.
  const recordBytesMax = job.segments.length * 2 ** job.segmentShift;
  const blocksMax = Math.ceil((recordBytesMax + 5 * count) / payloadBytes);
  const chunkBlocks = Math.max(CHUNK_BLOCKS_MIN, Math.ceil(blocksMax / CHUNKS_MAX));
  const scratch = options.scratchOffset;
  const payloadTotal = options.kernels.gatherChunkStarts(
    job.index,
    count,
    chunkBlocks * payloadBytes,
    scratch,
    CHUNKS_MAX,
  );
  const blockCount = Math.max(1, Math.ceil(payloadTotal / payloadBytes));
  const chunkCount = Math.ceil(blockCount / chunkBlocks);
  assert(chunkCount <= CHUNKS_MAX, "a split gather's chunks fit");
  const starts = new Int32Array(options.kernels.memory.buffer, scratch, START_WORDS * chunkCount);
  control.set(starts, STARTS);
  control[CHUNK_BLOCKS] = chunkBlocks;
  control[CHUNK_COUNT] = chunkCount;
  control[RECORD_COUNT] = count;
  control[BLOCK_COUNT] = blockCount;
  Atomics.store(control, CLAIMS, chunkCount << 16);
  Atomics.notify(control, CLAIMS);
}

/**
 * Waits until `control` is published or `stop()` says it never will be (checked every
 * {@linkcode PUBLISH_POLL_MS}), at most `timeoutMs`.
 *
 * @returns Whether it is published.
 */
export function awaitGatherSplit(
  control: Int32Array,
  stop: () => boolean,
  timeoutMs: number,
): boolean {
  const deadline = performance.now() + timeoutMs;
  while (Atomics.load(control, CLAIMS) === 0 && !stop()) {
    const left = deadline - performance.now();
    if (left <= 0) break;
    Atomics.wait(control, CLAIMS, 0, Math.min(left, PUBLISH_POLL_MS));
  }
  return Atomics.load(control, CLAIMS) !== 0;
}

/**
 * The next chunk from one end, or -1 when every chunk is taken (or none is published). The high
 * end (this thread) leaves the last one to the Worker: the Worker is at the chunk before it
 * then, so that this thread, when it takes the one after, ends about when the Worker does, not
 * a whole chunk later.
 */
export function claimGatherChunk(control: Int32Array, fromHigh: boolean): number {
  while (true) {
    const claims = Atomics.load(control, CLAIMS);
    const low = claims & 0xffff;
    const high = claims >>> 16;
    if (low + (fromHigh ? 1 : 0) >= high) return -1;
    const next = fromHigh ? ((high - 1) << 16) | low : (high << 16) | (low + 1);
    if (Atomics.compareExchange(control, CLAIMS, claims, next) === claims) {
      return fromHigh ? high - 1 : low;
    }
  }
}

/** Where chunk `chunk` starts, for a {@linkcode BlockGather} from there. */
export function gatherChunkStart(control: Int32Array, chunk: number): GatherStart {
  const word = STARTS + START_WORDS * chunk;
  return {
    blockIndex: chunk * control[CHUNK_BLOCKS]!,
    rank: control[word]!,
    pendingBytes: control[word + 1]!,
    longVarintBytes: control[word + 2]!,
  };
}

/** The index after chunk `chunk`'s last block. */
export function gatherChunkEnd(control: Int32Array, chunk: number): number {
  return Math.min((chunk + 1) * control[CHUNK_BLOCKS]!, control[BLOCK_COUNT]!);
}

/** The published run's blocks (0: nothing published since the reset). */
export function splitGatherBlockCount(control: Int32Array): number {
  return control[BLOCK_COUNT]!;
}

/** The published run's records. */
export function splitGatherRecordCount(control: Int32Array): number {
  return control[RECORD_COUNT]!;
}

/** What one thread gathered of a run: consecutive blocks, and their indexes' entries. */
export interface GatherPart {
  /** The blocks. */
  blockCount: number;
  /** Their line-bytes index entries (kernel_sort.ts `BlockGather.lineBytesIndex`). */
  lineBytesIndex: number[];
  /** Their first keys (kernel_sort.ts `BlockGather.blockFirstKeys`). */
  blockFirstKeys: BlockFirstKeys;
}

/**
 * Gathers the chunks this thread claims from the high end (in its own kernel area at
 * `areaOffset`, into the block at `blockOffset`) and writes each block with `writeBlock`
 * (`bytes` is the whole block; valid until the call returns), until none is left.
 *
 * @returns The parts gathered, by chunk.
 */
export function gatherClaimedChunks(
  control: Int32Array,
  job: SortJob,
  options: {
    memory: WebAssembly.Memory;
    kernels: KernelSet;
    areaOffset: number;
    blockOffset: number;
    blockBytes: number;
    writeBlock: (blockIndex: number, bytes: Uint8Array) => void;
    parts: Map<number, GatherPart>;
  },
): void {
  const bytes = new Uint8Array(options.memory.buffer);
  const block = bytes.subarray(options.blockOffset, options.blockOffset + options.blockBytes);
  const run = { ...job, recordCount: splitGatherRecordCount(control) };
  for (let chunk = claimGatherChunk(control, true); chunk >= 0;) {
    const from = gatherChunkStart(control, chunk);
    const gather = new BlockGather(run, {
      memory: options.memory,
      kernels: options.kernels,
      areaOffset: options.areaOffset,
      ring: [options.blockOffset],
      blockBytes: options.blockBytes,
      from,
    });
    gather.gatherUpTo(gatherChunkEnd(control, chunk));
    for (let index = gather.blockIndex; gather.next() !== undefined; index += 1) {
      options.writeBlock(index, block);
      gather.free();
    }
    options.parts.set(chunk, {
      blockCount: gather.blockIndex - from.blockIndex,
      lineBytesIndex: gather.lineBytesIndex!,
      blockFirstKeys: gather.blockFirstKeys!,
    });
    chunk = claimGatherChunk(control, true);
  }
}

/**
 * Joins the parts of one run, in block order, into the run's line-bytes index and block first
 * keys: the same as one gather of the whole run leaves (its first keys stop at the first that
 * does not fit in {@linkcode FIRST_KEYS_BYTES_MAX}, as there).
 */
export function joinGatherParts(
  parts: readonly GatherPart[],
): { lineBytesIndex: number[]; blockFirstKeys: BlockFirstKeys } {
  const lineBytesIndex: number[] = [];
  for (const part of parts) {
    for (const entry of part.lineBytesIndex) lineBytesIndex.push(entry);
  }
  const recordLengths: number[] = [];
  const keyEnds: number[] = [];
  const chunks: Uint8Array[] = [];
  let used = 0;
  joining: for (const part of parts) {
    const keys = part.blockFirstKeys;
    let start = 0;
    for (let b = 0; b < part.blockCount; b += 1) {
      // A part's own keys stop where they filled up: the joined ones are full by then too.
      if (b >= keys.recordLengths.length) break joining;
      const length = keys.recordLengths[b]!;
      const end = keys.keyEnds[b]!;
      if (length >= 0) {
        if (used + end - start > FIRST_KEYS_BYTES_MAX) break joining;
        chunks.push(keys.bytes.subarray(start, end));
        used += end - start;
      }
      recordLengths.push(length);
      keyEnds.push(used);
      start = end;
    }
  }
  const bytes = new Uint8Array(used);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return { lineBytesIndex, blockFirstKeys: { recordLengths, keyEnds, bytes } };
}
