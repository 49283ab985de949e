// deno-lint-ignore-file no-console
import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import fc from "fast-check";
import { UsageError } from "../../src/base/mod.ts";
import {
  parseFieldSeparator,
  parseSortOrder,
  type SortOrder,
  type SortOrderSpec,
} from "../../src/sort/sort_order.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Flags {
  keys?: string[];
  t?: number;
  r?: boolean;
  n?: boolean;
  f?: boolean;
  b?: boolean;
  s?: boolean;
  u?: boolean;
}

function specOf(flags: Flags): SortOrderSpec {
  const spec: SortOrderSpec = {
    keys: flags.keys ?? [],
    reverse: flags.r ?? false,
    numeric: flags.n ?? false,
    foldCase: flags.f ?? false,
    ignoreLeadingBlanks: flags.b ?? false,
    stable: flags.s ?? false,
    unique: flags.u ?? false,
  };
  if (flags.t !== undefined) spec.fieldSeparator = flags.t;
  return spec;
}

function gnuArgs(flags: Flags): string[] {
  const args: string[] = [];
  for (const name of ["r", "n", "f", "b", "s", "u"] as const) {
    if (flags[name]) args.push(`-${name}`);
  }
  if (flags.t !== undefined) args.push("-t", flags.t === 0 ? "\\0" : String.fromCharCode(flags.t));
  for (const key of flags.keys ?? []) args.push("-k", key);
  return args;
}

/** Sorts like `sort` would with this order: stable sort, then -u keeps the first of equals. */
function sortLines(order: SortOrder, lines: Uint8Array[]): Uint8Array[] {
  const sorted = lines.slice().sort((a, b) => order.compare(a, 0, a.length, b, 0, b.length));
  if (!order.spec.unique) return sorted;
  const kept: Uint8Array[] = [];
  for (const line of sorted) {
    const last = kept[kept.length - 1];
    if (last === undefined || order.compareKeys(last, 0, last.length, line, 0, line.length) !== 0) {
      kept.push(line);
    }
  }
  return kept;
}

function joinLines(lines: Uint8Array[]): Uint8Array {
  const total = lines.reduce((sum, line) => sum + line.length + 1, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const line of lines) {
    out.set(line, offset);
    offset += line.length;
    out[offset] = 0x0a;
    offset += 1;
  }
  return out;
}

