import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { BytesOrder, checkSorted, FixedKeyOrder } from "../../src/sort/mod.ts";
import { openIoForTest, withIoTempDir } from "../_support/io_fixtures.ts";

async function check(
  text: string,
  options: { unique?: boolean; terminator?: number; recordBytes?: number; fixed?: boolean } = {},
): Promise<{ lineNumber: number; record: string } | undefined> {
  return await withIoTempDir(async (dir) => {
    const path = `${dir}/input`;
    await Deno.writeTextFile(path, text);
    const { memory, io } = await openIoForTest(dir, { budgetBytes: 64 * 4096 });
    try {
      const disorder = await checkSorted(path, {
        memory,
        io,
        order: options.fixed ? new FixedKeyOrder(0, 2) : new BytesOrder(),
        ...(options.unique === undefined ? {} : { unique: options.unique }),
        ...(options.terminator === undefined ? {} : { terminator: options.terminator }),
        ...(options.recordBytes === undefined ? {} : { recordBytes: options.recordBytes }),
      });
      return disorder === undefined
        ? undefined
        : { lineNumber: disorder.lineNumber, record: new TextDecoder().decode(disorder.record) };
    } finally {
      await io.close();
      memory.assertAllReleased();
    }
  });
}

Deno.test("checkSorted accepts sorted input, empty input and a missing last newline", async () => {
  strictEqual(await check("a\nb\nb\nc\n"), undefined);
  strictEqual(await check(""), undefined);
  strictEqual(await check("a\nb"), undefined);
});

Deno.test("checkSorted reports the first disorder with its line number and the line", async () => {
  deepStrictEqual(await check("a\nc\nb\nA\n"), { lineNumber: 3, record: "b" });
  deepStrictEqual(await check("b\na"), { lineNumber: 2, record: "a" });
});

Deno.test("checkSorted with -u treats equal neighbours as disorder", async () => {
  deepStrictEqual(await check("a\nb\nb\n", { unique: true }), { lineNumber: 3, record: "b" });
  strictEqual(await check("a\nb\nc\n", { unique: true }), undefined);
});

Deno.test("checkSorted reads NUL-terminated lines and fixed-size records", async () => {
  deepStrictEqual(await check("a\0c\0b\0", { terminator: 0 }), { lineNumber: 3, record: "b" });
  strictEqual(await check("aa1ab2ac3", { recordBytes: 3, fixed: true }), undefined);
  deepStrictEqual((await check("ab1aa2", { recordBytes: 3, fixed: true }))?.lineNumber, 2);
});

Deno.test("checkSorted finds disorder across read chunks (long input)", async () => {
  const lines = Array.from({ length: 30_000 }, (_, n) => String(n).padStart(6, "0"));
  strictEqual(await check(lines.join("\n") + "\n"), undefined);
  lines[25_000] = "000000";
  deepStrictEqual(await check(lines.join("\n") + "\n"), {
    lineNumber: 25_001,
    record: "000000",
  });
});
