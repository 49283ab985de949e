/**
 * The total size of plain input files, for a progress line: undefined as soon as one input's
 * size is unknown (stdin `-`, a pipe or device, a `.gz` file, a missing file: opening it later
 * reports the problem).
 *
 * @param paths Input paths.
 * @returns Total bytes, or undefined.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { plainInputBytes } from "./input_bytes.ts";
 * strictEqual(plainInputBytes(["-"]), undefined);
 * strictEqual(plainInputBytes([]), 0);
 * ```
 */
export function plainInputBytes(paths: readonly string[]): number | undefined {
  let total = 0;
  for (const path of paths) {
    if (path === "-" || path.endsWith(".gz")) return undefined;
    try {
      const info = Deno.statSync(path);
      if (!info.isFile) return undefined;
      total += info.size;
    } catch {
      return undefined;
    }
  }
  return total;
}
