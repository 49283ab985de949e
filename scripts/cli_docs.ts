/**
 * Writes docs/cli.md and the man page docs/spillway.1 from the commands' declared options, so the reference cannot drift from
 * the behaviour (tests/e2e/run_docs_test.ts fails when it is stale).
 *
 * Usage: deno run --allow-read --allow-write --allow-run scripts/cli_docs.ts
 * (writes the file, then formats it with \`deno fmt\`).
 *
 * @module
 */
// deno-lint-ignore-file no-console
import { loadCommands, manPage, topLevelHelp } from "../src/cli/mod.ts";

const commands = await loadCommands();

const INTRO = `# Command-line reference

This file is generated from the commands' \`--help\` texts by \`scripts/cli_docs.ts\`
(\`deno run -A scripts/cli_docs.ts\`); \`tests/e2e/run_docs_test.ts\` fails when a help text
changed and this file was not regenerated.
Edit the help texts in \`src/cli/*_command.ts\`, not this file.

## Conventions shared by every command

- **Sizes** (\`-S/--memory\`, \`--segment-size\`, gen's \`--size\`): \`64m\`, \`64M\`, \`64 mb\`,
  \`64MiB\`, \`1g\`, \`32kb\`, \`512k\`; units are binary (k = 1024). A bare number means **KiB**
  for \`-S\` on the command line (as in GNU sort) and **bytes** in job files (as in Flink's
  configuration) and for \`--segment-size\` and \`--size\`.
- **Memory**: every buffer comes from the budget \`-S\` in pages of \`--segment-size\`
  (docs/memory.md). Too small a budget is exit 3 with the numbers and the fix.
- **Temp files**: \`-T/--tmp-dir DIR\` (repeatable, used round-robin; default \`$TMPDIR\` or
  \`/tmp\`). Spill files live in a private directory per process and are deleted on exit, on
  errors and on SIGINT/SIGTERM/SIGHUP (docs/spill-format.md). \`sort --compress-program=PROG\`
  writes them through PROG and reads them back through \`PROG -d\` (GNU sort's option: PROG is
  started only when something spills; checksums are checked after \`PROG -d\`; a PROG that
  cannot be run or exits non-zero is exit 2; when no process can be made at all, EAGAIN or
  EMFILE, that spill file is written uncompressed, as GNU sort does when it cannot fork).
- **Inputs**: \`-\` is standard input. A FILE whose name ends in \`.gz\` is decompressed as gzip
  (concatenated members too, as \`zcat\` reads them; a damaged one is exit 2); standard input and
  other names are read as they are. Relative paths mean the caller's directory, also under
  \`deno task spillway\` and \`deno task demo\` (README).
- **Outputs** (\`-o FILE\`): a regular file (or a new one) is written to a temporary file beside
  the real target (symlinks followed) and renamed when complete: \`-o\` may name an input, and a
  failure leaves the target untouched. Anything else is written in place, opened only when the
  output starts: a FIFO, a device, \`/dev/fd/N\`, a hard-linked file, a file in a directory
  spillway cannot write (such a regular file is left empty when the run fails). A merge (\`sort -m\`, \`merge\`) reads its inputs while it writes: an input
  that is also such an in-place output (or standard output appended to it) is first copied to a
  temp file, as GNU sort does. \`/dev/stdout\`, \`/dev/stderr\`, \`/dev/null\` and input \`/dev/stdin\`
  work under the task's permissions. \`-o\` and \`--stats-file\` are checked before any input is
  read (exit 2). Standard output or input on \`/dev/null\` opened read-write (Python's
  \`subprocess.DEVNULL\`, Node's \`stdio: "ignore"\`, \`1<>/dev/null\`) works like \`>/dev/null\`;
  so does a closed one (\`>&-\`, \`<&-\`), which cannot be detected under Deno (Known limits).
  Standard output
  redirected to a regular file (\`> f\`, \`1<> f\`, \`>> f\`) is written in place; a failed or
  interrupted run (a full disk, \`ulimit -f\`, SIGINT/SIGTERM/SIGHUP) cuts the file back to where
  its output started (its offset then, or for \`>>\` its size then), never below what the file
  held before, and moves the offset back there: nothing of the output is left (bytes it
  overwrote under \`1<>\` stay overwritten), and a command after it in the same redirection
  writes on from there. A \`>>\` file that another process appended to meanwhile is left as it
  is.
- **Help and version**: \`--help\` and \`--version\` after any command print its help or
  \`spillway X.Y.Z\` and exit 0 without reading input, wherever they stand among the options
  (not as an option's value, \`-o --help\`, nor after \`--\`). An exact option name wins over
  abbreviations: \`sort --version\` is the version, not \`--version-sort\`. \`-h\` is \`--help\`
  except for \`sort\` and \`merge\`, whose \`-h\` is \`--human-numeric-sort\` and \`-V\`
  \`--version-sort\`, as in GNU sort; \`spillway -V\` (before a command) is the version.
- **Reports**: \`--progress\`/\`--no-progress\` (a progress line on stderr, by default only when
  stderr is a terminal; at most 10 updates a second; erased at the end) and
  \`--stats[=text|json|yaml]\`, \`--stats-file PATH\` (docs/stats.md).
- **Errors** are one line on stderr, \`spillway: \` then what failed, the numbers, the fix;
  \`--trace\` (anywhere on the command line) adds the stack trace (of the shipped JavaScript in
  \`dist/js/\`: it names the functions and files, but its positions are in the minified files; run
  \`main.ts\` from the sources for source lines).

## Exit codes

| Code | Meaning |
| --- | --- |
| 0 | success (also when the reader of standard output goes away early) |
| 1 | \`sort -c\`/\`-C\` found disorder |
| 2 | usage or input error: bad option or value, invalid job file, missing or unreadable input, a \`--compress-program\` that cannot be run or fails (as GNU sort) |
| 3 | resource error: budget too small, disk full or a file over \`ulimit -f\` (EFBIG), temp directory unusable, corrupt spill |
| 70 | internal error (a bug: please report it with \`--trace\` output) |
| 129, 130, 143 | interrupted by SIGHUP, SIGINT, SIGTERM (temp files removed) |

\`spillway run\` exits with the first failing step's code.

## Known limits

- **A very low \`ulimit -n\`** (below about 18 descriptors): the Deno runtime itself fails
  before any spillway code runs. It panics while it sets up standard I/O
  (\`panicked at ext/io/lib.rs ... Too many open files\`, exit 1), or fails to load \`main.ts\`
  (\`Import ... failed: Too many open files\`); a one-line \`console.log\` script under
  \`deno run\` does the same (measured with Deno 2.9.6 at \`ulimit -n\` 10, 12 and 14), so
  spillway cannot catch it or give a better message. GNU sort runs there. From about 18 up to 23
  the runtime starts but keeps about 17 descriptors for itself, and \`sort\` stops with exit 3
  (\`Cannot merge with N free file descriptors ...; raise ulimit -n\`) even when its input would
  need no merge. Give spillway at least 24 descriptors (\`ulimit -n 24\`; the usual default is
  1024).
- **A closed standard output or input** (\`>&-\`, \`<&-\`) cannot be detected under Deno: its
  runtime reopens a stream closed at start on \`/dev/null\` read-write before spillway's code
  runs, and that is the same, to anything spillway can read, as a \`/dev/null\` the caller opened
  read-write (\`/proc/self/fdinfo\` shows the same flags, position and inode). Such output is
  therefore written to \`/dev/null\` and such input read as empty, with exit 0, where GNU sort fails
  with EBADF (exit 2).
- **\`ulimit -f\`** (the file size limit): a spill file or output that would grow past it fails
  with EFBIG, and spillway stops with exit 3 and the limit named, its temp files and temp output
  removed (a command ignores SIGXFSZ, whose default action would end the process on the spot;
  without \`--allow-ffi\` it listens for it instead, which a signal at exit can still miss).
  Deno's own caches (\`$DENO_DIR\`, databases of several MiB) are written when sources are new or
  changed, before spillway's own code runs: under a limit smaller than those files, \`deno run\`
  itself can be ended by SIGXFSZ (exit 153).

## How \`sort\` compares records

For most options, \`spillway sort\` turns each record into a *normalized key*: a byte string
whose plain byte order is exactly GNU sort's order in the C locale (\`src/sort/normalized_key.ts\`).
The in-memory sort then compares an 8-byte key prefix as integers and breaks ties with memcmp of
the keys; it never calls a comparator. The output is always the original line. Normalized keys
cover \`-k\` fields and character positions, \`-t\`, \`-b\`, \`-d\`, \`-f\`, \`-i\`, \`-n\` (numbers of
any length), \`-h\`, \`-M\`, \`-r\` per key, the last-resort whole-line comparison, \`-s\` and \`-u\`.

These options keep the comparator (the same results, compared field by field at each tie):

| Option | Why it is not normalized |
| --- | --- |
| \`-g\` | needs long-double parsing (hex floats, NaN, 64-bit mantissas) to build a byte key |
| \`-V\` | GNU filevercmp (suffix stripping, digit runs, \`~\`): not encoded yet |
| \`-R\` | an MD5 of each key, byte order on collisions: not encoded yet (digest + key would do) |

Spilled runs keep the keys: each spilled record carries its normalized key in front of the line
(a *keyed run*, docs/spill-format.md), so merging runs compares keys with memcmp too. The final
merge runs on the WebAssembly merge kernel in keyed mode (on the merge Worker from 8 MiB), ties
to the earlier run (\`-s\` stays stable, \`-u\` keeps the first of equal keys); intermediate
merge passes compare the keys on the JavaScript loser tree. Which merges still call the
comparator:

| Case | Merge |
| --- | --- |
| \`-g\`, \`-V\`, \`-R\` (any key) | runs of lines: the comparator on the loser tree |
| \`-m\` (inputs already sorted), keyed order | the inputs' lines: the comparator on the loser tree (no keys are built) |
| a line whose key does not fit a sort page | stored without its key: the sort merges on the loser tree (keys, or the comparator for it) |

Keys cost spill bytes: a keyed run is larger than its lines by the key fields' encoding (the
last-resort copy of the line is not stored twice), all within the budget's pages.

**The final merge on both cores.** A \`sort\` in plain byte order (\`-r\` too) whose final merge
holds 64 MiB or more and writes to a regular file (\`-o FILE\`, or standard output redirected to
one with \`>\` or \`1<>\`) merges it as key ranges (below 256 MiB two halves; from 256 MiB each a
quarter of what is left, so they shrink towards the end), each written at its own place in the output by the merge Worker or the main
thread, whichever is free (docs/architecture.md). These keep the final merge on one merge Worker
(the main thread reads and writes for it): \`-u\`, keyed orders (\`-k\`, \`-n\`, \`-f\`, ...),
output to a pipe, a terminal or \`>>\`, \`--parallel=1\`, \`--compress-program\`,
\`--spill mmap\`, budgets too small for the sort Worker to gather the runs (about \`-S 8m\` and less), and
merges that had intermediate passes.

**\`sort -m\` and \`spillway merge\`** of a plain byte order (\`-r\`, \`-u\`, \`-z\` included) merge the input
files on the WebAssembly merge kernel (\`mergeText\`, src/sort/text_merge.ts), on the main thread:
each input is read in chunks of whole lines into the budget's pages and merged in place into the
output. Keyed orders (\`-k\`, \`-n\`, \`-f\`, \`-b\`, ...) merge on the JavaScript loser tree; so do the
groups of a merge of more inputs than the fan-in into temporary runs (\`sort -m\` then merges those
runs on the kernel, like a sort's runs; \`spillway merge\` on the loser tree). Neither checks that the
inputs are sorted (GNU \`sort -m\` does not either): both write the smallest of the inputs' current
lines each time, ties to the earlier input, so unsorted inputs give GNU's output. A line longer
than the read chunk, up to a quarter of \`-S\` like in \`sort\`, merges too: where the kernel
cannot have it in the budget's pages (no run of them free that long), the rest of that merge goes
on the loser tree, with the same output. A merge holds the current line of every input at once
(with \`-u\`, also a copy of the last line written): when the long lines current together do not
fit the budget, it fails with exit 3 and one line asking for a larger \`-S\` (naming one with room
for them where it can; for the \`-u\` copy, its size and the line's); an \`-o\` file is left as it
was (a pipe may have received the lines merged before).
`;

/** The man page's NAME line. */
export const MAN_SUMMARY = "sort and count text far larger than memory, in a fixed memory budget";

/** The generated reference. */
export function cliReference(): string {
  const parts = [INTRO, "## `spillway --help`\n", "```\n" + topLevelHelp() + "\n```\n"];
  for (const command of commands) {
    parts.push(`## \`spillway ${command.name}\`\n`);
    parts.push(`${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}.\n`);
    parts.push("```\n" + command.help + "\n```\n");
  }
  return parts.join("\n");
}

if (import.meta.main) {
  const path = new URL("../docs/cli.md", import.meta.url).pathname;
  await Deno.writeTextFile(path, cliReference());
  const formatted = await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", path] })
    .output();
  console.error(formatted.success ? `wrote ${path}` : `wrote ${path} (deno fmt failed)`);
  const manPath = new URL("../docs/spillway.1", import.meta.url).pathname;
  await Deno.writeTextFile(manPath, manPage(commands, MAN_SUMMARY));
  console.error(`wrote ${manPath}`);
}
