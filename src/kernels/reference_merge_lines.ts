import { KernelStatus, MergeState } from "./kernel_state.ts";
import { MergeLinesStatus } from "./merge_lines_state.ts";

/**
 * The merge-to-lines kernel in plain TypeScript (the tests' oracle): the same statuses, stops
 * and state as `mergeLines` in assembly/merge_lines.ts, found by a linear scan for the smallest
 * head (ties to the lower input) instead of a loser tree.
 *
 * @param memory The shared memory.
 * @param stateOffset The {@linkcode MergeLinesState} block.
 * @returns A {@linkcode KernelStatus} or {@linkcode MergeLinesStatus.needScratch}.
 */
export function referenceMergeLines(memory: WebAssembly.Memory, stateOffset: number): number {
  return new MergeLinesOracle(memory, stateOffset).run();
}

/** One call of {@linkcode referenceMergeLines}: the state's words and the counts it carries. */
class MergeLinesOracle {
  readonly #view: DataView;
  readonly #bytes: Uint8Array;
  readonly #stateOffset: number;
  /** Inputs. */
  readonly #k: number;
  /** The MergeLinesState extension's offset (after the merge state). */
  readonly #ext: number;
  readonly #end: number;
  readonly #sign: number;
  readonly #keyed: boolean;
  readonly #lineEndsKey: boolean;
  readonly #terminator: number;
  readonly #unique: boolean;
  /** Keyed records: each input's head line's length (the head is its key). */
  readonly #lineLengths = new Map<number, number>();
  #records: number;
  #dropped: number;

  constructor(memory: WebAssembly.Memory, stateOffset: number) {
    this.#view = new DataView(memory.buffer);
    this.#bytes = new Uint8Array(memory.buffer);
    this.#stateOffset = stateOffset;
    this.#k = this.#word(0);
    this.#ext = stateOffset + MergeState.bytes(this.#k);
    this.#end = this.#word(2);
    this.#sign = (this.#word(3) & 1) !== 0 ? -1 : 1;
    this.#keyed = (this.#word(3) & 2) !== 0;
    this.#lineEndsKey = (this.#word(3) & 4) !== 0;
    this.#terminator = this.#extWord(0);
    this.#unique = this.#extWord(1) !== 0;
    this.#records = this.#word(7);
    this.#dropped = this.#extWord(6);
  }

  /** Merges until a stop; returns its status. */
  run(): number {
    if (this.#word(4) !== 0xffff_ffff) {
      const status = this.#finishPartialLine();
      if (status !== undefined) return status;
    }
    for (let i = 0; i < this.#k; i += 1) {
      const h = this.#head(i);
      if (h === "need") return this.#finish(KernelStatus.needInput, i);
      if (h === "corrupt") return this.#finish(KernelStatus.corrupt, i);
    }
    for (;;) {
      const status = this.#mergeOne();
      if (status !== undefined) return status;
    }
  }

