/**
 * `spillway count`'s command line as data (see option_spec.ts).
 *
 * @module
 */
import { COMMAND_SUMMARIES } from "./command_summaries.ts";
import { countFormats, tokenizerKinds } from "../count/mod.ts";
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

/** `spillway count`. */
export const countSpec: CommandSpec = {
  name: "count",
  summary: COMMAND_SUMMARIES.count,
  usage: ["spillway count [OPTION]... [FILE]..."],
  description:
    `Counts words in the FILEs (or standard input) inside a fixed memory budget and prints
word<TAB>count lines, count descending, ties by word in byte order. Words are counted in a
binary hash table in managed memory; when it fills it is sorted and spilled as a run, and the
runs are merged at the end, summing equal words.`,
  groups: [
    {
      title: "Tokens",
      options: [
        {
          name: "tokenizer",
          type: "value",
          valueName: "NAME",
          choices: tokenizerKinds,
          help: [
            "words (default): runs of Unicode letters, digits and _ in UTF-8 (invalid UTF-8 separates words and is counted in --stats);",
            "letters: runs of ASCII A-Z a-z (like tr -cs A-Za-z '\\n');",
            "flink: Apache Flink's WordCount (lower case, split on Java \\W+);",
            "whitespace: runs of bytes other than space, \\t \\n \\v \\f \\r;",
            "line: whole lines, empty ones and invalid UTF-8 included (like sort | uniq -c)",
          ].join("\n"),
        },
        {
          name: "lines",
          type: "flag",
          help: "count whole lines: the same as --tokenizer line",
        },
        {
          name: "case",
          type: "value",
          valueName: "MODE",
          choices: ["lower", "preserve"],
          help:
            "lower (default; whitespace and line: preserve) or preserve; line folds ASCII A-Z only",
        },
        {
          name: "ignore-case",
          short: "i",
          type: "flag",
          help: "the same as --case lower (lines are printed lower-cased)",
        },
      ],
    },
    {
      title: "Output",
      options: [
        {
          name: "order",
          type: "value",
          valueName: "ORDER",
          choices: ["count", "word"],
          help: "count (default: count descending, then word) or word (byte order)",
        },
        {
          name: "top",
          type: "value",
          valueName: "N",
          help: "only the N most frequent words (bounded heap, no full sort)",
        },
        {
          name: "min-count",
          type: "value",
          valueName: "N",
          help: "only words counted at least N times",
        },
        { name: "distinct", type: "flag", help: "print only the number of distinct words" },
        {
          name: "total",
          type: "flag",
          help:
            'print only the number of words (with --distinct: both, distinct first; json and yaml print {"distinct": N, "total": N})',
        },
        {
          name: "format",
          type: "value",
          valueName: "FORMAT",
          choices: countFormats,
          help:
            "tsv (default), csv, json, yaml (see docs/count.md for escaping) or uniq (uniq -c's '%7d %s' lines)",
        },
        { ...outputOption, help: "write to FILE atomically (default standard output)" },
      ],
    },
    {
      title: "Resources",
      options: [
        { ...memoryOption, aliases: ["buffer-size"] },
        { ...tmpDirOption, aliases: ["temporary-directory"] },
        segmentSizeOption,
        fanInOption,
        spillOption,
        leakDetectionOption,
        {
          name: "threads",
          type: "value",
          valueName: "N",
          choices: ["auto", "1", "2"],
          help:
            "auto (default: 2 when the process may use two cores and half of one is idle (CPU time counters over start-up, else the load average), with the Worker from 32 MiB files or past 24 MiB of a pipe, and only when the first megabyte's words repeat; nearly unique tokens on an idle core go through the sort engine instead (whitespace tokens as they are, tsv/uniq/csv, no --top, plain files), else count on one thread; measured slower below or on a busy machine), 1, or 2: for inputs from 8 MiB (or past the first 4 MiB of a pipe) a Worker counts part of the chunks with half the budget; its run joins the merge",
        },
      ],
    },
    reportOptions,
    informationOptions(true),
  ],
  footer: "Exit codes: 0 ok; 2 usage or input error; 3 resource error.",
  operands: "file",
};
