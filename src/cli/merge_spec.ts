/**
 * `spillway merge`'s command line as data (see option_spec.ts).
 *
 * @module
 */
import { COMMAND_SUMMARIES } from "./command_summaries.ts";
import { countFormats } from "../count/mod.ts";
import {
  fanInOption,
  leakDetectionOption,
  memoryOption,
  outputOption,
  reportOptions,
  segmentSizeOption,
  spillOption,
  tmpDirOption,
} from "./common_options.ts";
import { type CommandSpec, informationOptions } from "./option_spec.ts";
import { orderingOptions } from "./sort_spec.ts";

/** `spillway merge`. */
export const mergeSpec: CommandSpec = {
  name: "merge",
  summary: COMMAND_SUMMARIES.merge,
  usage: ["spillway merge [OPTION]... FILE...", "spillway merge --sum [OPTION]... FILE..."],
  description:
    `Merges FILEs that are already sorted (like 'sort -m') into one sorted output, with any number
of inputs: when they exceed the fan-in, groups are merged into temporary runs first (several
passes), inside the memory budget.

With --sum, the FILEs hold 'word<TAB>count' lines (count's output, in any order, e.g. partial
results of several machines): equal words are summed and the result is written like 'spillway
count' writes it (count descending, ties by word in byte order, or --order word). Counts and sums
are exact up to 2^53 - 1; a larger one is an input error (exit 2).`,
  groups: [
    {
      title: "Ordering (as in spillway sort; the inputs must be sorted the same way)",
      options: [
        ...orderingOptions,
        {
          name: "zero-terminated",
          short: "z",
          type: "flag",
          help: "lines end with NUL, not newline",
        },
      ],
    },
    {
      title: "Other",
      options: [
        outputOption,
        { ...memoryOption, help: "the memory budget (default 64 MiB); a bare number means KiB" },
        { ...tmpDirOption, help: "directory for intermediate runs (repeatable)" },
        segmentSizeOption,
        {
          ...fanInOption,
          help:
            "most inputs merged at once (default 128, lowered to what the budget allows: three segments per input plus four)",
        },
        { ...spillOption, help: "how intermediate runs are written (default auto)" },
        leakDetectionOption,
        {
          name: "sum",
          type: "flag",
          help:
            "sum the counts of 'word<TAB>count' inputs (see above); takes -o, -S, -T, --segment-size, --spill, --leak-detection (and --fan-in, ignored: count's merge plans its own fan-in) and:",
        },
        {
          name: "format",
          type: "value",
          valueName: "FORMAT",
          choices: countFormats,
          help: "with --sum: tsv (default), csv, json, yaml or uniq, as in count",
        },
        {
          name: "order",
          type: "value",
          valueName: "ORDER",
          choices: ["count", "word"],
          help:
            "with --sum: count (default: count descending, then word) or word (byte order), as in count",
        },
        {
          name: "top",
          type: "value",
          valueName: "N",
          help: "with --sum: only the N most frequent words (then in --order)",
        },
        {
          name: "min-count",
          type: "value",
          valueName: "N",
          help: "with --sum: only words whose sum is at least N",
        },
      ],
    },
    reportOptions,
    informationOptions(false),
  ],
  footer: `Exit codes: 0 ok; 2 usage or input error (also a --sum line without a TAB and a count);
3 resource error.`,
  operands: "file",
};
