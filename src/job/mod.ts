/**
 * Job layer: job files (YAML) and configuration keys, dry-run plans, stats reports and the
 * progress interface that lower layers report to.
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
export type { ProgressPhase, ProgressPhaseName, ProgressSink } from "./progress_sink.ts";
export { silentProgress, teeProgress } from "./progress_sink.ts";