async function gnuSort(flags: Flags, lines: Uint8Array[]): Promise<Uint8Array> {
  const child = new Deno.Command("sort", {
    args: gnuArgs(flags),
    env: { LC_ALL: "C" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(joinLines(lines));
  await writer.close();
  const output = await child.output();
  if (!output.success) {
    throw new Error(`sort ${gnuArgs(flags).join(" ")} failed: ${decoder.decode(output.stderr)}`);
  }
  return output.stdout;
}

function ours(flags: Flags, lines: Uint8Array[]): Uint8Array {
  return joinLines(sortLines(parseSortOrder(specOf(flags)), lines));
}

function show(bytes: Uint8Array): string {
  return JSON.stringify(decoder.decode(bytes));
}

async function assertLikeGnu(flags: Flags, text: string[]): Promise<void> {
  const lines = text.map((line) => encoder.encode(line));
  const expected = await gnuSort(flags, lines);
  const actual = ours(flags, lines);
  strictEqual(show(actual), show(expected), `flags ${gnuArgs(flags).join(" ")}`);
  deepStrictEqual(actual, expected);
}

function cmp(order: SortOrder, a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  return Math.sign(order.compare(x, 0, x.length, y, 0, y.length));
}

Deno.test("SortOrder compares plain bytes and reverses with -r", () => {
  const plain = parseSortOrder(specOf({}));
  strictEqual(plain.isPlainBytes, true);
  strictEqual(plain.reverse, false);
  strictEqual(cmp(plain, "a", "b"), -1);
  strictEqual(cmp(plain, "ab", "a"), 1);
  strictEqual(cmp(plain, "a", "a"), 0);
  strictEqual(cmp(plain, "\u00e9", "z"), 1, "bytes >= 0x80 sort after ASCII");
  const reversed = parseSortOrder(specOf({ r: true }));
  strictEqual(reversed.isPlainBytes, true);
  strictEqual(reversed.reverse, true);
  strictEqual(cmp(reversed, "a", "b"), 1);
  strictEqual(parseSortOrder(specOf({ keys: ["1"] })).isPlainBytes, true);
  strictEqual(parseSortOrder(specOf({ keys: ["1"], t: 0x2c })).isPlainBytes, true);
  strictEqual(parseSortOrder(specOf({ keys: ["1,1"] })).isPlainBytes, false);
  strictEqual(parseSortOrder(specOf({ f: true })).isPlainBytes, false);
});

Deno.test("SortOrder -n compares numbers like strnumcmp", () => {
  const order = parseSortOrder(specOf({ n: true, s: true }));
  strictEqual(cmp(order, "10", "9"), 1);
  strictEqual(cmp(order, "-10", "-9"), -1);
  strictEqual(cmp(order, "-0", "0"), 0);
  strictEqual(cmp(order, "-0.000", ".0"), 0);
  strictEqual(cmp(order, "abc", "0"), 0, "a non-number is zero");
  strictEqual(cmp(order, "  007", "7"), 0, "leading blanks and zeros do not count");
  strictEqual(cmp(order, "1.50", "1.5"), 0);
  strictEqual(cmp(order, "1.05", "1.5"), -1);
  strictEqual(cmp(order, "-.5", "0"), -1);
  strictEqual(cmp(order, "1,000", "2"), -1, "no thousands separator in the C locale");
  strictEqual(cmp(order, "+5", "1"), -1, "a plus sign is not a number");
  strictEqual(cmp(order, "123456789012345678901234567890", "123456789012345678901234567891"), -1);
});

Deno.test("SortOrder finds fields like GNU begfield and limfield", () => {
  const byField2 = parseSortOrder(specOf({ keys: ["2,2"], s: true }));
  strictEqual(cmp(byField2, "x  b", "y a"), -1, "leading blanks belong to the field without b");
  const byField2b = parseSortOrder(specOf({ keys: ["2b,2"], s: true }));
  strictEqual(cmp(byField2b, "x  b", "y a"), 1);
  const tab = parseSortOrder(specOf({ keys: ["2,2"], t: 0x3a, s: true }));
  strictEqual(cmp(tab, "a:2:z", "b:2:a"), 0);
  strictEqual(cmp(tab, "a:1", "b"), 1, "a missing field is empty");
  const chars = parseSortOrder(specOf({ keys: ["1.2,1.3"], s: true }));
  strictEqual(cmp(chars, "xab9", "yab1"), 0);
  strictEqual(cmp(chars, "xac", "yab"), 1);
});

Deno.test("SortOrder keys inherit global options only without options of their own", () => {
  const inherits = parseSortOrder(specOf({ keys: ["1,1"], n: true, s: true }));
  strictEqual(cmp(inherits, "10", "9"), 1);
  const ownReverse = parseSortOrder(specOf({ keys: ["1,1r"], n: true, s: true }));
  strictEqual(cmp(ownReverse, "10", "9"), 1, "r counts as an own option: bytes, reversed");
  const ownFold = parseSortOrder(specOf({ keys: ["1,1f"], r: true, s: true }));
  strictEqual(cmp(ownFold, "a", "B"), -1, "a key with f does not inherit -r");
});

Deno.test("SortOrder falls back to the whole record unless -s or -u", () => {
  const last = parseSortOrder(specOf({ keys: ["2,2"] }));
  strictEqual(cmp(last, "b x", "a x"), 1);
  const stable = parseSortOrder(specOf({ keys: ["2,2"], s: true }));
  strictEqual(cmp(stable, "b x", "a x"), 0);
  const unique = parseSortOrder(specOf({ keys: ["2,2"], u: true }));
  strictEqual(cmp(unique, "b x", "a x"), 0);
  const reversedLast = parseSortOrder(specOf({ keys: ["2,2f"], r: true }));
  strictEqual(cmp(reversedLast, "b x", "a X"), -1, "-r reverses the last resort");
});

Deno.test("parseSortOrder rejects bad and unsupported key definitions", () => {
  const bad = (key: string, pattern: RegExp) =>
    throws(() => parseSortOrder(specOf({ keys: [key] })), (error: unknown) => {
      strictEqual(error instanceof UsageError, true);
      strictEqual(pattern.test((error as Error).message), true, (error as Error).message);
      return true;
    });
  bad("0", /field number is zero/);
  bad("1.0", /character offset is zero/);
  bad("", /invalid number at field start/);
  bad("a", /invalid number at field start/);
  bad("1,", /invalid number after ','/);
  bad("1,0", /field number is zero/);
  bad("1x", /stray character 'x'/);
  bad("1,2.", /invalid number after '.'/);
  bad("1,1dn", /incompatible/);
  throws(() => parseSortOrder({ ...specOf({}), fieldSeparator: 256 }), UsageError);
});

Deno.test("parseFieldSeparator accepts one byte or \\0", () => {
  strictEqual(parseFieldSeparator(":"), 0x3a);
  strictEqual(parseFieldSeparator("\\0"), 0);
  throws(() => parseFieldSeparator(""), UsageError);
  throws(() => parseFieldSeparator("ab"), UsageError);
  throws(() => parseFieldSeparator("\u00e9"), UsageError);
});

Deno.test("SortOrder matches GNU sort on hand-written cases", async () => {
  const text = [
    "b 10 x",
    "a  9 Y",
    "B 10 x",
    "  c -3.5 z",
    "c\t-3.50\tz",
    "a 9 y",
    "",
    " ",
    "d,1,e",
    "d,,e",
    "A 0010 q",
    "a -0 q",
    "\u00e9 1 \u00e8",
    "a\u0000b 2",
    "x.y!z 3",
  ];
  const cases: Flags[] = [
    {},
    { r: true },
    { f: true },
    { b: true },
    { n: true },
    { n: true, r: true },
    { u: true },
    { f: true, u: true },
    { keys: ["2,2n"] },
    { keys: ["2,2n", "1,1"] },
    { keys: ["2,2nr", "1,1f"], s: true },
    { keys: ["2"], b: true },
    { keys: ["2b,2"] },
    { keys: ["2.2,2.3"] },
    { keys: ["2.2b,2.3b"] },
    { keys: ["3d"] },
    { keys: ["1df"] },
    { keys: ["2,2"], t: 0x2c },
    { keys: ["2,2"], t: 0x20 },
    { keys: ["1.2"], t: 0x2c, u: true },
    { keys: ["3,3", "1,1r"], u: true },
    { keys: ["2,1"] },
    { keys: ["1,1.0"] },
    { keys: ["2n"], t: 0 },
  ];
  for (const flags of cases) await assertLikeGnu(flags, text);
});

// ---- property tests against GNU sort ----

const alphabet = [
  ..." \t,:.-0123456789abcABCxyzXYZ!_\u0000".split("").map((c) => c.charCodeAt(0)),
  0x80,
  0xc3,
  0xe9,
  0xff,
];
const separators = [undefined, 0x2c, 0x3a, 0x20, 0x09, 0x00, 0x2e];

const lineArbitrary = fc.array(fc.constantFrom(...alphabet), { maxLength: 14 }).map((bytes) =>
  Uint8Array.from(bytes)
);

const keyArbitrary = fc.record({
  startField: fc.integer({ min: 1, max: 4 }),
  startChar: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  startOptions: fc.subarray(["b", "d", "f", "n", "r"]),
  end: fc.option(
    fc.record({
      field: fc.integer({ min: 1, max: 4 }),
      char: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
      options: fc.subarray(["b", "d", "f", "n", "r"]),
    }),
    { nil: undefined },
  ),
}).map((key) => {
  let text = String(key.startField);
  if (key.startChar !== undefined) text += `.${key.startChar}`;
  const options = new Set(key.startOptions);
  text += key.startOptions.join("");
  if (key.end !== undefined) {
    text += `,${key.end.field}`;
    if (key.end.char !== undefined) text += `.${key.end.char}`;
    text += key.end.options.join("");
    for (const option of key.end.options) options.add(option);
  }
  return { text, incompatible: options.has("n") && options.has("d") };
});

const flagsArbitrary = fc.record({
  keys: fc.array(keyArbitrary, { maxLength: 3 }),
  t: fc.constantFrom(...separators),
  r: fc.boolean(),
  n: fc.boolean(),
  f: fc.boolean(),
  b: fc.boolean(),
  s: fc.boolean(),
  u: fc.boolean(),
}).filter((flags) => !flags.keys.some((key) => key.incompatible)).map((flags) => {
  const result: Flags = {
    keys: flags.keys.map((key) => key.text),
    r: flags.r,
    n: flags.n,
    f: flags.f,
    b: flags.b,
    s: flags.s,
    u: flags.u,
  };
  if (flags.t !== undefined) result.t = flags.t;
  return result;
});

function seedFromEnv(): number {
  const text = Deno.env.get("SORT_ORDER_SEED");
  return text === undefined ? Date.now() % 2_147_483_647 : Number(text);
}

Deno.test("SortOrder matches LC_ALL=C sort on random lines and keys", async () => {
  const seed = seedFromEnv();
  console.log(`sort_order property seed: ${seed} (rerun with SORT_ORDER_SEED=${seed})`);
  await fc.assert(
    fc.asyncProperty(
      flagsArbitrary,
      fc.array(lineArbitrary, { minLength: 0, maxLength: 30 }),
      async (flags, lines) => {
        const expected = await gnuSort(flags, lines);
        const actual = ours(flags, lines);
        if (show(actual) !== show(expected)) {
          throw new Error(
            `sort ${gnuArgs(flags).join(" ")}\n  ours ${show(actual)}\n  gnu  ${show(expected)}`,
          );
        }
      },
    ),
    { seed, numRuns: Number(Deno.env.get("SORT_ORDER_RUNS") ?? 200) },
  );
});

function compareWords(a: Uint32Array, b: Uint32Array): number {
  for (let index = 0; index < a.length; index += 1) {
    if (a[index] !== b[index]) return a[index]! < b[index]! ? -1 : 1;
  }
  return 0;
}

Deno.test("SortOrder.writePrefix never contradicts compare", () => {
  const seed = seedFromEnv();
  console.log(`writePrefix property seed: ${seed} (rerun with SORT_ORDER_SEED=${seed})`);
  fc.assert(
    fc.property(
      flagsArbitrary,
      fc.array(lineArbitrary, { minLength: 2, maxLength: 12 }),
      fc.integer({ min: 1, max: 4 }),
      (flags, lines, words) => {
        const order = parseSortOrder(specOf(flags));
        const prefixes = lines.map((line) => {
          const out = new Uint32Array(words + 2).fill(0xdead);
          order.writePrefix(line, 0, line.length, out, 1, words);
          strictEqual(out[0], 0xdead, "writes nothing before outIndex");
          strictEqual(out[words + 1], 0xdead, "writes nothing past the words");
          return out.subarray(1, words + 1);
        });
        for (let i = 0; i < lines.length; i += 1) {
          for (let j = 0; j < lines.length; j += 1) {
            const byPrefix = compareWords(prefixes[i]!, prefixes[j]!);
            if (byPrefix === 0) continue;
            const a = lines[i]!;
            const b = lines[j]!;
            const byCompare = Math.sign(order.compare(a, 0, a.length, b, 0, b.length));
            strictEqual(
              byCompare,
              byPrefix,
              `${gnuArgs(flags).join(" ")}: ${show(a)} vs ${show(b)}`,
            );
          }
        }
      },
    ),
    { seed, numRuns: 2000 },
  );
});

Deno.test("SortOrder.writePrefix orders -n keys and plain lines", () => {
  const numeric = parseSortOrder(specOf({ n: true }));
  const values = ["-100", "-9.5", "-9.05", "-9", "-0", "abc", "0.001", "1", "1.5", "10", "999"];
  const prefixOf = (text: string) => {
    const bytes = encoder.encode(text);
    const out = new Uint32Array(3);
    numeric.writePrefix(bytes, 0, bytes.length, out, 0, 3);
    return out;
  };
  for (let index = 1; index < values.length; index += 1) {
    const previous = prefixOf(values[index - 1]!);
    const current = prefixOf(values[index]!);
    const expected = values[index - 1] === "-0" ? 0 : -1;
    strictEqual(
      compareWords(previous, current),
      expected,
      `${values[index - 1]} < ${values[index]}`,
    );
  }
  const plain = parseSortOrder(specOf({}));
  const out = new Uint32Array(2);
  const bytes = encoder.encode("abcde");
  plain.writePrefix(bytes, 0, bytes.length, out, 0, 2);
  deepStrictEqual([...out], [0x61626364, 0x65000000]);
});

Deno.test("SortOrder treats newline as a blank like GNU sort -z", async () => {
  const records = ["b\n2 x", "a 10\ny", "\n\n3", "c\t1", "a\n1"].map((text) =>
    encoder.encode(text)
  );
  for (const flags of [{ keys: ["2,2n"] }, { keys: ["2b,2"] }, { n: true }, { b: true }]) {
    const input = new Uint8Array(records.reduce((sum, record) => sum + record.length + 1, 0));
    let offset = 0;
    for (const record of records) {
      input.set(record, offset);
      offset += record.length + 1; // NUL terminator (already zero)
    }
    const child = new Deno.Command("sort", {
      args: ["-z", ...gnuArgs(flags)],
      env: { LC_ALL: "C" },
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(input);
    await writer.close();
    const expected = decoder.decode((await child.output()).stdout).split("\0").slice(0, -1);
    const actual = sortLines(parseSortOrder(specOf(flags)), records).map((r) => decoder.decode(r));
    deepStrictEqual(actual, expected, gnuArgs(flags).join(" "));
  }
});

Deno.test("SortOrder rebuilt from a structured clone of its spec orders the same", () => {
  const spec = specOf({ keys: ["2,2nr", "1.2,1f"], t: 0x2c, b: true, u: true });
  const original = parseSortOrder(spec);
  const rebuilt = parseSortOrder(structuredClone(original.spec));
  const lines = ["a,1", "B,10", "b,10", "c,-2", "a,x"].map((text) => encoder.encode(text));
  for (const a of lines) {
    for (const b of lines) {
      strictEqual(
        rebuilt.compare(a, 0, a.length, b, 0, b.length),
        original.compare(a, 0, a.length, b, 0, b.length),
      );
      strictEqual(
        rebuilt.compareKeys(a, 0, a.length, b, 0, b.length),
        original.compareKeys(a, 0, a.length, b, 0, b.length),
      );
    }
  }
});
