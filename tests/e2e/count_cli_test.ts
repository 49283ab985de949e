import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { SPILLWAY_MAIN } from "../_support/cli.ts";

interface Run {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

async function spillway(
  args: string[],
  stdin?: Uint8Array,
  env: Record<string, string> = {},
): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SPILLWAY_MAIN, ...args],
    env,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(stdin);
    await writer.close();
  }
  const output = await child.output();
  return {
    code: output.code,
    stdout: output.stdout,
    stderr: new TextDecoder().decode(output.stderr),
  };
}

/** The test seam that makes the count Worker take the first chunk (see `CountRequest`). */
const workerFirst = { SPILLWAY_TEST_WORKER_FIRST: "1" };

async function shell(script: string, env: Record<string, string> = {}): Promise<string> {
  const output = await new Deno.Command("sh", {
    args: ["-c", script],
    env: { LC_ALL: "C", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(`${script}: ${new TextDecoder().decode(output.stderr)}`);
  return new TextDecoder().decode(output.stdout);
}

/** Seeded text: mixed case, digits, punctuation, CRLF, tabs, some UTF-8 and NUL bytes. */
function corpus(seed: number, lineCount: number): Uint8Array {
  let state = seed;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const vocabulary: string[] = [];
  for (let i = 0; i < 3000; i += 1) {
    let word = "";
    const length = 1 + Math.floor(next() * 10);
    for (let j = 0; j < length; j += 1) {
      word += "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789_"[Math.floor(next() * 47)];
    }
    vocabulary.push(word);
  }
  const separators = [" ", " ", " ", ", ", ". ", "\t", " -- ", "'", " é ", "\u0000"];
  let text = "";
  for (let line = 0; line < lineCount; line += 1) {
    const words = Math.floor(next() * 12);
    for (let w = 0; w < words; w += 1) {
      if (w > 0) text += separators[Math.floor(next() * separators.length)];
      text += vocabulary[Math.floor(vocabulary.length * next() ** 2)];
    }
    text += next() < 0.1 ? "\r\n" : "\n";
  }
  return new TextEncoder().encode(text);
}

async function withTemp(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "spillway-count-e2e-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** "count word" lines sorted, from `uniq -c` output or our "word\tcount" lines. */
function normalizeUniq(text: string): string[] {
  return text.split("\n").filter((line) => line.trim() !== "").map((line) => {
    const match = /^\s*(\d+) (.*)$/.exec(line)!;
    return `${match[2]}\t${match[1]}`;
  });
}

function decode(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

Deno.test("spillway count letters equals McIlroy's pipeline, with spills and without", async () => {
  await withTemp(async (dir) => {
    const input = `${dir}/in.txt`;
    const spill = `${dir}/spill`;
    await Deno.mkdir(spill);
    await Deno.writeFile(input, corpus(11, 20000));
    const oracle = normalizeUniq(
      await shell(
        `tr -cs A-Za-z '\\n' < '${input}' | tr A-Z a-z | grep -v '^$' | sort | uniq -c | sort -k1,1nr -k2,2`,
      ),
    );
    for (const budget of [["-S", "256k", "--segment-size", "4k"], []]) {
      const run = await spillway([
        "count",
        "--tokenizer",
        "letters",
        "-T",
        spill,
        ...budget,
        input,
      ]);
      strictEqual(run.code, 0, run.stderr);
      const lines = decode(run.stdout).split("\n").filter((line) => line !== "");
      deepStrictEqual(lines, oracle);
      deepStrictEqual([...Deno.readDirSync(spill)], [], "no leftover spill files");
    }
  });
});

Deno.test("spillway count whitespace --total equals wc -w, --distinct equals sort -u | wc -l", async () => {
  await withTemp(async (dir) => {
    const input = `${dir}/in.txt`;
    // wc -w counts runs holding a printable byte: keep this corpus free of NUL-only runs.
    const text = decode(corpus(5, 8000)).replaceAll("\u0000", " ").replaceAll(" é ", " xé ");
    await Deno.writeTextFile(input, text);
    const words = Number((await shell(`wc -w < '${input}'`)).trim());
    const total = await spillway([
      "count",
      "--tokenizer",
      "whitespace",
      "--total",
      "-S",
      "256k",
      "--segment-size",
      "4k",
      input,
    ]);
    strictEqual(total.code, 0, total.stderr);
    strictEqual(Number(decode(total.stdout).trim()), words);
    const distinct = Number(
      (await shell(
        `tr -s ' \\t\\r\\n\\v\\f' '\\n\\n\\n\\n\\n\\n' < '${input}' | grep -v '^$' | sort -u | wc -l`,
      ))
        .trim(),
    );
    const both = await spillway([
      "count",
      "--tokenizer",
      "whitespace",
      "--distinct",
      "--total",
      input,
    ]);
    deepStrictEqual(decode(both.stdout), `${distinct}\n${words}\n`);
  });
});

Deno.test("spillway count reads stdin, writes -o atomically, and prints json", async () => {
  await withTemp(async (dir) => {
    const target = `${dir}/out.json`;
    const run = await spillway(
      ["count", "--format", "json", "--top", "2", "-o", target],
      new TextEncoder().encode("b a b\nc a b\n"),
    );
    strictEqual(run.code, 0, run.stderr);
    strictEqual(run.stdout.length, 0);
    deepStrictEqual(JSON.parse(await Deno.readTextFile(target)), [
      { word: "b", count: 3 },
      { word: "a", count: 2 },
    ]);
    // A failing run leaves the old target untouched and no temp file beside it.
    const failed = await spillway(["count", "-o", target, `${dir}/missing.txt`]);
    strictEqual(failed.code, 2);
    ok(/^spillway: Cannot read .*missing\.txt/.test(failed.stderr), failed.stderr);
    strictEqual(failed.stderr.trim().split("\n").length, 1);
    deepStrictEqual(JSON.parse(await Deno.readTextFile(target))[0], { word: "b", count: 3 });
    deepStrictEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["out.json"]);
  });
});

Deno.test("spillway count rejects bad options with one line and exit 2", async () => {
  for (
    const [args, pattern] of [
      [
        ["--tokenizer", "bytes"],
        /Invalid --tokenizer "bytes": use words, letters, flink, whitespace/,
      ],
      [["--format", "xml"], /Invalid --format "xml"/],
      [["--top", "0"], /Invalid --top "0"/],
      [["--tokenizer", "flink", "--case", "preserve"], /flink tokenizer always lower-cases/],
      [["-S", "200k"], /Cannot count words in \d+ free segments of 32768 bytes/],
    ] as Array<[string[], RegExp]>
  ) {
    const run = await spillway(["count", ...args], new Uint8Array(0));
    ok(run.code === 2 || run.code === 3, `${args}: exit ${run.code}`);
    ok(pattern.test(run.stderr), `${args}: ${run.stderr}`);
    strictEqual(run.stderr.trim().split("\n").length, 1, run.stderr);
  }
});

Deno.test("spillway count exits at once when it fails after spawning its Worker early", async () => {
  await withTemp(async (dir) => {
    // From 8 MiB with --threads 2 the Worker's isolate is spawned right after parsing, before
    // the output is opened: a bad -o must still end the process (a live Worker keeps it up).
    const input = `${dir}/in.txt`;
    await Deno.writeFile(
      input,
      new Uint8Array(9 * 1024 * 1024).fill(0x61).map((byte, i) => i % 8 === 7 ? 0x0a : byte),
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        SPILLWAY_MAIN,
        "count",
        "--threads",
        "2",
        "-o",
        `${dir}/no/such/dir/out`,
        input,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    try {
      const output = await child.output();
      const stderr = new TextDecoder().decode(output.stderr);
      strictEqual(output.code, 2, `exit ${output.code} (137: it hung): ${stderr}`);
      ok(/Cannot create output/.test(stderr), stderr);
      strictEqual(output.stdout.length, 0);
    } finally {
      clearTimeout(timer);
    }
  });
});

Deno.test("spillway count words: min count, word order and --stats", async () => {
  const input = new Uint8Array([...new TextEncoder().encode("Ünïcode ünïcode x\nx x y\n"), 0xff]);
  const run = await spillway(
    ["count", "--order", "word", "--min-count", "2", "--stats=json"],
    input,
  );
  strictEqual(run.code, 0, run.stderr);
  strictEqual(decode(run.stdout), "x\t3\nünïcode\t2\n");
  const stats = JSON.parse(run.stderr.trim().split("\n").at(-1)!);
  strictEqual(stats.count.tokens, 6);
  strictEqual(stats.count.invalidUtf8Bytes, 1);
  strictEqual(stats.leaks.segments, 0);
});

Deno.test("spillway count with a Worker (--threads 2) equals one thread, spilling on both sides", async () => {
  await withTemp(async (dir) => {
    const input = `${dir}/in.txt`;
    const spill = `${dir}/spill`;
    await Deno.mkdir(spill);
    // An input from 8 MiB starts the Worker at once: repeat a corpus with shifted words.
    const base = corpus(3, 30000);
    const copies = Math.ceil((9 * 1024 * 1024) / base.length);
    const text = new Uint8Array(base.length * copies);
    for (let copy = 0; copy < copies; copy += 1) {
      text.set(base, copy * base.length);
      // Make each copy's words a little different: shift ASCII letters by the copy number.
      for (let i = copy * base.length; i < (copy + 1) * base.length; i += 97) {
        if (text[i]! >= 0x61 && text[i]! <= 0x7a) text[i] = 0x61 + ((text[i]! - 0x61 + copy) % 26);
      }
    }
    await Deno.writeFile(input, text);
    const budget = ["-S", "2m", "--segment-size", "4k", "-T", spill];
    const one = await spillway(["count", "--threads", "1", ...budget, input]);
    // The Worker loads in parallel and this thread never waits for it: on a loaded machine it
    // may count all 9 MiB first (right, but then the Worker's side is not tested). The test
    // seam makes the first chunk wait until the Worker is ready.
    const two = await spillway(
      ["count", "--threads", "2", "--stats=json", ...budget, input],
      undefined,
      workerFirst,
    );
    strictEqual(one.code, 0, one.stderr);
    strictEqual(two.code, 0, two.stderr);
    deepStrictEqual(decode(two.stdout), decode(one.stdout));
    const stats = JSON.parse(two.stderr.trim().split("\n").at(-1)!);
    ok(stats.count.workerInputBytes > 0, "the Worker counted some chunks");
    ok(stats.count.wordRuns > 2, "spills happened");
    strictEqual(stats.leaks.segments, 0);
    const topOne = await spillway(["count", "--threads", "1", "--top", "30", ...budget, input]);
    const topTwo = await spillway(["count", "--threads", "2", "--top", "30", ...budget, input]);
    deepStrictEqual(decode(topTwo.stdout), decode(topOne.stdout));
    deepStrictEqual(
      decode(topTwo.stdout),
      decode(one.stdout).split("\n").slice(0, 30).join("\n") + "\n",
    );
    deepStrictEqual([...Deno.readDirSync(spill)], [], "no leftover spill files");
  });
});

Deno.test("spillway count's kernel on a Worker (whitespace, lines) equals one thread, spilling", async () => {
  await withTemp(async (dir) => {
    const input = `${dir}/in.txt`;
    const spill = `${dir}/spill`;
    await Deno.mkdir(spill);
    // 9 MiB of numbered words: many distinct ones, so both tables spill at 2 MiB.
    const lines: string[] = [];
    let bytes = 0;
    for (let i = 0; bytes < 9 * 1024 * 1024; i += 1) {
      const line = `Word${(i * 7919) % 200003} the THE w${i % 5000} x\u00e9${i % 37}\n`;
      lines.push(line);
      bytes += line.length + 1;
    }
    await Deno.writeTextFile(input, lines.join(""));
    const budget = ["-S", "2m", "--segment-size", "4k", "-T", spill];
    for (const tokenizer of [["--tokenizer", "whitespace", "--case", "lower"], ["--lines"]]) {
      const one = await spillway(["count", "--threads", "1", ...tokenizer, ...budget, input]);
      const two = await spillway(
        [
          "count",
          "--threads",
          "2",
          "--stats=json",
          ...tokenizer,
          ...budget,
          input,
        ],
        undefined,
        workerFirst,
      );
      strictEqual(one.code, 0, one.stderr);
      strictEqual(two.code, 0, two.stderr);
      deepStrictEqual(decode(two.stdout), decode(one.stdout));
      const stats = JSON.parse(two.stderr.trim().split("\n").at(-1)!);
      ok(stats.count.workerInputBytes > 0, "the Worker counted some chunks");
      ok(stats.count.wordRuns > 2, "spills happened");
      strictEqual(stats.leaks.segments, 0);
    }
    deepStrictEqual([...Deno.readDirSync(spill)], [], "no leftover spill files");
  });
});

/**
 * 33 MiB (past auto's Worker start) of mostly unique tokens, with words that repeat before and
 * after the verdict (the first tokens) and across the spilled runs; with `twice`, every 5th
 * token again later (a count of 2 for many words).
 */
async function writeNearlyUnique(input: string, twice = false): Promise<void> {
  const parts: string[] = [];
  let bytes = 0;
  for (let i = 0; bytes < 33 * 1024 * 1024; i += 1) {
    const mixed = Math.imul(i, 2654435761) >>> 0;
    const again = twice && i > 100_000 && i % 5 === 0;
    const word = mixed % 20 === 0
      ? ["a", "b,c", 'q"', "zz"][i % 4]!
      : again
      ? `${(Math.imul(i >> 1, 2654435761) >>> 0).toString(36)}${(i >> 1).toString(36)}`
      : `${mixed.toString(36)}${i.toString(36)}${i % 7 === 0 ? "\t" : ""}`;
    const gap = i % 9 === 0 ? "\n" : i % 13 === 0 ? "  " : " ";
    parts.push(word + gap);
    bytes += word.length + gap.length;
  }
  parts.push("last-without-newline");
  await Deno.writeTextFile(input, parts.join(""));
}

Deno.test("spillway count --threads auto counts nearly unique tokens through the sort engine, equal to one thread", async () => {
  await withTemp(async (dir) => {
    const input = `${dir}/in.txt`;
    await writeNearlyUnique(input);
    const inputBytes = (await Deno.stat(input)).size;
    const common = ["count", "--tokenizer", "whitespace", "--order", "word", "-S", "32m"];
    for (const format of ["tsv", "uniq", "csv"]) {
      const one = await spillway([
        ...common,
        "--threads",
        "1",
        "--format",
        format,
        ...(format === "tsv" ? ["--stats=json"] : []),
        input,
      ]);
      strictEqual(one.code, 0, one.stderr);
      const auto = await spillway(
        [...common, "--threads", "auto", "--format", format, "--stats=json", input],
        undefined,
        { SPILLWAY_TEST_IDLE_CORES: "2" },
      );
      strictEqual(auto.code, 0, auto.stderr);
      const stats = JSON.parse(auto.stderr);
      strictEqual(stats.count.sortRoute, true, format);
      // The bytes of the file, not the terminator the reader appends to its last token.
      strictEqual(stats.input.bytes, inputBytes, `${format}: input bytes`);
      strictEqual(stats.spill.runs > 1, true, `${format}: runs ${stats.spill.runs}`);
      strictEqual(Buffer.compare(auto.stdout, one.stdout), 0, `${format}: outputs differ`);
      if (format === "tsv") {
        // The route's own figures, equal to the table's.
        const table = JSON.parse(one.stderr).count;
        strictEqual(stats.count.tokens, table.tokens, "tokens");
        strictEqual(stats.count.distinctWords, table.distinctWords, "distinct words");
        strictEqual(stats.count.sortRouteFallback, false);
        const text = await spillway(
          [...common, "--threads", "auto", "--stats", input],
          undefined,
          { SPILLWAY_TEST_IDLE_CORES: "2" },
        );
        const line = text.stderr.split("\n").find((l) => l.startsWith("  count:"));
        strictEqual(
          line,
          `  count: ${table.tokens} tokens, ${table.distinctWords} distinct; through the sort engine: ${stats.count.wordRuns} sorted runs, 0 intermediate merges`,
        );
      }
    }
  });
});

Deno.test("spillway count --threads auto counts nearly unique tokens in count order (and --min-count) through the sort engine, equal to one thread", async () => {
  await withTemp(async (dir) => {
    const input = `${dir}/in.txt`;
    await writeNearlyUnique(input, true);
    const spill = `${dir}/spill`;
    await Deno.mkdir(spill);
    const common = ["count", "--tokenizer", "whitespace", "-S", "32m", "-T", spill];
    const cases = [["tsv", "1"], ["uniq", "1"], ["csv", "1"], ["tsv", "2"], ["uniq", "2", "word"]];
    for (const [format, minCount, order] of cases) {
      const options = ["--format", format!, "--min-count", minCount!, "--order", order ?? "count"];
      options.push(input);
      const one = await spillway([...common, "--threads", "1", "--stats=json", ...options]);
      strictEqual(one.code, 0, one.stderr);
      const auto = await spillway(
        [...common, "--threads", "auto", "--stats=json", ...options],
        undefined,
        { SPILLWAY_TEST_IDLE_CORES: "2" },
      );
      strictEqual(auto.code, 0, auto.stderr);
      const stats = JSON.parse(auto.stderr);
      const oneStats = JSON.parse(one.stderr);
      strictEqual(stats.count.sortRoute, true, format);
      strictEqual(stats.leaks.segments, 0);
      // The words printed, and the output's bytes (not the route's temp files).
      strictEqual(stats.count.distinctWords, oneStats.count.distinctWords, "distinct words");
      strictEqual(stats.output.bytes, auto.stdout.length, "output bytes");
      strictEqual(
        Buffer.compare(auto.stdout, one.stdout),
        0,
        `${format} ${minCount}: outputs differ`,
      );
    }
    deepStrictEqual([...Deno.readDirSync(spill)], [], "no leftover spill files");
  });
});

Deno.test("spillway count --threads auto: a token too long for the sort route counts on the table's path", async () => {
  await withTemp(async (dir) => {
    // Mostly unique tokens (the route's verdict), then one token of 12 MiB: the route's half of
    // -S 64m cannot hold its counted line, a quarter of the whole budget (the table's) can.
    const parts: string[] = [];
    let bytes = 0;
    for (let i = 0; bytes < 34 * 1024 * 1024; i += 1) {
      const word = `${(Math.imul(i, 2654435761) >>> 0).toString(36)}${i.toString(36)}\n`;
      parts.push(word);
      bytes += word.length;
    }
    parts.push("x".repeat(12 * 1024 * 1024) + "\n", "zz\nzz\n");
    const input = `${dir}/in.txt`;
    await Deno.writeTextFile(input, parts.join(""));
    const common = ["count", "--tokenizer", "whitespace", "--order", "word", "-S", "64m"];
    const one = await spillway([...common, "--threads", "1", input]);
    strictEqual(one.code, 0, one.stderr);
    const auto = await spillway(
      [...common, "--threads", "auto", "--stats=json", input],
      undefined,
      {
        SPILLWAY_TEST_IDLE_CORES: "2",
      },
    );
    strictEqual(auto.code, 0, auto.stderr);
    strictEqual(JSON.parse(auto.stderr).leaks.segments, 0);
    strictEqual(JSON.parse(auto.stderr).count.sortRoute, false);
    strictEqual(JSON.parse(auto.stderr).count.sortRouteFallback, true, "the stats say it gave up");
    strictEqual(Buffer.compare(auto.stdout, one.stdout), 0, "outputs differ");
  });
});
