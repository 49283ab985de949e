import {
  assert,
  InputError,
  type ProgressSink,
  ResourceError,
  silentProgress,
} from "../base/mod.ts";
import type { IoManager, LineReader, RunReader, RunWriter, SpillRun } from "../io/mod.ts";
import {
  OutputSink,
  prefaultMemory,
  timelineEnd,
  timelineFlush,
  timelineOrigin,
  timelineSpan,
  timelineStart,
} from "../io/mod.ts";
import type { MemoryManager, SegmentLease } from "../memory/mod.ts";
import { AppendStatus, WasmKernels } from "../kernels/mod.ts";
import type { OrderDescriptor } from "./order_descriptor.ts";
import type { RecordOrder } from "./record_order.ts";
import { mergeCursors, type RecordCursor, type RecordSink, UniqueFilter } from "./run_merger.ts";
import { SortBuffer } from "./sort_buffer.ts";
import { SORT_WORKER_OWNER, SortWorker, SpillRing, WorkerWriteError } from "./sort_worker_pool.ts";
import { type BlockFirstKeys, sortJobWith } from "./kernel_sort.ts";
import { normalizedKeysFor } from "./normalized_key.ts";
import { keyedLineOffset, KeyedRunOrder } from "./keyed_records.ts";
import {
  FAN_IN_DEFAULT,
  inputMergeChunkSegments,
  MergeBudgetError,
  mergePassCount,
  type MergePlan,
  planMerge,
  planMergeRound,
} from "./merge_plan.ts";
import { planSort, type SortPlan, splitSortBuffer } from "./sort_plan.ts";
import {
  type BlockSource,
  type KernelMergeResult,
  managedMergeRegions,
  MERGE_WARM_BYTES,
  mergeBlocksToLines,
  SortBufferBlocks,
  sortBufferBlocksSegments,
  warmMergeKernel,
} from "./kernel_merge.ts";
import {
  mergeOnWorker,
  OutputPartError,
  type ParallelMergeInput,
  parallelMergeSegments,
  RunOnWorker,
  startMergeWorker,
  workerPoisonHelper,
} from "./parallel_merge.ts";
import type { MergePrepare, MergeWorkerFault } from "./merge_worker.ts";
import { mergeByKeyRanges, splitMergeSegments, splitMergeTableFits } from "./split_merge.ts";
import { evenCuts } from "./key_split.ts";
import {
  endSplitSortHelp,
  endSplitSortHelpNotBegun,
  sortClaimedBuckets,
  SPLIT_SORT_RECORDS_MIN,
  SPLIT_SORT_WORDS,
  startSplitSort,
} from "./split_sort.ts";
import { bufferPrefaultRanges } from "./buffer_prefault.ts";
import type { LineFilter, LineSink } from "./line_filter.ts";
import { mergeTextFiles, planTextMerge } from "./text_merge.ts";
import {
  mergePlacedRanges,
  PLACED_MERGE_BYTES_MIN,
  placedMergeCuts,
  type PlacedMergeResult,
  placedMergeSegments,
  placedMergeTableFits,
} from "./placed_merge.ts";

/**
 * The longest record (cut by a block border) the final merge leaves to the merge kernel; runs
 * with longer ones merge on the loser tree (rare: lines of over a megabyte).
 */
const KERNEL_MERGE_SPANNING_MAX = 1024 * 1024;

/** Options of {@linkcode externalSort}. */
export interface ExternalSortOptions {
  /** The budget: every buffer of the sort comes from it. */
  memory: MemoryManager;
  /** Spill files, inputs and the output. */
  io: IoManager;
  /** The ordering. */
  order: RecordOrder;
  /** The same ordering as plain data, for the sort Worker; without it, sorting stays on this thread. */
  orderDescriptor?: OrderDescriptor;
  /** Keep only the first of records with equal keys (`-u`). */
  unique?: boolean;
  /** Line terminator: 10 (`\n`, default) or 0 (`-z`). */
  terminator?: number;
  /** Largest merge fan-in wanted (default 128); lowered to what the budget allows. */
  fanInMax?: number;
  /** Fixed-size binary records of this many bytes instead of lines. */
  recordBytes?: number;
  /** Whether to sort full buffers on a Worker while reading the next (default true). */
  useWorker?: boolean;
  /**
   * When this thread can sort full buffers itself (a kernel area of its own): hand a full
   * buffer unsorted to the Worker whenever the Worker is idle (default true), so neither
   * thread waits for the other; false: this thread sorts every buffer (tests).
   */
  workerSortsWhenIdle?: boolean;
  /**
   * Sort a full buffer of plain lines on this thread and the Worker at once (split_sort.ts)
   * where it applies; false: one thread sorts each buffer. Default true.
   */
  splitSort?: boolean;
  /**
   * Whether the Worker sorts and gathers with the WebAssembly kernels (default true); false
   * keeps it on the JavaScript index sort and gather (the tests compare both).
   */
  kernels?: boolean;
  /** The inputs are already sorted: merge them only (`-m`). */
  mergeOnly?: boolean;
  /**
   * Run the final merge of a plain byte order on the WebAssembly merge kernel (default true;
   * false keeps the loser tree, e.g. to compare the two).
   */
  mergeKernel?: boolean;
  /**
   * A kernel final merge of at least this many bytes runs on a merge Worker while this thread
   * reads and writes (default 8 MiB; only when `useWorker`).
   */
  parallelMergeBytesMin?: number;
  /**
   * How long the merge Worker may stay silent while this thread waits on nothing else before
   * the sort fails with an internal error (default 60 s; tests lower it).
   */
  mergeWorkerSilenceMsMax?: number;
  /** For tests: make the merge Worker fail this way (hang safety). */
  mergeWorkerFault?: MergeWorkerFault;
  /**
   * Told once when a final merge on the merge Worker stalls for `mergeStallWarnMs` without
   * failing (parallel_merge.ts `ParallelMergeOptions.onStall`): the CLI prints it as a warning.
   */
  onMergeStall?: (message: string) => void;
  /** From how long a stall `onMergeStall` hears of it (default 10 s; tests lower it). */
  mergeStallWarnMs?: number;
  /**
   * Split a parallel final merge by key range over two merge Workers (see
   * src/sort/split_merge.ts), in ranges of about this many bytes (true: twice a Worker's
   * output buffer, which keeps both Workers busy; tests make it small). Default false: on
   * 100 MiB of Zipf words at -S 64m it measured slower than one merge Worker (merge phase
   * ~0.79 s vs ~0.55 s, same CPU use).
   */
  splitMerge?: boolean | { rangeBytes: number };
  /**
   * Run a parallel final merge as key ranges written at their offsets by the merge Worker and
   * this thread (src/sort/placed_merge.ts), where it applies (plain byte order, not `-u`, a
   * regular output file, every run gathered on the Worker, from
   * {@linkcode PLACED_MERGE_BYTES_MIN} to merge; its ranges: {@linkcode placedMergeCuts});
   * `{ rangeCount }` sets that many equal ranges instead, `{ bytesMin }` the floor,
   * `{ shrinkingBytesMin }` where shrinking ranges start (tests). Default true.
   */
  placedMerge?: boolean | { rangeCount?: number; bytesMin?: number; shrinkingBytesMin?: number };
  /**
   * Bytes of the runs' block first keys kept for the final merge's key split, all runs together
   * (default {@linkcode BLOCK_FIRST_KEYS_TOTAL_MAX}; tests set less, so that some runs have none).
   */
  blockFirstKeysBytesMax?: number;
  /**
   * Lend the merge Worker, idle after a placed final merge, to the memory manager for its
   * checks of the free pages' poison (the leak report's: MemoryManager.attachPoisonHelper); the
   * caller ends it after its leak check with `memory.detachPoisonHelper()` (the CLI's
   * CommandScope does). Default false: the sort ends the Worker. A lent Worker waits in
   * `Atomics.wait`, which `Worker.terminate()` does not break: without the detach, it holds the
   * process's natural exit for up to `POISON_HELP_STANDBY_MS` (10 s).
   */
  lendIdleWorker?: boolean;
  /** Where progress goes: `read` per input chunk, `merge` pass k of n per 256 KiB merged. */
  progress?: ProgressSink;
  /**
   * A layer above that rewrites each input chunk before it is sorted and what the sort writes
   * (count's sort route: src/count/count_via_sort.ts). Not with `-m` or fixed-size records.
   */
  filter?: LineFilter;
}

/** What one sort did, for `--stats`. */
export interface SortStats {
  /** Input bytes read (terminators included). */
  inputBytes: number;
  /** Input records. */
  inputRecords: number;
  /** Records written. */
  outputRecords: number;
  /** Sorted runs spilled to disk (0 when the input fit in memory). */
  runCount: number;
  /** Merge passes over spilled runs (the final merge counts as one). */
  mergePasses: number;
  /** Fan-in used for merging. */
  fanIn: number;
  /** Pages per sort buffer. */
  sortBufferPages: number;
  /** Whether a Worker sorted buffers. */
  usedWorker: boolean;
  /** Sort buffers the WebAssembly kernels sorted (the rest: the JavaScript index sort). */
  kernelSorts: number;
  /** Buffers the main thread sorted itself (the Worker then only gathered and wrote them). */
  mainThreadSorts: number;
  /** Buffers this thread and the Worker sorted together (split_sort.ts). */
  splitSorts: number;
  /** Whether the final merge ran on the WebAssembly merge kernel. */
  usedMergeKernel: boolean;
  /** Whether that merge ran on the merge Worker while this thread did the I/O. */
  usedMergeWorker: boolean;
  /** Key ranges the final merge was split into over two merge Workers (0: not split). */
  mergeRanges: number;
  /** Bytes of the sort buffers faulted in ahead on another thread (buffer_prefault.ts). */
  prefaultedBytes: number;
}

/**
 * Sorts the inputs into the output inside the memory budget: read -> sort -> spill -> merge.
 *
 * While a Worker sorts one full buffer, this thread fills the other and spills the previous
 * one. If everything fits in one buffer, no file is created. Runs are merged with a loser
 * tree (ties by run index, so the sort is stable); more runs than the fan-in are merged in
 * several passes, the partial round first (Flink's formula), each input deleted once merged.
 *
 * @param inputs Input paths (`-` is stdin).
 * @param output Output path, or undefined for stdout.
 * @param options Budget, I/O, order and flags.
 * @returns What the sort did.
 * @throws {ResourceError} If the budget is too small to sort at all.
 */
export async function externalSort(
  inputs: readonly string[],
  output: string | undefined,
  options: ExternalSortOptions,
): Promise<SortStats> {
  const sorter = new ExternalSorter(options);
  return await sorter.run(inputs, output);
}

