/**
 * The `words` and `flink` token rules of the count kernel written plainly (the oracle of
 * tests/kernels/count_kernel_test.ts): find the next token at or after a position and build its
 * lower-cased bytes, reading the Unicode tables from the memory as the kernel does.
 *
 * @module
 */

/** A token found by {@linkcode nextWordsToken}. */
export interface ReferenceToken {
  /** Where the token starts in the memory. */
  start: number;
  /** One past its last input byte. */
  stop: number;
  /** Its bytes as counted (lower-cased as asked). */
  bytes: Uint8Array;
}

/** The tables and rule of one scan. */
export interface WordsRule {
  /** `words` (Unicode letters, digits, `_`) or `flink` (Java `\W+` splits after lower case). */
  kind: "words" | "flink";
  /** Lower case (`flink` always lowers). */
  lower: boolean;
  /** Byte offset and count of the i32 [start, end] word ranges. */
  wordRanges: number;
  wordRangeCount: number;
  /** Byte offset and count of the i32 [start, end, delta, stride] lower-case ranges. */
  lowerRanges: number;
  lowerRangeCount: number;
}

/** The valid UTF-8 sequence at `at` within `limit`: [code point, length], or undefined. */
function decodeSequence(
  bytes: Uint8Array,
  at: number,
  limit: number,
): [number, number] | undefined {
  const b0 = bytes[at]!;
  const n = b0 >= 0xf8 ? 0 : b0 >= 0xf0 ? 4 : b0 >= 0xe0 ? 3 : b0 >= 0xc0 ? 2 : 0;
  if (n === 0 || at + n > limit) return undefined;
  let cp = b0 & (0xff >> (n + 1));
  for (let i = 1; i < n; i += 1) {
    const b = bytes[at + i]!;
    if ((b & 0xc0) !== 0x80) return undefined;
    cp = cp * 64 + (b & 0x3f);
  }
  const smallest = [0, 0, 0x80, 0x800, 0x10000][n]!;
  if (cp < smallest || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
  return [cp, n];
}

function isWord(view: DataView, rule: WordsRule, cp: number): boolean {
  for (let i = 0; i < rule.wordRangeCount; i += 1) {
    const at = rule.wordRanges + 8 * i;
    if (cp >= view.getInt32(at, true) && cp <= view.getInt32(at + 4, true)) return true;
  }
  return false;
}

function lowerOf(view: DataView, rule: WordsRule, cp: number): number[] {
  if (cp === 0x130) return [0x69, 0x307];
  for (let i = 0; i < rule.lowerRangeCount; i += 1) {
    const at = rule.lowerRanges + 16 * i;
    const first = view.getInt32(at, true);
    if (cp < first || cp > view.getInt32(at + 4, true)) continue;
    const stride = view.getInt32(at + 12, true);
    return [(cp - first) % stride === 0 ? cp + view.getInt32(at + 8, true) : cp];
  }
  return [cp];
}

const isAsciiWord = (b: number) =>
  (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f;
const lowerAscii = (b: number) => b >= 0x41 && b <= 0x5a ? b + 0x20 : b;

/**
 * The next token of `[pos, end)`, or undefined when none is left; `invalid` counts the invalid
 * UTF-8 bytes skipped on the way (`words`).
 */
export function nextWordsToken(
  memory: WebAssembly.Memory,
  rule: WordsRule,
  pos: number,
  end: number,
  invalid: { bytes: number },
): ReferenceToken | undefined {
  const bytes = new Uint8Array(memory.buffer);
  const view = new DataView(memory.buffer);
  // The unit at `at`: [length, code points as counted] of a token part, or [-length]: not one.
  const unit = (at: number): [number, number[]] => {
    const b = bytes[at]!;
    if (isAsciiWord(b)) return [1, [rule.kind === "flink" || rule.lower ? lowerAscii(b) : b]];
    if (rule.kind === "flink") {
      if (b === 0xe2 && at + 2 < end && bytes[at + 1] === 0x84 && bytes[at + 2] === 0xaa) {
        return [3, [0x6b]];
      }
      if (b === 0xc4 && at + 1 < end && bytes[at + 1] === 0xb0) return [2, [0x69]];
      return [-1, []];
    }
    if (b < 0x80) return [-1, []];
    const sequence = decodeSequence(bytes, at, end);
    if (sequence === undefined) return [0, []];
    const [cp, n] = sequence;
    if (!isWord(view, rule, cp)) return [-n, []];
    return [n, rule.lower ? lowerOf(view, rule, cp) : [cp]];
  };
  while (pos < end) {
    const [n] = unit(pos);
    if (n > 0) break;
    if (n === 0) invalid.bytes += 1;
    pos += n === 0 ? 1 : -n;
  }
  if (pos >= end) return undefined;
  const start = pos;
  const codePoints: number[] = [];
  while (pos < end) {
    const [n, lowered] = unit(pos);
    if (n <= 0) break;
    codePoints.push(...lowered);
    pos += n;
    if (rule.kind === "flink" && n === 2) break; // U+0130: "i" + U+0307, and the dot splits
  }
  const text = String.fromCodePoint(...codePoints);
  return { start, stop: pos, bytes: new TextEncoder().encode(text) };
}
