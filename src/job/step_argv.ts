import type { JobConfig, JobStep } from "./job_file.ts";

/**
 * The command line a step runs, as arguments after the command name: configuration first
 * (as options the command accepts), then the step's options (which win), then `--output`,
 * then `--` and the inputs.
 *
 * The configuration applies to sort, count and merge steps (gen keeps its own budget unless the
 * step sets one). Sizes from the job file are passed with an explicit unit (`--memory=65536b`), because a bare
 * number means bytes in a job file and KiB on the command line.
 *
 * @param config The job's configuration.
 * @param step The step.
 * @param accepted The command's long option names.
 * @returns The arguments.
 *
 * @example Usage
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { stepArgv } from "./step_argv.ts";
 * const step = {
 *   index: 1, command: "sort", name: "s", inputs: ["a.txt"], output: "b.txt",
 *   options: [{ key: "reverse", value: true, position: { line: 1, column: 1 } }],
 *   position: { line: 1, column: 1 },
 * };
 * deepStrictEqual(
 *   stepArgv({ memoryBytes: 65536 }, step, ["memory", "reverse", "output"]),
 *   ["--memory=65536b", "--reverse", "--output=b.txt", "--", "a.txt"],
 * );
 * ```
 */
export function stepArgv(config: JobConfig, step: JobStep, accepted: readonly string[]): string[] {
  const argv: string[] = [];
  const own = new Set(step.options.map((option) => option.key));
  // The configuration is the budget of the batch operators; gen keeps its own default.
  const configured = step.command !== "gen";
  const fromConfig = (key: string, values: string[]): void => {
    if (!configured || !accepted.includes(key) || own.has(key)) return;
    for (const value of values) argv.push(`--${key}=${value}`);
  };
  if (config.memoryBytes !== undefined) fromConfig("memory", [`${config.memoryBytes}b`]);
  if (config.segmentBytes !== undefined) fromConfig("segment-size", [`${config.segmentBytes}b`]);
  if (config.tmpDirs !== undefined) fromConfig("tmp-dir", config.tmpDirs);
  if (config.fanInMax !== undefined) fromConfig("fan-in", [String(config.fanInMax)]);
  if (config.spill !== undefined) fromConfig("spill", [config.spill]);
  if (config.leakDetection !== undefined) fromConfig("leak-detection", [config.leakDetection]);
  for (const option of step.options) {
    if (option.value === true) argv.push(`--${option.key}`);
    else if (option.value === false) argv.push(`--no-${option.key}`);
    else if (Array.isArray(option.value)) {
      for (const value of option.value) argv.push(`--${option.key}=${value}`);
    } else argv.push(`--${option.key}=${option.value}`);
  }
  if (step.output !== undefined) argv.push(`--output=${step.output}`);
  if (step.inputs.length > 0) argv.push("--", ...step.inputs);
  return argv;
}
