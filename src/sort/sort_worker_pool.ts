import { assert } from "../base/mod.ts";
import type { OrderDescriptor } from "./order_descriptor.ts";
import type { SortBuffer } from "./sort_buffer.ts";
import type { MemoryManager, SegmentLease } from "../memory/mod.ts";

/** What a sort with gathering produced. */
export interface GatherResult {
  /** Records gathered into the target pages, from the first in sorted order. */
  gatheredCount: number;
  /** Bytes used in each target page. */
  targetUsed: number[];
}

/**
 * Pages a sorted buffer's records are gathered into by the Worker, so the spill reads them
 * sequentially (random reads across the sort buffer's pages were the spill's main cost).
 */
export class GatherPages implements Disposable {
  readonly #lease: SegmentLease;
  #pages: Uint8Array[];
  #lent = false;

  /**
   * Takes the pages from the budget.
   *
   * @param memory The manager.
   * @param segmentCount How many pages.
   */
  constructor(memory: MemoryManager, segmentCount: number) {
    this.#lease = memory.allocate("sort-gather", segmentCount);
    this.#pages = this.#lease.segments.map((segment) => segment.bytes);
  }

  /** The pages' bytes (invalid while lent). */
  get pages(): readonly Uint8Array[] {
    assert(!this.#lent, "gather pages used while lent to the Worker");
    return this.#pages;
  }

  /** Whether the Worker holds the pages. */
  get isLent(): boolean {
    return this.#lent;
  }

  /** Moves the backing stores out for a transfer list. */
  lend(): ArrayBuffer[] {
    assert(!this.#lent, "gather pages lent twice");
    this.#lent = true;
    return this.#lease.segments.map((segment) => segment.lendBacking());
  }

  /** Takes the backing stores back. */
  takeBack(buffers: ArrayBuffer[]): void {
    const segments = this.#lease.segments;
    assert(this.#lent && buffers.length === segments.length, "gather pages came back wrong");
    for (let i = 0; i < segments.length; i += 1) segments[i]!.returnBacking(buffers[i]!);
    this.#pages = segments.map((segment) => segment.bytes);
    this.#lent = false;
  }

  /** Gives the pages back (unless lent: the Worker still owns them). */
  release(): void {
    if (this.#lent || this.#lease.isReleased) return;
    this.#lease.release();
    this.#pages = [];
  }

  /** Same as {@linkcode GatherPages.release}. */
  [Symbol.dispose](): void {
    this.release();
  }
}
import type { SortReply, SortRequest } from "./sort_worker.ts";

/**
 * A handle on the sort Worker: `sort(buffer)` lends the buffer's pages and index to the
 * Worker (transfer list, no copy), and takes them back sorted.
 */
export class SortWorker implements Disposable {
  readonly #worker: Worker;
  readonly #order: OrderDescriptor;
  #busy = false;
  #closed = false;

  /**
   * Starts the Worker (it boots in the background).
   *
   * @param order How the Worker orders records.
   */
  constructor(order: OrderDescriptor) {
    this.#order = order;
    this.#worker = new Worker(new URL("./sort_worker.ts", import.meta.url).href, {
      type: "module",
    });
  }

  /**
   * Sorts `buffer` on the Worker, and with `gather` also copies the sorted records into the
   * gather pages (see {@linkcode gatherJob}). Both are unusable until the promise settles.
   *
   * @param buffer A filled buffer.
   * @param gather Optional target pages.
   * @returns How many records were gathered (0 without `gather`), and the bytes used per page.
   */
  sort(buffer: SortBuffer, gather?: GatherPages): Promise<GatherResult> {
    assert(!this.#busy && !this.#closed, "SortWorker is busy or closed");
    this.#busy = true;
    const job = buffer.lend();
    if (gather !== undefined) job.target = gather.lend();
    return new Promise<GatherResult>((resolve, reject) => {
      this.#worker.onmessage = (event: MessageEvent<SortReply>) => {
        this.#busy = false;
        const back = event.data.job;
        buffer.takeBack(back);
        if (gather !== undefined) gather.takeBack(back.target ?? []);
        if (event.data.error !== undefined) {
          reject(new Error(`Sort worker failed: ${event.data.error}`));
        } else {
          resolve({ gatheredCount: back.gatheredCount ?? 0, targetUsed: back.targetUsed ?? [] });
        }
      };
      this.#worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        this.#busy = false;
        reject(new Error(`Sort worker crashed: ${event.message}`));
      };
      const request: SortRequest = { job, order: this.#order };
      this.#worker.postMessage(request, [...job.segments, job.index, ...(job.target ?? [])]);
    });
  }

  /** Terminates the Worker. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#worker.terminate();
  }

  /** Same as {@linkcode SortWorker.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
