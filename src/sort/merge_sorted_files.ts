import { type ProgressSink, silentProgress } from "../base/mod.ts";
import { type IoManager, plainInputBytes, type RunReader, type SpillRun } from "../io/mod.ts";
import type { MemoryManager } from "../memory/mod.ts";
import { LineCursor } from "./external_sort.ts";
import { type MergePlan, planMerge } from "./merge_plan.ts";
import { mergeTextFiles, planTextMerge } from "./text_merge.ts";
import { WasmKernels } from "../kernels/mod.ts";
import type { RecordOrder } from "./record_order.ts";
import { mergeCursors, type RecordCursor, type RecordSink } from "./run_merger.ts";

/** Bytes merged between two progress reports. */
const PROGRESS_BLOCK_BYTES = 256 * 1024;

/** What to merge: `spillway merge` after parsing. */
export interface MergeFilesRequest {
  /** Sorted input files (`-` is stdin). */
  inputs: readonly string[];
  /** Output path, or undefined for stdout. */
  output: string | undefined;
  /** The order the inputs are sorted in. */
  order: RecordOrder;
  /** Keep only the first of records with equal keys (`-u`). */
  unique: boolean;
  /** Line terminator: 10 or 0 (`-z`). */
  terminator: number;
  /** The configured fan-in limit. */
  fanInMax: number;
}

/** Where a merge runs. */
export interface MergeFilesContext {
  /** The budget. */
  memory: MemoryManager;
  /** Inputs, runs and the output. */
  io: IoManager;
  /** `merge` pass k of n, bytes merged. */
  progress?: ProgressSink;
}

/** What a merge did. */
export interface MergeResult {
  /** Passes over the data (1 when all inputs fit the fan-in). */
  passes: number;
  /** Intermediate runs written. */
  runsWritten: number;
  /** The fan-in used. */
  fanIn: number;
  /** Bytes read from the inputs. */
  inputBytes: number;
  /** Records read from the inputs. */
  inputRecords: number;
  /** Records written. */
  outputRecords: number;
  /** The final pass merged the input files on the merge kernel (a plain byte order). */
  usedMergeKernel: boolean;
}

/**
 * Merges sorted files into one output with any number of inputs: when they exceed the fan-in
 * of the merge plan, groups of input files are merged into spill runs, and runs into fewer
 * runs, until one final merge fits (each run deleted as soon as it is merged). Input files of
 * a plain byte order (`-r`, `-u`, `-z` too) merged straight into the output go through the
 * merge kernel (text_merge.ts); the rest is the loser-tree merge of the sort, which gives each
 * record its terminator.
 *
 * @param request Inputs, output, order, `-u`, terminator and fan-in limit.
 * @param context Budget, io and progress.
 * @returns Counters for the report.
 * @throws {ResourceError} If the budget cannot merge two inputs at once.
 */
export async function mergeSortedFiles(
  request: MergeFilesRequest,
  context: MergeFilesContext,
): Promise<MergeResult> {
  return await new SortedFilesMerger(request, context).run();
}

class SortedFilesMerger {
  readonly #request: MergeFilesRequest;
  readonly #memory: MemoryManager;
  readonly #io: IoManager;
  readonly #progress: ProgressSink;
  readonly #plan: MergePlan;
  readonly #counters = { inputBytes: 0, inputRecords: 0 };
  #passes = 0;
  #runsWritten = 0;
  #usedMergeKernel = false;