class ExternalSorter {
  readonly #memory: MemoryManager;
  readonly #io: IoManager;
  readonly #order: RecordOrder;
  readonly #descriptor: OrderDescriptor | undefined;
  readonly #unique: boolean;
  readonly #terminator: number;
  readonly #fanInMax: number;
  readonly #recordBytes: number | undefined;
  readonly #useWorker: boolean;
  readonly #workerSortsWhenIdle: boolean;
  readonly #splitSort: boolean;
  /** A split sort's control block per sort buffer (split_sort.ts). */
  readonly #splitControls = [0, 1].map(() =>
    new Int32Array(new SharedArrayBuffer(SPLIT_SORT_WORDS * Int32Array.BYTES_PER_ELEMENT))
  );
  readonly #kernels: boolean;
  /** This thread's kernels (the append-lines kernel fills plain-bytes buffers). */
  #threadKernels: WasmKernels | undefined = undefined;
  readonly #mergeOnly: boolean;
  readonly #lendIdleWorker: boolean;
  readonly #mergeKernel: boolean;
  readonly #parallelMergeBytesMin: number;
  readonly #splitMerge: boolean | { rangeBytes: number };
  readonly #placedMerge:
    | boolean
    | { rangeCount?: number; bytesMin?: number; shrinkingBytesMin?: number };
  readonly #mergeWorkerTuning: {
    workerSilenceMsMax?: number;
    workerFault?: MergeWorkerFault;
    onStall?: (message: string) => void;
    stallWarnMs?: number;
  };
  #mergeKernels: WasmKernels | undefined = undefined;
  /** The merge Worker, started when the first run is spilled (it boots meanwhile). */
  #mergeWorker: Worker | undefined = undefined;
  readonly #progress: ProgressSink;
  #layout: SortPlan | undefined = undefined;
  #buffers: SortBuffer[] = [];
  #filling = 0;
  #worker: SortWorker | undefined = undefined;
  #ring: SpillRing | undefined = undefined;
  /**
   * This thread's kernel area when it sorts full buffers itself (the Worker then only gathers
   * and writes them: `mainSorts` of sort_plan.ts).
   */
  #mainArea: SegmentLease | undefined = undefined;
  /** The last sort buffer, sorted and kept in memory as the final merge's last input. */
  #memoryRun: SortBuffer | undefined = undefined;
  /** The spill of the last handed-off buffer (after its sort). */
  #inFlight: Promise<void> | undefined = undefined;
  /** The sort of the last handed-off buffer on the Worker. */
  #sorting: Promise<void> | undefined = undefined;
  /**
   * The buffer pages the rest of the input will first write, faulted in on another thread
   * (started once, after the first chunk of an input of known size); resolves to the bytes.
   */
  #prefault: Promise<number> | undefined = undefined;
  /** Whether this thread has compiled the merge kernel ahead (warmMergeKernel). */
  #mergeKernelWarm = false;
  /** The longest record spilled as a run of its own (0: none). */
  #longestRecordBytes = 0;
  /** Free pages when the sort began: the most its final merge can have. */
  #freeSegmentsAtStart = 0;
  /**
   * Spilled runs are keyed (docs/spill-format.md): each record carries its normalized key, and
   * the merges compare keys (the sort buffers store keys: {@linkcode normalizedKeysFor}).
   * False for `-m`, whose runs are merged input lines.
   */
  #runsKeyed = false;
  /** The merges' order of spilled records: the keys' for keyed runs, else the order. */
  #mergeOrder: RecordOrder;
  /** A keyed run holds a record stored without its key (only the comparator merges it). */
  #keylessSpilled = false;
  /** The keys of keyed runs end with the line, which each record stores once. */
  #lineEndsKey = false;
  /**
   * The line-bytes index of each run the Worker gathered from plain records (kernel_sort.ts
   * `BlockGather.lineBytesIndex`): the placed final merge (placed_merge.ts) places its key ranges
   * by it.
   */
  readonly #lineBytesIndexes = new Map<SpillRun, readonly number[]>();
  /**
   * The first keys of the same runs' blocks (kernel_sort.ts `BlockGather.blockFirstKeys`), up to
   * `blockFirstKeysBytesMax` bytes in all (JS heap, outside the budget: a run past
   * it has none, and the key split reads its blocks instead).
   */
  readonly #blockFirstKeys = new Map<SpillRun, BlockFirstKeys>();
  #blockFirstKeysBytes = 0;
  readonly #blockFirstKeysBytesMax: number;
  /** Run slots in input order; undefined while a buffer's spill is in flight. */
  #runs: Array<SpillRun | undefined> = [];
  #stats: SortStats = {
    inputBytes: 0,
    inputRecords: 0,
    outputRecords: 0,
    runCount: 0,
    mergePasses: 0,
    fanIn: 0,
    sortBufferPages: 0,
    usedWorker: false,
    kernelSorts: 0,
    mainThreadSorts: 0,
    splitSorts: 0,
    usedMergeKernel: false,
    usedMergeWorker: false,
    mergeRanges: 0,
    prefaultedBytes: 0,
  };

  constructor(options: ExternalSortOptions) {
    this.#memory = options.memory;
    this.#io = options.io;
    this.#order = options.order;
    this.#runsKeyed = options.recordBytes === undefined &&
      normalizedKeysFor(options.order) !== undefined;
    this.#lineEndsKey = this.#runsKeyed &&
      (normalizedKeysFor(options.order)?.endsWithRecord ?? false);
    this.#mergeOrder = this.#runsKeyed
      ? new KeyedRunOrder(options.order, this.#lineEndsKey, normalizedKeysFor(options.order))
      : options.order;
    this.#descriptor = options.orderDescriptor;
    this.#unique = options.unique ?? false;
    this.#terminator = options.terminator ?? 10;
    this.#fanInMax = Math.max(2, options.fanInMax ?? FAN_IN_DEFAULT);
    this.#recordBytes = options.recordBytes;
    this.#useWorker = (options.useWorker ?? true) && options.orderDescriptor !== undefined;
    this.#workerSortsWhenIdle = options.workerSortsWhenIdle ?? true;
    this.#splitSort = options.splitSort ?? true;
    this.#kernels = options.kernels ?? true;
    this.#mergeOnly = options.mergeOnly ?? false;
    this.#lendIdleWorker = options.lendIdleWorker ?? false;
    this.#mergeKernel = options.mergeKernel ?? true;
    this.#parallelMergeBytesMin = options.parallelMergeBytesMin ?? PARALLEL_MERGE_BYTES_MIN;
    this.#filter = options.filter;
    const filtered = this.#filter !== undefined;
    this.#splitMerge = filtered ? false : options.splitMerge ?? false;
    this.#placedMerge = filtered ? false : options.placedMerge ?? true;
    this.#mergeWorkerTuning = {
      ...(options.mergeWorkerSilenceMsMax === undefined
        ? {}
        : { workerSilenceMsMax: options.mergeWorkerSilenceMsMax }),
      ...(options.mergeWorkerFault === undefined ? {} : { workerFault: options.mergeWorkerFault }),
      ...(options.onMergeStall === undefined ? {} : { onStall: options.onMergeStall }),
      ...(options.mergeStallWarnMs === undefined ? {} : { stallWarnMs: options.mergeStallWarnMs }),
    };
    this.#progress = options.progress ?? silentProgress;
    this.#blockFirstKeysBytesMax = options.blockFirstKeysBytesMax ?? BLOCK_FIRST_KEYS_TOTAL_MAX;
  }

  readonly #filter: LineFilter | undefined;
  /** The filter's pages, taken before the final merge plans its own. */
  #filterArea: SegmentLease | undefined = undefined;

  #allocateFilterArea(): void {
    if (this.#filter === undefined) return;
    const lineBytesMax = Math.max(this.#memory.segmentBytes, this.#longestRecordBytes);
    this.#filterArea = this.#memory.allocateContiguous(
      "sort-line-filter",
      this.#filter.segmentsFor(lineBytesMax),
    );
  }

  /** The output, or with a filter what the filter makes of it (it releases its area). */
  async #createOutput(output: string | undefined, bufferSegments: number): Promise<LineSink> {
    const out = await this.#io.createOutput(output, { owner: "sort-output", bufferSegments });
    const filter = this.#filter;
    if (filter === undefined) return out;
    const area = this.#filterArea;
    assert(area !== undefined && !area.isReleased, "the line filter's area is not allocated");
    this.#filterArea = undefined;
    try {
      return await filter.open(out, area);
    } catch (error) {
      if (!area.isReleased) area.release();
      await out.abort();
      throw error;
    }
  }

  async run(inputs: readonly string[], output: string | undefined): Promise<SortStats> {
    try {
      if (this.#mergeOnly) {
        await this.#mergeInputs(inputs, output);
      } else {
        await this.#sortInputs(inputs, output);
      }
      return this.#stats;
    } finally {
      this.#mergeWorker?.terminate();
      this.#mergeWorker = undefined;
      if (this.#filterArea?.isReleased === false) this.#filterArea.release();
      for (const run of this.#runs) {
        if (run !== undefined) await this.#io.deleteRun(run).catch(() => {});
      }
      this.#runs = [];
    }
  }

  async #sortInputs(inputs: readonly string[], output: string | undefined): Promise<void> {
    timelineSpan("startup", timelineOrigin(), timelineStart() || timelineOrigin());
    const memory = this.#memory;
    this.#freeSegmentsAtStart = memory.freeSegments;
    const layout = planSort({
      freeSegments: memory.freeSegments,
      segmentBytes: memory.segmentBytes,
      useWorker: this.#useWorker,
      fanInMax: this.#fanInMax,
      headroom: this.#recordBytes !== undefined,
      mainSorts: this.#mainSortable(),
    });
    this.#layout = layout;
    this.#stats.sortBufferPages = layout.bufferSegments;
    const split = splitSortBuffer(layout.bufferSegments, memory.segmentBytes);
    const buffers = this.#buffers;
    try {
      if (layout.ringSegments > 0) {
        // First: the kernel area is contiguous.
        this.#ring = new SpillRing(memory, {
          dataSegments: split.dataSegments,
          blockCount: layout.ringSegments,
        });
      }
      if (layout.mainKernelAreaSegments > 0) {
        this.#mainArea = memory.allocateContiguous(
          "sort-kernel-area-main",
          layout.mainKernelAreaSegments,
        );
      }
      this.#createBuffers();
      for (const input of inputs) await this.#readInput(input);
      // Sorting here, the last buffer needs no wait for the Worker's last spill.
      let spanMs = timelineStart();
      const lastSplit = buffers.length > 0 && this.#splitSortLast(buffers[this.#filling]!);
      const presorted = lastSplit ||
        (buffers.length > 0 && this.#sortHere(buffers[this.#filling]!));
      timelineEnd("sort-last-main", spanMs);
      // The Worker still writes the last spill: this thread waits for it anyway.
      if (this.#runs.length > 0) this.#warmMergeKernel();
      spanMs = timelineStart();
      await this.#awaitInFlight();
      timelineEnd("wait-last-spill", spanMs);
      if (lastSplit) await this.#awaitLastSplitHelp(buffers[this.#filling]!);
      this.#ensureBuffers(); // the input may end with a long record
      const last = buffers[this.#filling]!;
      if (this.#runs.length === 0) {
        // Everything fit in memory: sort here and write the output directly; no file at all.
        for (const buffer of buffers) if (buffer !== last) buffer.release();
        if (!presorted) await this.#sortLast(last);
        this.#allocateFilterArea();
        await this.#writeOutput(output, layout.outputSegments, async (sink) => {
          await this.#writeBuffer(last, sink);
        });
        return;
      }
      if (last.recordCount > 0) {
        // The last buffer stays in memory as the final merge's last input (no spill, no read
        // back), unless the spilled runs need more than one merge pass anyway.
        if (!presorted) await this.#sortLast(last);
        timelineFlush();
        // A record longer than a page was spilled: its merge reader assembles it in memory
        // (up to twice its length), so the buffer's pages are better free for the merge.
        if (this.#runs.length + 1 <= this.#fanInMax && this.#longestRecordBytes === 0) {
          this.#memoryRun = last;
        } else {
          const slot = this.#runs.length;
          this.#runs.push(undefined);
          await this.#spillBuffer(last, slot);
        }
      }
    } finally {
      if (this.#inFlight !== undefined) await this.#inFlight.catch(() => {});
      if (this.#sorting !== undefined) await this.#sorting.catch(() => {});
      if (this.#prefault !== undefined) this.#stats.prefaultedBytes = await this.#prefault;
      this.#inFlight = undefined;
      this.#sorting = undefined;
      const releaseMs = timelineStart();
      this.#endSplitSortHelps();
      this.#keepWorkerForMerge();
      for (const buffer of buffers) {
        if (!buffer.isLent && buffer !== this.#memoryRun) buffer.release();
      }
      this.#ring?.release();
      this.#ring = undefined;
      this.#mainArea?.release();
      this.#mainArea = undefined;
      timelineEnd("release-run-buffers", releaseMs);
    }
    const mergeMs = timelineStart();
    try {
      await this.#mergeRuns(output);
    } finally {
      timelineEnd("merge", mergeMs);
      timelineFlush();
      this.#memoryRun?.release();
      this.#memoryRun = undefined;
    }
  }

  /** Takes the sort buffers from the budget (the plan's count and size). */
  #createBuffers(): void {
    const layout = this.#layout!;
    // This thread's kernels: the append-lines kernel (plain bytes) and its own sorts.
    if (
      this.#kernels && this.#recordBytes === undefined &&
      (this.#order.isPlainBytes || this.#mainArea !== undefined)
    ) {
      this.#threadKernels ??= new WasmKernels(this.#memory.wasmMemory);
    }
    const split = splitSortBuffer(layout.bufferSegments, this.#memory.segmentBytes);
    for (let i = 0; i < layout.bufferCount; i += 1) {
      this.#buffers.push(
        new SortBuffer(this.#memory, {
          owner: `sort-buffer-${i}`,
          dataSegmentCount: split.dataSegments,
          indexEntryCount: split.indexEntries,
          order: this.#order,
          ...(this.#threadKernels === undefined ? {} : { kernels: this.#threadKernels }),
        }),
      );
    }
    this.#filling = 0;
  }

  /**
   * Faults in, on another thread, the buffer pages that `inputBytesLeft` more bytes will first
   * write (buffer_prefault.ts), so that appending does not wait for the kernel to zero them.
   */
  #startPrefault(inputBytesLeft: number): void {
    const ranges = inputBytesLeft > 0
      ? bufferPrefaultRanges(this.#buffers, this.#filling, inputBytesLeft)
      : [];
    if (ranges.length === 0) return;
    this.#prefault = prefaultMemory(this.#memory.wasmMemory, ranges);
  }

  /** Takes the sort buffers again if a long record made them free their memory. */
  #ensureBuffers(): void {
    if (this.#buffers.length === 0) this.#createBuffers();
  }

  /**
   * The input reader's large-record buffer does not fit the budget: spill what the buffers
   * hold and release them (taken again once the record is through). Once per record.
   *
   * @returns Whether memory was freed.
   */
  async #freeBuffersForLongRecord(): Promise<boolean> {
    const buffers = this.#buffers;
    if (buffers.length === 0) return false;
    if (buffers[this.#filling]!.recordCount > 0) await this.#handOff();
    await this.#awaitInFlight();
    for (const buffer of buffers) buffer.release();
    buffers.length = 0;
    return true;
  }

  async #awaitInFlight(): Promise<void> {
    const previous = this.#inFlight;
    if (previous === undefined) return;
    this.#inFlight = undefined;
    this.#sorting = undefined;
    await previous;
  }

  /**
   * Hands the full buffer to the Worker (or sorts it here) and spills it in the background.
   *
   * With two buffers A and B: when B is full, the Worker is free as soon as A is sorted, so B
   * starts sorting while this thread still spills A; once A is spilled it is refilled while B
   * sorts. Spills run one at a time (one run writer's pages in the plan).
   */
  async #handOff(): Promise<void> {
    const buffers = this.#buffers;
    const full = buffers[this.#filling]!;
    const slot = this.#runs.length;
    this.#runs.push(undefined);
    if (buffers.length === 1) {
      full.sort();
      await this.#spillBuffer(full, slot);
      return;
    }
    const previousSort = this.#sorting;
    const previousSpill = this.#inFlight;
    const ring = this.#ring;
    if (ring !== undefined) {
      // The Worker sorts `full` and gathers it into sealed blocks in the ring, which this
      // thread writes out as they come while it refills the other buffer. The Worker must be
      // done with the previous buffer and its blocks written first. With a kernel area of its
      // own, this thread sorts `full` first (meanwhile the Worker still gathers and writes the
      // previous buffer) and the Worker only gathers it and writes the run file itself.
      // An idle Worker sorts `full` itself (the first buffer; or this thread fills faster than
      // the Worker gathers): this thread goes on reading at once instead of sorting.
      const workerIdle = this.#workerSortsWhenIdle && (this.#worker?.isIdle ?? true);
      let spanMs = timelineStart();
      const presorted = this.#splitSortHere(full, ring) || (!workerIdle && this.#sortHere(full));
      timelineEnd("sort-main", spanMs);
      this.#warmMergeKernelWhileWaiting();
      spanMs = timelineStart();
      if (previousSort !== undefined) await previousSort;
      if (previousSpill !== undefined) await previousSpill;
      timelineEnd("wait-worker", spanMs);
      // Open the run file here, before the hand-off returns: the request reaches the Worker
      // now, not when this thread next waits on the event loop (its reads are synchronous, so
      // an open still pending would hold the request back until the next buffer is full).
      spanMs = timelineStart();
      const writer = await this.#io.createRunWriter("sort-run", {
        owner: "sort-spill",
        writeBehindSegments: 1,
      });
      timelineEnd("open-run", spanMs);
      const spilled = this.#spillOnWorker(full, ring, slot, presorted, writer);
      spilled.catch(() => {}); // awaited later; avoid an unhandled rejection meanwhile
      this.#sorting = spilled;
      this.#inFlight = spilled;
      this.#filling = 1 - this.#filling;
      return;
    }
    if (previousSort !== undefined) await previousSort;
    const sorting = this.#startWorker().sort(full).then(() => {});
    const spilled = (previousSpill === undefined ? sorting : Promise.all([sorting, previousSpill]))
      .then(() => this.#spillBuffer(full, slot));
    sorting.catch(() => {}); // awaited later; avoid an unhandled rejection meanwhile
    spilled.catch(() => {});
    this.#sorting = sorting;
    this.#inFlight = spilled;
    // The other buffer is refilled once its spill is done (while `full` sorts).
    if (previousSpill !== undefined) await previousSpill;
    this.#filling = 1 - this.#filling;
  }

  /**
   * Sorts `buffer` on the Worker and spills it from there: the Worker gathers the sorted
   * records (less `-u` duplicates) into sealed blocks, this thread only writes the blocks.
   */
  async #spillOnWorker(
    buffer: SortBuffer,
    ring: SpillRing,
    slot: number,
    presorted: boolean,
    writer: RunWriter,
  ): Promise<void> {
    // With a kernel area here (the ring is then small), the blocks are written on the Worker:
    // this thread is busy filling and sorting the next buffer and could not write them in time.
    const elsewhere = this.#mainArea !== undefined && this.#io.runsWritableElsewhere;
    // The Worker's gather writes records without a stored key too: only the comparator merges
    // such runs (the merge kernel would find them corrupt).
    if (this.#runsKeyed && buffer.keylessCount > 0) this.#keylessSpilled = true;
    try {
      const result = await this.#startWorker().sort(buffer, {
        spill: {
          ring,
          unique: this.#unique,
          writeBlock: (bytes, block) => writer.writeSealedBlock(bytes, block.recordCount),
          ...(elsewhere ? { runFile: writer.path } : {}),
          presorted,
        },
      });
      if (result.kernelSorted && !presorted) this.#stats.kernelSorts += 1;
      if (elsewhere) writer.adoptBlocks(result.blocksWritten, result.gatheredCount);
      const run = await writer.finish();
      this.#runs[slot] = run;
      if (result.lineBytesIndex !== undefined) {
        this.#lineBytesIndexes.set(run, result.lineBytesIndex);
      }
      if (result.blockFirstKeys !== undefined) this.#keepBlockFirstKeys(run, result.blockFirstKeys);
      this.#stats.runCount += 1;
    } catch (error) {
      await writer.abort();
      throw error instanceof WorkerWriteError ? writer.writeFailure(error.cause) : error;
    } finally {
      if (!buffer.isLent) buffer.reset();
    }
  }

  /** Keeps a run's block first keys while all of them stay within their bound. */
  #keepBlockFirstKeys(run: SpillRun, keys: BlockFirstKeys): void {
    // The key bytes, and two numbers per block.
    const bytes = keys.bytes.byteLength + 16 * keys.recordLengths.length;
    if (this.#blockFirstKeysBytes + bytes > this.#blockFirstKeysBytesMax) return;
    this.#blockFirstKeysBytes += bytes;
    this.#blockFirstKeys.set(run, keys);
  }

  /** {@linkcode ExternalSorter.#warmMergeKernel} when the Worker is busy (this thread waits). */
  #warmMergeKernelWhileWaiting(): void {
    if (!(this.#worker?.isIdle ?? true)) this.#warmMergeKernel();
  }

  /**
   * Compiles the merge kernel on this thread (warmMergeKernel, in its kernel area), once, where it
   * is about to wait for the Worker anyway (a full buffer's spill, or at the latest the last
   * one): the final merge's first kernel calls, on the merge Worker and on this thread, then
   * find it compiled instead of waiting ~5.5 ms each for TurboFan. (A split sort's Worker is
   * busy with its buckets while its status word says idle, so with split sorts the first place
   * seldom applies: the last spill is where it happens.)
   */
  #warmMergeKernel(): void {
    const area = this.#mainArea;
    const kernels = this.#threadKernels;
    if (this.#mergeKernelWarm || area === undefined || kernels === undefined) return;
    if (!this.#mergeKernel) return;
    this.#mergeKernelWarm = true;
    assert(area.segments[0]!.byteLength >= MERGE_WARM_BYTES, "the kernel area holds the warm-up");
    const spanMs = timelineStart();
    warmMergeKernel(kernels, this.#memory.wasmMemory, area.segments[0]!.memoryOffset);
    // And the placed merge's sum of the in-memory run's bytes (~0.5 ms of its first bound).
    kernels.indexLineBytes(area.segments[0]!.memoryOffset, 0);
    timelineEnd("warm-merge-kernel", spanMs);
  }

  /** Whether this thread may sort full buffers itself (`mainSorts` of sort_plan.ts). */
  #mainSortable(): boolean {
    return this.#kernels && this.#useWorker && this.#recordBytes === undefined &&
      this.#io.runsWritableElsewhere &&
      (this.#order.isPlainBytes || normalizedKeysFor(this.#order) !== undefined);
  }

  /**
   * Sorts `buffer` on this thread with the kernels when it has a kernel area of its own
   * (then the Worker only gathers and writes it).
   *
   * @returns Whether it sorted `buffer`.
   */
  #sortHere(buffer: SortBuffer): boolean {
    const area = this.#mainArea;
    if (area === undefined || buffer.recordCount === 0) return false;
    const kernelSorted = sortJobWith(buffer.jobHere(), this.#order, {
      memory: this.#memory.wasmMemory,
      kernels: this.#threadKernels,
      areaOffset: area.segments[0]!.memoryOffset,
    });
    if (kernelSorted) this.#stats.kernelSorts += 1;
    this.#stats.mainThreadSorts += 1;
    return true;
  }

  /**
   * Sorts `buffer` here and on the Worker at once (split_sort.ts): this thread partitions it,
   * asks the Worker to help (it does once it is done with the previous buffer) and sorts
   * buckets until none is left. Where it applies: plain bytes with the kernels on both threads,
   * the Worker writing runs itself, a buffer of {@linkcode SPLIT_SORT_RECORDS_MIN} records.
   *
   * @returns Whether `buffer` is sorted.
   */
  #splitSortHere(buffer: SortBuffer, ring: SpillRing): boolean {
    const area = this.#mainArea;
    const kernels = this.#threadKernels;
    if (
      !this.#splitSort || area === undefined || !(kernels instanceof WasmKernels) ||
      !this.#order.isPlainBytes || !this.#kernels || !this.#io.runsWritableElsewhere ||
      buffer.recordCount < SPLIT_SORT_RECORDS_MIN
    ) {
      return false;
    }
    const job = buffer.jobHere();
    if (job.keyed === true) return false;
    const areaOffset = area.segments[0]!.memoryOffset;
    const help = {
      job,
      control: this.#splitControls[this.#filling]!,
      reverse: this.#order.reverse,
    };
    startSplitSort(help.control, help.job, kernels, areaOffset);
    buffer.shareWith(SORT_WORKER_OWNER); // a write after release names the Worker
    // Counted before the help is posted: a failure from here on ends it (#endSplitSortHelps).
    this.#stats.splitSorts += 1;
    this.#startWorker().help(help, ring);
    sortClaimedBuckets(help, false, kernels, areaOffset);
    this.#stats.kernelSorts += 1;
    return true;
  }

  /**
   * Sorts the last buffer (kept in memory for the final merge, or spilled) on this thread and
   * the Worker at once (split_sort.ts), where a split sort applies: the Worker takes buckets
   * from the high end once it is done with the last spill, instead of idling until the merge.
   * {@linkcode ExternalSorter.#awaitLastSplitHelp} waits for its buckets.
   *
   * @returns Whether a split sort ran (this thread's buckets are sorted).
   */
  #splitSortLast(buffer: SortBuffer): boolean {
    const ring = this.#ring;
    const worker = this.#worker;
    if (ring === undefined || worker === undefined || worker.isClosed) return false;
    return this.#splitSortHere(buffer, ring);
  }

  /**
   * After the last buffer's split sort and the last spill: the Worker's buckets are sorted. A
   * help not begun is ended (no wait); else the Worker's reply to a job sent after the help
   * says it is over (or rejects with the help's failure).
   */
  async #awaitLastSplitHelp(buffer: SortBuffer): Promise<void> {
    if (endSplitSortHelpNotBegun(this.#splitControls[this.#filling]!)) return;
    const spanMs = timelineStart();
    await this.#startWorker().sort(buffer, { presorted: true });
    timelineEnd("wait-last-help", spanMs);
  }

  /**
   * Sorts the last buffer: on the Worker (with the kernels) if there is one, else here (and an
   * empty one here: no wait for a Worker that may still be booting).
   */
  async #sortLast(buffer: SortBuffer): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined || buffer.recordCount === 0) {
      buffer.sort();
      return;
    }
    const result = await worker.sort(buffer, this.#ring === undefined ? {} : { ring: this.#ring });
    if (result.kernelSorted) this.#stats.kernelSorts += 1;
  }

  /** Starts the sort Worker (it takes a while to boot: start it before the first hand-off). */
  #startWorker(): SortWorker {
    if (this.#worker === undefined) {
      assert(this.#descriptor !== undefined, "two sort buffers need a Worker");
      // A key spec that sorts plain bytes goes to the Worker as such: it then needs no import of
      // the key parsers before its warm-up and first job (3-5 ms of its start).
      const order = this.#order;
      const descriptor: OrderDescriptor = order.isPlainBytes
        ? { kind: "bytes", reverse: order.reverse }
        : this.#descriptor;
      const spanMs = timelineStart();
      this.#worker = new SortWorker(descriptor, this.#memory, { kernels: this.#kernels });
      timelineEnd("worker-spawn", spanMs);
      this.#stats.usedWorker = true;
    }
    return this.#worker;
  }

  /**
   * Boots the Worker before the first hand-off when the input may not fit one buffer (a boot
   * takes ~35 ms, and spawning blocks this thread ~12 ms): at once for a file larger than a
   * buffer; for an input of unknown size (stdin, a device, .gz) once more than
   * {@linkcode WORKER_EARLY_INPUT_BYTES} of the input came, so that an empty or small one
   * (`/dev/null`, `printf ... | spillway sort`) is sorted here without a Worker.
   */
  #bootWorkerEarly(reader: LineReader, inputBytes: number): void {
    const layout = this.#layout!;
    if (this.#worker !== undefined || layout.bufferCount < 2) return;
    const capacity = layout.bufferDataSegments * this.#memory.segmentBytes;
    const total = reader.totalBytes;
    if (total === undefined ? inputBytes > WORKER_EARLY_INPUT_BYTES : total > capacity) {
      this.#startWorker();
    }
  }

  /** The slow path of appending: the buffer is full, or the record is longer than a page. */
  async #appendSlow(bytes: Uint8Array, start: number, length: number): Promise<void> {
    let buffer = this.#buffers[this.#filling]!;
    if (!buffer.canHold(length)) {
      // Flush what is buffered first, so run slots stay in input order.
      if (buffer.recordCount > 0) await this.#handOff();
      await this.#spillOversized(bytes, start, length);
      return;
    }
    await this.#handOff();
    buffer = this.#buffers[this.#filling]!;
    const ok = buffer.tryAppend(bytes, start, length);
    assert(ok, "an empty sort buffer refused a record it can hold");
  }

  async #readInput(input: string): Promise<void> {
    const reader: LineReader = await this.#io.openInput(input, {
      owner: "sort-input",
      terminator: this.#terminator,
      chunkSegments: this.#layout!.inputChunkSegments,
      ...(this.#recordBytes === undefined
        ? {
          onMemoryShort: () => this.#freeBuffersForLongRecord(),
          sharedChunk: this.#threadKernels !== undefined || this.#filter !== undefined,
          ...(this.#filter?.cutsAtWhitespace === true ? { cutAtWhitespace: true } : {}),
        }
        : {}),
    });
    this.#progress.phase(
      reader.totalBytes === undefined
        ? { name: "read" }
        : { name: "read", totalBytes: reader.totalBytes },
    );
    try {
      this.#bootWorkerEarly(reader, this.#stats.inputBytes);
      if (this.#recordBytes !== undefined) {
        await this.#readFixedRecords(reader, this.#recordBytes);
        return;
      }
      const stats = this.#stats;
      const terminator = this.#terminator;
      while (true) {
        let spanMs = timelineStart();
        const read = await reader.nextChunk();
        timelineEnd("read", spanMs);
        if (read === undefined) break;
        spanMs = timelineStart();
        // The terminator the reader appends to an input without a final one was not read.
        const readBytes = read.length - (reader.sawMissingTerminator ? 1 : 0);
        stats.inputBytes += readBytes;
        this.#progress.advance(readBytes);
        this.#bootWorkerEarly(reader, stats.inputBytes);
        const chunk = this.#filter === undefined ? read : this.#filter.rewriteChunk(read);
        const end = chunk.length;
        if (this.#buffers.length === 0) {
          // The buffers made room for a long record: this chunk is that record alone (it is
          // longer than any page: a run of its own), or the reader is past it.
          if (chunk.indexOf(terminator) === end - 1 && end - 1 > this.#memory.segmentBytes) {
            stats.inputRecords += 1;
            await this.#spillOversized(chunk, 0, end - 1);
            continue;
          }
          this.#ensureBuffers();
        }
        let buffer = this.#buffers[this.#filling]!;
        let records = 0;
        let start = 0;
        if (buffer.appendsChunks && chunk.buffer instanceof SharedArrayBuffer) {
          // The kernel appends whole runs of records; full buffers and records longer than a
          // page take the slow path one record at a time.
          while (start < end) {
            const status = buffer.appendLines(chunk, start, terminator);
            records += buffer.appendedCount;
            start = buffer.appendStop;
            if (status === AppendStatus.done) break;
            const stop = chunk.indexOf(terminator, start);
            records += 1;
            timelineEnd("append", spanMs);
            await this.#appendSlow(chunk, start, stop - start);
            spanMs = timelineStart();
            buffer = this.#buffers[this.#filling]!;
            start = stop + 1;
          }
        }
        while (start < end) {
          const stop = chunk.indexOf(terminator, start);
          const length = stop - start;
          records += 1;
          if (!buffer.tryAppend(chunk, start, length)) {
            timelineEnd("append", spanMs);
            await this.#appendSlow(chunk, start, length);
            spanMs = timelineStart();
            buffer = this.#buffers[this.#filling]!;
          }
          start = stop + 1;
        }
        stats.inputRecords += records;
        timelineEnd("append", spanMs);
        if (this.#prefault === undefined && reader.totalBytes !== undefined) {
          this.#startPrefault(reader.totalBytes - reader.bytesRead);
        }
      }
    } finally {
      await reader.close();
    }
  }

  /**
   * Cuts an input into fixed-size binary records. The line reader's chunks, concatenated, are
   * the input (plus one terminator it appends when the input does not end with one, which is
   * dropped here); records that straddle chunks are assembled in a small carry buffer.
   */
  async #readFixedRecords(reader: LineReader, recordBytes: number): Promise<void> {
    const stats = this.#stats;
    using carryReservation = this.#memory.reserve("sort-input-carry", recordBytes);
    const carry = new Uint8Array(carryReservation.bytes);
    let carried = 0;
    while (true) {
      const view = await reader.nextChunk();
      if (view === undefined) break;
      const chunk = reader.sawMissingTerminator ? view.subarray(0, view.length - 1) : view;
      stats.inputBytes += chunk.length;
      this.#bootWorkerEarly(reader, stats.inputBytes);
      let start = 0;
      if (carried > 0) {
        const take = Math.min(recordBytes - carried, chunk.length);
        carry.set(chunk.subarray(0, take), carried);
        carried += take;
        start = take;
        if (carried < recordBytes) continue;
        await this.#appendRecord(carry, 0, recordBytes);
        carried = 0;
      }
      const end = chunk.length;
      let buffer = this.#buffers[this.#filling]!;
      while (start + recordBytes <= end) {
        stats.inputRecords += 1;
        if (!buffer.tryAppend(chunk, start, recordBytes)) {
          await this.#appendSlow(chunk, start, recordBytes);
          buffer = this.#buffers[this.#filling]!;
        }
        start += recordBytes;
      }
      if (start < end) {
        carry.set(chunk.subarray(start, end), 0);
        carried = end - start;
      }
    }
    if (carried > 0) {
      throw new InputError(
        `Cannot sort ${reader.name}: it ends with a partial record of ${carried} bytes; --record-size is ${recordBytes} bytes`,
      );
    }
  }

  async #appendRecord(bytes: Uint8Array, start: number, length: number): Promise<void> {
    this.#stats.inputRecords += 1;
    if (!this.#buffers[this.#filling]!.tryAppend(bytes, start, length)) {
      await this.#appendSlow(bytes, start, length);
    }
  }

  async #spillOversized(bytes: Uint8Array, start: number, length: number): Promise<void> {
    this.#checkFilterHolds(length);
    await this.#awaitInFlight();
    this.#longestRecordBytes = Math.max(this.#longestRecordBytes, length);
    const slot = this.#runs.length;
    this.#runs.push(undefined);
    const writer = await this.#io.createRunWriter("sort-run", {
      owner: "sort-spill-large",
      writeBehindSegments: this.#layout!.writeBehindSegments,
    });
    try {
      // A record longer than a page has no stored key: a keyed run holds it keyless.
      const pending = this.#runsKeyed
        ? writer.writeKeyedRecord(bytes, 0, -1, start, length)
        : writer.writeRecord(bytes, start, length);
      if (this.#runsKeyed) this.#keylessSpilled = true;
      if (pending) await pending;
      this.#runs[slot] = await writer.finish();
      this.#stats.runCount += 1;
    } catch (error) {
      await writer.abort();
      throw error;
    }
  }

  /**
   * With a filter: a record whose lines the filter's pages and a 2-way final merge cannot hold
   * in the pages the sort began with fails now ({@linkcode MergeBudgetError}), not after the
   * rest of the input was read and sorted: the caller may have another way (count's table).
   */
  #checkFilterHolds(recordBytes: number): void {
    const filter = this.#filter;
    if (filter === undefined) return;
    const segmentBytes = this.#memory.segmentBytes;
    const area = filter.segmentsFor(Math.max(segmentBytes, recordBytes));
    const freeSegments = this.#freeSegmentsAtStart - area;
    if (freeSegments < 1) {
      throw new MergeBudgetError(
        `Cannot hold a record of ${recordBytes} bytes: its line filter takes ${area} of ${this.#freeSegmentsAtStart} free segments; raise --memory (-S)`,
      );
    }
    planMerge({
      freeSegments,
      segmentBytes,
      fanInMax: 2,
      inputCount: 2,
      spanningRecordBytesMax: recordBytes,
    });
  }

  async #spillBuffer(buffer: SortBuffer, slot: number): Promise<void> {
    const writer: RunWriter = await this.#io.createRunWriter("sort-run", {
      owner: "sort-spill",
      writeBehindSegments: this.#layout!.writeBehindSegments,
    });
    try {
      await this.#writeBuffer(buffer, writer.writeRecord.bind(writer), writer);
      this.#runs[slot] = await writer.finish();
      this.#stats.runCount += 1;
      this.#bootMergeWorker();
    } catch (error) {
      await writer.abort();
      throw error;
    } finally {
      buffer.reset();
    }
  }

  /**
   * Writes a sorted buffer's records in order (dropping `-u` duplicates) to `sink`, or, for a
   * spill when the runs are keyed, each with its key to `runWriter`.
   */
  async #writeBuffer(buffer: SortBuffer, sink: RecordSink, runWriter?: RunWriter): Promise<void> {
    const writer = this.#runsKeyed ? runWriter : undefined;
    const keyed = writer !== undefined;
    if (keyed) {
      assert(buffer.keyed, "a keyed run is spilled from a keyed sort buffer");
      if (buffer.keylessCount > 0) this.#keylessSpilled = true;
    }
    if (!this.#unique) {
      if (keyed) {
        await buffer.writeSortedKeyed(writer.writeKeyedRecord.bind(writer));
      } else {
        await buffer.writeSorted(sink);
      }
      return;
    }
    const count = buffer.recordCount;
    const filter = new UniqueFilter({
      order: this.#order,
      unique: this.#unique,
      memory: this.#memory,
      owner: "sort-unique",
    });
    try {
      for (let i = 0; i < count; i += 1) {
        const bytes = buffer.recordBytes(i);
        const offset = buffer.recordOffset(i);
        const length = buffer.recordLength(i);
        if (!filter.accept(bytes, offset, length)) continue;
        let pending: Promise<void> | undefined;
        if (keyed) {
          const keyOffset = buffer.recordKeyOffset(i);
          const keyLength = buffer.recordKeyLength(i);
          pending = writer.writeKeyedRecord(bytes, keyOffset, keyLength, offset, length);
        } else {
          pending = sink(bytes, offset, length);
        }
        if (pending !== undefined) await pending;
      }
    } finally {
      filter.release();
    }
  }

  /** Opens the output, runs `body` with a record sink that adds terminators, commits. */
  async #writeOutput(
    output: string | undefined,
    bufferSegments: number,
    body: (sink: RecordSink) => Promise<void>,
  ): Promise<void> {
    const out = await this.#createOutput(output, bufferSegments);
    const terminator = this.#terminator;
    const stats = this.#stats;
    const addTerminator = this.#recordBytes === undefined;
    try {
      await body((bytes, offset, length) => {
        stats.outputRecords += 1;
        const pending = out.write(bytes, offset, length);
        if (!addTerminator) return pending;
        if (pending !== undefined) return pending.then(() => out.writeByte(terminator));
        return out.writeByte(terminator);
      });
      await out.commit();
    } catch (error) {
      await out.abort();
      throw error;
    }
  }

  /** Whether the free segments allow at least a 2-way merge (what {@linkcode planMerge} needs). */
  #mergeFits(): boolean {
    try {
      return this.#mergePlan(2).fanIn >= 2;
    } catch (error) {
      if (error instanceof ResourceError) return false;
      throw error;
    }
  }

  /** The merge plan for `inputCount` runs in the segments free now. */
  #mergePlan(inputCount: number): MergePlan {
    let spanningRecordBytesMax = 0;
    for (const run of this.#runs) {
      spanningRecordBytesMax = Math.max(spanningRecordBytesMax, run?.spanningRecordBytesMax ?? 0);
    }
    return planMerge({
      freeSegments: this.#memory.freeSegments,
      segmentBytes: this.#memory.segmentBytes,
      fanInMax: this.#fanInMax,
      inputCount,
      spanningRecordBytesMax,
    });
  }

  async #mergeRuns(output: string | undefined): Promise<void> {
    this.#allocateFilterArea(); // before the merge plans what is free
    let runs = this.#runs.map((run) => {
      assert(run !== undefined, "a run slot was never filled");
      return run;
    });
    // A small budget without a Worker can leave too few pages beside the in-memory run for
    // even a 2-way merge: then that run is spilled too, which frees its pages.
    const tight = this.#memoryRun !== undefined && !this.#mergeFits();
    const { fanIn: plannedFanIn } = tight
      ? { fanIn: 1 }
      : this.#mergePlan(runs.length + (this.#memoryRun === undefined ? 0 : 1));
    this.#stats.fanIn = plannedFanIn;
    if (this.#memoryRun !== undefined && runs.length + 1 > plannedFanIn) {
      // The budget allows fewer inputs than planned: spill the in-memory run after all.
      const slot = this.#runs.length;
      this.#runs.push(undefined);
      const buffer = this.#memoryRun;
      this.#memoryRun = undefined;
      await this.#spillBuffer(buffer, slot);
      buffer.release();
      runs = this.#runs.map((run) => run!);
    }
    const fanIn = tight ? this.#mergePlan(runs.length).fanIn : plannedFanIn;
    this.#stats.fanIn = fanIn;
    const passCount = Math.max(1, mergePassCount(runs.length, fanIn));
    while (runs.length > fanIn) {
      this.#mergePhase(runs, this.#stats.mergePasses + 1, passCount);
      runs = await this.#mergePass(runs, fanIn);
    }
    const memoryRun = this.#memoryRun;
    const { readAheadSegments, outputSegments } = this.#mergePlan(
      runs.length + (memoryRun === undefined ? 0 : 1),
    );
    this.#mergePhase(runs, this.#stats.mergePasses + 1, passCount);
    if (
      this.#kernelMergeFits(memoryRun, runs) &&
      await this.#kernelMergeOutput(output, runs, { readAheadSegments, outputSegments })
    ) {
      this.#stats.usedMergeKernel = true;
      this.#stats.mergePasses += 1;
      return;
    }
    await this.#writeOutput(output, outputSegments, async (sink) => {
      const counted = this.#counted(sink);
      if (!this.#runsKeyed) {
        await this.#mergeGroup(
          runs,
          readAheadSegments,
          counted,
          memoryRun === undefined ? undefined : new BufferCursor(memoryRun),
        );
        return;
      }
      // Keyed runs: the merge compares keys, the output gets the lines.
      const lines: RecordSink = (bytes, offset, length) => {
        const line = keyedLineOffset(bytes, offset);
        return counted(bytes, line, offset + length - line);
      };
      const cursor = memoryRun === undefined
        ? undefined
        : new KeyedBufferCursor(memoryRun, this.#memory);
      try {
        await this.#mergeGroup(runs, readAheadSegments, lines, cursor);
      } finally {
        cursor?.release();
      }
    });
    this.#stats.mergePasses += 1;
  }

  /**
   * Before the sort buffers go back to the budget: the Worker's help with a split sort is over
   * (split_sort.ts), or never begins. A buffer is normally handed to the Worker after its split
   * sort (the help, sent before, is then done), but not when the sort failed in between (the
   * previous run's write, the next run file's open): its pages would be released while the
   * Worker may still sort a bucket of them.
   */
  #endSplitSortHelps(): void {
    const worker = this.#worker;
    if (worker === undefined || this.#stats.splitSorts === 0) return;
    // An ended Worker stops at its next loop check, long before the short wait is over.
    const timeoutMs = worker.isClosed ? ENDED_HELP_WAIT_MS : HELP_WAIT_MS;
    for (const control of this.#splitControls) {
      if (!endSplitSortHelp(control, timeoutMs)) worker.close(); // hung: end it
    }
  }

  /**
   * After run generation: the idle sort Worker becomes the merge Worker when the final merge
   * may run on one (a second isolate would add ~15 MiB to the peak RSS); else it ends.
   */
  #keepWorkerForMerge(): void {
    const sortWorker = this.#worker;
    this.#worker = undefined;
    if (sortWorker === undefined) return;
    const wanted = this.#mergeWorker === undefined && this.#runs.length > 0 &&
      this.#kernelMergeFits(this.#memoryRun, this.#runs);
    if (!wanted) {
      sortWorker.close();
      return;
    }
    this.#mergeWorker = sortWorker.handOver();
    // Its merge's libc, loaded while this thread releases the buffers and finds the bounds.
    this.#mergeWorker?.postMessage({ type: "prepare-merge" } satisfies MergePrepare);
  }

  /** The early-started merge Worker, now owned by the caller (or undefined). */
  #takeMergeWorker(): Worker | undefined {
    const worker = this.#mergeWorker;
    this.#mergeWorker = undefined;
    return worker;
  }

  /**
   * Starts the merge Worker early (it boots while the input is read) once half the bytes of a
   * parallel final merge are spilled, unless the sort Worker is running (it does the merge).
   */
  #bootMergeWorker(): void {
    if (
      this.#mergeWorker !== undefined || this.#worker !== undefined || !this.#useWorker ||
      !this.#kernelMergeFits(undefined, this.#runs)
    ) {
      return;
    }
    let spilledBytes = 0;
    for (const run of this.#runs) spilledBytes += run?.byteLength ?? 0;
    if (spilledBytes * 2 < this.#parallelMergeBytesMin) return;
    this.#mergeWorker = startMergeWorker();
  }

  /** Whether the final merge can run on the merge kernel: plain byte order of lines. */
  #kernelMergeFits(
    memoryRun: SortBuffer | undefined,
    runs: readonly (SpillRun | undefined)[],
  ): boolean {
    // A run with a record longer than KERNEL_MERGE_SPANNING_MAX goes to the loser tree: the
    // kernel completes a record cut by a block border in one contiguous carry per input, which
    // a fragmented budget may not have for such a record; the loser tree's run readers
    // assemble it in the scratch the merge plan reserved.
    // Keyed runs merge on the kernel by their keys, unless a record has no stored key (a line
    // whose key does not fit an empty page): only the comparator orders those.
    const keyedFits = this.#runsKeyed && !this.#keylessSpilled &&
      (memoryRun === undefined || memoryRun.keylessCount === 0);
    return this.#mergeKernel && (this.#order.isPlainBytes || keyedFits) &&
      this.#recordBytes === undefined &&
      (memoryRun === undefined || memoryRun.keyed === this.#runsKeyed) &&
      runs.every((run) => (run?.spanningRecordBytesMax ?? 0) <= KERNEL_MERGE_SPANNING_MAX);
  }

  /**
   * The final merge on the merge kernel (src/sort/kernel_merge.ts): the runs' blocks and the
   * in-memory run are merged in place into output lines. False (nothing written) when the
   * segments left beside the readers cannot hold the kernel's carries and output halves.
   */
  async #kernelMergeOutput(
    output: string | undefined,
    runs: readonly SpillRun[],
    plan: { readAheadSegments: number; outputSegments: number },
  ): Promise<boolean> {
    const memory = this.#memory;
    this.#mergeKernels ??= new WasmKernels(memory.wasmMemory);
    const readers: RunReader[] = [];
    let expectedRecords = 0;
    const memoryRun = this.#memoryRun;
    const outputSegments = Math.max(2, plan.outputSegments - 1);
    const inputCount = runs.length + (memoryRun === undefined ? 0 : 1);
    let mergeBytes = 0;
    for (const run of runs) mergeBytes += run.byteLength;
    if (memoryRun !== undefined) mergeBytes += memoryRun.dataBytes;
    const parallelWanted = this.#useWorker && mergeBytes >= this.#parallelMergeBytesMin;
    // The merge Worker reads plain runs itself (one block buffer each, in its pages): no
    // readers here, and this thread only writes the output.
    const readOnWorker = parallelWanted && runs.length > 0 && this.#io.runsReadableElsewhere &&
      memory.freeSegments >= parallelMergeSegments(memory, inputCount, outputSegments) +
          memoryRunBlocksSegments(memory.segmentBytes, memoryRun) + KERNEL_MERGE_SPARE_SEGMENTS;
    try {
      for (const run of readOnWorker ? [] : runs) {
        readers.push(
          await this.#io.openRunReader(run, {
            owner: "sort-merge-in",
            readAheadSegments: plan.readAheadSegments,
          }),
        );
      }
    } catch (error) {
      for (const reader of readers) await reader.close();
      throw error;
    }
    for (const run of runs) expectedRecords += run.recordCount;
    // The key split compares records as lines: keyed runs keep one merge Worker.
    if (readOnWorker && this.#splitMerge !== false && !this.#runsKeyed) {
      const split = await this.#splitMergeOutput(output, runs, expectedRecords, mergeBytes);
      if (split) return true;
    }
    if (
      !readOnWorker &&
      memory.freeSegments <
        kernelMergeSegments(memory.segmentBytes, inputCount, outputSegments, memoryRun)
    ) {
      for (const reader of readers) await reader.close();
      return false;
    }
    let out: LineSink | undefined = undefined;
    try {
      const openMs = timelineStart();
      out = await this.#createOutput(output, 1);
      timelineEnd("open-output", openMs);
      const sink = out;
      const placed = readOnWorker &&
        await this.#placedMergeOutput(sink, runs, { expectedRecords, mergeBytes, outputSegments });
      if (!placed) {
        await this.#mergeOneLane(sink, readers, runs, {
          readOnWorker,
          parallelWanted,
          expectedRecords,
          outputSegments,
        });
      }
      const commitMs = timelineStart();
      await out.commit();
      timelineEnd("commit", commitMs);
    } catch (error) {
      await out?.abort();
      throw error;
    } finally {
      for (const reader of readers) await reader.close();
    }
    await this.#deleteMergedRuns(runs);
    return true;
  }

  /**
   * The final merge on the merge kernel into `sink` as one merge: on the merge Worker (which
   * reads the runs itself when `readOnWorker`) while this thread writes, or here.
   */
  async #mergeOneLane(
    sink: LineSink,
    readers: readonly RunReader[],
    runs: readonly SpillRun[],
    plan: {
      readOnWorker: boolean;
      parallelWanted: boolean;
      expectedRecords: number;
      outputSegments: number;
    },
  ): Promise<void> {
    const memory = this.#memory;
    const memoryRun = this.#memoryRun;
    const { readOnWorker, parallelWanted, outputSegments } = plan;
    let expectedRecords = plan.expectedRecords;
    const inputCount = runs.length + (memoryRun === undefined ? 0 : 1);
    const kernels = this.#mergeKernels!;
    let memoryBlocks: SortBufferBlocks | undefined = undefined;
    try {
      const sources: BlockSource[] = [...readers];
      if (memoryRun !== undefined) {
        expectedRecords += memoryRun.recordCount;
        memoryBlocks = new SortBufferBlocks(memoryRun, {
          kernels,
          memory,
          owner: "sort-merge-kernel",
        });
        sources.push(memoryBlocks);
      }
      const progress = this.#progress;
      const write = (bytes: Uint8Array, byteLength: number) => {
        progress.advance(byteLength);
        return sink.write(bytes, 0, byteLength);
      };
      const parallel = readOnWorker || (parallelWanted &&
        memory.freeSegments >= parallelMergeSegments(memory, inputCount, outputSegments) +
            inputCount + KERNEL_MERGE_SPARE_SEGMENTS);
      // A ring of output regions of the halves' size where the budget has room beside a carry
      // page per input (else the two halves).
      const regionSegments = Math.max(1, Math.floor(outputSegments / 2));
      const ringSegments = PARALLEL_OUTPUT_REGIONS * regionSegments;
      const ring = memory.freeSegments >=
        parallelMergeSegments(memory, inputCount, ringSegments, PARALLEL_OUTPUT_REGIONS) +
          inputCount + KERNEL_MERGE_SPARE_SEGMENTS;
      const keyed = this.#runsKeyed;
      const order = {
        reverse: keyed ? false : this.#order.reverse,
        unique: this.#unique,
        keyed,
        lineEndsKey: keyed && this.#lineEndsKey,
      };
      let result: KernelMergeResult;
      if (parallel) {
        const inputs: ParallelMergeInput[] = readOnWorker
          ? [...runs.map((run) => new RunOnWorker(run)), ...sources]
          : sources;
        const mergedMs = timelineStart();
        const merged = await mergeOnWorker(inputs, write, {
          worker: this.#takeMergeWorker(),
          memory,
          ...order,
          terminator: this.#terminator,
          expectedRecords,
          ...(ring
            ? { outputSegments: ringSegments, outputRegions: PARALLEL_OUTPUT_REGIONS }
            : { outputSegments }),
          releaseReadBlocks: true,
          ...this.#mergeWorkerTuning,
        });
        timelineEnd("merge-on-worker", mergedMs);
        this.#io.countBlocksReadElsewhere(merged.blocksReadOnWorker);
        result = merged;
      } else {
        result = await mergeBlocksToLines(sources, write, {
          regions: managedMergeRegions(memory, { owner: "sort-merge-kernel", outputSegments }),
          kernels,
          ...order,
          terminator: this.#terminator,
          expectedRecords,
        });
      }
      this.#stats.usedMergeWorker = parallel;
      this.#stats.outputRecords += result.writtenCount;
    } finally {
      memoryBlocks?.close();
    }
  }

  /**
   * The final merge as key ranges at their offsets, on the merge Worker and this thread
   * (src/sort/placed_merge.ts), into `sink`'s file. False (nothing written) where it does not
   * apply or the budget cannot hold both lanes.
   */
  async #placedMergeOutput(
    output: LineSink,
    runs: readonly SpillRun[],
    plan: { expectedRecords: number; mergeBytes: number; outputSegments: number },
  ): Promise<boolean> {
    const memory = this.#memory;
    const memoryRun = this.#memoryRun;
    const placed = this.#placedMerge;
    // A filter's output is written through it, never at offsets of the file.
    const sink = output instanceof OutputSink ? output : undefined;
    const parts = sink?.parts;
    const inputCount = runs.length + (memoryRun === undefined ? 0 : 1);
    const bytesMin = typeof placed === "object"
      ? placed.bytesMin ?? PLACED_MERGE_BYTES_MIN
      : PLACED_MERGE_BYTES_MIN;
    const applies = placed !== false && !this.#runsKeyed && !this.#unique &&
      parts !== undefined && plan.mergeBytes >= bytesMin &&
      runs.every((run) => this.#lineBytesIndexes.has(run)) &&
      (memoryRun === undefined ||
        placedMergeTableFits(memory.segmentBytes, memoryRun.segments.length)) &&
      memory.freeSegments >=
        placedMergeSegments(memory, inputCount, plan.outputSegments) +
          KERNEL_MERGE_SPARE_SEGMENTS;
    if (!applies || sink === undefined) return false;
    const mergedMs = timelineStart();
    let result: PlacedMergeResult;
    try {
      result = await mergePlacedRanges(runs, memoryRun, {
        memory,
        kernels: this.#mergeKernels!,
        reverse: this.#order.reverse,
        terminator: this.#terminator,
        expectedRecords: plan.expectedRecords + (memoryRun?.recordCount ?? 0),
        cuts: typeof placed === "object" && placed.rangeCount !== undefined
          ? evenCuts(placed.rangeCount)
          : placedMergeCuts(
            plan.mergeBytes,
            typeof placed === "object" ? placed.shrinkingBytesMin : undefined,
          ),
        outputSegments: plan.outputSegments,
        lineBytesIndexes: this.#lineBytesIndexes,
        blockFirstKeys: this.#blockFirstKeys,
        parts,
        onRangeWritten: (byteLength) => this.#progress.advance(byteLength),
        worker: this.#takeMergeWorker(),
        ...(this.#lendIdleWorker
          ? { onIdleWorker: (worker) => memory.attachPoisonHelper(workerPoisonHelper(worker)) }
          : {}),
        ...this.#mergeWorkerTuning,
      });
    } catch (error) {
      throw error instanceof OutputPartError ? sink.writeError(error.byteLength, error) : error;
    }
    timelineEnd("merge-placed", mergedMs);
    sink.countPartBytes(result.outputBytes);
    this.#io.countBlocksReadElsewhere(result.blocksReadOnWorker + result.blocksReadHere);
    this.#stats.usedMergeWorker = true;
    this.#stats.mergeRanges = result.rangeCount;
    this.#stats.outputRecords += result.writtenCount;
    return true;
  }

  /** Deletes the runs a final merge merged. */
  async #deleteMergedRuns(runs: readonly SpillRun[]): Promise<void> {
    const deleteMs = timelineStart();
    for (const run of runs) {
      await this.#io.deleteRun(run);
      this.#runs = this.#runs.filter((slot) => slot !== run);
    }
    timelineEnd("delete-runs", deleteMs);
  }

  /**
   * The final merge split by key range over two merge Workers (src/sort/split_merge.ts).
   * False (nothing done) when the merge is too small to split or the budget cannot hold two
   * range merges.
   */
  async #splitMergeOutput(
    output: string | undefined,
    runs: readonly SpillRun[],
    runRecords: number,
    mergeBytes: number,
  ): Promise<boolean> {
    const memory = this.#memory;
    const segmentBytes = memory.segmentBytes;
    const memoryRun = this.#memoryRun;
    const inputCount = runs.length + (memoryRun === undefined ? 0 : 1);
    // Each Worker buffers up to its output while the other's range is written: a range of
    // twice that keeps both busy.
    let outputSegments = 2 * Math.max(
      1,
      Math.min(Math.floor(memory.freeSegments / 16), SPLIT_MERGE_HALF_BYTES_MAX / segmentBytes),
    );
    const fits = () =>
      memory.freeSegments >=
        splitMergeSegments(memory, inputCount, outputSegments) + KERNEL_MERGE_SPARE_SEGMENTS;
    while (!fits() && outputSegments > 2) outputSegments = 2 * Math.floor(outputSegments / 4);
    const rangeBytes = this.#splitMerge === true
      ? 2 * outputSegments * segmentBytes
      : Math.max(1, (this.#splitMerge as { rangeBytes: number }).rangeBytes);
    const rangeCount = Math.min(SPLIT_MERGE_RANGES_MAX, Math.ceil(mergeBytes / rangeBytes));
    if (rangeCount < 2 || !fits()) return false;
    if (memoryRun !== undefined && !splitMergeTableFits(segmentBytes, memoryRun.segments.length)) {
      return false;
    }
    const expectedRecords = runRecords + (memoryRun?.recordCount ?? 0);
    let out: LineSink | undefined = undefined;
    try {
      out = await this.#createOutput(output, 1);
      const sink = out;
      const progress = this.#progress;
      const write = (bytes: Uint8Array, byteLength: number) => {
        progress.advance(byteLength);
        return sink.write(bytes, 0, byteLength);
      };
      const result = await mergeByKeyRanges(runs, memoryRun, write, {
        worker: this.#takeMergeWorker(),
        memory,
        reverse: this.#order.reverse,
        unique: this.#unique,
        terminator: this.#terminator,
        expectedRecords,
        outputSegments,
        rangeCount,
        ...this.#mergeWorkerTuning,
      });
      this.#io.countBlocksReadElsewhere(result.blocksReadOnWorker);
      this.#stats.usedMergeWorker = true;
      this.#stats.mergeRanges = result.rangeCount;
      this.#stats.outputRecords += result.writtenCount;
      const commitMs = timelineStart();
      await out.commit();
      timelineEnd("commit", commitMs);
    } catch (error) {
      await out?.abort();
      throw error;
    }
    for (const run of runs) {
      await this.#io.deleteRun(run);
      this.#runs = this.#runs.filter((slot) => slot !== run);
    }
    return true;
  }

  /** Announces merge pass `pass` of `passCount` over `runs` to the progress sink. */
  #mergePhase(runs: readonly SpillRun[], pass: number, passCount: number): void {
    let totalBytes = 0;
    for (const run of runs) totalBytes += run.byteLength;
    this.#progress.phase({ name: "merge", pass, passCount, totalBytes });
  }

  /** Wraps a sink so that progress advances once per 256 KiB merged (never per record). */
  #counted(sink: RecordSink): RecordSink {
    const progress = this.#progress;
    if (progress === silentProgress) return sink;
    let pendingBytes = 0;
    return (bytes, offset, length) => {
      pendingBytes += length + 1;
      if (pendingBytes >= 256 * 1024) {
        progress.advance(pendingBytes);
        pendingBytes = 0;
      }
      return sink(bytes, offset, length);
    };
  }

  /**
   * One intermediate pass (Flink's `UnilateralSortMerger` formula): merge just enough runs
   * that the rest plus the merged ones form a power of the fan-in, so the final merge is full.
   */
  async #mergePass(runs: SpillRun[], fanIn: number): Promise<SpillRun[]> {
    const count = runs.length;
    const { untouchedCount: untouched, groupSize: perMerge } = planMergeRound(count, fanIn);
    assert(
      untouched >= 0 && untouched < count && perMerge >= 2,
      `merge round of ${count} runs at fan-in ${fanIn} merges nothing`,
    );
    const result: SpillRun[] = runs.slice(0, untouched);
    for (let start = untouched; start < count; start += perMerge) {
      const group = runs.slice(start, Math.min(count, start + perMerge));
      if (group.length === 1) {
        result.push(group[0]!);
        continue;
      }
      const { readAheadSegments, outputSegments } = this.#mergePlan(group.length);
      const writer = await this.#io.createRunWriter("sort-merge", {
        owner: "sort-merge-out",
        writeBehindSegments: Math.max(1, outputSegments - 1),
      });
      let merged: SpillRun;
      try {
        await this.#mergeGroup(
          group,
          readAheadSegments,
          this.#counted((bytes, offset, length) => writer.writeRecord(bytes, offset, length)),
        );
        merged = await writer.finish();
      } catch (error) {
        await writer.abort();
        throw error;
      }
      // The group's files are gone; the merged run takes their place in the slot list.
      this.#runs = this.#runs.filter((run) => run === undefined || !group.includes(run));
      this.#runs.push(merged);
      result.push(merged);
    }
    this.#stats.mergePasses += 1;
    return result;
  }

  async #mergeGroup(
    group: readonly SpillRun[],
    readAheadSegments: number,
    sink: RecordSink,
    lastCursor?: RecordCursor,
  ): Promise<void> {
    const readers: RunReader[] = [];
    try {
      for (const run of group) {
        readers.push(
          await this.#io.openRunReader(run, { owner: "sort-merge-in", readAheadSegments }),
        );
      }
      const cursors: RecordCursor[] = lastCursor === undefined ? readers : [...readers, lastCursor];
      await mergeCursors(cursors, sink, {
        order: this.#mergeOrder,
        unique: this.#unique,
        memory: this.#memory,
        owner: "sort-unique",
      });
    } finally {
      for (const reader of readers) await reader.close();
    }
    for (const run of group) {
      await this.#io.deleteRun(run);
      this.#runs = this.#runs.filter((slot) => slot !== run);
    }
  }

  /**
   * `-m`: merges already sorted inputs. More inputs than the fan-in (`--batch-size`, or what
   * `ulimit -n` allows) are first merged in groups of the fan-in into spill runs, in input
   * order, so ties still keep input order; then the runs are merged as after a sort.
   */
  async #mergeInputs(inputs: readonly string[], output: string | undefined): Promise<void> {
    this.#runsKeyed = false;
    this.#lineEndsKey = false;
    this.#mergeOrder = this.#order;
    const fanIn = this.#mergePlan(inputs.length).fanIn;
    if (inputs.length <= fanIn) {
      if (await this.#mergeTextOutput(inputs, output)) return;
      await this.#writeOutput(output, 1, (sink) => this.#mergeInputGroup(inputs, sink));
      return;
    }
    for (let start = 0; start < inputs.length; start += fanIn) {
      const group = inputs.slice(start, start + fanIn);
      const writer = await this.#io.createRunWriter("sort-merge", { owner: "sort-merge-out" });
      try {
        await this.#mergeInputGroup(
          group,
          (bytes, offset, length) => writer.writeRecord(bytes, offset, length),
        );
        this.#runs.push(await writer.finish());
      } catch (error) {
        await writer.abort();
        throw error;
      }
    }
    this.#stats.mergePasses += 1;
    await this.#mergeRuns(output);
  }

  /**
   * `-m` of a plain byte order on the merge kernel (src/sort/text_merge.ts) into the output;
   * false (nothing done) for other orders or when the pages free cannot hold its plan.
   */
  async #mergeTextOutput(inputs: readonly string[], output: string | undefined): Promise<boolean> {
    if (!this.#mergeKernel || !this.#order.isPlainBytes || this.#recordBytes !== undefined) {
      return false;
    }
    const memory = this.#memory;
    const plan = planTextMerge(memory, { inputCount: inputs.length });
    if (plan === undefined) return false;
    this.#mergeKernels ??= new WasmKernels(memory.wasmMemory);
    const out = await this.#createOutput(output, 1);
    try {
      const result = await mergeTextFiles(inputs, (bytes, byteLength) => {
        return out.write(bytes, 0, byteLength);
      }, {
        memory,
        io: this.#io,
        kernels: this.#mergeKernels,
        reverse: this.#order.reverse,
        unique: this.#unique,
        terminator: this.#terminator,
        owner: "merge-input",
        plan,
        counters: this.#stats,
      });
      this.#stats.outputRecords += result.writtenCount;
      await out.commit();
    } catch (error) {
      await out.abort();
      throw error;
    }
    this.#stats.usedMergeKernel = true;
    return true;
  }

  async #mergeInputGroup(inputs: readonly string[], sink: RecordSink): Promise<void> {
    const cursors: LineCursor[] = [];
    const chunkSegments = inputMergeChunkSegments(
      this.#memory.freeSegments,
      inputs.length,
      this.#memory.segmentBytes,
    );
    try {
      for (const input of inputs) {
        const reader = await this.#io.openInput(input, {
          owner: "merge-input",
          terminator: this.#terminator,
          chunkSegments,
        });
        cursors.push(new LineCursor(reader, this.#terminator, this.#stats));
      }
      await mergeCursors(cursors, sink, {
        order: this.#order,
        unique: this.#unique,
        memory: this.#memory,
        owner: "sort-unique",
      });
    } finally {
      for (const cursor of cursors) await cursor.close();
    }
  }
}

