// Merge step: a k-way merge of in-memory blocks of sorted records (varint length + bytes,
// plain byte order, optionally reversed) into a spill block payload. Runs until the output
// block is full or an input that is not finished has no complete record left, then returns to
// TypeScript, which refills (or finishes) that input or seals the output block.
//
// State at `state` (see docs/kernels.md):
//   word 0 inputCount   1 outPos   2 outEnd   3 reverse   4 pending input (0xffffffff: none)
//   word 5 encoding bytes of the pending record already written   6 input asking (status 2, 3)
//   word 7 records finished (wraps at 2^32)
//   bytes 32 + 32 * i: input i: pos, end, finished, (kernel's: head, length, unused, prefix u64)
//   bytes 32 + 32 * k: the loser tree, k words (kernel's scratch)

import { varintBytes, writeEncoded } from "./gather";

const DONE: u32 = 0;
const OUTPUT_FULL: u32 = 1;
const NEED_INPUT: u32 = 2;
const CORRUPT: u32 = 3;
const NONE: u32 = 0xffffffff;
const INPUTS: usize = 32;
const INPUT_BYTES: usize = 32;
/** Head length of an input with no record to offer (finished and drained). */
const DEAD: u32 = 0xffffffff;

// @ts-ignore: decorator
@inline export function inputAt(state: usize, i: u32): usize {
  return state + INPUTS + <usize>i * INPUT_BYTES;
}

/**
 * Decodes the head record of input `inp`: 0 ok, 1 no complete record (needs more bytes),
 * 2 drained for good (finished and empty), 3 corrupt (finished mid-record or bad varint).
 *
 * Keyed records (a keyed run, docs/spill-format.md: varint(key length + 1), key, line inside
 * the record) load their key as the head (word 3 its address, word 4 its length: the loser
 * tree compares keys by memcmp) and the line's length into word 5 (the line follows the key).
 * A keyed record without a stored key (key field 0) is corrupt here: such runs take the
 * comparator merge. With `lineEndsKey` the stored key leaves out its last-resort copy of the
 * line: the compared head runs from the key to the record's end (key + line, the whole key).
 */
export function loadHead(
  inp: usize,
  reverse: bool,
  keyed: bool = false,
  lineEndsKey: bool = false,
): u32 {
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
  let length: u32 = 0;
  let shift: u32 = 0;
  let at = pos;
  for (;;) {
    if (at >= end) return finished ? 3 : 1;
    const byte = <u32>load<u8>(at);
    at += 1;
    if (shift == 28 && byte > 0x0f) return 3;
    length |= (byte & 0x7f) << shift;
    if (byte < 0x80) break;
    shift += 7;
  }
  if (<u64>at + <u64>length > <u64>end) return finished ? 3 : 1;
  if (keyed) {
    // varint(key length + 1) inside the record, then the key, then the line.
    const recordEnd = at + <usize>length;
    let field: u32 = 0;
    let fieldShift: u32 = 0;
    for (;;) {
      if (at >= recordEnd) return 3;
      const byte = <u32>load<u8>(at);
      at += 1;
      if (fieldShift == 28 && byte > 0x0f) return 3;
      field |= (byte & 0x7f) << fieldShift;
      if (byte < 0x80) break;
      fieldShift += 7;
    }
    if (field == 0 || <u64>(field - 1) > <u64>(recordEnd - at)) return 3;
    const keyLength = field - 1;
    const lineLength = <u32>(recordEnd - at) - keyLength;
    store<u32>(inp, lineLength, 20);
    length = lineEndsKey ? keyLength + lineLength : keyLength;
  }
  storeHead(inp, at, length, reverse);
  return 0;
}

/**
 * Makes the record of `length` bytes at `at` input `inp`'s head: its place, its length and its
 * first 8 bytes as a big-endian prefix (zero-padded; inverted for `-r`). Also merge_text.ts.
 */
// @ts-ignore: decorator
@inline export function storeHead(inp: usize, at: usize, length: u32, reverse: bool): void {
  let prefix: u64 = 0;
  if (length >= 8) {
    prefix = bswap<u64>(load<u64>(at));
  } else {
    for (let b: u32 = 0; b < 8; b += 1) {
      prefix = (prefix << 8) | (b < length ? <u64>load<u8>(at + <usize>b) : 0);
    }
  }
  store<u32>(inp, <u32>at, 12);
  store<u32>(inp, length, 16);
  store<u64>(inp, reverse ? ~prefix : prefix, 24);
}

/** Whether input a's head sorts strictly before input b's (drained inputs lose; ties: index). */
// @ts-ignore: decorator
@inline export function beats(state: usize, a: u32, b: u32, reverse: bool): bool {
  const ia = inputAt(state, a);
  const ib = inputAt(state, b);
  const la = load<u32>(ia, 16);
  const lb = load<u32>(ib, 16);
  if (la == DEAD || lb == DEAD) {
    if (la == DEAD && lb == DEAD) return a < b;
    return lb == DEAD;
  }
  const pa = load<u64>(ia, 24);
  const pb = load<u64>(ib, 24);
  if (pa != pb) return pa < pb;
  const common = la < lb ? la : lb;
  let c: i32 = 0;
  if (common > 8) {
    const ra = <usize>load<u32>(ia, 12);
    const rb = <usize>load<u32>(ib, 12);
    let k: u32 = 8;
    while (k + 8 <= common) {
      const x = bswap<u64>(load<u64>(ra + <usize>k));
      const y = bswap<u64>(load<u64>(rb + <usize>k));
      if (x != y) {
        c = x < y ? -1 : 1;
        break;
      }
      k += 8;
    }
    if (c == 0) {
      while (k < common) {
        const d = <i32>load<u8>(ra + <usize>k) - <i32>load<u8>(rb + <usize>k);
        if (d != 0) {
          c = d;
          break;
        }
        k += 1;
      }
    }
  }
  if (c == 0) {
    if (la == lb) return a < b;
    c = la < lb ? -1 : 1;
  }
  return reverse ? c > 0 : c < 0;
}

