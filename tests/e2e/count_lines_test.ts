import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { runSpillway } from "../_support/cli.ts";

interface Run {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

/** Runs spillway with the task's permissions; stdout stays bytes (invalid UTF-8 survives). */
async function spillway(args: string[]): Promise<Run> {
  const { code, stdoutBytes, stderr } = await runSpillway(args);
  return { code, stdout: stdoutBytes, stderr };
}

/** Runs a shell pipeline in the C locale and returns its exact stdout bytes. */
async function shellBytes(script: string): Promise<Uint8Array> {
  const output = await new Deno.Command("sh", {
    args: ["-c", script],
    env: { LC_ALL: "C" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(`${script}: ${new TextDecoder().decode(output.stderr)}`);
  return output.stdout;
}

/**
 * A seeded log-like file: repeated request lines (Zipf-ish), unique lines, empty lines,
 * leading blanks, tabs, CR, invalid UTF-8, lines that are prefixes of others, one line longer
 * than a 4 KiB segment (repeated), and (when `lastNewline` is false) a last line without "\n".
 */
function logFile(seed: number, lineCount: number, lastNewline: boolean): Uint8Array {
  let state = seed;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const encoder = new TextEncoder();
  const paths = ["/", "/index.html", "/api/v1/items", "/api/v1/items/7", "/login", "/LOGIN"];
  const long = "x".repeat(5000);
  const parts: Uint8Array[] = [];
  for (let line = 0; line < lineCount; line += 1) {
    const pick = next();
    let text: string;
    if (pick < 0.05) text = "";
    else if (pick < 0.1) text = `unique request ${line} took ${Math.floor(next() * 1e6)} us`;
    else if (pick < 0.12) text = "  indented\twith tab";
    else if (pick < 0.13) text = "GET /api/v1/items\r";
    else if (pick < 0.132) text = long;
    else if (pick < 0.14) text = "POST /upload 201";
    else if (pick < 0.15) {
      parts.push(new Uint8Array([0xff, 0x47, 0x45, 0x54, 0x20, 0xc3, 0x28, 0x0a]));
      continue;
    } else {
      const path = paths[Math.floor(paths.length * next() ** 2)]!;
      const status = next() < 0.8 ? 200 : 404;
      text = `${next() < 0.9 ? "GET" : "get"} ${path} ${status}`;
    }
    parts.push(encoder.encode(`${text}\n`));
  }
  parts.push(encoder.encode(lastNewline ? "tail line\n" : "tail line"));
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}

async function withTemp(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "spillway-count-lines-e2e-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const BUDGETS = [["-S", "256k", "--segment-size", "4k"], []];

Deno.test("spillway count --lines --format uniq --order word equals LC_ALL=C sort | uniq -c byte for byte", async () => {
  await withTemp(async (dir) => {
    const spill = `${dir}/spill`;
    await Deno.mkdir(spill);
    for (const lastNewline of [true, false]) {
      const input = `${dir}/log-${lastNewline}.txt`;
      await Deno.writeFile(input, logFile(7, 20000, lastNewline));
      const oracle = await shellBytes(`sort '${input}' | uniq -c`);
      for (const budget of BUDGETS) {
        const args = ["--format", "uniq", "--order", "word", "-T", spill, ...budget, input];
        const run = await spillway(["count", "--lines", ...args]);
        strictEqual(run.code, 0, run.stderr);
        deepStrictEqual(run.stdout, oracle, `--lines ${budget.join(" ")}`);
        const spelled = await spillway(["count", "--tokenizer", "line", ...args]);
        deepStrictEqual(spelled.stdout, oracle, "--tokenizer line is --lines");
      }
      deepStrictEqual([...Deno.readDirSync(spill)], [], "no leftover spill files");
    }
  });
});

Deno.test("spillway count --lines --format uniq equals sort | uniq -c | sort -k1,1nr -k2", async () => {
  await withTemp(async (dir) => {
    const input = `${dir}/log.txt`;
    await Deno.writeFile(input, logFile(19, 20000, false));
    const oracle = await shellBytes(`sort '${input}' | uniq -c | sort -k1,1nr -k2`);
    for (const budget of BUDGETS) {
      const run = await spillway(["count", "--lines", "--format", "uniq", ...budget, input]);
      strictEqual(run.code, 0, run.stderr);
      deepStrictEqual(run.stdout, oracle, budget.join(" "));
    }
    const top = await spillway(["count", "--lines", "--format", "uniq", "--top", "5", input]);
    const topOracle = await shellBytes(
      `sort '${input}' | uniq -c | sort -k1,1nr -k2 | head -n 5`,
    );
    deepStrictEqual(top.stdout, topOracle, "--top 5");
  });
});

Deno.test("spillway count --lines -i folds ASCII case like tr A-Z a-z, with --min-count and tsv", async () => {
  await withTemp(async (dir) => {
    const input = `${dir}/log.txt`;
    await Deno.writeFile(input, logFile(23, 5000, true));
    const oracle = await shellBytes(
      `tr A-Z a-z < '${input}' | sort | uniq -c | sort -k1,1nr -k2 | awk '$1 >= 3'`,
    );
    const run = await spillway([
      "count",
      "--lines",
      "-i",
      "--min-count",
      "3",
      "--format",
      "uniq",
      input,
    ]);
    strictEqual(run.code, 0, run.stderr);
    deepStrictEqual(run.stdout, oracle);
    // tsv: the line, a TAB, the count (the count follows the last TAB).
    const tsv = await spillway(["count", "--lines", "--ignore-case", "--min-count", "3", input]);
    const fromUniq = new TextDecoder("latin1").decode(oracle).split("\n").filter((l) => l !== "")
      .map((l) => {
        const match = /^ *(\d+) (.*)$/s.exec(l)!;
        return `${match[2]}\t${match[1]}`;
      });
    deepStrictEqual(
      new TextDecoder("latin1").decode(tsv.stdout).split("\n").filter((l) => l !== ""),
      fromUniq,
    );
    ok(fromUniq.length > 3, "the oracle kept several lines");
  });
});

Deno.test("spillway count --lines prints json and yaml that parse, and rejects --lines with another tokenizer", async () => {
  await withTemp(async (dir) => {
    const input = `${dir}/log.txt`;
    await Deno.writeFile(input, new TextEncoder().encode("b\n\na\tx\nb\n"));
    const json = await spillway(["count", "--lines", "--format", "json", input]);
    strictEqual(json.code, 0, json.stderr);
    deepStrictEqual(JSON.parse(new TextDecoder().decode(json.stdout)), [
      { word: "b", count: 2 },
      { word: "", count: 1 },
      { word: "a\tx", count: 1 },
    ]);
    const yaml = await spillway(["count", "--lines", "--format", "yaml", input]);
    strictEqual(yaml.code, 0, yaml.stderr);
    const { parse } = await import("yaml");
    deepStrictEqual(parse(new TextDecoder().decode(yaml.stdout)), [
      { word: "b", count: 2 },
      { word: "", count: 1 },
      { word: "a\tx", count: 1 },
    ]);
    const bad = await spillway(["count", "--lines", "--tokenizer", "words", input]);
    strictEqual(bad.code, 2);
    strictEqual(bad.stderr.trim().split("\n").length, 1, bad.stderr);
    const badCase = await spillway(["count", "--lines", "-i", "--case", "preserve", input]);
    strictEqual(badCase.code, 2);
  });
});
