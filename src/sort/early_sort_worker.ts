/**
 * The sort Worker's isolate, spawned as soon as the sort's arguments are parsed when the sort
 * will certainly start its Worker: `new Worker()` blocks the calling thread until the isolate
 * exists wherever it is called, but the Worker's boot, its module graph and its kernels'
 * warm-up (~30-45 ms on the other core) then run while this thread opens the budget, the io
 * manager, the output and the sort buffers, instead of after them: the Worker is ready sooner for
 * the first buffer's split sort (docs/performance.md, "Start-up").
 *
 * @module
 */
import { plainInputBytes } from "../io/mod.ts";
import { planSort } from "./sort_plan.ts";
import { spawnSortWorker } from "./sort_worker_pool.ts";

/** What decides whether a sort starts its Worker (the parsed sort request's fields). */
export interface EarlySortWorkerOptions {
  /** Input paths (`-` is stdin). */
  inputs: readonly string[];
  /** The budget in bytes. */
  budgetBytes: number;
  /** The page size. */
  segmentBytes: number;
  /** The merge fan-in limit. */
  fanInMax: number;
  /** Fixed-size records (`--record-size`), else undefined. */
  recordBytes: number | undefined;
  /** Whether the order is plain bytes (the Worker then warms its kernels up at once). */
  plainBytes: boolean;
}

/**
 * Whether a sort of these inputs will start its Worker whatever else happens: the inputs are
 * plain files, together larger than one sort buffer of the largest plan the budget allows (so
 * at least one full buffer is handed over). Stdin, pipes and `.gz` inputs, or inputs that may
 * fit one buffer, say no: their Worker starts when the sort finds it needs one, as before.
 *
 * @param options The parsed request's fields.
 * @returns true when the sort's Worker is certain.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { sortWorkerCertain } from "./early_sort_worker.ts";
 * const options = { budgetBytes: 256 * 1024, segmentBytes: 4096, fanInMax: 16 };
 * strictEqual(sortWorkerCertain({ ...options, inputs: ["-"], recordBytes: undefined, plainBytes: true }), false);
 * ```
 */
export function sortWorkerCertain(options: EarlySortWorkerOptions): boolean {
  const { budgetBytes, segmentBytes, fanInMax } = options;
  const freeSegments = Math.floor(budgetBytes / segmentBytes);
  let capacityBytes = 0;
  for (const mainSorts of [false, true]) {
    let plan;
    try {
      plan = planSort({
        freeSegments,
        segmentBytes,
        useWorker: true,
        fanInMax,
        headroom: options.recordBytes !== undefined,
        mainSorts,
      });
    } catch {
      return false; // the sort itself reports the budget
    }
    if (plan.bufferCount < 2) return false;
    capacityBytes = Math.max(capacityBytes, plan.bufferDataSegments * segmentBytes);
  }
  const inputBytes = plainInputBytes(options.inputs);
  return inputBytes !== undefined && inputBytes > capacityBytes;
}

/**
 * Spawns the sort Worker now when {@linkcode sortWorkerCertain} says the sort will start it
 * (and posts it the kernels to warm up for a plain-bytes order). Pass the Worker to
 * `externalSort` as `spawnedWorker`, which takes it over; terminate it if the sort does not get
 * that far (a no-op after the sort ended it).
 *
 * @param options The parsed request's fields.
 * @returns The Worker, or undefined when the sort should start its own when it needs one.
 */
export function spawnEarlySortWorker(options: EarlySortWorkerOptions): Worker | undefined {
  if (!sortWorkerCertain(options)) return undefined;
  return spawnSortWorker({ warm: options.plainBytes });
}
