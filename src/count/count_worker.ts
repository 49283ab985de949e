/**
 * The count Worker: counts the chunks the main thread lends it (segments of the shared
 * memory, by offset) in its own {@linkcode WordCounter}, with its own memory manager over
 * the range of the shared memory the main thread lent it (its budget share), and its own
 * {@linkcode IoManager} in the same temp directories.
 * At the end it spills its table and hands its word-sorted runs to the main thread's merge,
 * and deletes them when told to close.
 *
 * Protocol (main -> worker / worker -> main):
 * ```
 * init {options}          -> ready | failed
 * chunk {offset, length}  -> chunk-done {offset}         (the chunk segment comes back)
 * table                   -> table {layout | undefined}   (all its words in its table: where
 *                            they lie, for the main thread to add in place; then it must not
 *                            change until finish)
 * finish {discard?}       -> runs {runs, stats, leaks, pageContents} | failed
 *                            (its memory is all released: the main thread takes the share back;
 *                            `discard`: the table was added by the main thread, no spill)
 * close                   -> closed {leaks, pageContents} (files deleted)
 * ```
 *
 * @module
 */
import { IoManager, type SpillMode, type SpillRun } from "../io/mod.ts";
import { type LeakDetectionLevel, MemoryManager } from "../memory/mod.ts";
import { type CountTableLayout, shareKernelModule } from "./count_table.ts";
import type { CaseMode, TokenizerKind } from "./tokenizer.ts";
import { WordCounter, type WordCountStats } from "./word_counter.ts";

/** How the Worker sets itself up. */
export interface CountWorkerInit {
  /** The main thread's shared memory. */
  memory: WebAssembly.Memory;
  /** Where the Worker's share starts in it. */
  byteOffset: number;
  /** The Worker's budget share in bytes (whole pages). */
  budgetBytes: number;
  /** Page size. */
  segmentBytes: number;
  /** Leak detection level. */
  leakDetection: LeakDetectionLevel;
  /** Tokenizer rule. */
  tokenizer: TokenizerKind;
  /** Case mode. */
  caseMode: CaseMode;
  /** Temp directories (the main thread's). */
  tmpDirs: string[];
  /** Spill mode. */
  spillMode: SpillMode;
  /** Runs of the merge's fan-in this Worker's table may write (the count plan's share). */
  tableRunsShare: number;
  /** The main thread's compiled kernels module (not compiled again here). */
  kernels: WebAssembly.Module;
  /** Test seam: the Worker's Nth I/O operation fails (its IoManager's `faultInjection`). */
  failAtOperation?: number;
}

/** Messages to the Worker. */
export type CountWorkerRequest =
  | { type: "init"; init: CountWorkerInit }
  | { type: "chunk"; byteOffset: number; byteLength: number }
  | { type: "table" }
  | { type: "finish"; discard?: boolean }
  | { type: "close" };

/** Messages from the Worker. */
export type CountWorkerReply =
  | { type: "ready" }
  | { type: "chunk-done"; byteOffset: number }
  | { type: "table"; layout: CountTableLayout | undefined }
  | {
    type: "runs";
    runs: SpillRun[];
    stats: WordCountStats;
    leaks: string;
    pageContents: Uint8Array | undefined;
  }
  | { type: "closed"; leaks: string; pageContents: Uint8Array | undefined }
  | { type: "failed"; name: string; message: string; exitCode: number | undefined };

interface WorkerScope {
  onmessage: ((event: MessageEvent<CountWorkerRequest>) => void) | null;
  postMessage(message: CountWorkerReply): void;
}

const scope = globalThis as unknown as WorkerScope;
let sharedMemory: WebAssembly.Memory | undefined;
let memory: MemoryManager | undefined;
let io: IoManager | undefined;
let counter: WordCounter | undefined;
/** Requests run one at a time, in order. */
let queue: Promise<void> = Promise.resolve();
let failed = false;

function fail(error: unknown): void {
  failed = true;
  const name = error instanceof Error ? error.name : "Error";
  const message = error instanceof Error ? error.message : String(error);
  const exitCode = typeof (error as { exitCode?: unknown })?.exitCode === "number"
    ? (error as { exitCode: number }).exitCode
    : undefined;
  scope.postMessage({ type: "failed", name, message, exitCode });
}

