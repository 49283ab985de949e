import {
  compareRanges,
  mergeHead,
  referenceMergeLines,
  smallestHead,
} from "./reference_merge_lines.ts";
import { referenceMergeText } from "./reference_merge_text.ts";
import { referenceFormatCounts } from "./format_counts_state.ts";
import { referenceFormatSorted } from "./format_sorted_state.ts";
import { referenceMergeSum } from "./merge_sum_state.ts";
import { nextWordsToken, type WordsRule } from "./reference_count_words.ts";
import { assert } from "../base/mod.ts";
import {
  type BucketArray,
  type BytesIndexLayout,
  CountStatus,
  type IndexLayout,
  type KernelSet,
  KernelStatus,
} from "./kernel_state.ts";

/**
 * The kernels written plainly in TypeScript over the same memory and the same state blocks:
 * the oracle of the property tests (tests/kernels/). Clarity over speed: the sorts use
 * `Array.prototype.sort` with a full comparator, the merge picks the smallest head by a linear
 * scan, everything goes byte by byte.
 *
 * Not bit-for-bit everywhere: `sortBytesIndex` leaves the prefix words of the entries as they
 * were (the kernel re-keys them on the way); the merge does not fill the kernel's private
 * fields (heads, loser tree).
 */
export class ReferenceKernels implements KernelSet {
  /** The memory worked in. */
  readonly memory: WebAssembly.Memory;

  /** @param memory The memory (shared or not). */
  constructor(memory: WebAssembly.Memory) {
    this.memory = memory;
  }

