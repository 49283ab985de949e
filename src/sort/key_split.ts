/**
 * Key-range split of a merge (issue 11 item 3): splitter keys cut the merge of k sorted inputs
 * into ranges that merge independently, each on its own thread, and are written in order.
 * A record goes to the range of the last splitter it is not before (records equal to a
 * splitter go after it), so equal records never straddle two ranges: `-u` and the stable
 * tie order (earlier input first) stay what one merge does, and the output is byte-identical.
 *
 * ```
 *  run 0  |a c e|g h |k m p|r s z|         splitters  S1 = "g", S2 = "p"
 *  run 1  |b d f f|g i|q t|                range 0: run 0 [start, g)  run 1 [start, g)
 *  memory  a d h q  (ranks)                range 1: run 0 [g, p)      run 1 [g, q) ...
 * ```
 *
 * Where a key falls in a spill run is found without reading the run: every block names the
 * offset of the first record that starts in it (docs/spill-format.md, version 2), a few sampled
 * blocks per run give first keys in memory, a binary search reads a few blocks between two
 * samples, and a scan of one block finds the exact record. In the in-memory run (a sorted
 * index) it is a binary search over ranks. Keys are compared as bytes (plain byte orders only:
 * `-r` flips the order); a splitter is a sampled record's first {@linkcode SPLIT_KEY_BYTES_MAX}
 * bytes (any byte string cuts correctly).
 *
 * @module
 */
import { assert } from "../base/mod.ts";
import {
  CorruptSpillError,
  firstRecordOffsetOf,
  RunBlockReader,
  SpillReadError,
  type SpillRun,
} from "../io/mod.ts";
import type { SortJob } from "./sort_buffer.ts";
import { type BlockFirstKeys, FIRST_KEY_BYTES_MAX } from "./kernel_sort.ts";

/**
 * Longest splitter key: a sampled record is cut to this many bytes (as many as a run's first
 * keys keep: kernel_sort.ts `BlockFirstKeys`).
 */
export const SPLIT_KEY_BYTES_MAX = FIRST_KEY_BYTES_MAX;

/** The cuts of {@linkcode KeySplit.chooseSplitters} for `rangeCount` ranges of equal weight. */
export function evenCuts(rangeCount: number): number[] {
  return Array.from({ length: Math.max(0, rangeCount - 1) }, (_, k) => (k + 1) / rangeCount);
}

/**
 * Cuts for ranges that shrink towards the end, for lanes that each take the next range when
 * they are free (guided scheduling): each range takes `restShare` of the weight left, at least
 * `shareMin` of the whole, and the last one what is left. The lane that finishes first then
 * waits at most for a small last range instead of one of equal ranges.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { shrinkingCuts } from "./key_split.ts";
 * deepStrictEqual(shrinkingCuts(0.5, 0.25), [0.5, 0.75]); // ranges 1/2, 1/4, 1/4
 * ```
 */
export function shrinkingCuts(restShare: number, shareMin: number): number[] {
  const cuts: number[] = [];
  let done = 0;
  while (true) {
    const share = Math.max((1 - done) * restShare, shareMin);
    // A rest smaller than half the least share joins the last range.
    if (1 - done - share < shareMin / 2) return cuts;
    done += share;
    cuts.push(done);
  }
}

/** Where a range starts or ends in a spill run: a record start, or the run's end. */
export interface RunPosition {
  /** Block index (the run's block count at its end). */
  block: number;
  /** Payload offset in the block (0 at the run's end). */
  offset: number;
}

/** A spill run's part of one range: records from `start` up to, not including, `end`. */
export interface RunRange {
  /** First record of the range. */
  start: RunPosition;
  /** First record after it (or the run's end). */
  end: RunPosition;
}

/** Whether a range holds no record of the run. */
export function isEmptyRange(range: RunRange): boolean {
  return range.start.block === range.end.block && range.start.offset === range.end.offset;
}

/** Compares record bytes `a[0, aLength)` with key `b` in byte order: <0, 0, >0. */
function compareBytes(a: Uint8Array, aLength: number, recordLength: number, b: Uint8Array): number {
  const n = Math.min(aLength, b.length);
  for (let i = 0; i < n; i += 1) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  // Equal over the shorter: `aLength` holds min(recordLength, SPLIT_KEY_BYTES_MAX) >= n bytes.
  return recordLength - b.length;
}