async function handle(request: CountWorkerRequest): Promise<void> {
  switch (request.type) {
    case "init":
      return await startCounter(request.init);
    case "chunk":
      return await countChunk(request.byteOffset, request.byteLength);
    case "table": {
      scope.postMessage({ type: "table", layout: failed ? undefined : counter!.tableLayout() });
      return;
    }
    case "finish":
      return await finishCount(request.discard === true);
    case "close":
      return await closeCounter();
  }
}

/** `init`: takes the shared memory and its share of the budget, and starts the counter. */
async function startCounter(init: CountWorkerInit): Promise<void> {
  sharedMemory = init.memory;
  shareKernelModule(init.memory, init.kernels);
  memory = new MemoryManager({
    budgetBytes: init.budgetBytes,
    segmentBytes: init.segmentBytes,
    leakDetection: init.leakDetection,
    region: { memory: init.memory, byteOffset: init.byteOffset, byteLength: init.budgetBytes },
  });
  io = await IoManager.open({
    memory,
    tmpDirs: init.tmpDirs,
    spillMode: init.spillMode,
    lazyTmpDirs: true,
    handleSignals: false,
    ...(init.failAtOperation === undefined
      ? {}
      : { faultInjection: { failAtOperation: init.failAtOperation } }),
  });
  counter = new WordCounter(memory, io, {
    tokenizer: init.tokenizer,
    caseMode: init.caseMode,
    spillPrefix: "count-worker",
    tableRunsShare: init.tableRunsShare,
  });
  scope.postMessage({ type: "ready" });
}

/** `chunk`: counts a chunk of the shared memory (not after a failure); says when it is done. */
async function countChunk(byteOffset: number, byteLength: number): Promise<void> {
  try {
    if (!failed) {
      const chunk = new Uint8Array(sharedMemory!.buffer, byteOffset, byteLength);
      const pending = counter!.addChunk(chunk);
      if (pending) await pending;
    }
  } finally {
    scope.postMessage({ type: "chunk-done", byteOffset });
  }
}

/** `finish`: spills the table as runs (or drops it: `discard`) and posts the runs and stats. */
async function finishCount(discard: boolean): Promise<void> {
  let runs: SpillRun[] = [];
  let stats: WordCountStats;
  if (discard) {
    // The main thread added the table's words: close without spilling (the counters then
    // leave out the table's tokens, which the main thread counted).
    await counter!.close();
    stats = { ...counter!.stats, buddy: undefined };
  } else {
    runs = await counter!.finishToRuns();
    // The runs are files of this Worker's IoManager (deleted when it closes); the memory
    // is not needed any more: release all of it, so that the main thread's merge gets the
    // share.
    stats = { ...counter!.stats, buddy: undefined };
    await counter!.close();
  }
  counter = undefined;
  const leaks = memory!.leakReport().text;
  scope.postMessage({
    type: "runs",
    runs: runs.map((run) => ({
      path: run.path,
      recordCount: run.recordCount,
      byteLength: run.byteLength,
      spanningRecordBytesMax: run.spanningRecordBytesMax ?? 0,
    })),
    stats,
    leaks,
    // What each page of the share holds (after the leak report checked the poison): the
    // main thread neither poisons again what this manager poisoned nor touches the rest.
    pageContents: memory!.pageContents(),
  });
}

/** `close`: closes the counter and the io manager; posts the leak report and page contents. */
async function closeCounter(): Promise<void> {
  let leaks = "";
  let pageContents: Uint8Array | undefined;
  try {
    await counter?.close();
    await io?.close();
    leaks = memory?.leakReport().text ?? "";
    // Pages never handed out stay untouched, and poisoned ones are not poisoned again.
    pageContents = memory?.pageContents();
  } catch (error) {
    leaks = error instanceof Error ? error.message : String(error);
  }
  scope.postMessage({ type: "closed", leaks, pageContents });
}

scope.onmessage = (event) => {
  const request = event.data;
  queue = queue.then(() => handle(request)).catch(fail);
};
