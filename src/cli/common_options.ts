/**
 * Options several commands share, declared once. A command may spread one and override a
 * field (`{ ...memoryOption, aliases: ["buffer-size"] }`).
 *
 * @module
 */

import { leakDetectionLevels } from "../memory/mod.ts";
import { FAN_IN_DEFAULT } from "../sort/mod.ts";
import type { OptionDecl, OptionGroup } from "./option_spec.ts";

/** `-o/--output FILE`. */
export const outputOption: OptionDecl = {
  name: "output",
  short: "o",
  type: "value",
  valueName: "FILE",
  completes: "file",
  help: "write to FILE (may be an input; written atomically)",
};

/** `-S/--memory SIZE`. */
export const memoryOption: OptionDecl = {
  name: "memory",
  short: "S",
  type: "value",
  valueName: "SIZE",
  help: "the memory budget (default 64 MiB): 64m, 1g, 512k; a bare number means KiB like GNU sort",
};

/** `-T/--tmp-dir DIR`. */
export const tmpDirOption: OptionDecl = {
  name: "tmp-dir",
  short: "T",
  type: "value",
  valueName: "DIR",
  completes: "directory",
  help: "spill directory (repeatable: used round-robin; default $TMPDIR or /tmp)",
};

/** `--segment-size SIZE`. */
export const segmentSizeOption: OptionDecl = {
  name: "segment-size",
  type: "value",
  valueName: "SIZE",
  help: "segment size of the budget (power of two, 4k to 16m; default 32k)",
};

/** `--fan-in N`. */
export const fanInOption: OptionDecl = {
  name: "fan-in",
  type: "value",
  valueName: "N",
  help:
    `most runs merged at once (default ${FAN_IN_DEFAULT}, lowered to what the budget allows; 2 or more)`,
};

/** `--spill file|mmap|auto`. */
export const spillOption: OptionDecl = {
  name: "spill",
  type: "value",
  valueName: "file|mmap|auto",
  choices: ["file", "mmap", "auto"],
  help: "how spill files are written and read (default auto)",
};

/** `--leak-detection LEVEL`. */
export const leakDetectionOption: OptionDecl = {
  name: "leak-detection",
  type: "value",
  valueName: "LEVEL",
  choices: leakDetectionLevels,
  help: "disabled, simple (default), advanced or paranoid",
};

/**
 * The report options every long-running command has: `--progress`/`--no-progress`,
 * `--stats[=text|json|yaml]`, `--stats-file PATH`. A job step may not set them (the runner
 * passes `--progress` on to its steps). Pass argv through `normalizeReportArgs` first (bare
 * `--stats`).
 */
export const reportOptions: OptionGroup = {
  title: "Report",
  options: [
    {
      name: "progress",
      type: "flag",
      step: false,
      label: "--progress, --no-progress",
      help: "show (or hide) a progress line on stderr (default: when a TTY)",
    },
    {
      name: "stats",
      type: "value",
      step: false,
      label: "--stats[=text|json|yaml]",
      choices: ["text", "json", "yaml"],
      help: "print a stats report on stderr when done (see docs/stats.md)",
    },
    {
      name: "stats-file",
      type: "value",
      step: false,
      valueName: "PATH",
      completes: "file",
      label: "--stats-file PATH",
      help: "write the stats report to PATH instead of stderr",
    },
  ],
};