/**
 * The one block buffer every run's probe of a split reads into in turn, and which probe's block
 * it holds now. One for all runs, not one per run: a buffer per run was 47 x 128 KiB = 6 MiB of
 * peak RSS outside the budget in the placed merge of 1 GiB (docs/performance.md, "Memory").
 */
interface ProbeBlock {
  readonly bytes: Uint8Array;
  holder: RunProbe | undefined;
}

/**
 * Reads a spill run's blocks on this thread, one at a time into the split's one block buffer
 * (each checked, as every read), and decodes records from any record start: to sample first
 * keys and to find where a splitter falls. A probe reads its block again when another probe
 * took the buffer since.
 */
class RunProbe {
  readonly run: SpillRun;
  readonly blockCount: number;
  readonly #reader: RunBlockReader;
  readonly #shared: ProbeBlock;
  /** The run's first keys (from its gather), or undefined. */
  readonly #firstKeys: BlockFirstKeys | undefined;
  /** The block this probe last loaded (-1: none); in the buffer while it is the holder. */
  #loaded = -1;
  #payloadEnd = 0;
  #firstOffset = -1;
  #last = false;
  /** Decode position. */
  #at = 0;
  /** The decoded record's first bytes, its copied length and its length. */
  readonly key = new Uint8Array(SPLIT_KEY_BYTES_MAX);
  keyLength = 0;
  recordLength = 0;