/**
 * Segments the kernel merge takes beside its readers: the state, the two output halves and the
 * sink's page, a carry per input, the `-u` copy, the in-memory run's staging page and table,
 * and two to spare for carries that grow for long records.
 */
function kernelMergeSegments(
  segmentBytes: number,
  inputCount: number,
  outputSegments: number,
  memoryRun: SortBuffer | undefined,
): number {
  const halves = 2 * Math.max(1, Math.floor(outputSegments / 2));
  return 1 + halves + 1 + inputCount + 1 + memoryRunBlocksSegments(segmentBytes, memoryRun) +
    KERNEL_MERGE_SPARE_SEGMENTS;
}

/** Segments the in-memory run's {@linkcode SortBufferBlocks} takes (0 without one). */
function memoryRunBlocksSegments(segmentBytes: number, memoryRun: SortBuffer | undefined): number {
  return memoryRun === undefined
    ? 0
    : sortBufferBlocksSegments(segmentBytes, memoryRun.segments.length);
}

/** Segments a kernel merge keeps free for carries that grow for long records and the `-u` copy. */
const KERNEL_MERGE_SPARE_SEGMENTS = 3;
/**
 * Bytes of the spilled runs' block first keys kept for the final merge's key split, all runs
 * together: without a bound they would grow with the input (up to ~80 KiB a run of long lines).
 */
