import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { UsageError } from "../../src/base/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import { CorpusGenerator, parseCorpusKind, writeCorpus } from "../../src/gen/mod.ts";

Deno.test("writeCorpus hands every fill to the sink and awaits its promises", async () => {
  const memory = new MemoryManager({ budgetBytes: 8 * 1024 * 1024 });
  const received: number[] = [];
  let awaited = 0;
  let advanced = 0;
  const sink = {
    write(bytes: Uint8Array, offset: number, length: number): Promise<void> | undefined {
      for (let index = offset; index < offset + length; index += 1) received.push(bytes[index]!);
      if (received.length % 2 === 0) return undefined;
      return new Promise<void>((resolve) =>
        setTimeout(() => {
          awaited += 1;
          resolve();
        }, 0)
      );
    },
  };
  let expected: Uint8Array;
  {
    using generator = new CorpusGenerator(memory, { kind: "text", sizeBytes: 20_000, seed: 3 });
    const total = await writeCorpus(generator, sink, {
      buffer: new Uint8Array(2048),
      progress: { phase() {}, advance: (bytes) => advanced += bytes, finish() {} },
    });
    strictEqual(total, received.length);
    strictEqual(advanced, total);
  }
  {
    using generator = new CorpusGenerator(memory, { kind: "text", sizeBytes: 20_000, seed: 3 });
    const buffer = new Uint8Array(100_000);
    expected = buffer.slice(0, generator.fill(buffer, 0, buffer.length));
  }
  deepStrictEqual(Uint8Array.from(received), expected);
  strictEqual(awaited > 0, true, "some writes returned promises");
  memory.assertAllReleased();
});

Deno.test("parseCorpusKind reads kinds and aliases", () => {
  strictEqual(parseCorpusKind("text"), "text");
  strictEqual(parseCorpusKind("ZIPF"), "text");
  strictEqual(parseCorpusKind("unique"), "lines");
  strictEqual(parseCorpusKind("gensort"), "records");
  throws(() => parseCorpusKind("csv"), UsageError);
});
