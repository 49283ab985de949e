/**
 * Every `--format json|yaml` output parses, whatever the other options: count (each output
 * option, odd words, empty input) and merge --sum; and what parses holds the same words and
 * counts as the tsv output.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { runSpillway } from "../_support/cli.ts";

const encoder = new TextEncoder();

// Quotes, a backslash, a control byte, a colon and a dash (YAML syntax), a number-like word,
// non-ASCII, U+2028 and a byte that is not UTF-8 (the whitespace tokenizer keeps them all).
const ODD_INPUT = new Uint8Array([
  ...encoder.encode('"q" c\\d e\x01f key: - 007 true null é é \u2028 a a a '),
  0x61,
  0xff,
  ...encoder.encode(" b b\n"),
]);
const PLAIN_INPUT = encoder.encode("the cat and the hat and the bat\nThe end\n");

const COUNT_OPTIONS: string[][] = [
  [],
  ["--total"],
  ["--distinct"],
  ["--distinct", "--total"],
  ["--top", "2"],
  ["--min-count", "2"],
  ["--order", "word"],
  ["--case", "preserve"],
  ["--tokenizer", "whitespace"],
  ["--tokenizer", "whitespace", "--total", "--distinct"],
];

function parseOutput(format: string, text: string): unknown {
  return format === "json" ? JSON.parse(text) : parseYaml(text);
}

/** The tsv output as [word, count] pairs (words that are valid UTF-8 only). */
function tsvPairs(text: string): Array<[string, number]> {
  return text.split("\n").filter((line) => line !== "").map((line) => {
    const tab = line.lastIndexOf("\t");
    return [line.slice(0, tab), Number(line.slice(tab + 1))];
  });
}

async function checkCount(input: Uint8Array, options: string[]): Promise<void> {
  const tsv = await runSpillway(["count", ...options, "-"], { stdin: input });
  strictEqual(tsv.code, 0, tsv.stderr);
  for (const format of ["json", "yaml"]) {
    const label = `count ${options.join(" ")} --format ${format} (${input.length} bytes in)`;
    const run = await runSpillway(["count", ...options, "--format", format, "-"], {
      stdin: input,
    });
    strictEqual(run.code, 0, `${label}: ${run.stderr}`);
    let parsed: unknown;
    try {
      parsed = parseOutput(format, run.stdout);
    } catch (error) {
      throw new Error(`${label} does not parse: ${error}\n${run.stdout}`);
    }
    if (options.includes("--total") || options.includes("--distinct")) {
      // tsv prints the numbers asked for, one a line, distinct first.
      const numbers = tsv.stdout.trim().split("\n").map(Number);
      const expected: Record<string, number> = {};
      if (options.includes("--distinct")) expected["distinct"] = numbers.shift()!;
      if (options.includes("--total")) expected["total"] = numbers.shift()!;
      deepStrictEqual(parsed, expected, label);
      continue;
    }
    ok(Array.isArray(parsed) || (parsed === null && input.length === 0), label);
    const rows = (parsed ?? []) as Array<{ word: unknown; count: number }>;
    const pairs = tsvPairs(tsv.stdout);
    strictEqual(rows.length, pairs.length, label);
    for (const [index, row] of rows.entries()) {
      strictEqual(row.count, pairs[index]![1], label);
      if (typeof row.word === "string" && !row.word.includes("\ufffd")) {
        strictEqual(row.word, pairs[index]![0], label);
      }
    }
  }
}

Deno.test("spillway count --format json|yaml output parses, whatever the options", async () => {
  const cases: Array<[Uint8Array, string[]]> = [
    ...COUNT_OPTIONS.map((options): [Uint8Array, string[]] => [ODD_INPUT, options]),
    [PLAIN_INPUT, []],
    [PLAIN_INPUT, ["--distinct", "--total"]],
    [new Uint8Array(), []],
    [new Uint8Array(), ["--distinct", "--total"]],
  ];
  // Three cases at a time: each is three short processes.
  for (let index = 0; index < cases.length; index += 3) {
    await Promise.all(
      cases.slice(index, index + 3).map(([input, options]) => checkCount(input, options)),
    );
  }
});

Deno.test("spillway merge --sum --format json|yaml output parses and matches tsv", async () => {
  const partials = encoder.encode('a\t3\n"x"\t2\nb: c\t1\na\t4\n- d\t2\nnull\t1\n');
  for (const options of [[], ["--top", "2"]]) {
    const tsv = await runSpillway(["merge", "--sum", ...options, "-"], { stdin: partials });
    strictEqual(tsv.code, 0, tsv.stderr);
    for (const format of ["json", "yaml"]) {
      const run = await runSpillway(["merge", "--sum", ...options, "--format", format, "-"], {
        stdin: partials,
      });
      strictEqual(run.code, 0, run.stderr);
      const rows = parseOutput(format, run.stdout) as Array<{ word: string; count: number }>;
      deepStrictEqual(rows.map((row) => [row.word, row.count]), tsvPairs(tsv.stdout), format);
    }
  }
});
