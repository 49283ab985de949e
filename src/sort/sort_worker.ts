/**
 * The sort Worker: gets the shared memory, the compiled kernels and the order once
 * ({@linkcode SortInit}), then sorts the jobs it is sent, in place, by offset: the segments
 * are lent to it by the main thread's memory manager, nothing is copied or moved. With a
 * spill ring it also drops `-u` duplicates and gathers the sorted records into sealed spill
 * blocks, posting each block ({@linkcode BlockReply}) and waiting for a `free` message when
 * every ring slot is taken. One job at a time; the last message of a job is a
 * {@linkcode SortReply}. Once the input is sorted, the same Worker can run the final merge's
 * kernel loop (a {@linkcode MergeStart} message, merge_worker.ts): one isolate serves both.
 *
 * @module
 */
// Every module loaded here costs resident memory in this isolate (docs/performance.md,
// "Memory"): import leaf modules, not the layers' mod.ts, and load the comparator orders
// (sort_order.ts and its parsers) only when the order needs them.
import { RunBlockFile } from "../io/run_block_file.ts";
import { helpPoisonCheck, type PoisonCheckHelp } from "../memory/poison_help.ts";
import {
  setTimelineThread,
  timelineEnd,
  timelineFlush,
  timelineOrigin,
  timelineSpan,
  timelineStart,
} from "../io/timeline.ts";
import type { KernelSet } from "../kernels/kernel_state.ts";
import { WasmKernels } from "../kernels/wasm_kernels.ts";
import type { SortJob } from "./job_sort.ts";
import {
  type BlockFirstKeys,
  BlockGather,
  dropDuplicates,
  type SealedBlock,
  sortJobWith,
} from "./kernel_sort.ts";
import { warmSortKernels } from "./kernel_warmup.ts";
import {
  holdLibcForMerges,
  type MergeEvent,
  type MergePrepare,
  type MergeStart,
  runMergeJob,
} from "./merge_worker.ts";
import type { OrderDescriptor } from "./order_descriptor.ts";
import { helpSplitSort, type SplitSortHelp } from "./split_sort.ts";
import { BytesOrder, FixedKeyOrder, type RecordOrder } from "./record_order.ts";

/** The first message: the memory every job's offsets point into, the kernels and the order. */
export interface SortInit {
  /** Message type. */
  type: "init";
  /** The main thread's shared memory. */
  memory: WebAssembly.Memory;
  /** The compiled kernels; without it the Worker sorts and gathers in JavaScript. */
  kernels?: WebAssembly.Module;
  /** How to order records. */
  order: OrderDescriptor;
  /** Word 0 is set to 0 when a sort job ends (the main thread reads whether the Worker idles). */
  status?: Int32Array;
}

/** Where a job's sorted records go as sealed spill blocks. */
export interface SpillRing {
  /** Memory offsets of the ring's block segments. */
  blocks: number[];
  /** Bytes per block (one segment). */
  blockBytes: number;
  /** Drop records whose keys equal the previous kept one's (`-u`). */
  unique: boolean;
}

/** A request to sort one job (and spill it through a ring). */
export interface SortRequest {
  /** Message type. */
  type: "sort";
  /** The lent pages and index, as offsets. */
  job: SortJob;
  /** Memory offset of the lent kernel area (kernel_sort.ts); JavaScript sort without it. */
  areaOffset?: number;
  /** Gather into sealed blocks (needs the kernel area). */
  ring?: SpillRing;
  /** The main thread sorted the job already: only drop `-u` duplicates and gather. */
  presorted?: boolean;
  /**
   * Write the sealed blocks to this run file at their block positions here, one at a time
   * (the main thread wrote the file header), instead of posting them: the reply then says how
   * many blocks were written.
   */
  runFile?: string;
}

/**
 * Help sort a buffer the main thread is sorting now (split_sort.ts): take its buckets from the
 * high end until none is left. Sent between jobs; the buffer's gather job follows it.
 */
export interface HelpRequest extends SplitSortHelp {
  /** Message type. */
  type: "help";
  /** Memory offset of the Worker's kernel area (the ring's; no job holds it meanwhile). */
  areaOffset: number;
}

/** The main thread wrote a block out: its slot may be filled again. */
export interface FreeRequest {
  /** Message type. */
  type: "free";
}

/**
 * A block write on the main thread failed: end the job. Its `done` reply tells the main thread
 * that the Worker no longer touches the job's pages (a terminate() does not stop it at once).
 */
export interface StopRequest {
  /** Message type. */
  type: "stop";
}

/**
 * Help the memory manager check its free pages' poison (poison_help.ts): sent to the idle
 * Worker after the final merge, for the leak report at the command's end. The Worker then
 * waits on the request's control block (no other message is heard) until the manager ends it.
 */
export interface PoisonCheckRequest extends PoisonCheckHelp {
  /** Message type. */
  type: "poison-check";
}

