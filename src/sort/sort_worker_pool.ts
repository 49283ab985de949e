import { assert } from "../base/mod.ts";
import type { OrderDescriptor } from "./order_descriptor.ts";
import type { SortBuffer } from "./sort_buffer.ts";
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
   * Sorts `buffer` on the Worker. The buffer is unusable until the promise settles.
   *
   * @param buffer A filled buffer.
   */
  sort(buffer: SortBuffer): Promise<void> {
    assert(!this.#busy && !this.#closed, "SortWorker is busy or closed");
    this.#busy = true;
    const job = buffer.lend();
    return new Promise<void>((resolve, reject) => {
      this.#worker.onmessage = (event: MessageEvent<SortReply>) => {
        this.#busy = false;
        buffer.takeBack(event.data.job);
        if (event.data.error !== undefined) {
          reject(new Error(`Sort worker failed: ${event.data.error}`));
        } else {
          resolve();
        }
      };
      this.#worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        this.#busy = false;
        reject(new Error(`Sort worker crashed: ${event.message}`));
      };
      const request: SortRequest = { job, order: this.#order };
      this.#worker.postMessage(request, [...job.segments, job.index]);
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
