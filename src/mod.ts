/**
 * spillway: sort and count text far larger than memory inside a fixed memory budget.
 *
 * The library API: the managed memory layer and the base utilities. Later layers
 * (io, sort, count, job) export here as they land.
 *
 * @module
 */
export * from "./base/mod.ts";
export * from "./memory/mod.ts";
export * from "./io/mod.ts";
export * from "./gen/mod.ts";
export * from "./sort/mod.ts";
export * from "./count/mod.ts";
export * from "./job/mod.ts";
// The job layer loads its planner on demand (loadJobPlanner); the library API keeps planJob.
export { planJob } from "./job/job_plan.ts";
export { runCli, VERSION } from "./cli/mod.ts";
