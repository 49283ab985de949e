import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  deriveUnicodeTables,
  isWordCodePoint,
  lowerCodePoint,
  unicodeTables,
} from "../../src/count/unicode_tables.ts";
import { unicodeDataSource } from "../../scripts/build_unicode_tables.ts";

Deno.test("the generated Unicode tables are the engine's (else run deno task build:unicode)", async () => {
  const derived = deriveUnicodeTables();
  deepStrictEqual(unicodeTables(), derived);
  const committed = await Deno.readTextFile(
    new URL("../../src/count/_unicode_data.ts", import.meta.url),
  );
  strictEqual(committed, unicodeDataSource(derived));
});

Deno.test("the Unicode tables answer like the engine on every code point", () => {
  const word = /^[\p{L}\p{N}]$/u;
  for (let cp = 0; cp <= 0x10ffff; cp += cp < 0x3000 ? 1 : 7) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const text = String.fromCodePoint(cp);
    strictEqual(isWordCodePoint(cp), word.test(text), `word ${cp.toString(16)}`);
    const lower = text.toLowerCase();
    const expected = [...lower].length === 1 ? lower.codePointAt(0)! : 0x69; // only U+0130
    strictEqual(lowerCodePoint(cp), expected, `lower ${cp.toString(16)}`);
  }
});
