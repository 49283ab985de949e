import { type ProgressSink, UsageError } from "../base/mod.ts";
import type { MemoryManager } from "../memory/mod.ts";
import { CorpusGenerator, type CorpusKind, corpusKinds } from "./corpus_generator.ts";

/** Where {@linkcode writeCorpus} puts bytes: the shape of io's `OutputSink.write`. */
export interface CorpusSink {
  /**
   * Takes `bytes[byteOffset, byteOffset + byteLength)`.
   *
   * @returns `undefined` when buffered, or a promise to await before the next write.
   */
  write(bytes: Uint8Array, byteOffset: number, byteLength: number): Promise<void> | undefined;
}

/** Options of {@linkcode writeCorpus}. */
export interface WriteCorpusOptions {
  /** Scratch space (a page) of at least `generator.unitBytesMax` bytes. */
  buffer: Uint8Array;
  /** Told the bytes of each fill (the caller announces the phase). */
  progress?: ProgressSink;
}

/**
 * Runs a generator to its end, filling a buffer (a page) and handing each fill to `sink`.
 *
 * @param generator The generator (not released here).
 * @param sink The output.
 * @param options The buffer and an optional progress sink.
 * @returns Bytes written.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { MemoryManager } from "../memory/mod.ts";
 * import { CorpusGenerator } from "./corpus_generator.ts";
 * import { writeCorpus } from "./write_corpus.ts";
 * const memory = new MemoryManager({ budgetBytes: 4 * 1024 * 1024 });
 * let total = 0;
 * {
 *   using generator = new CorpusGenerator(memory, { kind: "lines", sizeBytes: 10_000 });
 *   const sink = { write: (_bytes: Uint8Array, _offset: number, length: number) => { total += length; return undefined; } };
 *   strictEqual(await writeCorpus(generator, sink, { buffer: new Uint8Array(4096) }), total);
 * }
 * strictEqual(total >= 10_000 && total < 10_000 + 121, true);
 * memory.assertAllReleased();
 * ```
 */
export async function writeCorpus(
  generator: CorpusGenerator,
  sink: CorpusSink,
  options: WriteCorpusOptions,
): Promise<number> {
  const { buffer, progress } = options;
  let total = 0;
  while (!generator.done) {
    const written = generator.fill(buffer, 0, buffer.length);
    if (written === 0) break;
    total += written;
    const pending = sink.write(buffer, 0, written);
    if (pending) await pending;
    progress?.advance(written);
  }
  return total;
}

/** Options of {@linkcode generateCorpus}. */
export interface GenerateCorpusOptions {
  /** What to generate. */
  kind: CorpusKind;
  /** Target size in bytes (see {@linkcode CorpusGenerator}). */
  sizeBytes: number;
  /** Seed (default 1). */
  seed?: number;
  /** Told the bytes of each page written (the caller announces the phase). */
  progress?: ProgressSink;
}

/** What {@linkcode generateCorpus} wrote. */
export interface GeneratedCorpus {
  /** Bytes written. */
  bytes: number;
  /** Lines (`text`, `lines`) or records (`records`) written. */
  units: number;
}

/**
 * Generates a whole corpus into `sink` through one page of `memory` (plus the `text` tables).
 *
 * @param memory The budget for the page and the tables.
 * @param sink The output.
 * @param options Kind, size, seed and progress.
 * @returns Bytes and lines (or records) written.
 * @throws {MemoryBudgetError} If the page or the tables do not fit the budget.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { MemoryManager } from "../memory/mod.ts";
 * import { generateCorpus } from "./write_corpus.ts";
 * const memory = new MemoryManager({ budgetBytes: 1024 * 1024 });
 * const sink = { write: () => undefined };
 * const result = await generateCorpus(memory, sink, { kind: "records", sizeBytes: 1000 });
 * strictEqual(result.units, 10);
 * memory.assertAllReleased();
 * ```
 */
export async function generateCorpus(
  memory: MemoryManager,
  sink: CorpusSink,
  options: GenerateCorpusOptions,
): Promise<GeneratedCorpus> {
  using generator = new CorpusGenerator(memory, {
    kind: options.kind,
    sizeBytes: options.sizeBytes,
    seed: options.seed ?? 1,
  });
  using lease = memory.allocate("gen-buffer", 1);
  const buffer = lease.segments[0]!.bytes;
  const bytes = await writeCorpus(
    generator,
    sink,
    options.progress === undefined ? { buffer } : { buffer, progress: options.progress },
  );
  return { bytes, units: generator.unitsGenerated };
}

const kindAliases: ReadonlyMap<string, CorpusKind> = new Map([
  ["text", "text"],
  ["zipf", "text"],
  ["words", "text"],
  ["lines", "lines"],
  ["unique", "lines"],
  ["records", "records"],
  ["gensort", "records"],
]);

/**
 * Reads a corpus kind: `text` (alias `zipf`, `words`), `lines` (`unique`) or `records`
 * (`gensort`).
 *
 * @param text The kind as written.
 * @returns The kind.
 * @throws {UsageError} On an unknown kind.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { parseCorpusKind } from "./write_corpus.ts";
 * strictEqual(parseCorpusKind("zipf"), "text");
 * ```
 */
export function parseCorpusKind(text: string): CorpusKind {
  const kind = kindAliases.get(text.toLowerCase());
  if (kind === undefined) {
    throw new UsageError(
      `Unknown corpus kind "${text}"; use one of ${
        corpusKinds.join(", ")
      } (e.g. spillway gen text --size 1g)`,
    );
  }
  return kind;
}
