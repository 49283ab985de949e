import type { Command } from "./command.ts";
import { optionLabel } from "./option_spec.ts";
import { VERSION } from "./version.ts";

/** Escapes text for roff: backslashes, and a leading `.` or `'` that would start a request. */
function roff(text: string): string {
  return text.split("\n").map((line) => {
    const escaped = line.replaceAll("\\", "\\e");
    return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
  }).join("\n");
}

/** An option label in roff: bold, with minus signs that stay ASCII hyphens. */
function roffLabel(label: string): string {
  return `.B ${roff(label.trim()).replaceAll("-", "\\-")}`;
}

/**
 * The man page `docs/spillway.1`, generated from the commands' declared options.
 *
 * @param commands The commands (with their specs).
 * @param summary The top-level one-line description.
 * @returns The page in roff (man macros).
 */
export function manPage(commands: readonly Command[], summary: string): string {
  const lines = [
    `.TH SPILLWAY 1 "" "spillway ${VERSION}" "User Commands"`,
    ".SH NAME",
    `spillway \\- ${roff(summary)}`,
    ".SH SYNOPSIS",
    ".B spillway",
    "\\fIcommand\\fR [\\fIoptions\\fR] [\\fIFILE\\fR...]",
    ".br",
    ".B spillway",
    "\\-\\-help | \\-\\-version",
    ".SH DESCRIPTION",
    "Each command sorts, counts, merges or generates inside a fixed memory budget",
    "(\\fB\\-S\\fR), spilling to private temporary files (\\fB\\-T\\fR) that are removed on",
    "exit, on errors and on signals. \\fB\\-\\-trace\\fR anywhere adds stack traces to errors.",
    ".SH COMMANDS",
  ];
  for (const command of commands) {
    const spec = command.spec;
    if (spec === undefined) continue;
    lines.push(`.SS "spillway ${spec.name}"`, roff(spec.summary) + ".");
    for (const usage of spec.usage) lines.push(".br", `.B ${roff(usage).replaceAll("-", "\\-")}`);
    lines.push(".PP", roff(spec.description));
    for (const group of spec.groups) {
      const shown = group.options.filter((decl) => decl.hidden !== true);
      if (shown.length === 0) continue;
      lines.push(".PP", `\\fI${roff(group.title)}:\\fR`);
      for (const decl of shown) lines.push(".TP", roffLabel(optionLabel(decl)), roff(decl.help));
    }
    lines.push(".PP", roff(spec.footer));
  }
  lines.push(
    ".SH EXIT STATUS",
    "0 ok; 1 \\fBsort \\-c\\fR found disorder; 2 usage or input error; 3 resource error",
    "(budget too small, disk full, temp directory unusable); 70 internal error;",
    "129, 130, 143 interrupted (temporary files removed).",
    ".SH SEE ALSO",
    "docs/cli.md, docs/jobs.md, docs/stats.md, docs/architecture.md in the source tree;",
    ".BR sort (1).",
  );
  return lines.join("\n") + "\n";
}
