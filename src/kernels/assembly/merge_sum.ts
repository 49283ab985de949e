// Summing merge: the k-way merge of word-sorted count runs (records `[word][count u64 BE]`,
// spill block payloads: varint length + bytes) that writes each distinct word once with the
// sum of its counts, as a record of the same format, into an output block. It reuses the merge
// step's inputs and loser tree (merge.ts): after each head is decoded, its length and prefix
// are narrowed to the word, so merge.ts's compare orders words without their counts.
//
// State at `state`: the merge step's block (merge.ts; words 4 and 5 unused: a record is written
// whole or not at all), then at 32 + 36 * k the extension:
//   word 0 open record's word (0xffffffff: none)   1 its word length
//   word 2 records written (wraps at 2^32)         3 the loser tree's state (see below)
//   u64 at 16, 24: the two counts whose sum passed 2^53 - 1 (status 4)
// The open record is the last one written to the current output: an equal word that follows
// adds its count there, even after a stop for input. The kernel writes a new record only when
// it fits whole, and closes the open record before it reports the output full, so a word is
// never split across two output blocks.
//
// The loser tree is built once (ext word 3 is 0 until then: `start` zeroes it) and kept across
// calls: after an output-full stop (word 3 TREE_VALID) every head and the tree are as they were;
// after a need-input stop (word 3 = 1 + the asking input) only that input was given bytes, so
// only its head is decoded again and its path replayed. TypeScript must not change another
// input between two calls (it refills the asking input only).

import { build, inputAt, loadHead, replay } from "./merge";
import { varintBytes, writeEncoded } from "./gather";

const DONE: u32 = 0;
const OUTPUT_FULL: u32 = 1;
const NEED_INPUT: u32 = 2;
const CORRUPT: u32 = 3;
const TOO_LARGE: u32 = 4;
const NONE: u32 = 0xffffffff;
const DEAD: u32 = 0xffffffff;
const COUNT_BYTES: u32 = 8;
/** The largest count summed exactly (2^53 - 1, as the TypeScript side). */
const COUNT_MAX: u64 = 0x1f_ffff_ffff_ffff;
/** Ext word 3: the tree is not built yet (every head is decoded, then the tree is built). */
const TREE_NONE: u32 = 0;
/** Ext word 3: the tree and every head are current. */
const TREE_VALID: u32 = 0xffffffff;

/**
 * Decodes input `inp`'s head (merge.ts's loadHead) and narrows it to the word: the length
 * without the count, the prefix of the word's bytes only. Same statuses; 3 also for a record
 * too short to hold a count.
 */
function loadWordHead(inp: usize): u32 {
  const head = loadHead(inp, false);
  if (head != 0) return head;
  const length = load<u32>(inp, 16);
  if (length < COUNT_BYTES) return 3;
  const wordLength = length - COUNT_BYTES;
  store<u32>(inp, wordLength, 16);
  if (wordLength < 8) {
    // The prefix held count bytes after the word: zero them (a shift by 64 is a shift by 0).
    const prefix = load<u64>(inp, 24);
    store<u64>(inp, prefix & ~(<u64>-1 >>> (<u64>wordLength << 3)), 24);
  }
  return 0;
}

/** Runs the summing merge (see the header); 0 done, 1 output full, 2 need input, 3 corrupt, 4 a sum too large. */
export function mergeSum(state: usize): u32 {
  const k = load<u32>(state);
  let out = <usize>load<u32>(state, 4);
  const end = <usize>load<u32>(state, 8);
  const tree = state + 32 + <usize>k * 32;
  const ext = tree + <usize>k * 4;
  let records = load<u32>(state, 28);
  let written = load<u32>(ext, 8);
  let open = load<u32>(ext);
  let openLength = load<u32>(ext, 4);
  const started = resumeTree(state, tree, ext, k);
  if (started != DONE) return started;
  let status = DONE;
  for (;;) {
    const w = load<u32>(tree);
    const inp = inputAt(state, w);
    const length = load<u32>(inp, 16);
    if (length == DEAD) {
      open = NONE;
      break;
    }
    const word = <usize>load<u32>(inp, 12);
    const count = bswap<u64>(load<u64>(word + <usize>length));
    if (
      open != NONE && openLength == length &&
      memory.compare(<usize>open, word, <usize>length) == 0
    ) {
      const at = <usize>open + <usize>length;
      const total = bswap<u64>(load<u64>(at));
      const sum = total + count;
      if (total > COUNT_MAX || count > COUNT_MAX || sum > COUNT_MAX) {
        store<u64>(ext, total, 16);
        store<u64>(ext, count, 24);
        status = TOO_LARGE;
        break;
      }
      store<u64>(at, bswap<u64>(sum));
    } else {
      const recordLength = length + COUNT_BYTES;
      const encoded = <usize>(varintBytes(recordLength) + recordLength);
      if (out + encoded > end) {
        open = NONE;
        status = OUTPUT_FULL;
        break;
      }
      writeEncoded(word, recordLength, 0, out, end);
      open = <u32>(out + encoded - <usize>recordLength);
      openLength = length;
      out += encoded;
      written += 1;
    }
    records += 1;
    store<u32>(inp, <u32>(word + <usize>length + COUNT_BYTES));
    const head = loadWordHead(inp);
    if (head == 1 || head == 3) {
      store<u32>(state, w, 24);
      // The next call decodes this head again (after the refill) and replays its path.
      store<u32>(ext, w + 1, 12);
      status = head == 1 ? NEED_INPUT : CORRUPT;
      break;
    }
    replay(state, tree, k, w, false);
  }
  store<u32>(state, <u32>out, 4);
  store<u32>(state, records, 28);
  store<u32>(ext, open);
  store<u32>(ext, openLength, 4);
  store<u32>(ext, written, 8);
  return status;
}

/**
 * Makes the heads and the loser tree current at the start of a call (see the header): builds
 * the tree the first time (every head must be present, or drained for good), else decodes
 * again only the head of the input the last call asked bytes for and replays its path.
 * Returns 0, or 2 (need input) / 3 (corrupt) with word 6 naming the input.
 */
function resumeTree(state: usize, tree: usize, ext: usize, k: u32): u32 {
  const treeState = load<u32>(ext, 12);
  if (treeState == TREE_VALID) return DONE;
  if (treeState == TREE_NONE) {
    for (let i: u32 = 0; i < k; i += 1) {
      const head = loadWordHead(inputAt(state, i));
      if (head == 1 || head == 3) {
        store<u32>(state, i, 24);
        return head == 1 ? NEED_INPUT : CORRUPT;
      }
    }
    store<u32>(tree, k == 1 ? 0 : build(state, tree, 1, k, false));
  } else {
    const w = treeState - 1;
    const head = loadWordHead(inputAt(state, w));
    if (head == 1 || head == 3) {
      store<u32>(state, w, 24);
      return head == 1 ? NEED_INPUT : CORRUPT;
    }
    replay(state, tree, k, w, false);
  }
  store<u32>(ext, TREE_VALID, 12);
  return DONE;
}
