import { UsageError } from "../base/mod.ts";

/**
 * One compiled sort key, GNU sort's `struct keyfield` with 0-based positions.
 *
 * ```
 *   -k F1[.C1][OPTS][,F2[.C2][OPTS]]
 *   startField = F1 - 1        startChar = C1 - 1 (0 when .C1 is absent)
 *   endField   = F2 - 1        endChar   = C2     (0 = to the end of field F2)
 *   endField   = -1 when there is no ",F2": the key runs to the end of the record
 * ```
 * Every field is set in the constructor in one order so all keys share one hidden class.
 */
export class KeyField {
  /** 0-based field where the key starts. */
  startField: number;
  /** 0-based character offset inside the start field. */
  startChar: number;
  /** 0-based field where the key ends, or -1: the end of the record. */
  endField: number;
  /** 1-based last character inside the end field, or 0: the whole end field. */
  endChar: number;
  /** `b` at the start position: skip blanks before counting `startChar`. */
  skipStartBlanks: boolean;
  /** `b` at the end position: skip blanks before counting `endChar`. */
  skipEndBlanks: boolean;
  /** `n`: compare as numbers (GNU strnumcmp, C locale). */
  numeric: boolean;
  /** `f`: fold a-z to A-Z. */
  foldCase: boolean;
  /** `d`: compare only letters, digits and blanks. */
  dictionary: boolean;
  /** `i`: compare only printable ASCII (0x20..0x7e); `d` wins when both are given. */
  nonprinting: boolean;
  /** `g`: compare as floating-point numbers (strtold, C locale). */
  generalNumeric: boolean;
  /** `h`: compare as human-readable numbers (2K, 1G; SI suffix, then value). */
  humanNumeric: boolean;
  /** `M`: compare as month names (JAN < ... < DEC; unknown first). */
  month: boolean;
  /** `V`: compare as version strings (GNU filevercmp). */
  version: boolean;
  /** `R`: compare by a salted hash of the key (equal keys stay together). */
  random: boolean;
  /** `r`: reverse this key. */
  reverse: boolean;
  /** Given as obsolete `+POS1 [-POS2]` (for `--debug` warnings). */
  traditional: boolean;

  constructor() {
    this.startField = 0;
    this.startChar = 0;
    this.endField = -1;
    this.endChar = 0;
    this.skipStartBlanks = false;
    this.skipEndBlanks = false;
    this.numeric = false;
    this.foldCase = false;
    this.dictionary = false;
    this.nonprinting = false;
    this.generalNumeric = false;
    this.humanNumeric = false;
    this.month = false;
    this.version = false;
    this.random = false;
    this.reverse = false;
    this.traditional = false;
  }

  /** GNU's `default_key_compare`: no ordering option at all (`r` does not count). */
  hasNoOrderingOptions(): boolean {
    return !(this.skipStartBlanks || this.skipEndBlanks || this.numeric || this.foldCase ||
      this.dictionary || this.nonprinting || this.generalNumeric || this.humanNumeric ||
      this.month || this.version || this.random);
  }

  /** `n`, `g` or `h`: the key reads a number (GNU's `key_numeric`). */
  isNumeric(): boolean {
    return this.numeric || this.generalNumeric || this.humanNumeric;
  }

  /** GNU's `key_to_opts`: the options as letters, in GNU's order (`bdfghiMnRrV`). */
  optionLetters(): string {
    let letters = "";
    if (this.skipStartBlanks || this.skipEndBlanks) letters += "b";
    if (this.dictionary) letters += "d";
    if (this.foldCase) letters += "f";
    if (this.generalNumeric) letters += "g";
    if (this.humanNumeric) letters += "h";
    if (this.nonprinting && !this.dictionary) letters += "i";
    if (this.month) letters += "M";
    if (this.numeric) letters += "n";
    if (this.random) letters += "R";
    if (this.reverse) letters += "r";
    if (this.version) letters += "V";
    return letters;
  }
}

/** Positions larger than this are clamped: no record has that many fields or bytes. */
const POSITION_MAX = 0x7fff_ffff;

