import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { parse as parseYaml } from "yaml";
import { type CountFormat, CountFormatter, isValidUtf8 } from "../../src/count/mod.ts";
import { checkProperty } from "../_support/property.ts";

function render(format: CountFormat, pairs: Array<[Uint8Array, number]>): Uint8Array {
  const chunks: Uint8Array[] = [];
  const sink = {
    write(bytes: Uint8Array, offset: number, length: number) {
      chunks.push(bytes.slice(offset, offset + length));
      return undefined;
    },
  };
  const formatter = new CountFormatter(sink, format);
  formatter.begin();
  for (const [word, count] of pairs) formatter.word(word, 0, word.length, count);
  formatter.end();
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}

/** Reads JSON output back to exact bytes: word_base64 when present, else the UTF-8 of word. */
function readJson(out: Uint8Array): Array<[Uint8Array, number]> {
  const rows = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(out)) as Array<
    { word: string; word_base64?: string; count: number }
  >;
  return rows.map((row) => [
    row.word_base64 !== undefined
      ? fromBase64(row.word_base64)
      : new TextEncoder().encode(row.word),
    row.count,
  ]);
}

function readYaml(out: Uint8Array): Array<[Uint8Array, number]> {
  const rows = parseYaml(new TextDecoder("utf-8", { fatal: true }).decode(out)) as Array<
    { word: string | Uint8Array; count: number }
  >;
  return rows.map((row) => [
    typeof row.word === "string" ? new TextEncoder().encode(row.word) : new Uint8Array(row.word),
    row.count,
  ]);
}

/** RFC 4180 reader over bytes (test oracle). */
function readCsv(out: Uint8Array): Array<[Uint8Array, number]> {
  const rows: Array<[Uint8Array, number]> = [];
  let i = 0;
  const field = (): Uint8Array => {
    const bytes: number[] = [];
    if (out[i] === 0x22) {
      i += 1;
      for (;;) {
        if (out[i] === 0x22 && out[i + 1] === 0x22) {
          bytes.push(0x22);
          i += 2;
        } else if (out[i] === 0x22) {
          i += 1;
          break;
        } else bytes.push(out[i++]!);
      }
    } else {
      while (out[i] !== 0x2c && out[i] !== 10) bytes.push(out[i++]!);
    }
    return Uint8Array.from(bytes);
  };
  // Header.
  while (out[i] !== 10) i += 1;
  i += 1;
  while (i < out.length) {
    const word = field();
    i += 1; // comma
    const count = Number(new TextDecoder().decode(field()));
    i += 1; // newline
    rows.push([word, count]);
  }
  return rows;
}

const anyWord = fc.oneof(
  fc.uint8Array({ maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 8 }).map((text) => new TextEncoder().encode(text)),
  fc.constantFrom(
    new TextEncoder().encode('say "hi", \\ok'),
    new Uint8Array([0xff, 0xfe, 0x22]),
    new Uint8Array([0xc2, 0x85, 0xe2, 0x80, 0xa8, 0xef, 0xbb, 0xbf]), // NEL, U+2028, BOM
    new Uint8Array([0, 9, 10, 13, 0x7f]),
  ),
);

Deno.test("CountFormatter json, yaml and csv round-trip arbitrary bytes", () => {
  checkProperty(
    fc.property(
      fc.array(fc.tuple(anyWord, fc.nat({ max: 2 ** 53 - 1 })), { maxLength: 20 }),
      (pairs) => {
        deepStrictEqual(readJson(render("json", pairs)), pairs);
        deepStrictEqual(readYaml(render("yaml", pairs)), pairs);
        deepStrictEqual(readCsv(render("csv", pairs)), pairs);
      },
    ),
  );
});

Deno.test("CountFormatter writes tsv as raw bytes and an empty json/yaml list", () => {
  const out = render("tsv", [[new Uint8Array([0x61, 0xff]), 3], [new Uint8Array([]), 1]]);
  deepStrictEqual(out, new Uint8Array([0x61, 0xff, 9, 0x33, 10, 9, 0x31, 10]));
  deepStrictEqual(JSON.parse(new TextDecoder().decode(render("json", []))), []);
  deepStrictEqual(parseYaml(new TextDecoder().decode(render("yaml", []))), []);
  strictEqual(new TextDecoder().decode(render("csv", [])), "word,count\n");
  const invalid = new TextDecoder().decode(render("json", [[new Uint8Array([0x61, 0xff]), 2]]));
  strictEqual(invalid, '[\n{"word": "a\uFFFD", "word_base64": "Yf8=", "count": 2}\n]\n');
});

Deno.test("isValidUtf8 accepts well-formed text and rejects the rest", () => {
  const valid = new TextEncoder().encode("aé中😀");
  strictEqual(isValidUtf8(valid, 0, valid.length), true);
  strictEqual(isValidUtf8(valid, 0, valid.length - 1), false);
  strictEqual(isValidUtf8(new Uint8Array([0xed, 0xa0, 0x80]), 0, 3), false);
  strictEqual(isValidUtf8(new Uint8Array([0xc0, 0x80]), 0, 2), false);
});

Deno.test("CountFormatter hands a long tsv or uniq word to the sink as it lies (no copy)", async () => {
  const word = new Uint8Array(100_000).fill(0x61);
  for (const format of ["tsv", "uniq"] as const) {
    const parts: Uint8Array[] = [];
    let sawWord = false;
    const formatter = new CountFormatter({
      write(bytes, offset, length) {
        if (bytes === word) sawWord = true;
        parts.push(bytes.slice(offset, offset + length));
        return undefined;
      },
    }, format);
    await formatter.word(word, 0, word.length, 12);
    ok(sawWord, `${format}: the word's own bytes went to the sink`);
    const text = new TextDecoder().decode(new Uint8Array(parts.flatMap((part) => [...part])));
    const letters = "a".repeat(word.length);
    strictEqual(text, format === "tsv" ? `${letters}\t12\n` : `     12 ${letters}\n`);
  }
});

Deno.test("CountFormatter writes a long csv word from where it lies, quoted and its quotes doubled", async () => {
  const plain = new Uint8Array(100_000).fill(0x61);
  const quoted = plain.slice();
  quoted.set([0x22, 0x2c, 0x22], 50_000); // `","` inside: quoted, two quotes doubled
  quoted[99_999] = 0x22; // a quote at the very end
  for (const word of [plain, quoted]) {
    const parts: Uint8Array[] = [];
    let sawWord = false;
    const formatter = new CountFormatter({
      write(bytes, offset, length) {
        if (bytes === word) sawWord = true;
        parts.push(bytes.slice(offset, offset + length));
        return undefined;
      },
    }, "csv");
    await formatter.word(word, 0, word.length, 7);
    ok(sawWord, "the word's own bytes went to the sink");
    const text = new TextDecoder().decode(new Uint8Array(parts.flatMap((part) => [...part])));
    const field = new TextDecoder().decode(word);
    const expected = word === plain ? field : `"${field.replaceAll('"', '""')}"`;
    strictEqual(text, `${expected},7\n`);
  }
});
