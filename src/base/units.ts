/** One kibibyte in bytes. */
export const KiB = 1024;
/** One mebibyte in bytes. */
export const MiB = 1024 * KiB;
/** One gibibyte in bytes. */
export const GiB = 1024 * MiB;
/** One tebibyte in bytes. */
export const TiB = 1024 * GiB;

const unitMultipliers: ReadonlyMap<string, number> = new Map([
  ["b", 1],
  ["bytes", 1],
  ["k", KiB],
  ["kb", KiB],
  ["kib", KiB],
  ["kibibytes", KiB],
  ["m", MiB],
  ["mb", MiB],
  ["mib", MiB],
  ["mebibytes", MiB],
  ["g", GiB],
  ["gb", GiB],
  ["gib", GiB],
  ["gibibytes", GiB],
  ["t", TiB],
  ["tb", TiB],
  ["tib", TiB],
  ["tebibytes", TiB],
]);

/** Options of {@linkcode parseByteSize}. */
export interface ParseByteSizeOptions {
  /** Multiplier of a bare number: 1 (bytes, Flink's config) or 1024 (KiB, GNU sort's `-S`). */
  bareUnitBytes?: number;
  /** Name of the option or key, for error messages. */
  what?: string;
}

const sizePattern = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$/;

/**
 * Parses a byte size in Flink's syntax (`64m`, `64 mb`, `1g`, `32kb`, `1024`, `64MiB`).
 *
 * Units are binary (k = 1024). A bare number means bytes unless `bareUnitBytes` says otherwise.
 *
 * @param text The size as written by the user.
 * @param options How to read a bare number, and the option name for messages.
 * @returns The size in whole bytes, at least 1.
 * @throws {SyntaxError} On an unknown unit, a malformed number, a fraction, zero or a negative
 *   size.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { parseByteSize } from "./units.ts";
 * strictEqual(parseByteSize("64MiB"), 67_108_864);
 * strictEqual(parseByteSize("64", { bareUnitBytes: 1024 }), 65_536);
 * ```
 */
export function parseByteSize(text: string, options: ParseByteSizeOptions = {}): number {
  const what = options.what ?? "size";
  const match = sizePattern.exec(text);
  if (match === null) {
    throw new SyntaxError(
      `Invalid ${what} "${text}": expected a positive number with an optional unit such as 64m, 1g, 32kb or 64MiB`,
    );
  }
  const numberText = match[1] ?? "";
  if (numberText.includes(".")) {
    // GNU sort and Flink's MemorySize both refuse fractions; silently rounding `1.5` to 1 byte
    // (a job file's number) or `1.5M` to some byte count is worse than asking.
    throw new SyntaxError(
      `Invalid ${what} "${text}": a fraction is not a size; use a whole number in a smaller unit (e.g. 1536k for 1.5m)`,
    );
  }
  const unitText = (match[2] ?? "").toLowerCase();
  let multiplier: number;
  if (unitText === "") {
    multiplier = options.bareUnitBytes ?? 1;
  } else {
    const known = unitMultipliers.get(unitText);
    if (known === undefined) {
      throw new SyntaxError(
        `Invalid ${what} "${text}": unknown unit "${
          match[2]
        }"; use b, k, m, g or t (e.g. 64m, 1g, 64MiB)`,
      );
    }
    multiplier = known;
  }
  const bytes = Math.floor(Number(numberText) * multiplier);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new SyntaxError(`Invalid ${what} "${text}": must be at least 1 byte`);
  }
  return bytes;
}

/**
 * Formats a byte count for humans, in binary units (`64 MiB`, `1.5 GiB`, `512 B`).
 *
 * @param bytes A non-negative byte count.
 * @returns The count with one decimal where useful.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatBytes } from "./units.ts";
 * strictEqual(formatBytes(64 * 1024 * 1024), "64 MiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  const units: Array<[number, string]> = [[TiB, "TiB"], [GiB, "GiB"], [MiB, "MiB"], [KiB, "KiB"]];
  for (const [unitBytes, name] of units) {
    if (bytes >= unitBytes) {
      const value = bytes / unitBytes;
      const text = Number.isInteger(value) ? String(value) : value.toFixed(1);
      return `${text} ${name}`;
    }
  }
  return `${bytes} B`;
}

/**
 * Whether `n` is a power of two (1, 2, 4, ...).
 *
 * @param n Any number.
 * @returns True for positive integer powers of two.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { isPowerOfTwo } from "./units.ts";
 * strictEqual(isPowerOfTwo(32768), true);
 * ```
 */
export function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0 && n <= 2 ** 30;
}