/** Runs the merge (see the header); returns 0 done, 1 output full, 2 need input, 3 corrupt. */
export function mergeStep(state: usize): u32 {
  const k = load<u32>(state);
  let out = <usize>load<u32>(state, 4);
  const end = <usize>load<u32>(state, 8);
  const reverse = (load<u32>(state, 12) & 1) != 0;
  const tree = state + INPUTS + <usize>k * INPUT_BYTES;
  let records = load<u32>(state, 28);
  // 1. Finish the record the last call left half-written.
  const pending = load<u32>(state, 16);
  if (pending != NONE) {
    const inp = inputAt(state, pending);
    const head = loadHead(inp, reverse);
    if (head != 0) {
      store<u32>(state, pending, 24);
      return CORRUPT;
    }
    if (out >= end) return OUTPUT_FULL;
    const length = load<u32>(inp, 16);
    const done = load<u32>(state, 20);
    const written = writeEncoded(<usize>load<u32>(inp, 12), length, done, out, end);
    out += <usize>(written - done);
    store<u32>(state, <u32>out, 4);
    if (written != encodedBytes(length)) {
      store<u32>(state, written, 20);
      return OUTPUT_FULL;
    }
    store<u32>(inp, load<u32>(inp, 12) + length);
    store<u32>(state, NONE, 16);
    store<u32>(state, 0, 20);
    records += 1;
    store<u32>(state, records, 28);
  }
  // 2. Every head, then the loser tree.
  const started = startTree(state, tree, k, reverse);
  if (started != DONE) return started;
  for (;;) {
    const w = load<u32>(tree);
    const inp = inputAt(state, w);
    const length = load<u32>(inp, 16);
    if (length == DEAD) {
      store<u32>(state, <u32>out, 4);
      store<u32>(state, records, 28);
      return DONE;
    }
    if (out >= end) {
      store<u32>(state, <u32>out, 4);
      store<u32>(state, records, 28);
      return OUTPUT_FULL;
    }
    const record = <usize>load<u32>(inp, 12);
    if (length < 0x80 && out + 1 + <usize>length <= end) {
      store<u8>(out, <u8>length);
      memory.copy(out + 1, record, <usize>length);
      out += 1 + <usize>length;
    } else {
      const written = writeEncoded(record, length, 0, out, end);
      out += <usize>written;
      if (written != encodedBytes(length)) {
        store<u32>(state, <u32>out, 4);
        store<u32>(state, w, 16);
        store<u32>(state, written, 20);
        store<u32>(state, records, 28);
        return OUTPUT_FULL;
      }
    }
    records += 1;
    store<u32>(inp, <u32>(record + <usize>length));
    const head = loadHead(inp, reverse);
    if (head == 1 || head == 3) {
      store<u32>(state, <u32>out, 4);
      store<u32>(state, w, 24);
      store<u32>(state, records, 28);
      return head == 1 ? NEED_INPUT : CORRUPT;
    }
    replay(state, tree, k, w, reverse);
  }
  return DONE; // not reached: the loop returns
}

/**
 * Loads every input's head (each must be present, or drained for good, before the first
 * comparison) and builds the loser tree: tree[0] the winner, tree[1..k) the losers. Returns 0,
 * or 2 (need input) / 3 (corrupt) with word 6 naming the input.
 */
export function startTree(
  state: usize,
  tree: usize,
  k: u32,
  reverse: bool,
  keyed: bool = false,
  lineEndsKey: bool = false,
): u32 {
  for (let i: u32 = 0; i < k; i += 1) {
    const head = loadHead(inputAt(state, i), reverse, keyed, lineEndsKey);
    if (head == 1 || head == 3) {
      store<u32>(state, i, 24);
      return head == 1 ? NEED_INPUT : CORRUPT;
    }
  }
  store<u32>(tree, k == 1 ? 0 : build(state, tree, 1, k, reverse));
  return DONE;
}

/** Replays input w's path from its leaf to the root after its head changed. */
// @ts-ignore: decorator
@inline export function replay(state: usize, tree: usize, k: u32, w: u32, reverse: bool): void {
  let candidate = w;
  let node = (k + w) >> 1;
  while (node >= 1) {
    const slot = tree + (<usize>node << 2);
    const opponent = load<u32>(slot);
    if (beats(state, opponent, candidate, reverse)) {
      store<u32>(slot, candidate);
      candidate = opponent;
    }
    node >>= 1;
  }
  store<u32>(tree, candidate);
}

/**
 * Plays the matches of the subtree under `node` (leaves: inputs at node - k for node >= k),
 * stores each match's loser in tree[node] and returns the subtree's winner.
 */
export function build(state: usize, tree: usize, node: u32, k: u32, reverse: bool): u32 {
  if (node >= k) return node - k;
  const a = build(state, tree, 2 * node, k, reverse);
  const b = build(state, tree, 2 * node + 1, k, reverse);
  if (beats(state, a, b, reverse)) {
    store<u32>(tree + (<usize>node << 2), b);
    return a;
  }
  store<u32>(tree + (<usize>node << 2), a);
  return b;
}

// @ts-ignore: decorator
@inline function encodedBytes(length: u32): u32 {
  return varintBytes(length) + length;
}
