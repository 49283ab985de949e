/**
 * docs/stats.md's key table and the keys of real `--stats=json` reports agree, command by
 * command: `count.*` keys appear in count's reports only, `job`/`step`/`name` in run's only.
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { runSpillway } from "../_support/cli.ts";

const DOC = new URL("../../docs/stats.md", import.meta.url);

function flatKeys(value: Record<string, unknown>, prefix = ""): string[] {
  return Object.entries(value).flatMap(([key, inner]) =>
    inner !== null && typeof inner === "object" && !Array.isArray(inner)
      ? flatKeys(inner as Record<string, unknown>, `${prefix}${key}.`)
      : [`${prefix}${key}`]
  );
}

async function documentedKeys(): Promise<string[]> {
  const text = await Deno.readTextFile(DOC);
  return [...text.matchAll(/^\| `([A-Za-z0-9.]+)` +\|/gm)].map((match) => match[1]!);
}

/** The documented keys a command's report holds. */
function expectedFor(documented: string[], command: string): string[] {
  const runOnly = new Set(["job", "step", "name"]);
  return documented.filter((key) => {
    if (runOnly.has(key)) return command === "run";
    if (key.startsWith("count.")) return command === "count";
    return true;
  }).sort();
}

Deno.test("docs/stats.md documents exactly the keys of real --stats=json reports", async () => {
  const documented = await documentedKeys();
  strictEqual(documented.length > 30, true, "the key table was not found");
  strictEqual(new Set(documented).size, documented.length, "a key is documented twice");
  const dir = await Deno.makeTempDir({ prefix: "spillway-stats-doc-" });
  try {
    await Deno.writeTextFile(`${dir}/in.txt`, "b a\na c\n");
    await Deno.writeTextFile(`${dir}/counts.tsv`, "a\t2\nb\t1\n");
    await Deno.writeTextFile(
      `${dir}/job.yaml`,
      "steps:\n  - sort: { input: in.txt, output: sorted.txt }\n",
    );
    const cases: Array<[string, string[]]> = [
      ["sort", ["sort", "--stats=json", "-o", `${dir}/out.txt`, `${dir}/in.txt`]],
      ["count", ["count", "--stats=json", "-o", `${dir}/out.txt`, `${dir}/in.txt`]],
      ["merge", ["merge", "--stats=json", "-o", `${dir}/out.txt`, `${dir}/in.txt`]],
      ["merge", ["merge", "--sum", "--stats=json", "-o", `${dir}/out.txt`, `${dir}/counts.tsv`]],
      ["gen", ["gen", "text", "--size", "1k", "--stats=json", "-o", `${dir}/gen.txt`]],
      ["run", ["run", "--stats=json", `${dir}/job.yaml`]],
    ];
    for (const [command, args] of cases) {
      const run = await runSpillway(args);
      strictEqual(run.code, 0, run.stderr);
      const report = JSON.parse(run.stderr.trim().split("\n").at(-1)!);
      deepStrictEqual(flatKeys(report).sort(), expectedFor(documented, command), args.join(" "));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
