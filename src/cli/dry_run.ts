import { MiB } from "../base/mod.ts";
import { type JobSpec, type JobStep, loadJobPlanner } from "../job/mod.ts";
import { SEGMENT_BYTES_DEFAULT } from "../memory/mod.ts";
import { defaultSortSegmentBytes } from "../sort/mod.ts";
import { printOut } from "./output.ts";
import { withSmallIo } from "./stats_report.ts";

/**
 * `spillway run --dry-run`: prints each step's plan (the operators' own plans, through
 * job_plan.ts) and the command line it would run.
 *
 * @module
 */

/** The budget a step gets when neither the job nor the step sets one (sort's `-S` default). */
export const STEP_MEMORY_DEFAULT_BYTES = 64 * MiB;

function fileBytes(path: string): number | undefined {
  if (path === "-") return undefined;
  try {
    const info = Deno.statSync(path);
    return info.isFile && !path.endsWith(".gz") ? info.size : undefined;
  } catch {
    return undefined;
  }
}

/** Average record length of the first chunk (up to 64 KiB) of each existing plain file. */
async function sampleRecordBytes(paths: readonly string[]): Promise<Map<string, number>> {
  const samples = new Map<string, number>();
  const existing = paths.filter((path) => fileBytes(path) !== undefined);
  if (existing.length === 0) return samples;
  await withSmallIo(async (io) => {
    for (const path of new Set(existing)) {
      const reader = await io.openInput(path, { owner: "plan-sample", chunkSegments: 16 });
      try {
        const chunk = await reader.nextChunk();
        if (chunk === undefined || chunk.byteLength === 0) continue;
        let lines = 0;
        for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines += 1;
        samples.set(path, chunk.byteLength / Math.max(1, lines));
      } finally {
        await reader.close();
      }
    }
  });
  return samples;
}

/**
 * Prints the plan of every step of a job, with the command line each would run.
 *
 * @param job The validated job.
 * @param argvOf The arguments of a step.
 */
export async function printJobPlan(
  job: JobSpec,
  argvOf: (step: JobStep) => string[],
): Promise<void> {
  const samples = await sampleRecordBytes(job.steps.flatMap((step) => step.inputs));
  const { planJob } = await loadJobPlanner();
  const plans = planJob(job, argvOf, {
    fileBytes,
    recordBytes: (path) => samples.get(path),
    defaultMemoryBytes: STEP_MEMORY_DEFAULT_BYTES,
    // sort and merge pick budget/512 pages (4 KiB to 128 KiB); count and merge --sum 32 KiB.
    defaultSegmentBytes: (step, memoryBytes) =>
      step.command === "sort" ||
        (step.command === "merge" && !step.options.some((option) => option.key === "sum"))
        ? defaultSortSegmentBytes(memoryBytes)
        : SEGMENT_BYTES_DEFAULT,
  });
  printOut(
    `job ${job.name} (${job.path}): ${plans.length} step${plans.length === 1 ? "" : "s"}, dry run`,
  );
  for (const plan of plans) {
    printOut(`${plan.step.name}: ${plan.step.command}: ${plan.summary}`);
    printOut(`  spillway ${plan.step.command} ${plan.argv.map(shellQuote).join(" ")}`);
  }
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./=:,+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}
