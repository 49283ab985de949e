/**
 * The final merge's stall warning (parallel_merge.ts `onStall`) as the CLI prints it, for `sort`
 * and for count's sort route, and its test seam.
 *
 * @module
 */
import type { MergeWorkerFault } from "../sort/mod.ts";
import { printErrorBytes } from "./output.ts";

/**
 * A final merge that stalled for seconds without failing (parallel_merge.ts `onStall`): one line
 * on stderr that says how long and where the merge Worker was, so that such a stall is seen; in
 * a job (`spillway run`), after the job file and the step's name.
 */
export function warnMergeStall(message: string, step: string | undefined): void {
  const where = step === undefined ? "" : `${step}: `;
  printErrorBytes(new TextEncoder().encode(`spillway: ${where}warning: ${message}\n`));
}

/**
 * Test seam (docs/stats.md): `SPILLWAY_TEST_MERGE_STALL_MS=N` stalls the final merge: it runs
 * on the merge Worker whatever its size, the Worker stops answering after two input blocks, the
 * stall warning comes after N ms and the watchdog fails the sort after 10 N ms (exit 70). The same
 * for the sort of count's sort route.
 */
export function mergeStallSeam(): {
  parallelMergeBytesMin?: number;
  mergeStallWarnMs?: number;
  mergeWorkerSilenceMsMax?: number;
  mergeWorkerFault?: MergeWorkerFault;
} {
  const text = Deno.env.get("SPILLWAY_TEST_MERGE_STALL_MS");
  const warnMs = text === undefined ? NaN : Number(text);
  if (!Number.isSafeInteger(warnMs) || warnMs <= 0) return {};
  return {
    parallelMergeBytesMin: 0,
    mergeStallWarnMs: warnMs,
    mergeWorkerSilenceMsMax: 10 * warnMs,
    mergeWorkerFault: { kind: "hang", afterBlocks: 2 },
  };
}
