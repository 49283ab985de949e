/**
 * Fixed-size binary records (`--record-size 100 --key-bytes 10`, the gensort layout), sorted
 * in-process through runCli against an in-memory stable sort; `-c` on the result.
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { compareBytes } from "../../src/memory/mod.ts";
import { makeRandom, makeWorkDir, spillwaySort } from "../sort/_gnu.ts";

const RECORD_BYTES = 100;
const KEY_BYTES = 10;

function gensortLike(recordCount: number, seed: number): Uint8Array {
  const random = makeRandom(seed);
  const data = new Uint8Array(recordCount * RECORD_BYTES);
  for (let r = 0; r < recordCount; r += 1) {
    const base = r * RECORD_BYTES;
    // Keys from a small alphabet that includes newline and NUL, so many keys tie.
    for (let k = 0; k < KEY_BYTES; k += 1) {
      data[base + k] = [0, 10, 0x41, 0xff][Math.floor(random() * 4)]!;
    }
    // Payload: the record number in ASCII, so ties must keep input order.
    const label = new TextEncoder().encode(String(r).padStart(12, "0"));
    data.set(label, base + KEY_BYTES + 2);
    data[base + RECORD_BYTES - 2] = 13;
    data[base + RECORD_BYTES - 1] = 10;
  }
  return data;
}

function oracle(data: Uint8Array, keyOffset: number, keyBytes: number): Uint8Array {
  const count = data.length / RECORD_BYTES;
  const order = Array.from({ length: count }, (_, i) => i);
  order.sort((a, b) =>
    compareBytes(
      data,
      a * RECORD_BYTES + keyOffset,
      keyBytes,
      data,
      b * RECORD_BYTES + keyOffset,
      keyBytes,
    ) || a - b
  );
  const out = new Uint8Array(data.length);
  order.forEach((source, target) =>
    out.set(
      data.subarray(source * RECORD_BYTES, (source + 1) * RECORD_BYTES),
      target * RECORD_BYTES,
    )
  );
  return out;
}

Deno.test("sort --record-size 100 --key-bytes 10 sorts gensort-like records stably", async () => {
  const work = await makeWorkDir();
  try {
    const data = gensortLike(3000, 5);
    await Deno.writeFile(work.path("in.bin"), data);
    for (
      const [budget, keyArgs, keyOffset, keyBytes] of [
        [["-S", "64k", "--segment-size", "4k", "--fan-in", "2"], ["--key-bytes", "10"], 0, 10],
        [["-S", "1m"], ["--key-bytes", "10"], 0, 10],
        [["-S", "128k", "--segment-size", "4k"], ["--key-offset", "3", "--key-bytes", "4"], 3, 4],
      ] as Array<[string[], string[], number, number]>
    ) {
      const code = await spillwaySort([
        "--record-size",
        "100",
        ...keyArgs,
        ...budget,
        "-T",
        work.spill,
        "-o",
        work.path("out.bin"),
        work.path("in.bin"),
      ]);
      strictEqual(code, 0);
      const actual = await Deno.readFile(work.path("out.bin"));
      strictEqual(actual.length, data.length);
      strictEqual(Buffer.compare(actual, oracle(data, keyOffset, keyBytes)), 0, budget.join(" "));
      const check = await spillwaySort([
        "-c",
        "--record-size",
        "100",
        ...keyArgs,
        work.path("out.bin"),
      ]);
      strictEqual(check, 0);
    }
    strictEqual(
      await spillwaySort(["-C", "--record-size", "100", "--key-bytes", "10", work.path("in.bin")]),
      1,
    );
    deepStrictEqual(work.spillLeftovers(), []);
  } finally {
    await work.remove();
  }
});

Deno.test("sort --record-size rejects a partial last record and line options", async () => {
  const work = await makeWorkDir();
  try {
    await Deno.writeFile(work.path("odd.bin"), new Uint8Array(250));
    strictEqual(
      await spillwaySort(["--record-size", "100", "-T", work.spill, work.path("odd.bin")]),
      2,
    );
    strictEqual(await spillwaySort(["--record-size", "100", "-n", work.path("odd.bin")]), 2);
    strictEqual(await spillwaySort(["--key-bytes", "4", work.path("odd.bin")]), 2);
    deepStrictEqual(work.spillLeftovers(), []);
  } finally {
    await work.remove();
  }
});
