/** Shared set-ups of the sort tests: a merge's work dir, memory and io; a plain order spec. */
import { deepStrictEqual } from "node:assert/strict";
import { IoManager } from "../../src/io/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import type { SortOrderSpec } from "../../src/sort/sort_order.ts";
import { makeWorkDir } from "./_gnu.ts";

/** What {@link withMergeFixture} lends its body. */
export interface MergeFixture {
  memory: MemoryManager;
  io: IoManager;
  work: Awaited<ReturnType<typeof makeWorkDir>>;
}

/**
 * Runs `body` with a fresh work dir, a MemoryManager of `budgetBytes` in segments of
 * `segmentBytes` and an IoManager spilling into the work dir; then, also when `body` throws,
 * closes the IoManager, asserts that every segment came back (and, with `noSpillLeftovers`, that
 * no spill file stayed) and removes the work dir.
 */
export async function withMergeFixture<T>(
  budgetBytes: number,
  body: (fixture: MergeFixture) => Promise<T>,
  options: { segmentBytes?: number; noSpillLeftovers?: boolean } = {},
): Promise<T> {
  const work = await makeWorkDir();
  const memory = new MemoryManager({ budgetBytes, segmentBytes: options.segmentBytes ?? 4096 });
  const io = await IoManager.open({ memory, tmpDirs: [work.spill], handleSignals: false });
  try {
    return await body({ memory, io, work });
  } finally {
    await io.close();
    memory.assertAllReleased();
    if (options.noSpillLeftovers === true) {
      deepStrictEqual(work.spillLeftovers(), [], "spill files left behind");
    }
    await work.remove();
  }
}

/** A spec of `keys` with every flag off (plain byte order when `keys` is empty), and `extra`. */
export function plainSpec(keys: string[] = [], extra: Partial<SortOrderSpec> = {}): SortOrderSpec {
  return {
    keys,
    reverse: false,
    numeric: false,
    foldCase: false,
    ignoreLeadingBlanks: false,
    stable: false,
    unique: false,
    ...extra,
  };
}
