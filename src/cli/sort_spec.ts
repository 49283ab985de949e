/**
 * `spillway sort`'s command line as data: parsing, `--help`, docs, man page, completions and
 * job-step keys are made from it. To support a GNU option, move it from `unsupported` to a
 * group (and handle it in sort_args.ts).
 *
 * @module
 */
import { COMMAND_SUMMARIES } from "./command_summaries.ts";
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

/** The ordering options sort and merge share (GNU sort's, in the C locale). */
export const orderingOptions: CommandSpec["groups"][number]["options"] = [
  {
    name: "ignore-leading-blanks",
    short: "b",
    type: "flag",
    help: "ignore leading blanks in keys",
  },
  {
    name: "dictionary-order",
    short: "d",
    type: "flag",
    help: "consider only blanks, letters and digits",
  },
  { name: "ignore-case", short: "f", type: "flag", help: "fold lower case to upper case" },
  {
    name: "general-numeric-sort",
    short: "g",
    type: "flag",
    help: "compare as floating-point numbers (1e3, 0x1p4, inf, nan)",
  },
  {
    name: "human-numeric-sort",
    short: "h",
    type: "flag",
    help: "compare human-readable numbers (2K, 1G; suffixes K..Y, R, Q)",
  },
  {
    name: "ignore-nonprinting",
    short: "i",
    type: "flag",
    help: "consider only printable characters",
  },
  {
    name: "month-sort",
    short: "M",
    type: "flag",
    help: "compare month names: (unknown) < JAN < ... < DEC",
  },
  { name: "numeric-sort", short: "n", type: "flag", help: "compare by leading numeric value" },
  {
    name: "random-sort",
    short: "R",
    type: "flag",
    help: "shuffle, but keep equal keys together",
  },
  {
    name: "random-source",
    type: "value",
    valueName: "FILE",
    completes: "file",
    help: "take the -R salt from the first 16 bytes of FILE (as GNU does)",
  },
  { name: "reverse", short: "r", type: "flag", help: "reverse the result of comparisons" },
  {
    name: "sort",
    type: "value",
    valueName: "WORD",
    choices: ["general-numeric", "human-numeric", "month", "numeric", "random", "version"],
    help: "general-numeric -g, human-numeric -h, month -M, numeric -n, random -R, version -V",
  },
  {
    name: "version-sort",
    short: "V",
    type: "flag",
    help: "natural sort of version numbers within text",
  },
  {
    name: "key",
    short: "k",
    type: "value",
    valueName: "KEYDEF",
    help:
      "sort by a key (repeatable); KEYDEF is F[.C][OPTS][,F[.C][OPTS]] with OPTS from b, d, f, g, h, i, M, n, R, r, V; the obsolete +POS1 [-POS2] form is accepted too",
  },
  {
    name: "field-separator",
    short: "t",
    type: "value",
    valueName: "SEP",
    help: "use the byte SEP instead of blank-to-nonblank transitions",
  },
  { name: "stable", short: "s", type: "flag", help: "no last-resort comparison of whole lines" },
  {
    name: "unique",
    short: "u",
    type: "flag",
    help: "output only the first of lines with equal keys (with -c: strict)",
  },
];

/** `spillway sort`. */
export const sortSpec: CommandSpec = {
  name: "sort",
  summary: COMMAND_SUMMARIES.sort,
  usage: ["spillway sort [OPTION]... [FILE]..."],
  description:
    `Sorts lines (or fixed-size binary records) of the FILEs, or standard input, to standard
output, in byte order exactly like 'LC_ALL=C sort' whatever the locale, inside a fixed memory
budget: full buffers are sorted and spilled as runs to temp files, then merged.`,
  groups: [
    { title: "Ordering (GNU sort compatible, C locale)", options: orderingOptions },
    {
      title: "Other",
      options: [
        {
          name: "c",
          short: "c",
          type: "flag",
          step: false,
          label: "-c, --check[=diagnose-first]",
          help: "check that the input is sorted; exit 1 at the first disorder",
        },
        {
          name: "C",
          short: "C",
          type: "flag",
          step: false,
          label: "-C, --check=quiet|silent",
          help: "like -c but print nothing",
        },
        {
          name: "check",
          type: "value",
          hidden: true,
          choices: ["diagnose-first", "quiet", "silent"],
          help: "check that the input is sorted",
        },
        {
          name: "merge",
          short: "m",
          type: "flag",
          help: "merge already sorted files; do not sort",
        },
        outputOption,
        {
          name: "zero-terminated",
          short: "z",
          type: "flag",
          help: "lines end with NUL, not newline",
        },
        {
          ...memoryOption,
          aliases: ["buffer-size"],
          help:
            'the memory budget (default 64 MiB): 64m, 1g, 512k; a bare number means KiB like GNU sort (GNU\'s 50% form is not supported); below 64 KiB (or 16 pages) it is raised to that, as GNU sort takes a tiny -S as "as little as possible"',
        },
        { ...tmpDirOption, aliases: ["temporary-directory"] },
        {
          name: "parallel",
          type: "value",
          valueName: "N",
          help:
            "threads spillway may use: 1 sorts on the main thread only; 2 or more (the default) add one sort Worker",
        },
        {
          ...segmentSizeOption,
          help:
            "segment size of the budget (power of two, 4k to 16m; default budget/512 within 4k..128k: 128k for 64m)",
        },
        fanInOption,
        spillOption,
        leakDetectionOption,
        {
          name: "batch-size",
          type: "value",
          valueName: "N",
          help: "merge at most N runs or files at once (GNU's name for --fan-in)",
        },
        {
          name: "compress-program",
          type: "value",
          valueName: "PROG",
          completes: "file",
          help:
            "write spill files through PROG (standard input to standard output) and read them back through 'PROG -d', as GNU sort does; PROG is only started when something spills, and a PROG that cannot be run or exits non-zero ends the sort with exit 2",
        },
        {
          name: "files0-from",
          type: "value",
          valueName: "F",
          completes: "file",
          step: false,
          help: "read the input names from F, each ended by NUL ('-': stdin)",
        },
      ],
    },
    {
      title: "Fixed-size binary records (e.g. gensort's 100-byte records with 10-byte keys)",
      options: [
        {
          name: "record-size",
          type: "value",
          valueName: "N",
          help: "records are N bytes, not lines",
        },
        {
          name: "key-offset",
          type: "value",
          valueName: "O",
          help: "the key starts at byte O of the record (default 0)",
        },
        {
          name: "key-bytes",
          type: "value",
          valueName: "K",
          help:
            "the key is K bytes (default: the rest of the record); records with equal keys keep their input order",
        },
      ],
    },
    {
      title: "Debugging",
      options: [
        {
          name: "debug",
          type: "flag",
          step: false,
          help:
            "GNU's annotations: each output line with its keys underlined, and warnings about the keys on stderr (spillway's own stack traces are the global --trace)",
        },
      ],
    },
    reportOptions,
    informationOptions(false),
  ],
  footer: `Long options may be abbreviated to any unambiguous prefix (--rev, --p=2), as in GNU sort;
an exact name wins over a longer one it begins (--version is the version, --version-s is
--version-sort, --vers is ambiguous).

Exit codes: 0 ok; 1 -c/-C found disorder; 2 usage or input error; 3 resource error.`,
  operands: "file",
};
