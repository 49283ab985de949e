import { assert } from "../base/mod.ts";
import type { Prng } from "./_prng.ts";

// Syllable parts (lowercase ASCII). A syllable is onset + vowel + coda; words have 1..4.
const ONSETS = [
  "",
  "",
  "b",
  "c",
  "d",
  "f",
  "g",
  "h",
  "j",
  "k",
  "l",
  "m",
  "n",
  "p",
  "qu",
  "r",
  "s",
  "t",
  "v",
  "w",
  "y",
  "z",
  "bl",
  "br",
  "ch",
  "cl",
  "cr",
  "dr",
  "fl",
  "fr",
  "gl",
  "gr",
  "kn",
  "ph",
  "pl",
  "pr",
  "sc",
  "sh",
  "sk",
  "sl",
  "sm",
  "sn",
  "sp",
  "st",
  "str",
  "sw",
  "th",
  "tr",
  "wh",
  "wr",
];
const VOWELS = [
  "a",
  "e",
  "i",
  "o",
  "u",
  "a",
  "e",
  "i",
  "o",
  "ai",
  "au",
  "ea",
  "ee",
  "ie",
  "oa",
  "oo",
  "ou",
  "y",
];
const CODAS = [
  "",
  "",
  "",
  "",
  "b",
  "ck",
  "d",
  "ft",
  "g",
  "k",
  "l",
  "ld",
  "lk",
  "ll",
  "m",
  "mp",
  "n",
  "nd",
  "ng",
  "nk",
  "nt",
  "p",
  "r",
  "rd",
  "rk",
  "rm",
  "rn",
  "rt",
  "s",
  "sh",
  "sk",
  "ss",
  "st",
  "t",
  "th",
  "x",
  "z",
];
/** Cumulative weights of 1, 2, 3 and 4 syllables out of 100. */
const SYLLABLE_CUMULATIVE = [22, 62, 88, 100];

const encoder = new TextEncoder();
const onsetBytes = ONSETS.map((part) => encoder.encode(part));
const vowelBytes = VOWELS.map((part) => encoder.encode(part));
const codaBytes = CODAS.map((part) => encoder.encode(part));

/** Shortest word: one-letter words would take the top ranks and make the text unlike prose. */
const WORD_BYTES_MIN = 2;

/** Random extra length when ranking words by length (see buildVocabulary). */
const RANK_JITTER = 5;

/** Longest word the builder can make: 4 syllables of 3 + 2 + 2 bytes. */
export const WORD_BYTES_MAX = 4 * (3 + 2 + 2);

/**
 * A list of distinct pseudo-words, shortest first (so frequent Zipf ranks get short words),
 * packed as bytes: word i is `bytes[starts[i], starts[i + 1])`.
 */
export interface Vocabulary {
  /** All words back to back. */
  bytes: Uint8Array;
  /** `wordCount + 1` offsets into `bytes`. */
  starts: Int32Array;
  /** How many words. */
  wordCount: number;
  /**
   * One 16-byte row per word for the hot loop (one cache line per word):
   * `[4i]`, `[4i + 1]` the first 8 bytes (zero padded) as little-endian int32s, `[4i + 2]` the
   * start in `bytes`, `[4i + 3]` the length.
   */
  rows: Int32Array;
}

/**
 * Builds `wordCount` distinct words from syllables drawn with `prng`.
 *
 * @param prng The generator (the vocabulary depends on the seed).
 * @param wordCount How many distinct words (at most 200,000).
 * @returns The packed words, shortest first.
 */
export function buildVocabulary(prng: Prng, wordCount: number): Vocabulary {
  assert(wordCount >= 1 && wordCount <= 200_000, `wordCount ${wordCount} out of 1..200000`);
  const drawn = drawDistinctWords(prng, wordCount);
  const order = rankOrder(prng, drawn.starts, wordCount);
  const { bytes, starts } = packInRankOrder(drawn, order, wordCount);
  return { bytes, starts, wordCount, rows: wordRows(bytes, starts, wordCount) };
}

