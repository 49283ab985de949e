import { KernelStatus, MergeState } from "./kernel_state.ts";
import { MergeLinesStatus } from "./merge_lines_state.ts";
import { compareRanges, type MergeHead, smallestHead } from "./reference_merge_lines.ts";

/**
 * The merge-of-text kernel in plain TypeScript (the tests' oracle): the same statuses, stops
 * and state as `mergeText` in assembly/merge_text.ts, found by a linear scan for the smallest
 * head (ties to the lower input) instead of a loser tree. Inputs hold lines that end with the
 * terminator; each is written with it.
 *
 * @param memory The shared memory.
 * @param stateOffset The `MergeLinesState` block.
 * @returns A {@linkcode KernelStatus} or {@linkcode MergeLinesStatus.needScratch}.
 */
export function referenceMergeText(memory: WebAssembly.Memory, stateOffset: number): number {
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
  const terminator = extWord(0);
  const unique = extWord(1) !== 0;
  const input = (i: number) => stateOffset + 32 + 32 * i;
  const head = (i: number) => textHead(view, bytes, input(i), terminator);
  let records = word(7);
  let dropped = extWord(6);
  const finish = (status: number, asking?: number) => {
    if (asking !== undefined) setWord(6, asking);
    setWord(7, records >>> 0);
    setExtWord(6, dropped >>> 0);
    return status;
  };
  /** Copies bytes [done, total) of the line at `start` out; returns the bytes done now. */
  const copyOut = (start: number, total: number, done: number): number => {
    let out = word(1);
    while (done < total && out < end) bytes[out++] = bytes[start + done++]!;
    setWord(1, out);
    return done;
  };
  if (word(4) !== 0xffff_ffff) {
    const i = word(4);
    const h = head(i);
    if (typeof h === "string") return finish(KernelStatus.corrupt, i);
    if (word(1) >= end) return finish(KernelStatus.outputFull);
    const done = copyOut(h[0], h[1] + 1, word(5));
    if (done < h[1] + 1) {
      setWord(5, done);
      return finish(KernelStatus.outputFull);
    }
    view.setUint32(input(i), h[0] + h[1] + 1, true);
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
    const [best, [line, length]] = smallestHead(bytes, k, head, sign);
    if (best < 0) return finish(KernelStatus.done);
    const duplicate = unique && extWord(4) === length &&
      compareRanges(bytes, extWord(2), length, line, length) === 0;
    if (duplicate) {
      dropped += 1;
    } else {
      if (word(1) >= end) return finish(KernelStatus.outputFull);
      if (unique) {
        if (length > extWord(3)) {
          setExtWord(5, length);
          return finish(MergeLinesStatus.needScratch);
        }
        bytes.copyWithin(extWord(2), line, line + length);
        setExtWord(4, length);
      }
      const done = copyOut(line, length + 1, 0);
      if (done < length + 1) {
        setWord(4, best);
        setWord(5, done);
        return finish(KernelStatus.outputFull);
      }
      records += 1;
    }
    view.setUint32(input(best), line + length + 1, true);
    const next = head(best);
    if (next === "need") return finish(KernelStatus.needInput, best);
    if (next === "corrupt") return finish(KernelStatus.corrupt, best);
  }
}

/**
 * The head line of the merge input whose words (pos, end, finished) are at `input`.
 *
 * @returns [start, length without the terminator], "need" (no whole line, not finished),
 * "drained" or "corrupt" (finished inside a line).
 */
function textHead(view: DataView, bytes: Uint8Array, input: number, terminator: number): MergeHead {
  const pos = view.getUint32(input, true);
  const stop = view.getUint32(input + 4, true);
  const finished = view.getUint32(input + 8, true) !== 0;
  if (pos >= stop) return finished ? "drained" : "need";
  const at = bytes.subarray(pos, stop).indexOf(terminator);
  if (at < 0) return finished ? "corrupt" : "need";
  return [pos, at];
}
