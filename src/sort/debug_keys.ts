import type { KeyField } from "./_key_def.ts";
import { generalNumericEnd } from "./_general_numeric.ts";
import { BLANKS, monthOf } from "./_numeric.ts";
import { findKeyRange, type SortOrder } from "./sort_order.ts";

/**
 * GNU `sort --debug` in the C locale: each output line with TAB shown as `>`, then one line
 * per key underlining what the key compares (`^ no match for key` when empty), then the whole
 * line unless `-s` or `-u`; and the warnings GNU prints about the keys before sorting.
 *
 * ```
 *   $ printf 'a 10\n' | sort --debug -k2,2n
 *   a 10
 *     __
 *   ____
 * ```
 * Debug output is for people, so this module allocates freely.
 */

const TAB = 0x09;
const NEWLINE = 0x0a;
const MINUS = 0x2d;
const DOT = 0x2e;
const UNDERSCORE = 0x5f;
const SPACE = 0x20;

/** GNU's debug_width: printable bytes and bytes above 0x7f are 1 wide, TAB 1, controls 0. */
function displayWidth(bytes: Uint8Array, start: number, end: number): number {
  let width = 0;
  for (let index = start; index < end; index += 1) {
    const byte = bytes[index]!;
    if (byte === TAB || byte >= 0x20 && byte !== 0x7f) width += 1;
  }
  return width;
}

function isDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

/** What GNU's debug_key underlines for one key: `[begin, end)` offsets (end may be < begin). */
function debugRange(
  bytes: Uint8Array,
  start: number,
  limit: number,
  key: KeyField,
  separator: number,
): [number, number] {
  let [begin, end] = findKeyRange(bytes, start, limit, key, separator);
  const numeric = key.numeric || key.generalNumeric || key.humanNumeric;
  if (!(numeric || key.month)) return [begin, end];
  while (begin < end && BLANKS[bytes[begin]!] === 1) begin += 1;
  if (end < begin) return [begin, end];
  if (key.month) {
    return [begin, monthOf(bytes, begin, end) > 0 ? monthEnd(bytes, begin, end) : begin];
  }
  if (key.generalNumeric) return [begin, generalNumericEnd(bytes, begin, end)];
  let position = begin < end && bytes[begin] === MINUS ? begin + 1 : begin;
  let digits = 0;
  while (position < end && isDigit(bytes[position]!)) {
    position += 1;
    digits += 1;
  }
  if (position < end && bytes[position] === DOT) {
    position += 1;
    while (position < end && isDigit(bytes[position]!)) {
      position += 1;
      digits += 1;
    }
  }
  if (digits === 0) return [begin, begin];
  if (
    key.humanNumeric && position < end &&
    "KMGTPEZYRQk".includes(String.fromCharCode(bytes[position]!))
  ) {
    position += 1;
  }
  return [begin, position];
}

function monthEnd(bytes: Uint8Array, begin: number, end: number): number {
  let index = begin;
  while (index < end && BLANKS[bytes[index]!] === 1) index += 1;
  return index + 3;
}

function pushMark(out: number[], offset: number, width: number): void {
  for (let index = 0; index < offset; index += 1) out.push(SPACE);
  if (width <= 0) {
    for (const char of "^ no match for key") out.push(char.charCodeAt(0));
  } else {
    for (let index = 0; index < width; index += 1) out.push(UNDERSCORE);
  }
  out.push(NEWLINE);
}

/**
 * The `--debug` form of one output record: the record (TAB as `>`, its end as a newline)
 * and the underline of each key, then of the whole record unless `-s` or `-u`.
 *
 * @param order The order that sorted it.
 * @param bytes Holds the record.
 * @param offset Where it starts.
 * @param length Its length without the terminator.
 * @returns The bytes to print.
 */
export function debugRecord(
  order: SortOrder,
  bytes: Uint8Array,
  offset: number,
  length: number,
): Uint8Array {
  const out: number[] = [];
  const limit = offset + length;
  for (let index = offset; index < limit; index += 1) {
    const byte = bytes[index]!;
    out.push(byte === TAB ? 0x3e : byte);
  }
  out.push(NEWLINE);
  const keys = order.keyFields;
  for (const key of keys) {
    const [begin, end] = debugRange(bytes, offset, limit, key, order.fieldSeparator);
    pushMark(
      out,
      displayWidth(bytes, offset, begin),
      end < begin ? 0 : displayWidth(bytes, begin, end),
    );
  }
  if (keys.length === 0 || !(order.spec.stable || order.spec.unique)) {
    pushMark(out, 0, displayWidth(bytes, offset, limit));
  }
  return new Uint8Array(out);
}

/**
 * The warnings GNU `sort --debug` prints before sorting (without the `sort: ` prefix), in
 * GNU's order and words.
 *
 * @param order The order.
 * @param obsolete For keys given as `+POS1 [-POS2]`: their index and GNU's two spellings.
 * @returns The lines.
 */