/** Words as drawn: word i is `bytes[starts[i], starts[i + 1])`; `usedBytes` of `bytes` hold them. */
interface DrawnWords {
  bytes: Uint8Array;
  starts: Uint32Array;
  usedBytes: number;
}

/** Draws `wordCount` distinct words of syllables, none too short or containing a blocked one. */
function drawDistinctWords(prng: Prng, wordCount: number): DrawnWords {
  const capacityBytes = wordCount * WORD_BYTES_MAX;
  const raw = new Uint8Array(capacityBytes);
  const rawStarts = new Uint32Array(wordCount + 1);
  // Open-addressing set of word indices (+1), keyed by an FNV-1a hash of the bytes.
  let slotCount = 1;
  while (slotCount < wordCount * 2) slotCount *= 2;
  const slots = new Int32Array(slotCount);
  const slotMask = slotCount - 1;
  let used = 0;
  let made = 0;
  let attempts = 0;
  while (made < wordCount) {
    attempts += 1;
    assert(attempts < wordCount * 100, "Vocabulary builder cannot find enough distinct words");
    const begin = used;
    used = drawWord(prng, raw, used);
    if (used - begin < WORD_BYTES_MIN || containsBlocked(raw, begin, used)) {
      used = begin;
      continue;
    }
    let slot = wordHash(raw, begin, used) & slotMask;
    let duplicate = false;
    while (slots[slot] !== 0) {
      const other = slots[slot]! - 1;
      if (sameBytes(raw, rawStarts[other]!, rawStarts[other + 1]!, begin, used)) {
        duplicate = true;
        break;
      }
      slot = (slot + 1) & slotMask;
    }
    if (duplicate) {
      used = begin;
      continue;
    }
    slots[slot] = made + 1;
    rawStarts[made] = begin;
    rawStarts[made + 1] = used;
    made += 1;
  }
  return { bytes: raw, starts: rawStarts, usedBytes: used };
}

/** Appends one word of 1-4 syllables (onset, vowel, coda) at `used`; returns its end. */
function drawWord(prng: Prng, raw: Uint8Array, used: number): number {
  const pick = prng.below(100);
  let syllables = 1;
  while (pick >= SYLLABLE_CUMULATIVE[syllables - 1]!) syllables += 1;
  for (let syllable = 0; syllable < syllables; syllable += 1) {
    used = append(raw, used, onsetBytes[prng.below(onsetBytes.length)]!);
    used = append(raw, used, vowelBytes[prng.below(vowelBytes.length)]!);
    used = append(raw, used, codaBytes[prng.below(codaBytes.length)]!);
  }
  return used;
}

/** FNV-1a of `raw[begin, end)`. */
function wordHash(raw: Uint8Array, begin: number, end: number): number {
  let hash = 0x811c_9dc5;
  for (let index = begin; index < end; index += 1) {
    hash = Math.imul(hash ^ raw[index]!, 0x0100_0193);
  }
  return hash;
}

/**
 * Rank order: a stable counting sort by length plus a random 0..3, so frequent ranks get short
 * words without all being one letter (Zipf-weighted about 4 letters per word, close to English).
 *
 * @returns The word at each rank.
 */
function rankOrder(prng: Prng, rawStarts: Uint32Array, wordCount: number): Uint32Array {
  const sortKeys = new Uint8Array(wordCount);
  for (let word = 0; word < wordCount; word += 1) {
    sortKeys[word] = rawStarts[word + 1]! - rawStarts[word]! + prng.below(RANK_JITTER + 1);
  }
  const keyCounts = new Uint32Array(WORD_BYTES_MAX + RANK_JITTER + 2);
  for (let word = 0; word < wordCount; word += 1) keyCounts[sortKeys[word]! + 1]! += 1;
  for (let key = 1; key < keyCounts.length; key += 1) {
    keyCounts[key] = keyCounts[key]! + keyCounts[key - 1]!;
  }
  const order = new Uint32Array(wordCount);
  for (let word = 0; word < wordCount; word += 1) {
    order[keyCounts[sortKeys[word]!]!] = word;
    keyCounts[sortKeys[word]!]! += 1;
  }
  return order;
}

