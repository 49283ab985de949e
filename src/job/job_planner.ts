/**
 * The dry-run planner, imported on first need: it loads the sort and count plans (and with them
 * the count layer), which a sort or count command has no use for. Every module a process loads
 * costs start-up time and resident memory (docs/performance.md, "Memory").
 *
 * @module
 */

/** The planner module (`planJob`). */
export type JobPlanner = typeof import("./job_plan.ts");

/**
 * Imports the planner.
 *
 * @returns The module.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { loadJobPlanner } from "./job_planner.ts";
 * const { planJob } = await loadJobPlanner();
 * strictEqual(typeof planJob, "function");
 * ```
 */
export function loadJobPlanner(): Promise<JobPlanner> {
  return import("./job_plan.ts");
}