/** A sealed block is ready in the ring. */
export interface BlockReply {
  /** Message type. */
  type: "block";
  /** The block. */
  block: SealedBlock;
}

/** The end of a job: what was gathered, or an error message. */
export interface SortReply {
  /** Message type. */
  type: "done";
  /** Records gathered into blocks (0 without a ring). */
  gatheredCount: number;
  /** Whether the kernels sorted (false: JavaScript). */
  kernelSorted: boolean;
  /** Set when sorting failed. */
  error?: string;
  /** Blocks written to the request's `runFile`. */
  blocksWritten?: number;
  /** The run's line-bytes index, for plain records (kernel_sort.ts `BlockGather.lineBytesIndex`). */
  lineBytesIndex?: number[];
  /** Its blocks' first keys, for plain records (kernel_sort.ts `BlockGather.blockFirstKeys`). */
  blockFirstKeys?: BlockFirstKeys;
  /** Set when writing the `runFile` failed: the error's message and `code` (e.g. ENOSPC). */
  writeError?: { message: string; code?: string };
}

interface WorkerScope {
  onmessage:
    | ((
      event: MessageEvent<
        | SortInit
        | SortRequest
        | FreeRequest
        | HelpRequest
        | MergePrepare
        | MergeStart
        | PoisonCheckRequest
      >,
    ) => void)
    | null;
  postMessage(message: SortReply | BlockReply | MergeEvent): void;
}

const scope = globalThis as unknown as WorkerScope;
setTimelineThread("sort-worker");
timelineSpan("boot", timelineOrigin(), timelineStart() || timelineOrigin());
let memory: WebAssembly.Memory | undefined;
let kernels: KernelSet | undefined;
let order: RecordOrder | undefined;
let gather: BlockGather | undefined;
let kernelSorted = false;
let status: Int32Array | undefined;

/** Posts a job's last message, marking the Worker idle first. */
function reply(message: SortReply): void {
  if (status !== undefined) Atomics.store(status, 0, 0);
  scope.postMessage(message);
}

function fail(caught: unknown): void {
  gather = undefined;
  const error = caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught);
  reply({ type: "done", gatheredCount: 0, kernelSorted, error });
}

/** Fills free ring slots until the gather is done or the ring is full. */
function pump(): void {
  const current = gather!;
  for (let block = current.next(); block !== undefined; block = current.next()) {
    scope.postMessage({ type: "block", block });
  }
  if (current.isDone) {
    gather = undefined;
    reply({
      type: "done",
      gatheredCount: current.gatheredCount,
      kernelSorted,
      ...indexOf(current),
    });
  }
}

/** The gather's line-bytes index as a reply field (plain records only). */
function indexOf(
  current: BlockGather,
): { lineBytesIndex?: number[]; blockFirstKeys?: BlockFirstKeys } {
  const index = current.lineBytesIndex;
  const keys = current.blockFirstKeys;
  return {
    ...(index === undefined ? {} : { lineBytesIndex: index }),
    ...(keys === undefined ? {} : { blockFirstKeys: keys }),
  };
}

/**
 * Gathers the whole job into the run file, one block after the other, then replies. A failed
 * open or write is a `writeError` (the main thread maps disk errors to exit 3); anything else
 * thrown goes to the caller's `fail`.
 */
function writeRun(path: string, slots: readonly number[], blockBytes: number): void {
  const current = gather!;
  gather = undefined;
  const bytes = new Uint8Array(memory!.buffer);
  let file: RunBlockFile;
  try {
    file = new RunBlockFile(path, blockBytes);
  } catch (caught) {
    replyWriteError(caught);
    return;
  }
  try {
    let spanMs = timelineStart();
    for (let block = current.next(); block !== undefined; block = current.next()) {
      timelineEnd("gather", spanMs);
      spanMs = timelineStart();
      const at = slots[block.slot]!;
      try {
        file.write(bytes.subarray(at, at + blockBytes));
      } catch (caught) {
        replyWriteError(caught);
        return;
      }
      current.free();
      timelineEnd("write", spanMs);
      spanMs = timelineStart();
    }
  } finally {
    file.close();
    timelineFlush();
  }
  reply({
    type: "done",
    gatheredCount: current.gatheredCount,
    kernelSorted,
    blocksWritten: file.blockCount,
    ...indexOf(current),
  });
}

function replyWriteError(caught: unknown): void {
  const message = caught instanceof Error ? caught.message : String(caught);
  const code = (caught as { code?: unknown } | undefined)?.code;
  reply({
    type: "done",
    gatheredCount: 0,
    kernelSorted,
    writeError: typeof code === "string" ? { message, code } : { message },
  });
}

/**
 * Sorts buckets of the main thread's split sort until none is left. Only between jobs (a job
 * in the middle of its gather holds the kernel area) and with the kernels; else the main
 * thread sorts every bucket itself.
 */