const BLOCK_FIRST_KEYS_TOTAL_MAX = 2 * 1024 * 1024;
/** How long a failed sort waits for the Worker to finish the split sort bucket it is on. */
const HELP_WAIT_MS = 10_000;
/** The same for an ended (terminated) Worker, which stops at its next loop check. */
const ENDED_HELP_WAIT_MS = 250;

/**
 * Output regions of the final merge on the merge Worker when the budget has room: with two, the
 * Worker stopped whenever one write of the main thread took longer than merging a half (a write
 * into fresh page-cache pages, a thread the scheduler held back on a loaded machine).
 */
const PARALLEL_OUTPUT_REGIONS = 8;
/**
 * Input of unknown size (stdin, a device, .gz) read before the sort Worker boots: a smaller one
 * is sorted without it. The Worker is first needed when a buffer is full (many MiB later).
 */
const WORKER_EARLY_INPUT_BYTES = 1024 * 1024;
/** Final merges of fewer bytes stay on one thread (a Worker takes ~0.1 s to boot). */
const PARALLEL_MERGE_BYTES_MIN = 8 * 1024 * 1024;
/** Largest output half of a range merge of the split final merge. */
const SPLIT_MERGE_HALF_BYTES_MAX = 2 * 1024 * 1024;
/** Most key ranges of a split final merge. */
const SPLIT_MERGE_RANGES_MAX = 4096;
/** A {@linkcode RecordCursor} over a sorted {@linkcode SortBuffer} (records in index order). */
class BufferCursor implements RecordCursor {
  recordBytes: Uint8Array = new Uint8Array(0);
  recordOffset = 0;
  recordLength = 0;
  readonly #buffer: SortBuffer;
  readonly #count: number;
  #next = 0;

