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
