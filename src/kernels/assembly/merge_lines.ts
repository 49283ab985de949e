// Merge to lines: the final merge's k-way merge (the loser tree and inputs of merge.ts) that
// writes each record as its bytes plus a terminator byte (the output file's format) instead of
// a spill block payload, and with `unique` drops records equal to the last one written (-u of
// a plain byte order: equal keys are equal bytes).
//
// Keyed mode (bit 1 of the merge state's word 3; docs/spill-format.md): each record holds
// varint(key length + 1), the normalized key and the line. The loser tree and `-u` compare the
// keys (memcmp, then the shorter first); only the line is written.
//
// State at `state`: the merge step's block (merge.ts; word 4 pending input, word 5 bytes of
// the pending record + terminator already written), then at 32 + 36 * k the extension:
//   word 0 terminator   1 unique   2 last record copy (scratch)   3 scratch capacity
//   word 4 last record length (0xffffffff: none yet)   5 bytes the scratch must hold (status 4)
//   word 6 duplicates dropped (wraps at 2^32)   7 unused

import { inputAt, loadHead, replay, startTree } from "./merge";

const DONE: u32 = 0;
const OUTPUT_FULL: u32 = 1;
const NEED_INPUT: u32 = 2;
const CORRUPT: u32 = 3;
const NEED_SCRATCH: u32 = 4;
const NONE: u32 = 0xffffffff;
const DEAD: u32 = 0xffffffff;

/**
 * Writes bytes [done, ...) of `record` followed by `terminator` into [out, end); returns how
 * many of the length + 1 bytes are written in total now. (merge_text.ts writes its lines, which
 * end with the terminator already, through it too.)
 */
export function writeLine(record: usize, length: u32, terminator: u8, done: u32, out: usize, end: usize): u32 {
  let at = out;
  let k = done;
  if (k < length && at < end) {
    const room = <u32>(end - at);
    const n = length - k < room ? length - k : room;
    memory.copy(at, record + <usize>k, <usize>n);
    at += <usize>n;
    k += n;
  }
  if (k == length && at < end) {
    store<u8>(at, terminator);
    k += 1;
  }
  return k;
}

/** Whether the record equals the last one written (unique mode only; also merge_text.ts). */
// @ts-ignore: decorator
@inline export function isDuplicate(ext: usize, record: usize, length: u32): bool {
  const lastLength = load<u32>(ext, 16);
  if (lastLength != length) return false;
  return memory.compare(<usize>load<u32>(ext, 8), record, <usize>length) == 0;
}

/**
 * Runs the merge; returns 0 done, 1 output full, 2 need input, 3 corrupt, 4 scratch too small
 * for the next record's copy (unique mode: word 5 of the extension says how many bytes).
 */
export function mergeLines(state: usize): u32 {
  const k = load<u32>(state);
  let out = <usize>load<u32>(state, 4);
  const end = <usize>load<u32>(state, 8);
  const flags = load<u32>(state, 12);
  const reverse = (flags & 1) != 0;
  const keyed = (flags & 2) != 0;
  // Bit 2: the keys end with the line (stored once): the compared head ends with the line.
  const lineEndsKey = (flags & 4) != 0;
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
    if (loadHead(inp, reverse, keyed, lineEndsKey) != 0) {
      store<u32>(state, pending, 24);
      return CORRUPT;
    }
    if (out >= end) return OUTPUT_FULL;
    const length = keyed ? load<u32>(inp, 20) : load<u32>(inp, 16);
    const keyLength = keyed ? load<u32>(inp, 16) - (lineEndsKey ? length : 0) : 0;
    const line = <usize>load<u32>(inp, 12) + <usize>keyLength;
    const done = load<u32>(state, 20);
    const written = writeLine(line, length, terminator, done, out, end);
    out += <usize>(written - done);
    store<u32>(state, <u32>out, 4);
    if (written != length + 1) {
      store<u32>(state, written, 20);
      return OUTPUT_FULL;
    }
    store<u32>(inp, <u32>(line + <usize>length));
    store<u32>(state, NONE, 16);
    store<u32>(state, 0, 20);
    records += 1;
    store<u32>(state, records, 28);
  }
  // 2. Every head, then the loser tree (merge.ts).
  const started = startTree(state, tree, k, reverse, keyed, lineEndsKey);
  if (started != DONE) return started;
  let status = DONE;
  for (;;) {
    const w = load<u32>(tree);
    const inp = inputAt(state, w);
    const length = load<u32>(inp, 16);
    if (length == DEAD) break;
    // The compared bytes (the record, or its key) and the line written.
    const record = <usize>load<u32>(inp, 12);
    const lineLength = keyed ? load<u32>(inp, 20) : length;
    const line = !keyed
      ? record
      : lineEndsKey
      ? record + <usize>(length - lineLength)
      : record + <usize>length;
    if (unique && isDuplicate(ext, record, length)) {
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
        memory.copy(<usize>load<u32>(ext, 8), record, <usize>length);
        store<u32>(ext, length, 16);
      }
      if (out + <usize>lineLength < end) {
        memory.copy(out, line, <usize>lineLength);
        out += <usize>lineLength;
        store<u8>(out, terminator);
        out += 1;
      } else {
        const written = writeLine(line, lineLength, terminator, 0, out, end);
        out += <usize>written;
        if (written != lineLength + 1) {
          store<u32>(state, w, 16);
          store<u32>(state, written, 20);
          status = OUTPUT_FULL;
          break;
        }
      }
      records += 1;
    }
    store<u32>(inp, <u32>(line + <usize>lineLength));
    const head = loadHead(inp, reverse, keyed, lineEndsKey);
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
