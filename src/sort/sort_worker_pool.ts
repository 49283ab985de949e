import { assert } from "../base/mod.ts";
import type { OrderDescriptor } from "./order_descriptor.ts";
import type { SortBuffer } from "./sort_buffer.ts";
import type { SortInit, SortReply, SortRequest } from "./sort_worker.ts";
import type { MemoryManager, SegmentLease } from "../memory/mod.ts";

/** The owner name the sort Worker's lent segments are booked under. */
export const SORT_WORKER_OWNER = "sort-worker";

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
  readonly #memory: MemoryManager;
  readonly #lease: SegmentLease;
  #lentTo: string | undefined = undefined;

  /**
   * Takes the pages from the budget.
   *
   * @param memory The manager.
   * @param segmentCount How many pages.
   */
  constructor(memory: MemoryManager, segmentCount: number) {
    this.#memory = memory;
    this.#lease = memory.allocate("sort-gather", segmentCount);
  }

  /** How many pages. */
  get pageCount(): number {
    return this.#lease.segments.length;
  }

  /**
   * The bytes of page `index` (not to be used while lent). Taken one at a time: pages the
   * Worker never filled are never touched.
   */
  page(index: number): Uint8Array {
    assert(this.#lentTo === undefined, "gather pages used while lent to the Worker");
    return this.#lease.segments[index]!.bytes;
  }

  /** Whether the Worker holds the pages. */
  get isLent(): boolean {
    return this.#lentTo !== undefined;
  }

  /**
   * Lends the pages to a Worker (booked under `borrower`).
   *
   * @param borrower The Worker's owner name.
   * @returns The pages' offsets in the shared memory.
   */
  lend(borrower: string): number[] {
    assert(this.#lentTo === undefined, "gather pages lent twice");
    const offsets = this.#memory.lend(borrower, this.#lease.segments);
    this.#lentTo = borrower;
    return offsets;
  }

  /**
   * Takes the pages back from the Worker.
   *
   * @param usedBytes The bytes the Worker wrote into each page; all of them by default.
   */
  takeBack(usedBytes?: readonly number[]): void {
    assert(this.#lentTo !== undefined, "gather pages taken back without a lend");
    this.#memory.takeBack(this.#lentTo, this.#lease.segments, usedBytes);
    this.#lentTo = undefined;
  }

  /** Bytes written per page, from a gather's `targetUsed` (pages past it: 0). */
  pageUse(targetUsed: readonly number[]): number[] {
    return this.#lease.segments.map((_segment, p) => targetUsed[p] ?? 0);
  }

  /** Gives the pages back (unless lent: the Worker still holds them). */
  release(): void {
    if (this.#lentTo !== undefined || this.#lease.isReleased) return;
    this.#lease.release();
  }

  /** Same as {@linkcode GatherPages.release}. */
  [Symbol.dispose](): void {
    this.release();
  }
}

/**
 * A handle on the sort Worker. The Worker gets the manager's shared memory once, at start;
 * `sort(buffer)` lends the buffer's pages and index (booked under
 * {@linkcode SORT_WORKER_OWNER}), posts their offsets, and takes them back when the Worker
 * replies, or fails. Nothing is copied or transferred.
 */
export class SortWorker implements Disposable {
  readonly #worker: Worker;
  #busy = false;
  #closed = false;

  /**
   * Starts the Worker (it boots in the background) and hands it the shared memory.
   *
   * @param order How the Worker orders records.
   * @param memory The manager whose memory the Worker works in.
   */
  constructor(order: OrderDescriptor, memory: MemoryManager) {
    this.#worker = new Worker(new URL("./sort_worker.ts", import.meta.url).href, {
      type: "module",
    });
    const init: SortInit = { type: "init", memory: memory.wasmMemory, order };
    this.#worker.postMessage(init);
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
    const job = buffer.lend(SORT_WORKER_OWNER);
    if (gather !== undefined) job.target = gather.lend(SORT_WORKER_OWNER);
    const takeBack = (reply: SortReply | undefined) => {
      this.#busy = false;
      // A Worker that finished wrote only the index and the gathered bytes; otherwise assume
      // it wrote anything it was lent.
      const done = reply !== undefined && reply.error === undefined;
      buffer.takeBack(done);
      gather?.takeBack(done ? gather.pageUse(reply.targetUsed) : undefined);
    };
    return new Promise<GatherResult>((resolve, reject) => {
      this.#worker.onmessage = (event: MessageEvent<SortReply>) => {
        const reply = event.data;
        takeBack(reply);
        if (reply.error !== undefined) {
          reject(new Error(`Sort worker failed: ${reply.error}`));
        } else {
          resolve({ gatheredCount: reply.gatheredCount, targetUsed: reply.targetUsed });
        }
      };
      this.#worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        // The Worker is dead: end it so that it cannot touch the pages, then take them back.
        this.close();
        takeBack(undefined);
        reject(new Error(`Sort worker crashed: ${event.message}`));
      };
      const request: SortRequest = { type: "sort", job };
      this.#worker.postMessage(request);
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