  constructor(buffer: SortBuffer) {
    this.#buffer = buffer;
    this.#count = buffer.recordCount;
  }

  next(): boolean {
    const i = this.#next;
    if (i >= this.#count) return false;
    const buffer = this.#buffer;
    this.recordBytes = buffer.recordBytes(i);
    this.recordOffset = buffer.recordOffset(i);
    this.recordLength = buffer.recordLength(i);
    this.#next = i + 1;
    return true;
  }
}

/**
 * A {@linkcode RecordCursor} over a sorted keyed {@linkcode SortBuffer} that yields each record
 * as a keyed run's (varint(key length + 1), key, line), built in one page of scratch reserved
 * from the budget: the in-memory last run of a keyed sort merged on the loser tree.
 */
class KeyedBufferCursor implements RecordCursor {
  recordBytes: Uint8Array;
  recordOffset = 0;
  recordLength = 0;
  readonly #buffer: SortBuffer;
  readonly #count: number;
  readonly #reservation: { release(): void };
  #next = 0;

  constructor(buffer: SortBuffer, memory: MemoryManager) {
    this.#buffer = buffer;
    this.#count = buffer.recordCount;
    // A buffered record and its key fit a page: with a 5-byte field varint, they fit this.
    const scratchBytes = buffer.segmentBytes + 8;
    this.#reservation = memory.reserve("sort-merge-keyed", scratchBytes);
    this.recordBytes = new Uint8Array(scratchBytes);
  }