  constructor(request: MergeFilesRequest, context: MergeFilesContext) {
    this.#request = request;
    this.#memory = context.memory;
    this.#io = context.io;
    this.#progress = context.progress ?? silentProgress;
    this.#plan = planMerge({
      freeSegments: context.memory.totalSegments,
      segmentBytes: context.memory.segmentBytes,
      fanInMax: request.fanInMax,
      inputCount: request.inputs.length,
    });
  }

  async run(): Promise<MergeResult> {
    const { inputs } = this.#request;
    const fanIn = this.#plan.fanIn;
    let runs: SpillRun[] | undefined = undefined;
    if (inputs.length > fanIn) {
      runs = await this.#mergeInputGroups();
      while (runs.length > fanIn) runs = await this.#mergeRunGroups(runs);
    }
    this.#phase(runs === undefined ? plainInputBytes(inputs) : runBytes(runs));
    const outputRecords = await this.#mergeIntoOutput(runs);
    this.#passes += 1;
    this.#progress.finish();
    return {
      passes: this.#passes,
      runsWritten: this.#runsWritten,
      fanIn,
      inputBytes: this.#counters.inputBytes,
      inputRecords: this.#counters.inputRecords,
      outputRecords,
      usedMergeKernel: this.#usedMergeKernel,
    };
  }

  /** Pass 1: groups of input files into runs. */
  async #mergeInputGroups(): Promise<SpillRun[]> {
    const { inputs } = this.#request;
    const fanIn = this.#plan.fanIn;
    this.#phase(plainInputBytes(inputs));
    const runs: SpillRun[] = [];
    for (let start = 0; start < inputs.length; start += fanIn) {
      const cursors = await this.#openLineCursors(inputs.slice(start, start + fanIn));
      try {
        runs.push(await this.#mergeIntoRun(cursors));
      } finally {
        for (const cursor of cursors) await cursor.close();
      }
    }
    this.#runsWritten += runs.length;
    this.#passes += 1;
    return runs;
  }

  /** A middle pass: runs into fewer runs, each group's runs deleted once merged. */
  async #mergeRunGroups(runs: readonly SpillRun[]): Promise<SpillRun[]> {
    const fanIn = this.#plan.fanIn;
    this.#phase(runBytes(runs));
    const next: SpillRun[] = [];
    for (let start = 0; start < runs.length; start += fanIn) {
      const group = runs.slice(start, start + fanIn);
      const readers = await this.#openRunReaders(group);
      try {
        next.push(await this.#mergeIntoRun(readers));
      } finally {
        for (const reader of readers) await reader.close();
      }
      for (const run of group) await this.#io.deleteRun(run);
    }
    this.#runsWritten += next.length;
    this.#passes += 1;
    return next;
  }

  /** The final pass: into the output, adding the terminator to each record. */
  async #mergeIntoOutput(runs: readonly SpillRun[] | undefined): Promise<number> {
    if (runs === undefined) {
      const written = await this.#mergeTextIntoOutput();
      if (written !== undefined) return written;
    }
    const io = this.#io;
    const cursors: Array<RecordCursor & { close(): Promise<void> }> = runs === undefined
      ? await this.#openLineCursors(this.#request.inputs)
      : await this.#openRunReaders(runs);
    let outputRecords: number;
    try {
      const output = await io.createOutput(this.#request.output, {
        owner: "merge-output",
        bufferSegments: this.#plan.outputSegments,
      });
      try {
        const terminator = this.#request.terminator;
        outputRecords = await this.#merge(cursors, (bytes, offset, length) => {
          const pending = output.write(bytes, offset, length);
          if (pending !== undefined) return pending.then(() => output.writeByte(terminator));
          return output.writeByte(terminator);
        });
        await output.commit();
      } catch (error) {
        await output.abort();
        throw error;
      }
    } finally {
      for (const cursor of cursors) await cursor.close();
    }
    if (runs !== undefined) { for (const run of runs) await io.deleteRun(run); }
    return outputRecords;
  }

  /**
   * The inputs of a plain byte order into the output on the merge kernel (text_merge.ts);
   * undefined (nothing done) for other orders or when the pages free cannot hold its plan.
   */
  async #mergeTextIntoOutput(): Promise<number | undefined> {
    const { inputs, order } = this.#request;
    if (!order.isPlainBytes) return undefined;
    const memory = this.#memory;
    const plan = planTextMerge(memory, { inputCount: inputs.length });
    if (plan === undefined) return undefined;
    const output = await this.#io.createOutput(this.#request.output, {
      owner: "merge-output",
      bufferSegments: 1,
    });
    try {
      const progress = this.#progress;
      const result = await mergeTextFiles(inputs, (bytes, byteLength) => {
        progress.advance(byteLength);
        return output.write(bytes, 0, byteLength);
      }, {
        memory,
        io: this.#io,
        kernels: new WasmKernels(memory.wasmMemory),
        reverse: order.reverse,
        unique: this.#request.unique,
        terminator: this.#request.terminator,
        owner: "merge-input",
        plan,
        counters: this.#counters,
      });
      await output.commit();
      this.#usedMergeKernel = true;
      return result.writtenCount;
    } catch (error) {
      await output.abort();
      throw error;
    }
  }

  async #mergeIntoRun(cursors: RecordCursor[]): Promise<SpillRun> {
    const writer = await this.#io.createRunWriter("merge", { owner: "merge-run-out" });
    try {
      await this.#merge(
        cursors,
        (bytes, offset, length) => writer.writeRecord(bytes, offset, length),
      );
      return await writer.finish();
    } catch (error) {
      await writer.abort();
      throw error;
    }
  }

  /** Merges the cursors into `sink`, reporting progress per 256 KiB; returns records written. */
  async #merge(cursors: RecordCursor[], sink: RecordSink): Promise<number> {
    const progress = this.#progress;
    let pendingBytes = 0;
    const count = await mergeCursors(cursors, (bytes, offset, length) => {
      pendingBytes += length + 1;
      if (pendingBytes >= PROGRESS_BLOCK_BYTES) {
        progress.advance(pendingBytes);
        pendingBytes = 0;
      }
      return sink(bytes, offset, length);
    }, {
      order: this.#request.order,
      unique: this.#request.unique,
      memory: this.#memory,
      owner: "merge-unique",
    });
    progress.advance(pendingBytes);
    return count;
  }

  #phase(totalBytes: number | undefined): void {
    const passCount = this.#plan.passCount;
    const pass = this.#passes + 1;
    this.#progress.phase(
      totalBytes === undefined
        ? { name: "merge", pass, passCount }
        : { name: "merge", pass, passCount, totalBytes },
    );
  }

  async #openLineCursors(paths: readonly string[]): Promise<LineCursor[]> {
    const cursors: LineCursor[] = [];
    const terminator = this.#request.terminator;
    try {
      for (const path of paths) {
        const reader = await this.#io.openInput(path, {
          owner: "merge-input",
          terminator,
          chunkSegments: 1,
        });
        cursors.push(new LineCursor(reader, terminator, this.#counters));
      }
    } catch (error) {
      for (const cursor of cursors) await cursor.close();
      throw error;
    }
    return cursors;
  }

  async #openRunReaders(runs: readonly SpillRun[]): Promise<RunReader[]> {
    const readers: RunReader[] = [];
    try {
      for (const run of runs) {
        readers.push(
          await this.#io.openRunReader(run, {
            owner: "merge-run",
            readAheadSegments: this.#plan.readAheadSegments,
          }),
        );
      }
    } catch (error) {
      for (const reader of readers) await reader.close();
      throw error;
    }
    return readers;
  }
}

/** The total size of spill runs, for the progress line. */
function runBytes(runs: readonly SpillRun[]): number {
  let total = 0;
  for (const run of runs) total += run.byteLength;
  return total;
}