  /** Writes the rest of the line a full output cut (word 4's input, word 5 bytes written). */
  #finishPartialLine(): number | undefined {
    const i = this.#word(4);
    const h = this.#head(i);
    if (typeof h === "string") return this.#finish(KernelStatus.corrupt, i);
    let out = this.#word(1);
    if (out >= this.#end) return this.#finish(KernelStatus.outputFull);
    const [lineStart, lineLength] = this.#lineOf(i, h);
    const encoding = this.#line(lineStart, lineLength);
    let done = this.#word(5);
    while (done < encoding.length && out < this.#end) this.#bytes[out++] = encoding[done++]!;
    this.#setWord(1, out);
    if (done < encoding.length) {
      this.#setWord(5, done);
      return this.#finish(KernelStatus.outputFull);
    }
    this.#view.setUint32(this.#input(i), lineStart + lineLength, true);
    this.#setWord(4, 0xffff_ffff);
    this.#setWord(5, 0);
    this.#records += 1;
    return undefined;
  }

  /** Writes (or drops, `-u`) the smallest head and advances its input; a status on a stop. */
  #mergeOne(): number | undefined {
    const bytes = this.#bytes;
    const [best, bestHead] = smallestHead(bytes, this.#k, (i) => this.#head(i), this.#sign);
    if (best < 0) return this.#finish(KernelStatus.done);
    const [record, length] = bestHead;
    const [lineStart, lineLength] = this.#lineOf(best, bestHead);
    const lastLength = this.#extWord(4);
    const duplicate = this.#unique && lastLength === length &&
      compareRanges(bytes, this.#extWord(2), length, record, length) === 0;
    if (duplicate) {
      this.#dropped += 1;
    } else {
      let out = this.#word(1);
      if (out >= this.#end) return this.#finish(KernelStatus.outputFull);
      if (this.#unique) {
        if (length > this.#extWord(3)) {
          this.#setExtWord(5, length);
          return this.#finish(MergeLinesStatus.needScratch);
        }
        bytes.copyWithin(this.#extWord(2), record, record + length);
        this.#setExtWord(4, length);
      }
      const encoding = this.#line(lineStart, lineLength);
      let done = 0;
      while (done < encoding.length && out < this.#end) bytes[out++] = encoding[done++]!;
      this.#setWord(1, out);
      if (done < encoding.length) {
        this.#setWord(4, best);
        this.#setWord(5, done);
        return this.#finish(KernelStatus.outputFull);
      }
      this.#records += 1;
    }
    this.#view.setUint32(this.#input(best), lineStart + lineLength, true);
    const next = this.#head(best);
    if (next === "need") return this.#finish(KernelStatus.needInput, best);
    if (next === "corrupt") return this.#finish(KernelStatus.corrupt, best);
    return undefined;
  }

  /** Input i's head; keyed records: the key (compared), the line follows it (written). */
  #head(i: number): MergeHead {
    const bytes = this.#bytes;
    const h = mergeHead(this.#view, bytes, this.#input(i));
    if (!this.#keyed || typeof h === "string") return h;
    const key = keyedRecordKey(bytes, h[0], h[1]);
    if (key === undefined) return "corrupt";
    const lineLength = h[0] + h[1] - key[0] - key[1];
    this.#lineLengths.set(i, lineLength);
    // With lineEndsKey the compared key runs on through the line (the stored key + the line).
    return this.#lineEndsKey ? [key[0], key[1] + lineLength] : key;
  }

  /** The line of input i's head `h`: [start, length]. */
  #lineOf(i: number, h: [number, number]): [number, number] {
    if (!this.#keyed) return h;
    const lineLength = this.#lineLengths.get(i)!;
    return [h[0] + h[1] - (this.#lineEndsKey ? lineLength : 0), lineLength];
  }

  /** The line's bytes and its terminator, as written. */
  #line(record: number, length: number): Uint8Array {
    const out = new Uint8Array(length + 1);
    out.set(this.#bytes.subarray(record, record + length));
    out[length] = this.#terminator;
    return out;
  }

  /** Stores the counts (and the input asking, if any) and returns `status`. */
  #finish(status: number, asking?: number): number {
    if (asking !== undefined) this.#setWord(6, asking);
    this.#setWord(7, this.#records >>> 0);
    this.#setExtWord(6, this.#dropped >>> 0);
    return status;
  }

  #input(i: number): number {
    return this.#stateOffset + 32 + 32 * i;
  }

  #word(i: number): number {
    return this.#view.getUint32(this.#stateOffset + 4 * i, true);
  }

  #setWord(i: number, value: number): void {
    this.#view.setUint32(this.#stateOffset + 4 * i, value, true);
  }

  #extWord(i: number): number {
    return this.#view.getUint32(this.#ext + 4 * i, true);
  }

  #setExtWord(i: number, value: number): void {
    this.#view.setUint32(this.#ext + 4 * i, value, true);
  }
}

/**
 * The key of a keyed record at `[start, +length)`: varint(key length + 1), key, line.
 *
 * @returns [key start, key length], or undefined when malformed or stored without its key.
 */
export function keyedRecordKey(
  bytes: Uint8Array,
  start: number,
  length: number,
): [number, number] | undefined {
  const stop = start + length;
  let field = 0;
  let at = start;
  for (let shift = 0;; shift += 7) {
    if (at >= stop || shift > 28) return undefined;
    const byte = bytes[at++]!;
    field += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) break;
  }
  if (field === 0 || field - 1 > stop - at) return undefined;
  return [at, field - 1];
}

/** A merge input's head record: [start, length], or why there is none. */
export type MergeHead = [number, number] | "need" | "drained" | "corrupt";

/**
 * The head record of the merge input whose words (pos, end, finished) are at `input`.
 *
 * @param view A view of the memory.
 * @param bytes The memory's bytes.
 * @param input Byte offset of the input's words in the merge state.
 * @returns [start, length], "need" (no complete record, not finished), "drained" or "corrupt".
 */
export function mergeHead(view: DataView, bytes: Uint8Array, input: number): MergeHead {
  const pos = view.getUint32(input, true);
  const stop = view.getUint32(input + 4, true);
  const finished = view.getUint32(input + 8, true) !== 0;
  if (pos >= stop) return finished ? "drained" : "need";
  let length = 0;
  let at = pos;
  for (let shift = 0;; shift += 7) {
    if (at >= stop) return finished ? "corrupt" : "need";
    const byte = bytes[at++]!;
    if (shift === 28 && byte > 0x0f) return "corrupt";
    length += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) break;
  }
  if (at + length > stop) return finished ? "corrupt" : "need";
  return [at, length];
}

/**
 * The input with the smallest head by a linear scan (ties: the lower input).
 *
 * @param bytes The memory's bytes.
 * @param k Inputs.
 * @param head Input i's head.
 * @param sign -1 for descending order.
 * @returns The input (-1: every input is drained) and its head.
 */
export function smallestHead(
  bytes: Uint8Array,
  k: number,
  head: (i: number) => MergeHead,
  sign: number,
): [number, [number, number]] {
  let best = -1;
  let bestHead: [number, number] = [0, 0];
  for (let i = 0; i < k; i += 1) {
    const h = head(i);
    if (typeof h === "string") continue;
    if (best < 0 || compareRanges(bytes, h[0], h[1], bestHead[0], bestHead[1]) * sign < 0) {
      best = i;
      bestHead = h;
    }
  }
  return [best, bestHead];
}

/**
 * memcmp of two byte ranges, then length.
 *
 * @returns Negative, zero or positive.
 */
export function compareRanges(
  bytes: Uint8Array,
  a: number,
  aLength: number,
  b: number,
  bLength: number,
): number {
  const common = Math.min(aLength, bLength);
  for (let i = 0; i < common; i += 1) {
    const d = bytes[a + i]! - bytes[b + i]!;
    if (d !== 0) return d;
  }
  return aLength - bLength;
}