  next(): boolean {
    const i = this.#next;
    if (i >= this.#count) return false;
    const buffer = this.#buffer;
    const page = buffer.recordBytes(i);
    const lineOffset = buffer.recordOffset(i);
    const lineLength = buffer.recordLength(i);
    const keyOffset = buffer.recordKeyOffset(i);
    const keyLength = buffer.recordKeyLength(i);
    const out = this.recordBytes;
    let at = 0;
    let field = keyLength < 0 ? 0 : keyLength + 1;
    while (field >= 128) {
      out[at] = (field & 127) | 128;
      field = Math.floor(field / 128);
      at += 1;
    }
    out[at] = field;
    at += 1;
    if (keyLength > 0) {
      out.set(page.subarray(keyOffset, keyOffset + keyLength), at);
      at += keyLength;
    }
    out.set(page.subarray(lineOffset, lineOffset + lineLength), at);
    this.recordOffset = 0;
    this.recordLength = at + lineLength;
    this.#next = i + 1;
    return true;
  }

  /** Gives the scratch back. */
  release(): void {
    this.#reservation.release();
  }
}

/** A {@linkcode RecordCursor} over a line input (records without their terminators). */
export class LineCursor implements RecordCursor {
  /** Storage of the current record. */
  recordBytes: Uint8Array = new Uint8Array(0);
  /** Offset of the current record. */
  recordOffset = 0;
  /** Length of the current record. */
  recordLength = 0;
  readonly #reader: LineReader;
  readonly #terminator: number;
  readonly #stats: { inputBytes: number; inputRecords: number };
  #position = 0;

