// deno-lint-ignore-file no-console
/**
 * Normalized keys: memcmp of two keys must order like SortOrder.compare (the oracle), and for
 * -s/-u keys must be equal exactly when SortOrder.compareKeys says so. Random records, random
 * key specs (seeded, seed printed); examples against `LC_ALL=C sort`.
 */
import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { UsageError } from "../../src/base/mod.ts";
import { compareBytes } from "../../src/memory/mod.ts";
import { NormalizedKeyEncoder, normalizedKeySupport } from "../../src/sort/normalized_key.ts";
import { parseSortOrder, type SortOrder, type SortOrderSpec } from "../../src/sort/sort_order.ts";
import { gnuSkipReason, gnuSort, gnuSortAvailable, makeRandom } from "./_gnu.ts";
import { plainSpec } from "./_fixtures.ts";

const encoder = new TextEncoder();

/** Bytes as a string one char per byte (exact, unlike UTF-8 decoding of invalid bytes). */
function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

const PIECES = [
  "a",
  "B",
  "b",
  "z",
  "Z",
  " ",
  "  ",
  "\t",
  ",",
  ":",
  "-",
  ".",
  "0",
  "00",
  "1",
  "9",
  "10",
  "-0",
  "-1.50",
  "1.5",
  "0.0",
  ".5",
  "-.",
  "007",
  "1K",
  "2k",
  "1M",
  "3G",
  "-2T",
  "jan",
  "FEB",
  " dec",
  "mayo",
  "\x00",
  "\x7f",
  "\x80",
  "\xff",
  "\x01",
  "é",
  "12345678901234567890",
];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

/** A random record: pieces of the table above, sometimes raw random bytes. */
function randomRecord(random: () => number): Uint8Array {
  const pieceCount = Math.floor(random() * 7);
  const bytes: number[] = [];
  for (let index = 0; index < pieceCount; index += 1) {
    if (random() < 0.1) {
      bytes.push(Math.floor(random() * 256));
    } else {
      const piece = pick(random, PIECES);
      // Latin-1 code units as bytes (so "\x80" is one byte 0x80), é as UTF-8.
      if (piece === "é") bytes.push(0xc3, 0xa9);
      else for (let c = 0; c < piece.length; c += 1) bytes.push(piece.charCodeAt(c));
    }
  }
  return new Uint8Array(bytes);
}

const KEY_LETTERS = ["b", "d", "f", "i", "n", "h", "M", "r"];

function randomKeyDef(random: () => number): string {
  let text = `${1 + Math.floor(random() * 3)}`;
  if (random() < 0.3) text += `.${1 + Math.floor(random() * 3)}`;
  const letters = (): string => {
    let out = "";
    for (const letter of KEY_LETTERS) if (random() < 0.15) out += letter;
    return out;
  };
  text += letters();
  if (random() < 0.7) {
    text += `,${1 + Math.floor(random() * 3)}`;
    if (random() < 0.3) text += `.${Math.floor(random() * 4)}`;
    text += letters();
  }
  return text;
}

function randomSpec(random: () => number): SortOrderSpec {
  const spec = plainSpec();
  const keyCount = random() < 0.2 ? 0 : 1 + Math.floor(random() * 3);
  for (let index = 0; index < keyCount; index += 1) spec.keys.push(randomKeyDef(random));
  if (random() < 0.4) spec.fieldSeparator = pick(random, [0x2c, 0x3a, 0x20, 0x00, 0x2d]);
  spec.reverse = random() < 0.3;
  spec.numeric = random() < 0.15;
  spec.foldCase = random() < 0.2;
  spec.ignoreLeadingBlanks = random() < 0.2;
  spec.stable = random() < 0.2;
  spec.unique = random() < 0.2;
  if (!spec.numeric && random() < 0.1) spec.humanNumeric = true;
  if (!spec.numeric && !spec.humanNumeric && random() < 0.1) spec.month = true;
  if (random() < 0.1) spec.dictionary = true;
  if (random() < 0.1) spec.ignoreNonprinting = true;
  return spec;
}

function keyOf(encoder: NormalizedKeyEncoder, record: Uint8Array): Uint8Array {
  const bound = encoder.keyBytesBound(record.length);
  const out = new Uint8Array(bound);
  const length = encoder.encode(record, 0, record.length, out, 0, bound);
  if (length > bound) throw new Error(`key of ${length} bytes exceeds bound ${bound}`);
  // A too small range gets the key's true prefix and its full length.
  if (length > 0) {
    const cut = Math.floor(length / 2);
    const partial = new Uint8Array(cut + 3).fill(0xaa);
    strictEqual(encoder.encode(record, 0, record.length, partial, 1, 1 + cut), length);
    deepStrictEqual(partial.subarray(1, 1 + cut), out.subarray(0, cut));
    strictEqual(partial[0], 0xaa);
    strictEqual(partial[1 + cut], 0xaa);
  }
  return out.subarray(0, length);
}