/** The drawn words copied in rank order, and their `wordCount + 1` starts. */
function packInRankOrder(
  drawn: DrawnWords,
  order: Uint32Array,
  wordCount: number,
): { bytes: Uint8Array; starts: Int32Array } {
  const raw = drawn.bytes;
  const rawStarts = drawn.starts;
  const bytes = new Uint8Array(drawn.usedBytes);
  const starts = new Int32Array(wordCount + 1);
  let offset = 0;
  for (let rank = 0; rank < wordCount; rank += 1) {
    const word = order[rank]!;
    starts[rank] = offset;
    for (let index = rawStarts[word]!; index < rawStarts[word + 1]!; index += 1) {
      bytes[offset++] = raw[index]!;
    }
  }
  starts[wordCount] = offset;
  return { bytes, starts };
}

/** The hot loop's 16-byte rows ({@linkcode Vocabulary.rows}). */
function wordRows(bytes: Uint8Array, starts: Int32Array, wordCount: number): Int32Array {
  const rows = new Int32Array(wordCount * 4);
  const headBytes = new Uint8Array(8);
  const headView = new DataView(headBytes.buffer);
  for (let rank = 0; rank < wordCount; rank += 1) {
    headBytes.fill(0);
    const wordStart = starts[rank]!;
    const end = Math.min(starts[rank + 1]!, wordStart + 8);
    for (let index = wordStart; index < end; index += 1) {
      headBytes[index - wordStart] = bytes[index]!;
    }
    rows[4 * rank] = headView.getInt32(0, true);
    rows[4 * rank + 1] = headView.getInt32(4, true);
    rows[4 * rank + 2] = wordStart;
    rows[4 * rank + 3] = starts[rank + 1]! - wordStart;
  }
  return rows;
}

/**
 * Syllables can spell real words; a corpus that shows up in demos should not be rude, so words
 * containing any of these are dropped (they are pseudo-words, nothing is lost).
 */
const BLOCKED = [
  "anal",
  "anus",
  "bitch",
  "cock",
  "cum",
  "cunt",
  "dick",
  "fag",
  "fuck",
  "nazi",
  "nig",
  "penis",
  "piss",
  "porn",
  "rape",
  "sex",
  "shit",
  "slut",
  "tit",
  "twat",
  "whore",
].map((part) => encoder.encode(part));

const BLOCKED_FIRST_BYTES: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (const part of BLOCKED) table[part[0]!] = 1;
  return table;
})();

function containsBlocked(bytes: Uint8Array, start: number, end: number): boolean {
  for (let at = start; at < end; at += 1) {
    if (BLOCKED_FIRST_BYTES[bytes[at]!] === 0) continue;
    for (const part of BLOCKED) {
      if (part[0] !== bytes[at] || at + part.length > end) continue;
      let index = 1;
      while (index < part.length && bytes[at + index] === part[index]) index += 1;
      if (index === part.length) return true;
    }
  }
  return false;
}

function append(target: Uint8Array, offset: number, part: Uint8Array): number {
  for (let index = 0; index < part.length; index += 1) target[offset + index] = part[index]!;
  return offset + part.length;
}

function sameBytes(bytes: Uint8Array, aStart: number, aEnd: number, bStart: number, bEnd: number) {
  if (aEnd - aStart !== bEnd - bStart) return false;
  for (let index = 0; index < aEnd - aStart; index += 1) {
    if (bytes[aStart + index] !== bytes[bStart + index]) return false;
  }
  return true;
}