  #bytes(): Uint8Array {
    return new Uint8Array(this.memory.buffer);
  }

  #view(): DataView {
    return new DataView(this.memory.buffer);
  }

  /** {@inheritDoc KernelSet.sortBytesIndex} */
  sortBytesIndex(indexOffset: number, count: number, layout: BytesIndexLayout): void {
    const bytes = this.#bytes();
    const view = this.#view();
    const sign = layout.reverse ? -1 : 1;
    this.#sortEntries(indexOffset, count, (a, b) => {
      const ka = keyRange(view, a, layout);
      const kb = keyRange(view, b, layout);
      const c = compareRanges(bytes, ka[0], ka[1], kb[0], kb[1]) * sign;
      if (c !== 0) return c;
      return view.getUint32(a + 8, true) - view.getUint32(b + 8, true);
    });
  }

  /** {@inheritDoc KernelSet.sortIndex} */
  sortIndex(indexOffset: number, count: number, layout: IndexLayout): void {
    const bytes = this.#bytes();
    const view = this.#view();
    const sign = layout.reverse ? -1 : 1;
    this.#sortEntries(indexOffset, count, (a, b) => {
      for (const word of [0, 4]) {
        const x = view.getUint32(a + word, true);
        const y = view.getUint32(b + word, true);
        if (x !== y) return x < y ? -1 : 1;
      }
      const ka = keyRange(view, a, { ...layout, keyOffset: 0, keyBytes: -1 });
      const kb = keyRange(view, b, { ...layout, keyOffset: 0, keyBytes: -1 });
      const c = compareRanges(bytes, ka[0], ka[1], kb[0], kb[1]) * sign;
      if (c !== 0) return c;
      return view.getUint32(a + 8, true) - view.getUint32(b + 8, true);
    });
  }

  /** {@inheritDoc KernelSet.sortIndexQuicksort} */
  sortIndexQuicksort(indexOffset: number, count: number, layout: IndexLayout): void {
    this.sortIndex(indexOffset, count, layout);
  }

  /** Sorts entry byte offsets with `compare`, then writes the entries back in that order. */
  #sortEntries(indexOffset: number, count: number, compare: (a: number, b: number) => number) {
    const bytes = this.#bytes();
    const entries = Array.from({ length: count }, (_, i) => indexOffset + 16 * i);
    entries.sort(compare);
    const copy = bytes.slice(indexOffset, indexOffset + 16 * count);
    entries.forEach((from, i) => {
      const at = from - indexOffset;
      bytes.set(copy.subarray(at, at + 16), indexOffset + 16 * i);
    });
  }

  /** {@inheritDoc KernelSet.gather} */
  gather(stateOffset: number): number {
    const view = this.#view();
    const bytes = this.#bytes();
    const pageTable = view.getUint32(stateOffset + 12, true);
    const flags = view.getUint32(stateOffset + 16, true);
    const shift = flags & 0xff;
    const shortMax = (flags & 0x200) !== 0 ? 8 : -1;
    const invert = (flags & 0x400) !== 0 ? 0xffff_ffff : 0;
    return this.#gatherWith(stateOffset, (e) => {
      const length = view.getUint32(e + 12, true);
      if (length <= shortMax) {
        // The record from its prefix words (big-endian, inverted for -r).
        const prefix = new Uint8Array(8);
        const prefixView = new DataView(prefix.buffer);
        prefixView.setUint32(0, (view.getUint32(e, true) ^ invert) >>> 0);
        prefixView.setUint32(4, (view.getUint32(e + 4, true) ^ invert) >>> 0);
        return encode(prefix, 0, length);
      }
      const record = recordOffset(view, pageTable, shift, view.getUint32(e + 8, true));
      return encode(bytes, record, length);
    });
  }

  /** {@inheritDoc KernelSet.gatherKeyed} */
  gatherKeyed(stateOffset: number): number {
    const view = this.#view();
    const bytes = this.#bytes();
    const pageTable = view.getUint32(stateOffset + 12, true);
    const flags = view.getUint32(stateOffset + 16, true);
    const shift = flags & 0xff;
    const lineEndsKey = (flags & 0x100) !== 0;
    return this.#gatherWith(stateOffset, (e) => {
      const line = recordOffset(view, pageTable, shift, view.getUint32(e + 8, true));
      const lineLength = view.getUint32(e + 12, true);
      const stored = view.getUint32(line - 4, true);
      const keyStart = line - 4 - (stored === 0xffff_ffff ? 0 : stored);
      const keyLength = stored === 0xffff_ffff ? 0 : lineEndsKey ? stored - lineLength : stored;
      const field = varintOf(stored === 0xffff_ffff ? 0 : keyLength + 1);
      const body = new Uint8Array(field.length + keyLength + lineLength);
      body.set(field);
      body.set(bytes.subarray(keyStart, keyStart + keyLength), field.length);
      body.set(bytes.subarray(line, line + lineLength), field.length + keyLength);
      return encode(body, 0, body.length);
    });
  }

  /**
   * The loop of both gathers: each index entry from word 2 on, encoded by `encodeEntry` (given
   * the entry's offset), written into the output from word 5 on, resumable mid-record (word 7).
   */
  #gatherWith(stateOffset: number, encodeEntry: (entry: number) => Uint8Array): number {
    const view = this.#view();
    const bytes = this.#bytes();
    const word = (i: number) => view.getUint32(stateOffset + 4 * i, true);
    const index = word(0);
    const count = word(1);
    let next = word(2);
    let out = word(5);
    const end = word(6);
    let done = word(7);
    let status: number = KernelStatus.done;
    while (next < count) {
      if (out >= end) {
        status = KernelStatus.outputFull;
        break;
      }
      const encoding = encodeEntry(index + 16 * next);
      while (done < encoding.length && out < end) bytes[out++] = encoding[done++]!;
      if (done < encoding.length) {
        status = KernelStatus.outputFull;
        break;
      }
      done = 0;
      next += 1;
    }
    view.setUint32(stateOffset + 8, next, true);
    view.setUint32(stateOffset + 20, out, true);
    view.setUint32(stateOffset + 28, done, true);
    return status;
  }

  /** {@inheritDoc KernelSet.mergeStep} */
  mergeStep(stateOffset: number): number {
    const view = this.#view();
    const bytes = this.#bytes();
    const word = (i: number) => view.getUint32(stateOffset + 4 * i, true);
    const setWord = (i: number, value: number) => view.setUint32(stateOffset + 4 * i, value, true);
    const k = word(0);
    const end = word(2);
    const sign = word(3) !== 0 ? -1 : 1;
    const input = (i: number) => stateOffset + 32 + 32 * i;
    const head = (i: number) => mergeHead(view, bytes, input(i));
    const stopAt = (i: number, status: number) => {
      setWord(6, i);
      return status;
    };
    let records = word(7);
    const finish = (status: number) => {
      setWord(7, records >>> 0);
      return status;
    };
    if (word(4) !== 0xffff_ffff) {
      const i = word(4);
      const h = head(i);
      if (typeof h === "string") return stopAt(i, KernelStatus.corrupt);
      let out = word(1);
      if (out >= end) return KernelStatus.outputFull;
      const encoding = encode(bytes, h[0], h[1]);
      let done = word(5);
      while (done < encoding.length && out < end) bytes[out++] = encoding[done++]!;
      setWord(1, out);
      if (done < encoding.length) {
        setWord(5, done);
        return KernelStatus.outputFull;
      }
      view.setUint32(input(i), h[0] + h[1], true);
      setWord(4, 0xffff_ffff);
      setWord(5, 0);
      records += 1;
    }
    for (let i = 0; i < k; i += 1) {
      const h = head(i);
      if (h === "need") return finish(stopAt(i, KernelStatus.needInput));
      if (h === "corrupt") return finish(stopAt(i, KernelStatus.corrupt));
    }
    for (;;) {
      const [best, bestHead] = smallestHead(bytes, k, head, sign);
      if (best < 0) return finish(KernelStatus.done);
      let out = word(1);
      if (out >= end) return finish(KernelStatus.outputFull);
      const encoding = encode(bytes, bestHead[0], bestHead[1]);
      let done = 0;
      while (done < encoding.length && out < end) bytes[out++] = encoding[done++]!;
      setWord(1, out);
      if (done < encoding.length) {
        setWord(4, best);
        setWord(5, done);
        return finish(KernelStatus.outputFull);
      }
      records += 1;
      view.setUint32(input(best), bestHead[0] + bestHead[1], true);
      const next = head(best);
      if (next === "need") return finish(stopAt(best, KernelStatus.needInput));
      if (next === "corrupt") return finish(stopAt(best, KernelStatus.corrupt));
    }
  }

  /** {@inheritDoc KernelSet.mergeLines} */
  mergeLines(stateOffset: number): number {
    return referenceMergeLines(this.memory, stateOffset);
  }

  /** {@inheritDoc KernelSet.mergeText} */
  mergeText(stateOffset: number): number {
    return referenceMergeText(this.memory, stateOffset);
  }

  /** {@inheritDoc KernelSet.mergeSum} */
  mergeSum(stateOffset: number): number {
    return referenceMergeSum(this.memory, stateOffset);
  }

  /** {@inheritDoc KernelSet.formatCounts} */
  formatCounts(stateOffset: number): number {
    return referenceFormatCounts(this.memory, stateOffset);
  }

  /** {@inheritDoc KernelSet.formatSorted} */
  formatSorted(stateOffset: number): number {
    return referenceFormatSorted(this.memory, stateOffset);
  }

  /** {@inheritDoc KernelSet.countTokens} */
  countTokens(stateOffset: number): number {
    return this.#count(stateOffset, true);
  }

  /** {@inheritDoc KernelSet.countScan} */
  countScan(stateOffset: number): number {
    return this.#count(stateOffset, false);
  }

  /** Both count kernels: `scratchCopy` copies each token into the scratch (countTokens does). */
  #count(stateOffset: number, scratchCopy: boolean): number {
    const bytes = this.#bytes();
    const state = new CountStateWords(this.#view(), stateOffset);
    const tokens = countTokenizer(state);
    const invalid = { bytes: state.word(17) };
    const refuseAt = (at: number, status: number) => {
      state.setWord(0, at);
      state.setWord(17, invalid.bytes >>> 0);
      return status;
    };
    const end = state.word(1);
    let pos = state.word(0);
    while (pos < end) {
      const found = this.#nextToken(tokens, pos, end, invalid);
      if (found === undefined) {
        pos = end;
        break;
      }
      const { start, token } = found;
      pos = found.next;
      if (scratchCopy) bytes.set(token.subarray(0, state.word(16)), state.word(15));
      if (token.length > state.word(16)) return refuseAt(start, CountStatus.tooLong);
      const status = this.#countToken(state, token);
      if (status !== undefined) return refuseAt(start, status);
      state.setWord(14, (state.word(14) + 1) >>> 0);
    }
    return refuseAt(pos, CountStatus.done);
  }

  /**
   * The next token from `pos` (lower-cased when the state asks), its start and the position
   * after it; undefined when only separators are left.
   */
  #nextToken(
    tokens: CountTokenizer,
    pos: number,
    end: number,
    invalid: { bytes: number },
  ): { start: number; next: number; token: Uint8Array } | undefined {
    const bytes = this.#bytes();
    if (tokens.rule !== undefined) {
      const found = nextWordsToken(this.memory, tokens.rule, pos, end, invalid);
      if (found === undefined) return undefined;
      return { start: found.start, next: found.stop, token: found.bytes };
    }
    let start = pos;
    let stop = pos;
    let next = pos;
    if (tokens.line) {
      while (stop < end && bytes[stop] !== 0x0a) stop += 1;
      next = stop < end ? stop + 1 : end;
    } else {
      while (next < end && !tokens.isToken(bytes[next]!)) next += 1;
      if (next === end) return undefined;
      start = next;
      while (next < end && tokens.isToken(bytes[next]!)) next += 1;
      stop = next;
    }
    const token = bytes.slice(start, stop);
    if (tokens.lower) {
      for (let i = 0; i < token.length; i += 1) {
        if (token[i]! >= 0x41 && token[i]! <= 0x5a) token[i] = token[i]! + 0x20;
      }
    }
    return { start, next, token };
  }

  /**
   * Adds one to the token's count, or inserts it with a count of 1; returns the status that
   * stops the scan (buckets or a page needed), or undefined when it counted.
   */
  #countToken(state: CountStateWords, token: Uint8Array): number | undefined {
    const view = this.#view();
    const bytes = this.#bytes();
    const buckets = state.word(4);
    const mask = state.word(5);
    const pageTable = state.word(8);
    const pageShift = state.word(13);
    const length = token.length;
    const hash = murmur3(token);
    let slot = hash & mask;
    for (;; slot = (slot + 1) & mask) {
      const bucket = buckets + 8 * slot;
      const pointer = view.getUint32(bucket + 4, true);
      if (pointer === 0) break;
      if (view.getUint32(bucket, true) !== hash) continue;
      const address = pointer - 1;
      const page = view.getUint32(pageTable + 4 * (address >>> pageShift), true);
      const record = page + (address & ((1 << pageShift) - 1)) * 4;
      if (view.getUint32(record, true) !== length) continue;
      if (!token.every((byte, i) => bytes[record + 4 + i] === byte)) continue;
      const at = record + 4 + length;
      view.setBigUint64(at, view.getBigUint64(at) + 1n);
      return undefined;
    }
    if (state.word(6) + 1 > state.word(7)) return CountStatus.needBuckets;
    const recordBytes = (4 + length + 8 + 3) & ~3;
    let page = state.word(10) | 0;
    let writeOffset = state.word(11);
    if (page < 0 || writeOffset + recordBytes > state.word(12)) {
      if (page + 1 >= state.word(9)) return CountStatus.needPage;
      page += 1;
      writeOffset = 0;
    }
    const record = view.getUint32(pageTable + 4 * page, true) + writeOffset;
    view.setUint32(record, length, true);
    bytes.set(token, record + 4);
    view.setBigUint64(record + 4 + length, 1n);
    view.setUint32(buckets + 8 * slot, hash, true);
    view.setUint32(buckets + 8 * slot + 4, ((page << pageShift) | (writeOffset >>> 2)) + 1, true);
    state.setWord(10, page);
    state.setWord(11, writeOffset + recordBytes);
    state.setWord(6, state.word(6) + 1);
    return undefined;
  }

  /** {@inheritDoc KernelSet.countRehash} */
  countRehash(from: BucketArray, to: BucketArray): void {
    const view = this.#view();
    const mask = to.bucketCount - 1;
    for (let i = 0; i < from.bucketCount; i += 1) {
      const pointer = view.getUint32(from.byteOffset + 8 * i + 4, true);
      if (pointer === 0) continue;
      const hash = view.getUint32(from.byteOffset + 8 * i, true);
      let slot = hash & mask;
      while (view.getUint32(to.byteOffset + 8 * slot + 4, true) !== 0) slot = (slot + 1) & mask;
      view.setUint32(to.byteOffset + 8 * slot, hash, true);
      view.setUint32(to.byteOffset + 8 * slot + 4, pointer, true);
    }
  }
}

