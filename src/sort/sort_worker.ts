/**
 * The sort Worker: gets the shared memory and the order once ({@linkcode SortInit}), then
 * sorts (and gathers) the jobs it is sent, in place, by offset: the segments are lent to it
 * by the main thread's memory manager, nothing is copied or moved. One job at a time.
 *
 * @module
 */
import { type OrderDescriptor, orderFromDescriptor } from "./order_descriptor.ts";
import type { RecordOrder } from "./record_order.ts";
import { gatherJob, type SortJob, sortJob } from "./sort_buffer.ts";

/** The first message: the memory every job's offsets point into, and the order. */
export interface SortInit {
  /** Message type. */
  type: "init";
  /** The main thread's shared memory. */
  memory: WebAssembly.Memory;
  /** How to order records. */
  order: OrderDescriptor;
}

/** A request to sort one job. */
export interface SortRequest {
  /** Message type. */
  type: "sort";
  /** The lent pages and index, as offsets. */
  job: SortJob;
}

/** A reply: what was gathered, or an error message. */
export interface SortReply {
  /** Records gathered into the job's target pages (0 without target). */
  gatheredCount: number;
  /** Bytes used in each target page. */
  targetUsed: number[];
  /** Set when sorting failed. */
  error?: string;
}

interface WorkerScope {
  onmessage: ((event: MessageEvent<SortInit | SortRequest>) => void) | null;
  postMessage(message: SortReply): void;
}

const scope = globalThis as unknown as WorkerScope;
let memory: WebAssembly.Memory | undefined;
let order: RecordOrder | undefined;

scope.onmessage = (event) => {
  const message = event.data;
  if (message.type === "init") {
    memory = message.memory;
    order = orderFromDescriptor(message.order);
    return;
  }
  const job = message.job;
  let error: string | undefined;
  try {
    // The main thread may have grown the memory since: take its buffer as it is now.
    const buffer = memory!.buffer as SharedArrayBuffer;
    sortJob(job, order!, buffer);
    if (job.target !== undefined) gatherJob(job, buffer);
  } catch (caught) {
    error = caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught);
  }
  const reply: SortReply = {
    gatheredCount: job.gatheredCount ?? 0,
    targetUsed: job.targetUsed ?? [],
  };
  if (error !== undefined) reply.error = error;
  scope.postMessage(reply);
};