export function debugWarnings(
  order: SortOrder,
  obsolete: ReadonlyMap<number, { text: string; keydef: string }>,
): string[] {
  const spec = order.spec;
  const lines = ["text ordering performed using simple byte comparison"];
  const keys = order.keyFields;
  const globalOnly = spec.keys.length === 0 && keys.length > 0;
  const separator = order.fieldSeparator;
  let basicNumeric = false;
  let generalNumeric = false;
  let basicSpan = false;
  let generalSpan = false;
  // Global options not used by any key (GNU's ugkey).
  // GNU clears the start and end halves of -b separately.
  let unusedStartBlanks = spec.ignoreLeadingBlanks;
  let unusedEndBlanks = spec.ignoreLeadingBlanks;
  const unused: UnusedOptions = {
    b: spec.ignoreLeadingBlanks,
    d: spec.dictionary ?? false,
    f: spec.foldCase,
    g: spec.generalNumeric ?? false,
    h: spec.humanNumeric ?? false,
    i: (spec.ignoreNonprinting ?? false) && !(spec.dictionary ?? false),
    M: spec.month ?? false,
    n: spec.numeric,
    R: spec.random ?? false,
    r: spec.reverse,
    V: spec.version ?? false,
  };
  keys.forEach((key, index) => {
    const number = index + 1;
    const numeric = key.numeric || key.generalNumeric || key.humanNumeric;
    if (numeric) {
      if (key.generalNumeric) generalNumeric = true;
      else basicNumeric = true;
    }
    const old = obsolete.get(index);
    if (old !== undefined) {
      lines.push(`obsolescent key '${old.text}' used; consider '${old.keydef}' instead`);
    }
    const wholeLine = key.startField === 0 && key.startChar === 0;
    const zeroWidth = !wholeLine && key.endField >= 0 && key.endField < key.startField;
    if (zeroWidth) lines.push(`key ${number} has zero width and will be ignored`);
    const implicitSkip = numeric || key.month;
    const lineOffset = key.endField === 0 && key.endChar !== 0;
    if (
      !zeroWidth && !globalOnly && separator < 0 && !lineOffset &&
      ((!key.skipStartBlanks && !implicitSkip) || (!key.skipStartBlanks && key.startChar !== 0) ||
        (!key.skipEndBlanks && key.endChar !== 0))
    ) {
      lines.push(
        `leading blanks are significant in key ${number}; consider also specifying 'b'`,
      );
    }
    if (!globalOnly && numeric) {
      const startField = wholeLine ? 1 : key.startField + 1;
      const endField = key.endField + 1; // 0: to the end of the line
      if (endField === 0 || startField < endField) {
        lines.push(`key ${number} is numeric and spans multiple fields`);
        if (key.generalNumeric) generalSpan = true;
        else basicSpan = true;
      }
    }
    if (key.dictionary) unused.d = false;
    if (key.nonprinting && !key.dictionary) unused.i = false;
    if (key.foldCase) unused.f = false;
    if (key.skipStartBlanks) unusedStartBlanks = false;
    if (key.skipEndBlanks) unusedEndBlanks = false;
    unused.b = unusedStartBlanks || unusedEndBlanks;
    if (key.month) unused.M = false;
    if (key.numeric) unused.n = false;
    if (key.generalNumeric) unused.g = false;
    if (key.humanNumeric) unused.h = false;
    if (key.random) unused.R = false;
    if (key.version) unused.V = false;
    if (key.reverse) unused.r = false;
  });
  let localeWarned = false;
  if (basicSpan || generalSpan) {
    if (separator === DOT) {
      lines.push("field separator '.' is treated as a decimal point in numbers");
      localeWarned = true;
    } else if (separator === MINUS) {
      lines.push("field separator '-' is treated as a minus sign in numbers");
    } else if (generalSpan && separator === 0x2b) {
      lines.push("field separator '+' is treated as a plus sign in numbers");
    }
  }
  if ((basicNumeric || generalNumeric) && !localeWarned) {
    lines.push(
      `${separator === DOT ? "" : "note "}numbers use '.' as a decimal point in this locale`,
    );
  }
  pushIgnoredOptions(lines, unused, spec.stable || spec.unique, keys.length > 0);
  return lines;
}

/** Global options that no key used, by GNU's letter (GNU's `ugkey`). */
type UnusedOptions = Record<
  "b" | "d" | "f" | "g" | "h" | "i" | "M" | "n" | "R" | "r" | "V",
  boolean
>;

/** Adds GNU's "option '-x' is ignored" and "-r only applies to last-resort" warnings. */
function pushIgnoredOptions(
  lines: string[],
  unused: UnusedOptions,
  stableOrUnique: boolean,
  hasKeys: boolean,
): void {
  const anyUnused = unused.b || unused.d || unused.f || unused.g || unused.h || unused.i ||
    unused.M || unused.n || unused.R || unused.V;
  if (anyUnused || (unused.r && stableOrUnique && hasKeys)) {
    const reverse = stableOrUnique ? unused.r : false;
    let letters = "";
    for (const letter of ["b", "d", "f", "g", "h", "i", "M", "n", "R", "r", "V"] as const) {
      if (letter === "r" ? reverse : unused[letter]) letters += letter;
    }
    lines.push(
      letters.length === 1
        ? `option '-${letters}' is ignored`
        : `options '-${letters}' are ignored`,
    );
  }
  if (unused.r && !stableOrUnique && hasKeys) {
    lines.push("option '-r' only applies to last-resort comparison");
  }
}
