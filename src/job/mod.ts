/**
 * Job layer: job files (YAML) and configuration keys, dry-run plans and stats reports.
 * (The progress interface lower layers report to, `ProgressSink`, lives in src/base.)
 *
 * @module
 */
export type {
  JobStats,
  JobStatsRecorderOptions,
  PhaseTimes,
  SpillCounters,
  StatsFormat,
  StatsSources,
  StepLabel,
} from "./job_stats.ts";
export {
  emptyJobStats,
  JobStatsRecorder,
  parseStatsFormat,
  renderStats,
  statsFormats,
} from "./job_stats.ts";
export type {
  JobConfig,
  JobSpec,
  JobStep,
  JobStepOption,
  ParseJobFileOptions,
  SourcePosition,
  StepSchema,
} from "./job_file.ts";
export { closestMatch, JobFileError, parseJobFile, unknownKey } from "./job_file.ts";
export { loadYaml, type YamlModule } from "./yaml_module.ts";
export type { PlanInputs, StepPlan } from "./job_plan.ts";
export { type JobPlanner, loadJobPlanner } from "./job_planner.ts";
export { stepArgv } from "./step_argv.ts";
export type { CommandScopeOptions, ScopeReport } from "./command_scope.ts";
export { CommandScope } from "./command_scope.ts";
