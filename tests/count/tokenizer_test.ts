import { deepStrictEqual, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import {
  hashBytes,
  Tokenizer,
  type TokenizerKind,
  type TokenizerOptions,
  type TokenSink,
} from "../../src/count/mod.ts";
import { checkProperty } from "../_support/property.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Collects tokens as strings (test only); `limit` makes the sink refuse after N tokens. */
class Collector implements TokenSink {
  tokens: string[] = [];
  raw: Uint8Array[] = [];
  limit = Infinity;
  addToken(bytes: Uint8Array, byteOffset: number, byteLength: number): boolean {
    if (this.tokens.length >= this.limit) return false;
    const copy = bytes.slice(byteOffset, byteOffset + byteLength);
    this.raw.push(copy);
    this.tokens.push(decoder.decode(copy));
    return true;
  }
}

function tokens(input: string | Uint8Array, options: TokenizerOptions): string[] {
  const bytes = typeof input === "string" ? encoder.encode(input) : input;
  const sink = new Collector();
  const tokenizer = new Tokenizer(options);
  strictEqual(tokenizer.scan(bytes, 0, bytes.length, sink), bytes.length);
  strictEqual(tokenizer.tokenCount, sink.tokens.length);
  return sink.tokens;
}

Deno.test("Tokenizer letters splits on everything but ASCII letters and lower-cases", () => {
  deepStrictEqual(tokens("Don't stop-me NOW2x\r\n", { kind: "letters" }), [
    "don",
    "t",
    "stop",
    "me",
    "now",
    "x",
  ]);
  deepStrictEqual(tokens("Größe", { kind: "letters", caseMode: "preserve" }), ["Gr", "e"]);
});

Deno.test("Tokenizer flink follows Flink's lower case and \\W+ split", () => {
  deepStrictEqual(tokens("Nennt's du_2 Über\tALL", { kind: "flink" }), [
    "nennt",
    "s",
    "du_2",
    "ber",
    "all",
  ]);
  // U+212A KELVIN SIGN lower-cases to ASCII k in Java; U+0130 to "i" + U+0307 (splits).
  deepStrictEqual(tokens("\u212Aelvin \u0130x", { kind: "flink" }), ["kelvin", "i", "x"]);
});

Deno.test("Tokenizer whitespace keeps every non-blank byte and preserves case", () => {
  const bytes = new Uint8Array([0x41, 0x00, 0x62, 0x20, 0xff, 0x0b, 0x2c, 0x0d, 0x0a, 0x7f]);
  const sink = new Collector();
  new Tokenizer({ kind: "whitespace" }).scan(bytes, 0, bytes.length, sink);
  deepStrictEqual(sink.raw, [
    new Uint8Array([0x41, 0x00, 0x62]),
    new Uint8Array([0xff]),
    new Uint8Array([0x2c]),
    new Uint8Array([0x7f]),
  ]);
  deepStrictEqual(tokens("Ab cD", { kind: "whitespace", caseMode: "lower" }), ["ab", "cd"]);
});

Deno.test("Tokenizer words reads Unicode letters and digits and lower-cases them", () => {
  deepStrictEqual(tokens("ΣΟΦΙΑ Καλημέρα 𐐀𐐁 x٣_y İ", { kind: "words" }), [
    "σοφια",
    "καλημέρα",
    "𐐨𐐩",
    "x٣_y",
    "i\u0307",
  ]);
  deepStrictEqual(tokens("Hello, World", { kind: "words", caseMode: "preserve" }), [
    "Hello",
    "World",
  ]);
});

Deno.test("Tokenizer words separates at invalid UTF-8 and counts the bytes", () => {
  // ab <ff> cd <c3 (cut)> ef <ed a0 80 (surrogate)> gh <c0 80 (overlong)> é
  const bytes = new Uint8Array([
    0x61,
    0x62,
    0xff,
    0x63,
    0x64,
    0xc3,
    0x65,
    0x66,
    0xed,
    0xa0,
    0x80,
    0x67,
    0x68,
    0xc0,
    0x80,
    0xc3,
    0xa9,
  ]);
  const sink = new Collector();
  const tokenizer = new Tokenizer({ kind: "words" });
  tokenizer.scan(bytes, 0, bytes.length, sink);
  deepStrictEqual(sink.tokens, ["ab", "cd", "ef", "gh", "é"]);
  strictEqual(tokenizer.invalidBytes, 1 + 1 + 3 + 2);
});

Deno.test("Tokenizer resumes at the token a full sink refused", () => {
  const bytes = encoder.encode("one two three four");
  const tokenizer = new Tokenizer({ kind: "words" });
  const sink = new Collector();
  sink.limit = 2;
  const stop = tokenizer.scan(bytes, 0, bytes.length, sink);
  strictEqual(decoder.decode(bytes.subarray(stop)), "three four");
  sink.limit = Infinity;
  strictEqual(tokenizer.scan(bytes, stop, bytes.length, sink), bytes.length);
  deepStrictEqual(sink.tokens, ["one", "two", "three", "four"]);
  strictEqual(tokenizer.tokenCount, 4);
});

/** The in-test oracle for `words`: decode with U+FFFD, match runs, lower-case per code point. */
function wordsOracle(bytes: Uint8Array, lower: boolean): string[] {
  const text = decoder.decode(bytes);
  const found = text.match(/[\p{L}\p{N}_]+/gu) ?? [];
  if (!lower) return found;
  return found.map((token) => [...token].map((char) => char.toLowerCase()).join(""));
}

const textPieces = fc.oneof(
  fc.constantFrom(
    "a",
    "Z",
    "_",
    "7",
    " ",
    "\n",
    "\r\n",
    "\t",
    ",",
    "'",
    "é",
    "É",
    "ß",
    "Σ",
    "ж",
    "Ж",
    "٣",
    "中",
    "𐐀",
    "İ",
    "\u212A",
    "\u0301",
    "\u00A0",
    "\u2028",
    "😀",
  ),
  fc.string({ unit: "grapheme", maxLength: 3 }),
);
const byteInput = fc.array(
  fc.oneof(
    { weight: 5, arbitrary: textPieces.map((piece) => encoder.encode(piece)) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 3 }) },
  ),
  { maxLength: 40, size: "max" },
).map((parts) => {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
});

