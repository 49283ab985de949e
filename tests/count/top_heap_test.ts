import { deepStrictEqual } from "node:assert/strict";
import fc from "fast-check";
import { TopHeap } from "../../src/count/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import { checkAsyncProperty } from "../_support/property.ts";

function key(word: Uint8Array): string {
  return Array.from(word, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

Deno.test("TopHeap keeps the N best words by count then word (random streams vs a sort)", async () => {
  await checkAsyncProperty(
    fc.asyncProperty(
      fc.uniqueArray(
        fc.tuple(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 1, max: 6 })),
        { selector: ([word]) => key(word), maxLength: 300, size: "max" },
      ),
      fc.integer({ min: 1, max: 40 }),
      fc.constantFrom("count", "word") as fc.Arbitrary<"count" | "word">,
      async (entries, limit, order) => {
        const memory = new MemoryManager({ budgetBytes: 64 * 4096, segmentBytes: 4096 });
        const heap = new TopHeap(memory, limit);
        for (const [word, count] of entries) heap.offer(word, 0, word.length, count);
        const seen: string[] = [];
        await heap.drain(order, (bytes, offset, length, count) => {
          seen.push(`${key(bytes.subarray(offset, offset + length))} ${count}`);
          return undefined;
        });
        heap.close();
        memory.assertAllReleased();
        const best = entries.map(([word, count]) => [key(word), count] as const)
          .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
          .slice(0, limit);
        if (order === "word") best.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
        deepStrictEqual(seen, best.map(([word, count]) => `${word} ${count}`));
      },
    ),
    100,
  );
});

Deno.test("TopHeap compacts in place beside a long word: one copy of it in the budget", async () => {
  // 2 MiB of word in a 3 MiB budget: a compaction that grew the arena (a second copy of the
  // long word, even for a moment) would not fit.
  const memory = new MemoryManager({ budgetBytes: 48 * 65536, segmentBytes: 65536 });
  const heap = new TopHeap(memory, 4);
  const long = new Uint8Array(2 * 1024 * 1024).fill(0x6c);
  heap.offer(long, 0, long.length, 1_000_000);
  // Each short word beats the worst kept: the arena fills with garbage again and again.
  const short = new TextEncoder().encode("short word 000000000000");
  for (let count = 1; count <= 20_000; count += 1) {
    short[short.length - 1] = 0x30 + (count % 10);
    heap.offer(short, 0, short.length, count);
  }
  const seen: string[] = [];
  await heap.drain("count", (_bytes, _offset, length, count) => {
    seen.push(`${length} ${count}`);
    return undefined;
  });
  heap.close();
  memory.assertAllReleased();
  deepStrictEqual(seen, [`${long.length} 1000000`, "23 20000", "23 19999", "23 19998"]);
});