function help(request: HelpRequest): void {
  if (gather !== undefined || !(kernels instanceof WasmKernels)) return;
  const spanMs = timelineStart();
  try {
    helpSplitSort(request, kernels, request.areaOffset);
  } catch (caught) {
    // A bucket it claimed may be unsorted: the buffer's own job, which comes next, fails.
    helpFailure = caught;
  }
  timelineEnd("help-sort", spanMs);
}

/** Set when helping sort a buffer failed: the next sort job (that buffer's) fails with it. */
let helpFailure: unknown = undefined;

/**
 * Set while the order's module loads (a `spec` order): later messages wait for it, in order.
 * Once set, every message goes through it (one microtask each, per job or block).
 */
let orderLoaded: Promise<void> | undefined;

/** Compiles the kernels a plain-bytes job runs, before the first job (kernel_warmup.ts). */
function warmKernels(module: WebAssembly.Module): void {
  if (order?.isPlainBytes !== true) return;
  const spanMs = timelineStart();
  try {
    warmSortKernels(module);
  } catch {
    // Only a head start: the first job compiles what it needs itself (the warm-up has its own
    // test); a failure here must not fail the sort or stall the messages queued behind it.
  }
  timelineEnd("warm-kernels", spanMs);
}

/** Builds the order; a `spec` order's parsers and comparators are imported on first need. */
function loadOrder(descriptor: OrderDescriptor): void {
  if (descriptor.kind === "bytes") {
    order = new BytesOrder(descriptor.reverse);
  } else if (descriptor.kind === "fixed") {
    order = new FixedKeyOrder(descriptor.keyOffset, descriptor.keyBytes);
  } else {
    orderLoaded = import("./order_descriptor.ts").then(
      (module) => {
        order = module.orderFromDescriptor(descriptor);
      },
      (caught) => fail(caught),
    );
  }
}

scope.onmessage = (event) => {
  const message = event.data;
  if (orderLoaded !== undefined) {
    orderLoaded = orderLoaded.then(() => handle(message));
    return;
  }
  handle(message);
};

function handle(
  message:
    | SortInit
    | SortRequest
    | FreeRequest
    | StopRequest
    | HelpRequest
    | MergePrepare
    | MergeStart
    | PoisonCheckRequest,
): void {
  try {
    if (message.type === "poison-check") {
      // Waits for the memory manager's checks (poison_help.ts) until it is ended.
      helpPoisonCheck(message, {
        onRound() {
          const spanMs = timelineStart();
          return () => {
            timelineEnd("poison-help", spanMs);
            timelineFlush();
          };
        },
      });
      return;
    }
    if (message.type === "init") {
      const spanMs = timelineStart();
      memory = message.memory;
      kernels = message.kernels === undefined
        ? undefined
        : new WasmKernels(message.memory, message.kernels);
      loadOrder(message.order);
      status = message.status;
      timelineEnd("init", spanMs);
      const module = message.kernels;
      if (module !== undefined) {
        // The first job, queued behind the order, then runs on compiled kernels.
        if (orderLoaded === undefined) warmKernels(module);
        else orderLoaded = orderLoaded.then(() => warmKernels(module));
      }
      return;
    }
    if (message.type === "start") {
      runMergeJob(message);
      return;
    }
    if (message.type === "prepare-merge") {
      const spanMs = timelineStart();
      holdLibcForMerges();
      timelineEnd("prepare-merge", spanMs);
      return;
    }
    if (message.type === "stop") {
      if (gather === undefined) return; // its last reply is on its way
      gather = undefined;
      reply({ type: "done", gatheredCount: 0, kernelSorted, error: "stopped" });
      return;
    }
    if (message.type === "help") {
      help(message);
      return;
    }
    if (message.type === "free") {
      if (gather === undefined) return; // the job failed meanwhile
      gather.free();
      pump();
      return;
    }
    if (helpFailure !== undefined) {
      const caught = helpFailure;
      helpFailure = undefined;
      throw caught;
    }
    const { job, areaOffset, ring } = message;
    const spanMs = timelineStart();
    kernelSorted = message.presorted === true || sortJobWith(job, order!, {
      memory: memory!,
      kernels: areaOffset === undefined ? undefined : kernels,
      areaOffset: areaOffset ?? 0,
    });
    if (message.presorted !== true) timelineEnd("sort", spanMs);
    if (ring === undefined || areaOffset === undefined) {
      timelineFlush();
      reply({ type: "done", gatheredCount: 0, kernelSorted });
      return;
    }
    if (ring.unique) dropDuplicates(job, order!, memory!.buffer as SharedArrayBuffer);
    gather = new BlockGather(job, {
      memory: memory!,
      kernels,
      areaOffset,
      ring: ring.blocks,
      blockBytes: ring.blockBytes,
    });
    if (message.runFile !== undefined) {
      writeRun(message.runFile, ring.blocks, ring.blockBytes);
      return;
    }
    pump();
  } catch (caught) {
    fail(caught);
  }
}