/**
 * Parses one GNU sort KEYDEF (`F[.C][OPTS][,F[.C][OPTS]]`) into a {@linkcode KeyField}.
 *
 * @param text The KEYDEF as given to `-k`.
 * @returns The compiled key (without inherited global options).
 * @throws {UsageError} On a malformed KEYDEF or a zero field or character.
 */
export function parseKeyDef(text: string): KeyField {
  const key = new KeyField();
  let index = 0;

  const readCount = (what: string): number => {
    const begin = index;
    while (index < text.length && isDigitCode(text.charCodeAt(index))) index += 1;
    if (index === begin) throw badKey(text, `invalid number ${what}`);
    const value = Number(text.slice(begin, index));
    return value > POSITION_MAX ? POSITION_MAX : value;
  };

  const readOptions = (atEnd: boolean): void => {
    while (index < text.length && applyOrderingOption(key, text[index]!, atEnd ? "end" : "start")) {
      index += 1;
    }
  };

  const startField = readCount("at field start");
  if (startField === 0) throw badKey(text, "field number is zero");
  key.startField = startField - 1;
  if (text[index] === ".") {
    index += 1;
    const startChar = readCount("after '.'");
    if (startChar === 0) throw badKey(text, "character offset is zero");
    key.startChar = startChar - 1;
  }
  readOptions(false);
  if (text[index] === ",") {
    index += 1;
    const endField = readCount("after ','");
    if (endField === 0) throw badKey(text, "field number is zero");
    key.endField = endField - 1;
    if (text[index] === ".") {
      index += 1;
      key.endChar = readCount("after '.'");
    }
    readOptions(true);
  }
  if (index < text.length) throw badKey(text, `stray character '${text[index]}'`);
  return key;
}

/**
 * Applies one GNU ordering letter (`b d f g h i M n R r V`) to a key, as GNU's `set_ordering`.
 *
 * @param key The key to change.
 * @param letter One character.
 * @param blanks Which side `b` applies to: a KEYDEF's start or end, or both (global `-b`).
 * @returns False when `letter` is not an ordering option (nothing changed).
 */
export function applyOrderingOption(
  key: KeyField,
  letter: string,
  blanks: "start" | "end" | "both",
): boolean {
  switch (letter) {
    case "b":
      if (blanks !== "end") key.skipStartBlanks = true;
      if (blanks !== "start") key.skipEndBlanks = true;
      return true;
    case "d":
      key.dictionary = true;
      key.nonprinting = false;
      return true;
    case "f":
      key.foldCase = true;
      return true;
    case "g":
      key.generalNumeric = true;
      return true;
    case "h":
      key.humanNumeric = true;
      return true;
    case "i":
      // GNU: -d already implies -i, and the order of options does not matter.
      if (!key.dictionary) key.nonprinting = true;
      return true;
    case "M":
      key.month = true;
      return true;
    case "n":
      key.numeric = true;
      return true;
    case "R":
      key.random = true;
      return true;
    case "r":
      key.reverse = true;
      return true;
    case "V":
      key.version = true;
      return true;
    default:
      return false;
  }
}

/**
 * Throws when a key combines ordering options GNU sort refuses together: at most one of
 * `n`, `g`, `h`, `M` and the group (`V`, `R`, `d`, `i`). The message is GNU's.
 *
 * @param key The key after inheritance.
 * @throws {UsageError} When the options are incompatible, e.g. `Options '-dn' are incompatible`.
 */
export function checkCompatible(key: KeyField): void {
  const kinds = (key.numeric ? 1 : 0) + (key.generalNumeric ? 1 : 0) +
    (key.humanNumeric ? 1 : 0) + (key.month ? 1 : 0) +
    (key.version || key.random || key.dictionary || key.nonprinting ? 1 : 0);
  if (kinds > 1) {
    // GNU lists the options without b and r.
    const letters = key.optionLetters().replace(/[br]/g, "");
    throw new UsageError(`Options '-${letters}' are incompatible`);
  }
}

function badKey(text: string, problem: string): UsageError {
  return new UsageError(
    `Invalid key definition -k "${text}": ${problem}; ` +
      `expected F[.C][OPTS][,F[.C][OPTS]] with fields and characters counted from 1 (e.g. -k 2,2n)`,
  );
}

function isDigitCode(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}
