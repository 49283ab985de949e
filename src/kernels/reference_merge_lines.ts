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
  const view = new DataView(memory.buffer);
  const bytes = new Uint8Array(memory.buffer);
  const word = (i: number) => view.getUint32(stateOffset + 4 * i, true);
  const setWord = (i: number, value: number) => view.setUint32(stateOffset + 4 * i, value, true);
  const k = word(0);
  const ext = stateOffset + MergeState.bytes(k);
  const extWord = (i: number) => view.getUint32(ext + 4 * i, true);
  const setExtWord = (i: number, value: number) => view.setUint32(ext + 4 * i, value, true);
  const end = word(2);
  const sign = (word(3) & 1) !== 0 ? -1 : 1;
  const keyed = (word(3) & 2) !== 0;
  const lineEndsKey = (word(3) & 4) !== 0;
  const terminator = extWord(0);
  const unique = extWord(1) !== 0;
  const input = (i: number) => stateOffset + 32 + 32 * i;
  // Keyed records: the head is the key (compared), the line follows it (written).
  const lineLengths = new Map<number, number>();
  const head = (i: number): MergeHead => {
    const h = mergeHead(view, bytes, input(i));
    if (!keyed || typeof h === "string") return h;
    const key = keyedRecordKey(bytes, h[0], h[1]);
    if (key === undefined) return "corrupt";
    const lineLength = h[0] + h[1] - key[0] - key[1];
    lineLengths.set(i, lineLength);
    // With lineEndsKey the compared key runs on through the line (the stored key + the line).
    return lineEndsKey ? [key[0], key[1] + lineLength] : key;
  };
  const lineOf = (i: number, h: [number, number]): [number, number] => {
    if (!keyed) return h;
    const lineLength = lineLengths.get(i)!;
    return [h[0] + h[1] - (lineEndsKey ? lineLength : 0), lineLength];
  };
  const line = (record: number, length: number) => {
    const out = new Uint8Array(length + 1);
    out.set(bytes.subarray(record, record + length));
    out[length] = terminator;
    return out;
  };
  let records = word(7);
  let dropped = extWord(6);
  const finish = (status: number, asking?: number) => {
    if (asking !== undefined) setWord(6, asking);
    setWord(7, records >>> 0);
    setExtWord(6, dropped >>> 0);
    return status;
  };
  if (word(4) !== 0xffff_ffff) {
    const i = word(4);
    const h = head(i);
    if (typeof h === "string") return finish(KernelStatus.corrupt, i);
    let out = word(1);
    if (out >= end) return finish(KernelStatus.outputFull);
    const [lineStart, lineLength] = lineOf(i, h);
    const encoding = line(lineStart, lineLength);
    let done = word(5);
    while (done < encoding.length && out < end) bytes[out++] = encoding[done++]!;
    setWord(1, out);
    if (done < encoding.length) {
      setWord(5, done);
      return finish(KernelStatus.outputFull);
    }
    view.setUint32(input(i), lineStart + lineLength, true);
    setWord(4, 0xffff_ffff);
    setWord(5, 0);
    records += 1;
  }
  for (let i = 0; i < k; i += 1) {
    const h = head(i);
    if (h === "need") return finish(KernelStatus.needInput, i);
    if (h === "corrupt") return finish(KernelStatus.corrupt, i);
  }
  for (;;) {
    const [best, bestHead] = smallestHead(bytes, k, head, sign);
    if (best < 0) return finish(KernelStatus.done);
    const [record, length] = bestHead;
    const [lineStart, lineLength] = lineOf(best, bestHead);
    const lastLength = extWord(4);
    const duplicate = unique && lastLength === length &&
      compareRanges(bytes, extWord(2), length, record, length) === 0;
    if (duplicate) {
      dropped += 1;
    } else {
      let out = word(1);
      if (out >= end) return finish(KernelStatus.outputFull);
      if (unique) {
        if (length > extWord(3)) {
          setExtWord(5, length);
          return finish(MergeLinesStatus.needScratch);
        }
        bytes.copyWithin(extWord(2), record, record + length);
        setExtWord(4, length);
      }
      const encoding = line(lineStart, lineLength);
      let done = 0;
      while (done < encoding.length && out < end) bytes[out++] = encoding[done++]!;
      setWord(1, out);
      if (done < encoding.length) {
        setWord(4, best);
        setWord(5, done);
        return finish(KernelStatus.outputFull);
      }
      records += 1;
    }
    view.setUint32(input(best), lineStart + lineLength, true);
    const next = head(best);
    if (next === "need") return finish(KernelStatus.needInput, best);
    if (next === "corrupt") return finish(KernelStatus.corrupt, best);
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
