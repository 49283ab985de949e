// Merge of text: the k-way merge of merge_lines.ts over inputs that are chunks of sorted text
// lines, each ending with the terminator byte (a sorted input file as the line reader delivers
// it), not spill block payloads: `sort -m` and `spillway merge` of a plain byte order. A head is
// found by searching its terminator (16 bytes at a time), and the line is written with the
// terminator it already has. With `unique` it drops lines equal to the last one written.
//
// State: merge_lines.ts's block (the same MergeLinesState), flags word 3 bit 0 reverse (the
// keyed bits must be 0). Inputs hold whole lines: one without its terminator asks for input
// (status 2) while the input is not finished, and is corrupt (status 3) once it is.

import { build, inputAt, replay, storeHead } from "./merge";
import { isDuplicate, writeLine } from "./merge_lines";

const DONE: u32 = 0;
const OUTPUT_FULL: u32 = 1;
const NEED_INPUT: u32 = 2;
const CORRUPT: u32 = 3;
const NEED_SCRATCH: u32 = 4;
const NONE: u32 = 0xffffffff;
const DEAD: u32 = 0xffffffff;

/** The first `terminator` in [at, end), or `end`. */
function findTerminator(at: usize, end: usize, terminator: u8): usize {
  const pattern = i8x16.splat(<i8>terminator);
  while (at + 16 <= end) {
    const hits = i8x16.bitmask(i8x16.eq(v128.load(at), pattern));
    if (hits != 0) return at + <usize>ctz<u32>(hits);
    at += 16;
  }
  while (at < end && load<u8>(at) != terminator) at += 1;
  return at;
}

/**
 * Loads the head line of input `inp` (merge.ts's head words: 12 start, 16 length without the
 * terminator, 24 the 8-byte prefix): 0 ok, 1 no whole line (needs more bytes), 2 drained for
 * good, 3 corrupt (finished inside a line).
 */
function loadLine(inp: usize, reverse: bool, terminator: u8): u32 {
  const pos = <usize>load<u32>(inp);
  const end = <usize>load<u32>(inp, 4);
  const finished = load<u32>(inp, 8) != 0;
  if (pos >= end) {
    if (finished) {
      store<u32>(inp, DEAD, 16);
      return 2;
    }
    return 1;
  }
  const stop = findTerminator(pos, end, terminator);
  if (stop >= end) return finished ? 3 : 1;
  const length = <u32>(stop - pos);
  storeHead(inp, pos, length, reverse);
  return 0;
}

/**
 * Runs the merge; returns 0 done, 1 output full, 2 need input, 3 corrupt, 4 scratch too small
 * for the next line's copy (unique mode: word 5 of the extension says how many bytes).
 */
export function mergeText(state: usize): u32 {
  const k = load<u32>(state);
  let out = <usize>load<u32>(state, 4);
  const end = <usize>load<u32>(state, 8);
  const reverse = (load<u32>(state, 12) & 1) != 0;
  const tree = state + 32 + <usize>k * 32;
  const ext = tree + <usize>k * 4;
  const terminator = <u8>load<u32>(ext);
  const unique = load<u32>(ext, 4) != 0;
  let records = load<u32>(state, 28);
  let dropped = load<u32>(ext, 24);
  // 1. Finish the line the last call left half-written (it is the last record already).
  const pending = load<u32>(state, 16);
  if (pending != NONE) {
    const inp = inputAt(state, pending);
    if (out >= end) return OUTPUT_FULL;
    const line = <usize>load<u32>(inp, 12);
    const total = load<u32>(inp, 16) + 1;
    const done = load<u32>(state, 20);
    const written = writeLine(line, total - 1, terminator, done, out, end);
    out += <usize>(written - done);
    store<u32>(state, <u32>out, 4);
    if (written != total) {
      store<u32>(state, written, 20);
      return OUTPUT_FULL;
    }
    store<u32>(inp, <u32>(line + <usize>total));
    store<u32>(state, NONE, 16);
    store<u32>(state, 0, 20);
    records += 1;
    store<u32>(state, records, 28);
  }
  // 2. Every head, then the loser tree (merge.ts).
  for (let i: u32 = 0; i < k; i += 1) {
    const head = loadLine(inputAt(state, i), reverse, terminator);
    if (head == 1 || head == 3) {
      store<u32>(state, i, 24);
      return head == 1 ? NEED_INPUT : CORRUPT;
    }
  }
  store<u32>(tree, k == 1 ? 0 : build(state, tree, 1, k, reverse));
  let status = DONE;
  for (;;) {
    const w = load<u32>(tree);
    const inp = inputAt(state, w);
    const length = load<u32>(inp, 16);
    if (length == DEAD) break;
    const line = <usize>load<u32>(inp, 12);
    if (unique && isDuplicate(ext, line, length)) {
      dropped += 1;
    } else {
      if (out >= end) {
        status = OUTPUT_FULL;
        break;
      }
      if (unique) {
        if (length > load<u32>(ext, 12)) {
          store<u32>(ext, length, 20);
          status = NEED_SCRATCH;
          break;
        }
        memory.copy(<usize>load<u32>(ext, 8), line, <usize>length);
        store<u32>(ext, length, 16);
      }
      const total = length + 1;
      if (out + <usize>total <= end) {
        memory.copy(out, line, <usize>total);
        out += <usize>total;
      } else {
        const written = writeLine(line, length, terminator, 0, out, end);
        out += <usize>written;
        store<u32>(state, w, 16);
        store<u32>(state, written, 20);
        status = OUTPUT_FULL;
        break;
      }
      records += 1;
    }
    store<u32>(inp, <u32>(line + <usize>length + 1));
    const head = loadLine(inp, reverse, terminator);
    if (head == 1 || head == 3) {
      store<u32>(state, w, 24);
      status = head == 1 ? NEED_INPUT : CORRUPT;
      break;
    }
    replay(state, tree, k, w, reverse);
  }
  store<u32>(state, <u32>out, 4);
  store<u32>(state, records, 28);
  store<u32>(ext, dropped, 24);
  return status;
}
