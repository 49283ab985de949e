// deno-lint-ignore-file no-console
/**
 * Flink WordCount conformance (opt-in: `deno task conformance`; needs ../shared).
 *
 * Runs `spillway count --tokenizer flink` on Flink's own WordCount test text and compares the
 * (word, count) pairs with Flink's expected `counts.txt` as sets (both sides sorted). Runs it
 * twice: with the default budget and with a tiny budget that forces spills. Exits 1 on any
 * difference, naming the first few.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BUILT_MAIN } from "../../scripts/build.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const caseDir = join(repoRoot, "..", "shared", "conformance", "flink-wordcount");
const textPath = join(caseDir, "text.txt");
const countsPath = join(caseDir, "counts.txt");
const mainPath = join(repoRoot, BUILT_MAIN); // the task builds it first (deno.json)

function normalize(text: string, separator: RegExp): string[] {
  return text.split("\n").filter((line) => line !== "").map((line) => {
    const [word, count] = line.split(separator);
    return `${word} ${Number(count)}`;
  }).sort();
}

async function runCount(extra: string[]): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", mainPath, "count", "--tokenizer", "flink", ...extra, textPath],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `spillway count failed (exit ${output.code}): ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return new TextDecoder().decode(output.stdout);
}

const expected = normalize(await Deno.readTextFile(countsPath), / /);
let failed = false;
for (const extra of [[], ["-S", "64k", "--segment-size", "4k"]]) {
  const actual = normalize(await runCount(extra), /\t/);
  const expectedSet = new Set(expected);
  const actualSet = new Set(actual);
  const missing = expected.filter((pair) => !actualSet.has(pair));
  const unexpected = actual.filter((pair) => !expectedSet.has(pair));
  const label = extra.length === 0 ? "default budget" : extra.join(" ");
  if (missing.length > 0 || unexpected.length > 0 || actual.length !== expected.length) {
    failed = true;
    console.error(
      `flink-wordcount (${label}): MISMATCH: ${actual.length} pairs vs ${expected.length} expected; ` +
        `missing ${missing.slice(0, 5).join(", ")}; unexpected ${
          unexpected.slice(0, 5).join(", ")
        }`,
    );
  } else {
    const words = actual.reduce((sum, pair) => sum + Number(pair.split(" ")[1]), 0);
    console.log(
      `flink-wordcount (${label}): ok, ${actual.length} distinct words, ${words} words`,
    );
  }
}
Deno.exit(failed ? 1 : 0);