Deno.test("Tokenizer words matches the Unicode regex oracle on random bytes", () => {
  checkProperty(
    fc.property(byteInput, fc.boolean(), (bytes, lower) => {
      const caseMode = lower ? "lower" : "preserve";
      deepStrictEqual(tokens(bytes, { kind: "words", caseMode }), wordsOracle(bytes, lower));
    }),
    300,
  );
});

Deno.test("Tokenizer letters, flink and whitespace match regex oracles on random bytes", () => {
  checkProperty(
    fc.property(byteInput, (bytes) => {
      const latin1 = Array.from(bytes, (byte) => String.fromCharCode(byte)).join("");
      const letters = (latin1.match(/[A-Za-z]+/g) ?? []).map((token) => token.toLowerCase());
      deepStrictEqual(tokens(bytes, { kind: "letters" }), letters);
      const whitespace = latin1.split(/[ \t\n\v\f\r]+/).filter((token) => token !== "");
      const sink = new Collector();
      new Tokenizer({ kind: "whitespace" }).scan(bytes, 0, bytes.length, sink);
      deepStrictEqual(
        sink.raw.map((raw) => Array.from(raw, (byte) => String.fromCharCode(byte)).join("")),
        whitespace,
      );
      // Flink: Java lower case of the decoded text, then split on \W+ (ASCII classes).
      const javaLower = decoder.decode(bytes).toLowerCase();
      const flink = javaLower.split(/[^A-Za-z0-9_]+/).filter((token) => token !== "");
      deepStrictEqual(tokens(bytes, { kind: "flink" }), flink);
    }),
    300,
  );
});

Deno.test("Tokenizer hands over hashBytes of the emitted bytes (computed while scanning)", () => {
  checkProperty(
    fc.property(
      byteInput,
      fc.constantFrom<TokenizerKind>("words", "letters", "flink", "whitespace"),
      fc.boolean(),
      (bytes, kind, lower) => {
        if (kind === "flink" && !lower) return;
        const seen: Array<[number, number]> = [];
        const sink = {
          addToken(b: Uint8Array, o: number, n: number, hash: number) {
            seen.push([hash, hashBytes(b, o, n) | 0]);
            return true;
          },
        };
        new Tokenizer({ kind, caseMode: lower ? "lower" : "preserve" }).scan(
          bytes,
          0,
          bytes.length,
          sink,
        );
        for (const [given, expected] of seen) strictEqual(given, expected);
      },
    ),
    300,
  );
});