function recordOffset(view: DataView, pageTable: number, shift: number, address: number): number {
  const page = view.getUint32(pageTable + 4 * Math.floor(address / 2 ** shift), true);
  return page + (address % 2 ** shift);
}

/** [start, length] of an entry's key. */
function keyRange(view: DataView, entry: number, layout: BytesIndexLayout): [number, number] {
  const record = recordOffset(
    view,
    layout.pageTableOffset,
    layout.segmentShift,
    view.getUint32(entry + 8, true),
  );
  const length = layout.keyBytes >= 0 ? layout.keyBytes : view.getUint32(entry + 12, true);
  return [record + layout.keyOffset, length];
}

/** varint(length) followed by the record's bytes. */
function varintOf(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
  return out;
}

function encode(bytes: Uint8Array, record: number, length: number): Uint8Array {
  const head: number[] = [];
  let value = length;
  while (value >= 0x80) {
    head.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 0x80);
  }
  head.push(value);
  const out = new Uint8Array(head.length + length);
  out.set(head);
  out.set(bytes.subarray(record, record + length), head.length);
  return out;
}

/** MurmurHash3 x86_32, seed 0. */
export function murmur3(bytes: Uint8Array): number {
  const mix = (k: number) => Math.imul(rotl(Math.imul(k, 0xcc9e2d51), 15), 0x1b873593);
  let h = 0;
  const blocks = bytes.length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    h ^= mix(bytes[i]! | bytes[i + 1]! << 8 | bytes[i + 2]! << 16 | bytes[i + 3]! << 24);
    h = (Math.imul(rotl(h, 13), 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  for (let i = bytes.length - 1; i >= blocks; i -= 1) k = (k << 8) | bytes[i]!;
  if (bytes.length & 3) h ^= mix(k);
  h ^= bytes.length;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

assert(murmur3(new TextEncoder().encode("hello")) === 0x248bfa47, "murmur3 self-check");

/** The count kernels' state words (count_scan.ts's layout), read and written in place. */
class CountStateWords {
  constructor(readonly view: DataView, readonly stateOffset: number) {}

  /** Word `i` of the state. */
  word(i: number): number {
    return this.view.getUint32(this.stateOffset + 4 * i, true);
  }

  /** Sets word `i` of the state. */
  setWord(i: number, value: number): void {
    this.view.setUint32(this.stateOffset + 4 * i, value, true);
  }
}

/** How the count kernels' state says to cut tokens. */
interface CountTokenizer {
  /** Whole lines. */
  line: boolean;
  /** ASCII lower-casing (whitespace, letters, line). */
  lower: boolean;
  /** A token byte of the whitespace or letters tokenizer. */
  isToken: (byte: number) => boolean;
  /** The words and flink tokenizers' Unicode rule. */
  rule: WordsRule | undefined;
}

/** The tokenizer of the state (word 2: 0 letters, 1 whitespace, 2 line, 3 words, 4 flink). */
function countTokenizer(state: CountStateWords): CountTokenizer {
  const kind = state.word(2);
  const whitespace = kind === 1;
  const lower = state.word(3) !== 0;
  const isToken = (byte: number) =>
    whitespace
      ? !(byte === 0x20 || (byte >= 0x09 && byte <= 0x0d))
      : (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
  const rule: WordsRule | undefined = kind === 3 || kind === 4
    ? {
      kind: kind === 3 ? "words" : "flink",
      lower,
      wordRanges: state.word(18),
      wordRangeCount: state.word(19),
      lowerRanges: state.word(20),
      lowerRangeCount: state.word(21),
    }
    : undefined;
  return { line: kind === 2, lower, isToken, rule };
}
