import { deepStrictEqual, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { type CaseMode, WordCounter } from "../../src/count/mod.ts";
import { IoManager } from "../../src/io/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import { checkAsyncProperty } from "../_support/property.ts";

type KernelKind = "words" | "letters" | "flink" | "whitespace" | "line";

interface KernelRun {
  tokenizer: KernelKind;
  caseMode: CaseMode;
  budgetBytes: number;
  segmentBytes: number;
  /** Count with the kernel (true) or the JS tokenizer (false, the reference). */
  kernel: boolean;
  /** Hand the counter chunks that live in the shared memory (a Worker's path). */
  shared: boolean;
  /** Lines per chunk. */
  linesPerChunk: number;
  order: "count" | "word";
}

/** Counts `text`; returns "hex-word count" lines in output order, the tokens and the path. */
async function count(text: Uint8Array, run: KernelRun) {
  const tmp = await Deno.makeTempDir({ prefix: "spillway-count-kernel-test-" });
  const memory = new MemoryManager({
    budgetBytes: run.budgetBytes,
    segmentBytes: run.segmentBytes,
  });
  const io = await IoManager.open({ memory, tmpDirs: [tmp], handleSignals: false });
  const lines: string[] = [];
  let counter: WordCounter | undefined;
  try {
    // The shared chunk buffer comes out of the budget first, as the Worker's chunks do.
    const staging = run.shared ? memory.allocateContiguous("test-chunk", 2) : undefined;
    counter = new WordCounter(memory, io, {
      tokenizer: run.tokenizer,
      caseMode: run.caseMode,
      kernel: run.kernel,
    });
    const usedKernel = counter.usesKernel;
    const chunks: Uint8Array[] = [];
    let start = 0;
    let seen = 0;
    for (let i = 0; i < text.length; i += 1) {
      if (text[i] !== 10) continue;
      seen += 1;
      if (seen % run.linesPerChunk !== 0) continue;
      chunks.push(text.subarray(start, i + 1));
      start = i + 1;
    }
    if (start < text.length) chunks.push(text.subarray(start));
    for (const chunk of chunks) {
      let bytes = chunk;
      if (staging !== undefined && chunk.length <= staging.segments[0]!.byteLength) {
        const into = staging.segments[0]!.bytes;
        into.set(chunk);
        bytes = into.subarray(0, chunk.length);
      }
      const pending = counter.addChunk(bytes);
      if (pending) await pending;
    }
    staging?.release();
    await counter.finish({ order: run.order }, (bytes, offset, length, n) => {
      const word = Array.from(bytes.subarray(offset, offset + length), (b) => b.toString(16));
      lines.push(`${word.join(".")} ${n}`);
      return undefined;
    });
    const tokens = counter.stats.tokens;
    const invalidUtf8Bytes = counter.stats.invalidUtf8Bytes;
    await counter.close();
    await io.close();
    memory.assertAllReleased();
    return { lines, tokens, invalidUtf8Bytes, usedKernel };
  } finally {
    await counter?.close();
    await io.close();
    await Deno.remove(tmp, { recursive: true });
  }
}

/** Runs the kernel and the JS path on `text` and checks they agree. */
async function agree(text: Uint8Array, run: Omit<KernelRun, "kernel">): Promise<void> {
  // A budget too small for a merge of long words fails on both paths, with the same error.
  const failure = (error: unknown) => ({ failed: error instanceof Error ? error.name : "?" });
  const viaKernel = await count(text, { ...run, kernel: true }).catch(failure);
  const viaJs = await count(text, { ...run, kernel: false }).catch(failure);
  if ("failed" in viaKernel || "failed" in viaJs) {
    deepStrictEqual(viaKernel, viaJs);
    strictEqual((viaKernel as { failed: string }).failed, "ResourceError");
    return;
  }
  strictEqual(viaKernel.usedKernel, true, "the kernel did not count");
  strictEqual(viaJs.usedKernel, false);
  deepStrictEqual(viaKernel.lines, viaJs.lines);
  strictEqual(viaKernel.tokens, viaJs.tokens);
  strictEqual(viaKernel.invalidUtf8Bytes, viaJs.invalidUtf8Bytes);
}

const encoder = new TextEncoder();
const kinds: KernelKind[] = ["words", "letters", "flink", "whitespace", "line"];

Deno.test("WordCounter's kernel path counts like the JS tokenizer (examples)", async () => {
  const sample = encoder.encode(
    "The cat, the CAT and the hat.\n\nx-ray X_RAY ÉTÉ été \u00ff 42\r\n\tThe cat, the CAT\n" +
      "Größe GRÖSSE \u0130stanbul \u212aelvin ΣΊΣΥΦΟΣ Ж\u{1d400}\u{10400}x 😀 \u2162\n" +
      "\u0130".repeat(2100) + " " + "\u212a".repeat(2100) + " " + "é".repeat(2100) + "\n" +
      "A".repeat(5000) + " tail\n" + "b".repeat(4084) + "\n" + "c".repeat(4085) + "\nlast",
  );
  for (const tokenizer of kinds) {
    for (const caseMode of ["preserve", "lower"] as const) {
      for (const shared of [false, true]) {
        for (const linesPerChunk of [1, 3, 100]) {
          await agree(sample, {
            tokenizer,
            caseMode,
            budgetBytes: 256 * 1024,
            segmentBytes: 4096,
            shared,
            linesPerChunk,
            order: "count",
          });
        }
      }
    }
  }
});

Deno.test("WordCounter's kernel path equals the JS path on random bytes with spills", async () => {
  const piece = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom("a", "b", "ab", "The", "the", "THE", "Zipf", "zipF") },
    {
      weight: 5,
      arbitrary: fc.constantFrom(" ", "\n", "\t", ",", "-", "_", "1", "\r\n", "\n\n", "\x00"),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom("é", "ÉTÉ", "\u0130", "\u212a", "ß", "😀", "\ufffd"),
    },
    // Unicode-heavy: letters of many scripts and cases, marks, digits, astral letters.
    { weight: 3, arbitrary: fc.string({ unit: "grapheme", maxLength: 10 }) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 6 }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom("ΣΊΣΥΦΟΣ", "Straße", "ǅ", "Ⅲ", "\u{10400}", "\u{1e900}", "ﬀ"),
    },
    // Words by number: a high-cardinality stretch that fills a small table.
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 5000 }).map((n) => `w${n.toString(36)}x`) },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 }).map((n) => "WordWORD".repeat(n)) },
    { weight: 1, arbitrary: fc.integer({ min: 4080, max: 4100 }).map((n) => "q".repeat(n)) },
  );
  // Raw bytes: invalid UTF-8 (stray continuations, cut and overlong sequences, surrogates).
  const rawBytes = fc.oneof(
    fc.uint8Array({ maxLength: 12 }),
    fc.array(fc.constantFrom(0x80, 0xbf, 0xc0, 0xc1, 0xc3, 0xe0, 0xed, 0xa0, 0xf0, 0xf4, 0x90), {
      maxLength: 6,
    }).map((b) => Uint8Array.from(b)),
  );
  await checkAsyncProperty(
    fc.asyncProperty(
      fc.array(fc.oneof(piece.map((p) => encoder.encode(p)), rawBytes), { maxLength: 600 }),
      fc.constantFrom(...kinds),
      fc.constantFrom("preserve" as const, "lower" as const),
      fc.boolean(),
      fc.integer({ min: 1, max: 40 }),
      fc.constantFrom("count" as const, "word" as const),
      fc.constantFrom(64 * 1024, 96 * 1024, 256 * 1024),
      async (pieces, tokenizer, caseMode, shared, linesPerChunk, order, budgetBytes) => {
        const text = new Uint8Array(pieces.reduce((sum, p) => sum + p.length, 0));
        let at = 0;
        for (const p of pieces) {
          text.set(p, at);
          at += p.length;
        }
        await agree(text, {
          tokenizer,
          caseMode,
          budgetBytes,
          segmentBytes: 4096,
          shared,
          linesPerChunk,
          order,
        });
      },
    ),
    100,
  );
});