function show(bytes: Uint8Array): string {
  return JSON.stringify(String.fromCharCode(...bytes));
}

Deno.test("normalized keys order like SortOrder.compare for random records and key specs", () => {
  const seed = Number(Deno.env.get("NORMALIZED_KEY_SEED") ?? Date.now() % 1_000_000);
  console.log(`normalized key seed: ${seed} (rerun with NORMALIZED_KEY_SEED=${seed})`);
  const random = makeRandom(seed);
  let specsTested = 0;
  for (let round = 0; round < 400; round += 1) {
    const spec = randomSpec(random);
    let order: SortOrder;
    try {
      order = parseSortOrder(spec);
    } catch (error) {
      if (error instanceof UsageError) continue; // incompatible options (e.g. -n with -M)
      throw error;
    }
    specsTested += 1;
    const keys = new NormalizedKeyEncoder(spec);
    const records: Uint8Array[] = [];
    for (let index = 0; index < 24; index += 1) records.push(randomRecord(random));
    // Equal records and near-equal ones are the interesting ties.
    records.push(records[0]!.slice(), new Uint8Array(0));
    const normalized = records.map((record) => keyOf(keys, record));
    for (let i = 0; i < records.length; i += 1) {
      for (let j = 0; j < records.length; j += 1) {
        const a = records[i]!;
        const b = records[j]!;
        const expected = Math.sign(order.compare(a, 0, a.length, b, 0, b.length));
        const keyA = normalized[i]!;
        const keyB = normalized[j]!;
        const actual = Math.sign(compareBytes(keyA, 0, keyA.length, keyB, 0, keyB.length));
        const what = `spec ${JSON.stringify(spec)} records ${show(a)} ${show(b)} (seed ${seed})`;
        if (actual !== expected) strictEqual(actual, expected, what);
        if (spec.unique || spec.stable) {
          const keysEqual = order.compareKeys(a, 0, a.length, b, 0, b.length) === 0;
          strictEqual(actual === 0, keysEqual, `equality: ${what}`);
        }
      }
    }
  }
  strictEqual(specsTested > 100, true, `only ${specsTested} specs were compatible`);
});

Deno.test("normalized -n keys order numbers of any length", () => {
  const spec = plainSpec([], { numeric: true, stable: true });
  const keys = new NormalizedKeyEncoder(spec);
  const order = parseSortOrder(spec);
  const texts = [
    "",
    "-",
    "0",
    "-0",
    "0.000",
    "1",
    "-1",
    "9".repeat(254),
    "1" + "0".repeat(254),
    "1" + "0".repeat(255),
    "-" + "9".repeat(300),
    "-" + "9".repeat(301),
    "5." + "0".repeat(300) + "1",
    "5." + "0".repeat(301) + "1",
    "\x80" + "1\x802",
    "12",
    " \t-12.5x",
  ];
  const records = texts.map((text) => Uint8Array.from(text, (c) => c.charCodeAt(0)));
  for (const a of records) {
    for (const b of records) {
      const keyA = keyOf(keys, a);
      const keyB = keyOf(keys, b);
      strictEqual(
        Math.sign(compareBytes(keyA, 0, keyA.length, keyB, 0, keyB.length)),
        Math.sign(order.compare(a, 0, a.length, b, 0, b.length)),
        `${show(a)} vs ${show(b)}`,
      );
    }
  }
});

Deno.test("normalizedKeySupport names the options that need the comparator", () => {
  strictEqual(normalizedKeySupport(plainSpec()).normalizable, true);
  strictEqual(normalizedKeySupport({ ...plainSpec(), keys: ["2,2nr", "1f"] }).normalizable, true);
  deepStrictEqual(normalizedKeySupport({ ...plainSpec(), generalNumeric: true }), {
    normalizable: false,
    reason: "-g",
  });
  deepStrictEqual(normalizedKeySupport({ ...plainSpec(), keys: ["1,1V", "2R"] }), {
    normalizable: false,
    reason: "-V -R",
  });
  throws(
    () => new NormalizedKeyEncoder({ ...plainSpec(), generalNumeric: true }),
    { name: "RangeError", message: "Cannot normalize sort keys with -g: use the comparator" },
  );
});

