/**
 * The sort Worker: receives a {@linkcode SortJob} (pages and index moved in with a transfer
 * list), sorts the index, and moves everything back. One job at a time.
 *
 * @module
 */
import { type OrderDescriptor, orderFromDescriptor } from "./order_descriptor.ts";
import type { RecordOrder } from "./record_order.ts";
import { gatherJob, type SortJob, sortJob } from "./sort_buffer.ts";

/** A request to the Worker. */
export interface SortRequest {
  /** The buffers to sort. */
  job: SortJob;
  /** How to order records. */
  order: OrderDescriptor;
}

/** A reply: the job back, or an error message. */
export interface SortReply {
  /** The buffers, sorted. */
  job: SortJob;
  /** Set when sorting failed. */
  error?: string;
}

interface WorkerScope {
  onmessage: ((event: MessageEvent<SortRequest>) => void) | null;
  postMessage(message: SortReply, transfer: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;
let cachedKey = "";
let cachedOrder: RecordOrder | undefined;

scope.onmessage = (event) => {
  const { job, order } = event.data;
  let error: string | undefined;
  try {
    const key = JSON.stringify(order);
    if (cachedOrder === undefined || key !== cachedKey) {
      cachedOrder = orderFromDescriptor(order);
      cachedKey = key;
    }
    sortJob(job, cachedOrder);
    if (job.target !== undefined) gatherJob(job);
  } catch (caught) {
    error = caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught);
  }
  const reply: SortReply = error === undefined ? { job } : { job, error };
  scope.postMessage(reply, [...job.segments, job.index, ...(job.target ?? [])]);
};
