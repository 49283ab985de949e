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
  /** `r`: reverse this key. */
  reverse: boolean;

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
    this.reverse = false;
  }

  /** GNU's `default_key_compare`: no ordering option at all (`r` does not count). */
  hasNoOrderingOptions(): boolean {
    return !(this.skipStartBlanks || this.skipEndBlanks || this.numeric || this.foldCase ||
      this.dictionary);
  }
}

/** Positions larger than this are clamped: no record has that many fields or bytes. */
const POSITION_MAX = 0x7fff_ffff;

const UNSUPPORTED_OPTIONS = "ghiMRV";

/**
 * Parses one GNU sort KEYDEF (`F[.C][OPTS][,F[.C][OPTS]]`) into a {@linkcode KeyField}.
 *
 * @param text The KEYDEF as given to `-k`.
 * @returns The compiled key (without inherited global options).
 * @throws {UsageError} On a malformed KEYDEF, a zero field or character, an unsupported
 *   option, or incompatible options (`n` with `d`).
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
    while (index < text.length) {
      const option = text[index]!;
      switch (option) {
        case "b":
          if (atEnd) key.skipEndBlanks = true;
          else key.skipStartBlanks = true;
          break;
        case "d":
          key.dictionary = true;
          break;
        case "f":
          key.foldCase = true;
          break;
        case "n":
          key.numeric = true;
          break;
        case "r":
          key.reverse = true;
          break;
        default:
          if (UNSUPPORTED_OPTIONS.includes(option)) {
            throw new UsageError(
              `Unsupported key option '${option}' in -k "${text}": spillway supports only ` +
                `b, d, f, n and r; use GNU sort for g, h, i, M, R and V`,
            );
          }
          return;
      }
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
  checkCompatible(key, `-k "${text}"`);
  return key;
}

/**
 * Throws when a key combines options GNU sort refuses together (`n` with `d`).
 *
 * @param key The key after inheritance.
 * @param where The key or option text for the message.
 * @throws {UsageError} When the options are incompatible.
 */
export function checkCompatible(key: KeyField, where: string): void {
  if (key.numeric && key.dictionary) {
    throw new UsageError(
      `Invalid ${where}: options 'd' and 'n' are incompatible; drop one of them`,
    );
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
