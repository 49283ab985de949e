import { match, strictEqual } from "node:assert/strict";
import { runSpillway } from "../_support/cli.ts";

// Issue 13: a line (and so a word) of up to a quarter of -S counts in every phase of `count`
// and `merge --sum`, with one thread or two. -S 16m with 3-4 MiB words has the same plan as
// -S 64m with 12-16 MiB words (a quarter of the budget); each case failed before the plan kept
// room for the long record (exit 3: the long-word stash, the input's line buffer or a merge
// reader's scratch did not fit).

const MIB = 1024 * 1024;

/** `word<TAB>count` lines, count descending, ties by word (ASCII inputs: string order). */
function oracle(texts: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const word of text.split(/\s+/)) {
      if (word !== "") counts.set(word, (counts.get(word) ?? 0) + 1);
    }
  }
  return sumOracle([...counts]);
}

function sumOracle(pairs: ReadonlyArray<[string, number]>): string {
  const sums = new Map<string, number>();
  for (const [word, count] of pairs) sums.set(word, (sums.get(word) ?? 0) + count);
  return [...sums]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([word, count]) => `${word}\t${count}\n`)
    .join("");
}

/** Small words enough to fill the table at -S 16m several times (about 4.5 MB). */
function manyWords(seed: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < 300_000; i += 1) lines.push(`w${(i * seed) % 5000} u${i}`);
  return lines;
}

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "spillway-count-long-words-test-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function countTo(dir: string, args: string[], inputs: string[]): Promise<string> {
  const out = `${dir}/out.tsv`;
  const result = await runSpillway(["count", ...args, "-T", dir, "-o", out, ...inputs]);
  strictEqual(result.code, 0, `count ${args.join(" ")}: ${result.stderr}`);
  strictEqual(result.stderr, "");
  const text = await Deno.readTextFile(out);
  await Deno.remove(out);
  return text;
}

Deno.test("count --threads 2 reads lines of 3/16 of -S while the Worker holds its share", async () => {
  await withDir(async (dir) => {
    const long = "a".repeat(3 * MIB);
    // Past 4 MiB read the Worker starts; the second long line comes while it counts.
    const text = ["x y z", long, ...manyWords(7).slice(0, 100_000), "foo bar", long, ""]
      .join("\n");
    await Deno.writeTextFile(`${dir}/in.txt`, text);
    const expected = oracle([text]);
    // The JS tokenizer and the kernel (whitespace) on two threads; one thread as a control.
    for (const [tokenizer, threads] of [["words", "2"], ["whitespace", "2"], ["words", "1"]]) {
      const args = ["-S", "16m", "--threads", threads!, "--tokenizer", tokenizer!];
      strictEqual(await countTo(dir, args, [`${dir}/in.txt`]), expected, args.join(" "));
    }
  });
});

Deno.test("count merges a word of 3/16 of -S held by several spilled runs", async () => {
  await withDir(async (dir) => {
    const long = "q".repeat(3 * MIB);
    const other = "r".repeat(3 * MIB - 5);
    const lines = manyWords(13);
    // The long word in the first run, in a middle one and in the last (and the table).
    lines.splice(0, 0, long);
    lines.splice(150_000, 0, long, other);
    lines.push(long, "");
    const text = lines.join("\n");
    await Deno.writeTextFile(`${dir}/in.txt`, text);
    const expected = oracle([text]);
    for (const [threads, order] of [["1", "count"], ["2", "count"], ["2", "word"]]) {
      const args = ["-S", "16m", "--threads", threads!, "--order", order!];
      const got = await countTo(dir, args, [`${dir}/in.txt`]);
      const want = order === "count"
        ? expected
        : expected.split("\n").filter((line) => line !== "").sort((a, b) => {
          const x = a.slice(0, a.lastIndexOf("\t"));
          const y = b.slice(0, b.lastIndexOf("\t"));
          return x < y ? -1 : x > y ? 1 : 0;
        }).map((line) => `${line}\n`).join("");
      strictEqual(got, want, args.join(" "));
    }
    // --top keeps copies of its words (the long one among them) beside the merge's readers.
    const top = await countTo(dir, ["-S", "16m", "--top", "3"], [`${dir}/in.txt`]);
    strictEqual(top, expected.split("\n").slice(0, 3).join("\n") + "\n");
  });
});