  constructor(run: SpillRun, shared: ProbeBlock, firstKeys: BlockFirstKeys | undefined) {
    const segmentBytes = shared.bytes.length;
    this.run = run;
    this.#firstKeys = firstKeys;
    this.blockCount = Math.max(1, Math.round((run.byteLength - 4096) / segmentBytes));
    this.#reader = readingRun(
      run.path,
      segmentBytes,
      () => new RunBlockReader(run.path, segmentBytes),
    );
    this.#shared = shared;
  }

  close(): void {
    this.#reader.close();
  }

  /**
   * Block `b`'s first record start as the run's first keys know it, without a read: its key
   * (its first min(length, {@linkcode SPLIT_KEY_BYTES_MAX}) bytes) and length; null when no
   * record starts in the block; undefined when the first keys do not reach the block.
   */
  knownFirst(b: number): { key: Uint8Array; recordLength: number } | null | undefined {
    const keys = this.#firstKeys;
    if (keys === undefined || b >= keys.recordLengths.length) return undefined;
    const recordLength = keys.recordLengths[b]!;
    if (recordLength < 0) return null;
    const start = b === 0 ? 0 : keys.keyEnds[b - 1]!;
    return { key: keys.bytes.subarray(start, keys.keyEnds[b]!), recordLength };
  }

  /** Payload offset of the first record that starts in block `b` (-1: none). */
  firstOffset(b: number): number {
    this.#load(b);
    return this.#firstOffset;
  }

  /** Goes to the record at `position` (a record start) without decoding it. */
  seekRecord(position: RunPosition): void {
    this.#load(position.block);
    this.#at = 16 + position.offset;
  }

  /**
   * Passes the records from the current position that are before `splitter` in merge order
   * (`reverse`: descending) and lie wholly in the loaded block, comparing them in place (a
   * block holds ~10K words: no key copied, no call per record); stops at the first record that
   * is not before it, crosses the block's end, or at the payload's end.
   *
   * @returns The output bytes (record + terminator each) of the records passed.
   */
  skipBefore(splitter: Uint8Array, reverse: boolean): number {
    if (this.#shared.holder !== this) return 0;
    const bytes = this.#shared.bytes;
    const end = this.#payloadEnd;
    const n = splitter.length;
    let at = this.#at;
    let passed = 0;
    while (at < end) {
      let length = 0;
      let scale = 1;
      let p = at;
      let whole = false;
      while (p < end) {
        const byte = bytes[p]!;
        p += 1;
        length += (byte & 0x7f) * scale;
        if (byte < 0x80) {
          whole = p + length <= end;
          break;
        }
        scale *= 128;
      }
      if (!whole) break; // its length or bytes go on in the next block
      const m = length < n ? length : n;
      let d = 0;
      for (let k = 0; k < m && d === 0; k += 1) d = bytes[p + k]! - splitter[k]!;
      if (d === 0) d = length - n;
      if (reverse ? d <= 0 : d >= 0) break;
      passed += length + 1;
      at = p + length;
    }
    this.#at = at;
    return passed;
  }

  /** Decodes the record at `position` (a record start) into `key`. */
  recordAt(position: RunPosition): void {
    this.#load(position.block);
    this.#at = 16 + position.offset;
    const more = this.next();
    assert(more, "a record start past the run's end");
  }

  /** The position of the next record (after {@linkcode RunProbe.next}). */
  position(): RunPosition {
    if (this.#at >= this.#payloadEnd) {
      return this.#last
        ? { block: this.blockCount, offset: 0 }
        : { block: this.#loaded + 1, offset: 0 };
    }
    return { block: this.#loaded, offset: this.#at - 16 };
  }

  /** Decodes the next record into `key`; false at the run's end. */
  next(): boolean {
    if (this.#shared.holder !== this && this.#loaded >= 0) {
      const at = this.#at;
      this.#load(this.#loaded);
      this.#at = at;
    }
    if (this.#at >= this.#payloadEnd) {
      if (this.#last) return false;
      this.#load(this.#loaded + 1);
      this.#at = 16;
      if (this.#at >= this.#payloadEnd) return false;
    }
    let length = 0;
    let scale = 1;
    for (let k = 0; k < 5; k += 1) {
      const byte = this.#byte();
      length += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 128;
    }
    this.recordLength = length;
    const keep = Math.min(length, SPLIT_KEY_BYTES_MAX);
    const key = this.key;
    let copied = 0;
    let left = length;
    while (left > 0) {
      if (this.#at >= this.#payloadEnd) this.#load(this.#loaded + 1);
      const take = Math.min(left, this.#payloadEnd - this.#at);
      if (copied < keep) {
        const n = Math.min(take, keep - copied);
        const from = this.#shared.bytes;
        const at = this.#at;
        // A short key byte by byte: no view made per record (a block holds ~1500 words).
        if (n <= 32) { for (let k = 0; k < n; k += 1) key[copied + k] = from[at + k]!; }
        else key.set(from.subarray(at, at + n), copied);
        copied += n;
      }
      this.#at += take;
      left -= take;
    }
    this.keyLength = keep;
    return true;
  }

  #byte(): number {
    if (this.#at >= this.#payloadEnd) this.#load(this.#loaded + 1);
    const byte = this.#shared.bytes[this.#at]!;
    this.#at += 1;
    return byte;
  }

  #load(b: number): void {
    const shared = this.#shared;
    if (this.#loaded === b && shared.holder === this) return;
    assert(b < this.blockCount, `block ${b} of a run of ${this.blockCount}`);
    const reader = this.#reader;
    const block = shared.bytes;
    reader.seek(b);
    this.#loaded = -1;
    shared.holder = undefined;
    readingRun(reader.path, block.length, () => reader.next(block));
    shared.holder = this;
    this.#loaded = b;
    this.#payloadEnd = reader.payloadEnd;
    this.#last = reader.isLastBlock;
    this.#firstOffset = firstRecordOffsetOf(
      (block[4]! | block[5]! << 8 | block[6]! << 16 | block[7]! << 24) >>> 0,
    );
    this.#at = 16;
  }
}

/** The sorted in-memory run of a merge, as {@linkcode KeySplit} reads it. */
export interface InMemoryRun {
  /** Its index and pages. */
  job: SortJob;
  /** The memory, as bytes. */
  bytes: Uint8Array;
  /** Its record bytes (terminators not counted). */
  dataBytes: number;
  /**
   * The output bytes of `count` index entries from `indexOffset` (a kernel: wasm_kernels.ts
   * `indexLineBytes`); without it, a loop here.
   */
  lineBytes?: (indexOffset: number, count: number) => number;
}

/** A sampled first key: where it is and how much of the input it stands for. */
interface Sample {
  key: Uint8Array;
  weight: number;
}

/** Options of {@linkcode KeySplit}. */
export interface KeySplitOptions {
  /** Bytes per segment (= spill block). */
  segmentBytes: number;
  /** `-r`: descending byte order. */
  reverse: boolean;
  /** First keys sampled per run (default 64). */
  samplesPerRun?: number;
  /**
   * Each run's first keys from its gather (kernel_sort.ts `BlockGather.blockFirstKeys`), in
   * the order of the runs, where known: sampling and searching a run then read no block but
   * the one a splitter falls in.
   */
  firstKeys?: readonly (BlockFirstKeys | undefined)[];
  /**
   * One block (`segmentBytes` long) that the runs' probes read into in turn: a page of the
   * caller's budget (a buffer per run would grow with the run count, outside the budget).
   */
  probeBlock: Uint8Array;
}

/**
 * The splitters of one merge and where each falls in every input (see the module doc).
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { KeySplit } from "./key_split.ts";
 * const probeBlock = new Uint8Array(4096); // a page of the budget in the merges
 * const split = new KeySplit([], undefined, { segmentBytes: 4096, reverse: false, probeBlock });
 * strictEqual(split.chooseSplitters(4).length, 0); // nothing to split
 * split.close();
 * ```
 */
export class KeySplit {
  readonly #probes: RunProbe[];
  readonly #memoryRun: InMemoryRun | undefined;
  readonly #options: KeySplitOptions;
  /**
   * The last final scan of {@linkcode KeySplit.runPosition} that began at a block's first
   * record: its run, where it ended, and the output bytes of the records it passed.
   */
  #scan = { run: -1, block: -1, offset: -1, bytes: 0 };
  /** Per run: sampled blocks (ascending) and their first keys. */
  readonly #sampleBlocks: number[][] = [];
  readonly #sampleKeys: Uint8Array[][] = [];
  readonly #samples: Sample[] = [];

  /**
   * Opens the runs for probing and samples their first keys.
   *
   * @param runs Plain spill runs (format version 2), in merge input order.
   * @param memoryRun The sorted in-memory run's job (its index and pages), its memory, and its
   *   data bytes; or undefined.
   * @param options Segment size, order, samples.
   */
  constructor(
    runs: readonly SpillRun[],
    memoryRun: InMemoryRun | undefined,
    options: KeySplitOptions,
  ) {
    this.#options = options;
    this.#memoryRun = memoryRun;
    this.#probes = [];
    try {
      const bytes = options.probeBlock;
      assert(bytes.length === options.segmentBytes, "a probe block is one segment long");
      const shared: ProbeBlock = { bytes, holder: undefined };
      runs.forEach((run, i) => {
        this.#probes.push(new RunProbe(run, shared, options.firstKeys?.[i]));
      });
      this.#sample();
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Closes the run files. */
  close(): void {
    for (const probe of this.#probes) probe.close();
    this.#probes.length = 0;
  }

  /**
   * Distinct splitters, in merge order, that cut the sampled input where its weight reaches each
   * of `cuts` (ascending fractions of the whole, between 0 and 1): a number `n` cuts it into `n`
   * ranges of about equal bytes ({@linkcode evenCuts}). Fewer when the samples have fewer
   * distinct keys.
   */
  chooseSplitters(cuts: number | readonly number[]): Uint8Array[] {
    const fractions = typeof cuts === "number" ? evenCuts(cuts) : cuts;
    const samples = this.#samples;
    if (samples.length === 0 || fractions.length === 0) return [];
    const ordered = [...samples].sort((a, b) => this.#compareKeys(a.key, b.key));
    let total = 0;
    for (const sample of ordered) total += sample.weight;
    const splitters: Uint8Array[] = [];
    let cumulative = 0;
    let next = 0;
    for (const sample of ordered) {
      // The sample's key starts the range whose share of the weight it reaches.
      if (cumulative >= total * fractions[next]!) {
        const last = splitters[splitters.length - 1];
        if (last === undefined || this.#compareKeys(last, sample.key) !== 0) {
          splitters.push(sample.key);
        }
        while (next < fractions.length && cumulative >= total * fractions[next]!) next += 1;
        if (next >= fractions.length) break;
      }
      cumulative += sample.weight;
    }
    return splitters;
  }

  /**
   * Where `splitter` falls in run `i`: its first record that is not before the splitter in
   * merge order (the run's end if none). The splitter is a sampled key
   * ({@linkcode KeySplit.chooseSplitters}), at most {@linkcode SPLIT_KEY_BYTES_MAX} bytes: the
   * samples and probed records are compared by their first that many bytes and their length,
   * which decides the order against such a splitter exactly, not against a longer one.
   *
   * @param i The run.
   * @param splitter The splitter (at most {@linkcode SPLIT_KEY_BYTES_MAX} bytes).
   * @param from A record start known to be at or before the answer (the previous splitter's
   *   position): no block before it is read (a merge may have released them).
   * @returns The position.
   */
  runPosition(i: number, splitter: Uint8Array, from?: RunPosition): RunPosition {
    assert(
      splitter.length <= SPLIT_KEY_BYTES_MAX,
      `a splitter of ${splitter.length} bytes (at most ${SPLIT_KEY_BYTES_MAX})`,
    );
    const probe = this.#probes[i]!;
    if (probe.run.recordCount === 0) return this.runEnd(i);
    if (from !== undefined && from.block >= probe.blockCount) return this.runEnd(i);
    const blocks = this.#sampleBlocks[i]!;
    const keys = this.#sampleKeys[i]!;
    // lo: a block whose first record is before the splitter (-1: none known);
    // hi: every block from hi on starts at or after it.
    let lo = -1;
    let hi = probe.blockCount;
    for (let s = 0; s < blocks.length; s += 1) {
      if (this.#before(keys[s]!, keys[s]!.length, keys[s]!.length, splitter)) {
        lo = blocks[s]!;
      } else {
        hi = blocks[s]!;
        break;
      }
    }
    const fromBlock = from?.block ?? -1;
    if (fromBlock >= lo) lo = fromBlock;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      let m = mid;
      let before = this.#firstBefore(probe, m, splitter);
      while (before === undefined && m + 1 < hi) {
        m += 1;
        before = this.#firstBefore(probe, m, splitter);
      }
      if (before === undefined) {
        hi = mid;
        continue;
      }
      if (before) lo = m;
      else hi = mid;
    }
    const fromFirst = lo >= 0 && lo !== fromBlock;
    let position: RunPosition = lo < 0
      ? { block: 0, offset: 0 }
      : fromFirst
      ? { block: lo, offset: probe.firstOffset(lo) }
      : from!;
    probe.seekRecord(position);
    // The output bytes of the records passed, for lineBytesBefore (from the block's first record).
    let bytes = 0;
    for (;;) {
      bytes += probe.skipBefore(splitter, this.#options.reverse);
      position = probe.position();
      // A record across the block's end, or the next block's first: decoded whole.
      if (!probe.next()) return { block: probe.blockCount, offset: 0 };
      if (!this.#before(probe.key, probe.keyLength, probe.recordLength, splitter)) {
        this.#scan = fromFirst && position.block === lo
          ? { run: i, block: position.block, offset: position.offset, bytes }
          : { run: -1, block: -1, offset: -1, bytes: 0 };
        return position;
      }
      bytes += probe.recordLength + 1;
    }
  }

  /**
   * Whether block `b`'s first record start is before `splitter` (undefined: no record starts
   * in it), from the run's first keys where they reach, else read.
   */
  #firstBefore(probe: RunProbe, b: number, splitter: Uint8Array): boolean | undefined {
    const known = probe.knownFirst(b);
    if (known === null) return undefined;
    if (known !== undefined) {
      return this.#before(known.key, known.key.length, known.recordLength, splitter);
    }
    const first = probe.firstOffset(b);
    if (first < 0) return undefined;
    probe.recordAt({ block: b, offset: first });
    return this.#before(probe.key, probe.keyLength, probe.recordLength, splitter);
  }

  /** Where `splitter` falls in the in-memory run: the rank of its first record not before it. */
  memoryRank(splitter: Uint8Array): number {
    const run = this.#memoryRun;
    assert(run !== undefined, "no in-memory run");
    let lo = 0;
    let hi = run.job.recordCount;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const { offset, length } = this.#memoryRecord(mid);
      const key = run.bytes.subarray(offset, offset + Math.min(length, SPLIT_KEY_BYTES_MAX));
      if (this.#before(key, key.length, length, splitter)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Output bytes (record + terminator each) of run `i`'s records before `position` (a record
   * start or the run's end), from the run's line-bytes index (kernel_sort.ts
   * `BlockGather.lineBytesIndex`: per block, the bytes before its first record start, then the
   * run's total) and a scan of the records before it in its block.
   *
   * @param i The run.
   * @param position Where a range starts or ends in it ({@linkcode KeySplit.runPosition}).
   * @param index The run's line-bytes index.
   * @returns The bytes.
   */
  lineBytesBefore(i: number, position: RunPosition, index: readonly number[]): number {
    const probe = this.#probes[i]!;
    assert(index.length === probe.blockCount + 1, "a line-bytes index of another run");
    if (position.block >= probe.blockCount) return index[probe.blockCount]!;
    const scan = this.#scan;
    if (scan.run === i && scan.block === position.block && scan.offset === position.offset) {
      // runPosition just scanned the block from its first record to here.
      assert(index[position.block]! >= 0, "a block without a record start in the index");
      return index[position.block]! + scan.bytes;
    }
    // A record start at a block's border is the block's first.
    if (position.offset === 0) return index[position.block]!;
    const first = probe.firstOffset(position.block);
    const before = index[position.block]!;
    assert(first >= 0 && before >= 0 && first <= position.offset, "a position not at a record");
    if (first === position.offset) return before;
    let bytes = before;
    probe.recordAt({ block: position.block, offset: first });
    for (;;) {
      bytes += probe.recordLength + 1;
      const next = probe.position();
      if (next.block === position.block && next.offset === position.offset) return bytes;
      assert(
        next.block === position.block && next.offset < position.offset,
        "a position not at a record",
      );
      probe.next();
    }
  }

  /** Output bytes (record + terminator each) of the in-memory run's records before `rank`. */
  memoryLineBytesBefore(rank: number): number {
    const run = this.#memoryRun;
    assert(run !== undefined, "no in-memory run");
    // All of them: the record bytes the buffer holds (plain records).
    if (rank === run.job.recordCount) return run.dataBytes + rank;
    if (run.lineBytes !== undefined) return run.lineBytes(run.job.index, rank);
    const words = new Uint32Array(run.bytes.buffer);
    const base = (run.job.index >>> 2) + 3;
    let bytes = rank;
    for (let r = 0; r < rank; r += 1) bytes += words[base + 4 * r]!;
    return bytes;
  }

  /** The end position of run `i`. */
  runEnd(i: number): RunPosition {
    return { block: this.#probes[i]!.blockCount, offset: 0 };
  }

  /** A copy of block `b`'s first record's key (undefined: no record starts in it). */
  #firstKey(probe: RunProbe, b: number): Uint8Array | undefined {
    const known = probe.knownFirst(b);
    if (known === null) return undefined;
    if (known !== undefined) return known.key.slice();
    const first = probe.firstOffset(b);
    if (first < 0) return undefined;
    probe.recordAt({ block: b, offset: first });
    return probe.key.slice(0, probe.keyLength);
  }

  #memoryRecord(rank: number): { offset: number; length: number } {
    const run = this.#memoryRun!;
    const bytes = run.bytes;
    const entry = run.job.index + rank * 16;
    const address = u32(bytes, entry + 8);
    const length = u32(bytes, entry + 12);
    const shift = run.job.segmentShift;
    const page = run.job.segments[Math.floor(address / 2 ** shift)]!;
    return { offset: page + (address & (2 ** shift - 1)), length };
  }

  #before(key: Uint8Array, keyLength: number, recordLength: number, splitter: Uint8Array): boolean {
    const d = compareBytes(key, keyLength, recordLength, splitter);
    return this.#options.reverse ? d > 0 : d < 0;
  }

  #compareKeys(a: Uint8Array, b: Uint8Array): number {
    const d = compareBytes(a, a.length, a.length, b);
    return this.#options.reverse ? -d : d;
  }

  #sample(): void {
    const perRun = this.#options.samplesPerRun ?? 64;
    for (let i = 0; i < this.#probes.length; i += 1) {
      const probe = this.#probes[i]!;
      const blocks: number[] = [];
      const keys: Uint8Array[] = [];
      this.#sampleBlocks.push(blocks);
      this.#sampleKeys.push(keys);
      if (probe.run.recordCount === 0) continue;
      const count = Math.min(perRun, probe.blockCount);
      const weight = probe.blockCount / count;
      for (let s = 0; s < count; s += 1) {
        const b = Math.floor((s * probe.blockCount) / count);
        if (blocks.length > 0 && blocks[blocks.length - 1]! >= b) continue;
        const key = this.#firstKey(probe, b);
        if (key === undefined) continue;
        blocks.push(b);
        keys.push(key);
        this.#samples.push({ key, weight });
      }
    }
    const run = this.#memoryRun;
    if (run !== undefined && run.job.recordCount > 0) {
      const blocks = run.dataBytes / this.#options.segmentBytes;
      const count = Math.max(1, Math.min(perRun, Math.ceil(blocks)));
      for (let s = 0; s < count; s += 1) {
        const rank = Math.floor((s * run.job.recordCount) / count);
        const { offset, length } = this.#memoryRecord(rank);
        const key = run.bytes.slice(offset, offset + Math.min(length, SPLIT_KEY_BYTES_MAX));
        this.#samples.push({ key, weight: Math.max(blocks, 1) / count });
      }
    }
  }
}

/** Runs a read of a run file; the file system's errors become {@linkcode SpillReadError}s. */
export function readingRun<T>(path: string, byteLength: number, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof CorruptSpillError) throw error;
    throw new SpillReadError(path, byteLength, error);
  }
}

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | bytes[at + 1]! << 8 | bytes[at + 2]! << 16 | bytes[at + 3]! << 24) >>> 0;
}