/** Sorts lines by their normalized keys (stable: input order on equal keys), -u keeps firsts. */
function sortByKeys(spec: SortOrderSpec, lines: Uint8Array[]): string {
  const keys = new NormalizedKeyEncoder(spec);
  const keyed = lines.map((line, index) => ({ key: keyOf(keys, line), line, index }));
  keyed.sort((a, b) =>
    compareBytes(a.key, 0, a.key.length, b.key, 0, b.key.length) || a.index - b.index
  );
  const kept = spec.unique
    ? keyed.filter((entry, index) => {
      const previous = keyed[index - 1];
      return previous === undefined ||
        compareBytes(previous.key, 0, previous.key.length, entry.key, 0, entry.key.length) !== 0;
    })
    : keyed;
  return kept.map((entry) => latin1(entry.line) + "\n").join("");
}

const GNU_EXAMPLES: Array<{ args: string[]; spec: Partial<SortOrderSpec> }> = [
  { args: ["-k2,2n", "-t", ","], spec: { keys: ["2,2n"], fieldSeparator: 0x2c } },
  { args: ["-k2,2nr", "-k1,1", "-t", ","], spec: { keys: ["2,2nr", "1,1"], fieldSeparator: 0x2c } },
  { args: ["-n", "-r"], spec: { numeric: true, reverse: true } },
  { args: ["-f", "-u"], spec: { foldCase: true, unique: true } },
  { args: ["-b", "-k2"], spec: { keys: ["2"], ignoreLeadingBlanks: true } },
  { args: ["-k1.2,1.3", "-s"], spec: { keys: ["1.2,1.3"], stable: true } },
  { args: ["-h", "-u"], spec: { humanNumeric: true, unique: true } },
  { args: ["-M", "-r"], spec: { month: true, reverse: true } },
  { args: ["-d", "-f", "-k1,1"], spec: { keys: ["1,1"], dictionary: true, foldCase: true } },
  { args: ["-k2n", "-u", "-t", ":"], spec: { keys: ["2n"], unique: true, fieldSeparator: 0x3a } },
  { args: ["-r"], spec: { reverse: true } },
];

Deno.test("normalized keys sort like LC_ALL=C sort" + gnuSkipReason, {
  ignore: !gnuSortAvailable,
}, async () => {
  const seed = Number(Deno.env.get("NORMALIZED_KEY_SEED") ?? Date.now() % 1_000_000);
  console.log(`normalized key GNU seed: ${seed}`);
  const random = makeRandom(seed);
  const file = await Deno.makeTempFile({ prefix: "spillway-normalized-" });
  try {
    // `-h` follows newer GNU sort, which knows the SI prefixes R and Q; 9.1 does not (its
    // "1R" is 1 without a suffix). Against such a GNU, random R and Q bytes become X.
    await Deno.writeTextFile(file, "1R\n2K\n");
    const gnuKnowsRQ = new TextDecoder().decode((await gnuSort(["-h", file])).stdout) ===
      "2K\n1R\n";
    for (const example of GNU_EXAMPLES) {
      const lines: Uint8Array[] = [];
      const unknownSuffix = example.spec.humanNumeric === true && !gnuKnowsRQ;
      for (let index = 0; index < 60; index += 1) {
        const record = randomRecord(random).filter((byte) => byte !== 0x0a);
        if (unknownSuffix) {
          for (let at = 0; at < record.length; at += 1) {
            if (record[at] === 0x52 || record[at] === 0x51) record[at] = 0x58;
          }
        }
        lines.push(record);
      }
      const input = new Uint8Array(lines.reduce((sum, line) => sum + line.length + 1, 0));
      let position = 0;
      for (const line of lines) {
        input.set(line, position);
        input[line.length + position] = 0x0a;
        position += line.length + 1;
      }
      await Deno.writeFile(file, input);
      const gnu = await gnuSort([...example.args, file]);
      strictEqual(gnu.code, 0, gnu.stderr);
      const spec = { ...plainSpec(), ...example.spec };
      strictEqual(
        sortByKeys(spec, lines),
        latin1(gnu.stdout),
        `sort ${example.args.join(" ")} (seed ${seed})`,
      );
    }
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("normalized key of a plain order is the record itself", () => {
  const keys = new NormalizedKeyEncoder(plainSpec());
  const record = encoder.encode("hello\x00world");
  deepStrictEqual(keyOf(keys, record), record);
  strictEqual(keys.endsWithRecord, true);
});