Deno.test("count --top holds a quarter-of-S word written to several runs, and two such words", async () => {
  await withDir(async (dir) => {
    // The same longest word in three runs, and first in the output: the heap plans one copy
    // of it, not three (which did not fit beside the merge's reader and summing scratch).
    const long = "a".repeat(4 * MIB - 1);
    const lines = Array.from({ length: 240_000 }, (_, i) => `u${i} v${i}`);
    lines.splice(0, 0, long);
    lines.splice(80_000, 0, long);
    lines.splice(160_000, 0, long);
    lines.push("");
    const text = lines.join("\n");
    await Deno.writeTextFile(`${dir}/in.txt`, text);
    const want = oracle([text]).split("\n").slice(0, 3).join("\n") + "\n";
    strictEqual(want.slice(0, 8), "aaaaaaaa"); // the long word is kept
    for (const threads of ["1", "2"]) {
      const args = ["-S", "16m", "--threads", threads, "--top", "3"];
      strictEqual(await countTo(dir, args, [`${dir}/in.txt`]), want, args.join(" "));
    }
    // Two distinct words near the quarter (copies of both do not fit beside the merge): the
    // count-order sort picks the top words instead of the heap.
    lines.splice(120_000, 0, "b".repeat(4 * MIB - 2), "b".repeat(4 * MIB - 2));
    const two = lines.join("\n");
    await Deno.writeTextFile(`${dir}/in.txt`, two);
    const wantTwo = oracle([two]).split("\n").slice(0, 3).join("\n") + "\n";
    const args = ["-S", "16m", "--threads", "1", "--top", "3"];
    strictEqual(await countTo(dir, args, [`${dir}/in.txt`]), wantTwo, args.join(" "));
    // In word order the picked words are put in order by a counter of their own.
    const byWord = wantTwo.split("\n").filter((line) => line !== "").sort().join("\n") + "\n";
    args.push("--order", "word");
    strictEqual(await countTo(dir, args, [`${dir}/in.txt`]), byWord, args.join(" "));
  });
});

Deno.test("merge --sum sums count outputs holding a word of 3/16 of -S", async () => {
  await withDir(async (dir) => {
    const long = "s".repeat(3 * MIB);
    const first = [long, ...manyWords(3), long, ""].join("\n");
    const second = ["b c", long, ...manyWords(11).slice(0, 50_000), ""].join("\n");
    await Deno.writeTextFile(`${dir}/1.txt`, first);
    await Deno.writeTextFile(`${dir}/2.txt`, second);
    // Partial counts, made with room to spare.
    const partials: string[] = [];
    for (const name of ["1", "2"]) {
      const text = await countTo(dir, ["-S", "64m"], [`${dir}/${name}.txt`]);
      await Deno.writeTextFile(`${dir}/${name}.tsv`, text);
      partials.push(`${dir}/${name}.tsv`);
    }
    const out = `${dir}/sum.tsv`;
    const result = await runSpillway([
      "merge",
      "--sum",
      "-S",
      "16m",
      "-T",
      dir,
      "-o",
      out,
      ...partials,
    ]);
    strictEqual(result.code, 0, result.stderr);
    strictEqual(await Deno.readTextFile(out), oracle([first, second]));
  });
});

Deno.test("count takes a line of a quarter of -S; one byte more names the -S that takes it", async () => {
  await withDir(async (dir) => {
    const quarter = "k".repeat(4 * MIB);
    const text = ["one two", quarter, "two", quarter, ""].join("\n");
    await Deno.writeTextFile(`${dir}/in.txt`, text);
    for (const threads of ["1", "2"]) {
      const got = await countTo(dir, ["-S", "16m", "--threads", threads], [`${dir}/in.txt`]);
      strictEqual(got, oracle([text]), `--threads ${threads}`);
    }
    const over = `${quarter}k`;
    const overText = ["one", over, ""].join("\n");
    await Deno.writeTextFile(`${dir}/over.txt`, overText);
    await Deno.writeTextFile(`${dir}/over.tsv`, `one\t1\n${over}\t2\n`);
    for (const [command, input] of [[["count"], "over.txt"], [["merge", "--sum"], "over.tsv"]]) {
      const refused = await runSpillway([
        ...command as string[],
        "-S",
        "16m",
        "-T",
        dir,
        `${dir}/${input}`,
      ]);
      strictEqual(refused.code, 3, `${command}: ${refused.stderr}`);
      match(
        refused.stderr,
        /^spillway: Cannot read .*over\.t(?:xt|sv): a record of 4\.0 MiB does not fit the memory budget of 16 MiB; raise --memory \(-S\) to 17m \(a record may take a quarter of it\)\n$/,
      );
      strictEqual(refused.stdout, "");
    }
    // The -S named takes it.
    strictEqual(await countTo(dir, ["-S", "17m"], [`${dir}/over.txt`]), oracle([overText]));
  });
});