  /**
   * Wraps an open input.
   *
   * @param reader The input.
   * @param terminator The record terminator.
   * @param stats Counters to update.
   */
  constructor(
    reader: LineReader,
    terminator: number,
    stats: { inputBytes: number; inputRecords: number },
  ) {
    this.#reader = reader;
    this.#terminator = terminator;
    this.#stats = stats;
  }

  /** Advances to the next line. */
  next(): boolean | Promise<boolean> {
    const chunk = this.recordBytes;
    if (this.#position < chunk.length) {
      const stop = chunk.indexOf(this.#terminator, this.#position);
      this.recordOffset = this.#position;
      this.recordLength = stop - this.#position;
      this.#position = stop + 1;
      this.#stats.inputRecords += 1;
      return true;
    }
    return this.#nextChunk();
  }

  async #nextChunk(): Promise<boolean> {
    const chunk = await this.#reader.nextChunk();
    if (chunk === undefined) {
      this.recordBytes = new Uint8Array(0);
      this.#position = 0;
      return false;
    }
    this.#stats.inputBytes += chunk.length;
    this.recordBytes = chunk;
    this.#position = 0;
    const more = this.next();
    return more instanceof Promise ? await more : more;
  }

  /** Closes the input. */
  async close(): Promise<void> {
    await this.#reader.close();
  }
}
