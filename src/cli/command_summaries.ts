/**
 * The commands' one-line summaries, declared once: the dispatcher's table (commands.ts) shows
 * them in `spillway --help` without loading any command, and each command's spec uses its own.
 */
export const COMMAND_SUMMARIES = {
  demo: "run the bundled demo job (data/demo.yaml) and show results, stats and leaks",
  sort: "sort lines (or fixed-size records) in byte order within a memory budget",
  count: "count words (frequencies, distinct, top N) within a memory budget",
  merge: "merge already sorted files (any number, multi-pass), or --sum counted partials",
  run: "run a YAML job file (steps: gen, sort, count, merge; Flink-style config)",
  gen: "write a deterministic test corpus (Zipf text, unique lines, gensort-style records)",
  completions: "print a shell completion script (bash, zsh or fish)",
} as const;
