import { assert, SpillwayError } from "../base/mod.ts";
import type { SpillRun } from "../io/mod.ts";
import { compileKernels } from "../kernels/mod.ts";
import {
  MemoryLeakError,
  type MemoryManager,
  type MemorySegment,
  type SegmentLease,
} from "../memory/mod.ts";
import type { CountTableLayout } from "./count_table.ts";
import type { CountWorkerInit, CountWorkerReply, CountWorkerRequest } from "./count_worker.ts";
import type { WordCountStats } from "./word_counter.ts";

/** How long `close()` waits for the Worker to delete its files before ending it. */
const CLOSE_TIMEOUT_MS = 10_000;

/** The owner name the count Worker's lent segments are booked under. */
export const COUNT_WORKER_OWNER = "count-worker";

/** Options of {@linkcode CountWorkerClient.start}. */
export interface CountWorkerClientOptions
  extends Omit<CountWorkerInit, "memory" | "byteOffset" | "budgetBytes" | "kernels"> {
  /** The Worker's share of the budget (rounded down to whole pages). */
  budgetBytes: number;
  /** Size of each of the two chunk segments lent to the Worker in turn. */
  chunkBytes: number;
}

/**
 * The main thread's handle on a count Worker (src/count/count_worker.ts): it takes the
 * Worker's budget share (one contiguous segment, which the Worker manages with a memory
 * manager of its own over that range of the same shared memory) and two chunk segments from
 * the main budget, and lends them to the Worker (booked under
 * {@linkcode COUNT_WORKER_OWNER}); it hands chunks over when a chunk segment is free
 * ({@linkcode CountWorkerClient.offer}), and collects the Worker's word-sorted runs at the end.
 *
 * A chunk is copied into a chunk segment, which is lent to the Worker and taken back when
 * the Worker has counted it: nothing is transferred. With two chunk segments the Worker
 * always has the next chunk waiting while the main thread counts the chunks it keeps: the
 * split between the two threads balances itself.
 */
export class CountWorkerClient {
  #worker: Worker;
  #memory: MemoryManager;
  #share: SegmentLease;
  #chunkLeases: SegmentLease[];
  /** Chunk segments not lent to the Worker right now. */
  #free: MemorySegment[] = [];
  /** Chunk segments lent, by memory offset. */
  #lent = new Map<number, MemorySegment>();
  /** What the Worker's manager left in each page of its share (reported when it finishes). */
  #sharePageContents: Uint8Array | undefined = undefined;
  #inFlight = 0;
  #waiters: Array<{
    type: string;
    resolve: (reply: CountWorkerReply) => void;
    reject: (error: Error) => void;
  }> = [];
  #idle: Array<() => void> = [];
  #failure: Error | undefined;
  /** The Worker crashed (it runs nothing more and will not answer `close`). */
  #crashed = false;
  /** Receives the `closed` reply (undefined: the Worker crashed or timed out). */
  #onClosed:
    | ((reply: Extract<CountWorkerReply, { type: "closed" }> | undefined) => void)
    | undefined;
  #closed = false;
  #ready: Promise<void> = Promise.resolve();
  #isReady = false;
  /** Chunks and bytes handed to the Worker. */
  chunksSent = 0;
  /** Bytes handed to the Worker. */
  bytesSent = 0;

  private constructor(
    worker: Worker,
    memory: MemoryManager,
    leases: { share: SegmentLease; chunks: SegmentLease[] },
  ) {
    this.#worker = worker;
    this.#memory = memory;
    this.#share = leases.share;
    this.#chunkLeases = leases.chunks;
    this.#free = leases.chunks.map((lease) => lease.segments[0]!);
    worker.onmessage = (event: MessageEvent<CountWorkerReply>) => this.#onReply(event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#crashed = true;
      this.#onFailure(new Error(`Count worker crashed: ${event.message}`));
      this.#onClosed?.(undefined);
    };
  }

  /**
   * Spawns the count Worker's isolate ahead of {@linkcode CountWorkerClient.start}: it loads
   * its modules while this thread sets up (the `new Worker` call itself blocks until the
   * isolate exists). Hand it to `start`, or terminate it.
   *
   * @returns The Worker, waiting for its `init`.
   */
  static spawn(): Worker {
    return new Worker(new URL("./count_worker.ts", import.meta.url).href, { type: "module" });
  }

  /**
   * Starts a Worker with its budget share. Does not wait for it: chunks are offered to it
   * once it reported ready (module load and setup take a few tens of milliseconds, which the
   * main thread spends counting).
   *
   * @param memory The main budget: the share and the chunk buffers are reserved from it.
   * @param options The Worker's setup and the chunk buffer size.
   * @param spawned A Worker from {@linkcode CountWorkerClient.spawn} (taken over, also when
   *   this throws), else one is spawned here.
   * @returns The client.
   * @throws {MemoryBudgetError} If the share does not fit.
   */
  static start(
    memory: MemoryManager,
    options: CountWorkerClientOptions,
    spawned?: Worker,
  ): CountWorkerClient {
    const segmentBytes = memory.segmentBytes;
    const sharePages = Math.floor(options.budgetBytes / segmentBytes);
    const chunkPages = Math.ceil(options.chunkBytes / segmentBytes);
    let share: SegmentLease;
    try {
      share = memory.allocateContiguous(COUNT_WORKER_OWNER, sharePages);
    } catch (error) {
      spawned?.terminate();
      throw error;
    }
    const chunks: SegmentLease[] = [];
    let worker: Worker;
    try {
      chunks.push(memory.allocateContiguous("count-worker-chunks", chunkPages));
      chunks.push(memory.allocateContiguous("count-worker-chunks", chunkPages));
      worker = spawned ?? CountWorkerClient.spawn();
    } catch (error) {
      spawned?.terminate();
      share.release();
      for (const chunk of chunks) chunk.release();
      throw error;
    }
    const { chunkBytes: _chunkBytes, budgetBytes: _budgetBytes, ...rest } = options;
    const [byteOffset] = memory.lend(COUNT_WORKER_OWNER, share.segments);
    const init: CountWorkerInit = {
      ...rest,
      memory: memory.wasmMemory,
      byteOffset: byteOffset!,
      budgetBytes: sharePages * segmentBytes,
      kernels: compileKernels(),
    };
    const client = new CountWorkerClient(worker, memory, { share, chunks });
    client.#ready = client.#request({ type: "init", init }, "ready").then(() => {
      client.#isReady = true;
    });
    // A failure is reported by offer/finish; do not leave the promise unhandled.
    client.#ready.catch(() => {});
    return client;
  }

  /**
   * Resolves once the Worker has loaded and set up (rejects if it failed to). Only the
   * `workerFirst` test seam waits for it: the read loop never does.
   */
  whenReady(): Promise<void> {
    return this.#ready;
  }

  /**
   * Hands a chunk (whole lines) to the Worker if a chunk segment is free and the chunk fits.
   *
   * @param chunk The bytes (copied; the caller's view stays its own).
   * @returns True if the Worker took it; false: count it yourself.
   */
  offer(chunk: Uint8Array): boolean {
    this.#throwIfFailed();
    if (!this.#isReady) return false;
    const segment = this.#free.length > 0 && chunk.length <= this.#free[0]!.byteLength
      ? this.#free.pop()!
      : undefined;
    if (segment === undefined) return false;
    segment.put(0, chunk);
    const [byteOffset] = this.#memory.lend(COUNT_WORKER_OWNER, [segment]);
    this.#lent.set(byteOffset!, segment);
    this.#inFlight += 1;
    this.chunksSent += 1;
    this.bytesSent += chunk.length;
    this.#post({ type: "chunk", byteOffset: byteOffset!, byteLength: chunk.length });
    return true;
  }

  /**
   * Waits for the chunks in flight, then asks where the Worker's words lie when all of them
   * are in its table (the low-cardinality case): the main thread may add them in place (the
   * Worker waits, its table unchanged), then calls {@linkcode CountWorkerClient.finish} with
   * `discard`.
   *
   * @returns The table's layout in the shared memory, or undefined (some words are in runs:
   *   call `finish()`).
   */
  async table(): Promise<CountTableLayout | undefined> {
    await this.#drain();
    const reply = await this.#request({ type: "table" }, "table");
    assert(reply.type === "table", "count worker: expected its table");
    return reply.layout;
  }

  /**
   * Waits for the chunks in flight, then has the Worker spill its table (or, with `discard`,
   * drop it: the main thread added its words) and release its memory: its share and the chunk
   * segments go back to the main budget here (the merge of its runs needs them).
   *
   * @param options `discard`: the table's words were added elsewhere; no spill.
   * @returns The Worker's sorted runs (its files: do not delete them) and its counters.
   * @throws {MemoryLeakError} If the Worker's memory manager reported a leak.
   */
  async finish(options: { discard?: boolean } = {}): Promise<
    { runs: SpillRun[]; stats: WordCountStats }
  > {
    await this.#drain();
    const reply = await this.#request(
      { type: "finish", ...(options.discard === true ? { discard: true } : {}) },
      "runs",
    );
    assert(reply.type === "runs", "count worker: expected runs");
    if (reply.leaks !== "") throw new MemoryLeakError(`Count worker: ${reply.leaks}`);
    this.#sharePageContents = reply.pageContents;
    this.#releaseMemory();
    return { runs: reply.runs, stats: reply.stats };
  }

  /** Waits until the Worker is set up and has given every chunk back. */
  async #drain(): Promise<void> {
    await this.#ready;
    while (this.#inFlight > 0) {
      this.#throwIfFailed();
      await new Promise<void>((resolve) => this.#idle.push(resolve));
    }
  }

  /** Takes back the share and the chunk segments the Worker held and releases them (once). */
  #releaseMemory(): void {
    if (this.#share.isReleased) return;
    // Without the Worker's report, all of the share may have been written (it is poisoned in
    // full when released); with it, only what the Worker wrote and did not poison itself.
    this.#memory.takeBack(COUNT_WORKER_OWNER, this.#share.segments, undefined, {
      pageContents: [this.#sharePageContents],
    });
    this.#memory.takeBack(COUNT_WORKER_OWNER, [...this.#lent.values()]);
    this.#lent.clear();
    this.#free = [];
    this.#share.release();
    for (const chunk of this.#chunkLeases) chunk.release();
  }

  /**
   * Has the Worker delete its files and check its memory, then ends it, takes its segments
   * back and releases them. Idempotent; safe after a failure: a Worker that failed (its
   * spill, say) still takes the `close` (it ends every request after a failure), and its
   * memory goes back only after its `closed` reply, when it touches none of it any more, or
   * once it crashed or stayed silent {@linkcode CLOSE_TIMEOUT_MS}.
   *
   * @throws {MemoryLeakError} If the Worker's memory manager reported a leak.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    let leaks = "";
    if (!this.#crashed) {
      const reply = await this.#closeReply();
      if (reply !== undefined) {
        leaks = reply.leaks;
        if (!this.#share.isReleased) this.#sharePageContents = reply.pageContents;
      }
    }
    this.#worker.terminate();
    // The Worker is gone: take back what it still held.
    this.#releaseMemory();
    if (leaks !== "") throw new MemoryLeakError(`Count worker: ${leaks}`);
  }

  /**
   * Sends `close` and waits for its reply: not rejected by a failure the Worker reported
   * (that failure ended the request it was on, not the Worker), only ended by a crash or
   * the timeout (then undefined).
   */
  #closeReply(): Promise<Extract<CountWorkerReply, { type: "closed" }> | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#onClosed?.(undefined), CLOSE_TIMEOUT_MS);
      this.#onClosed = (reply) => {
        this.#onClosed = undefined;
        clearTimeout(timer); // a pending timer would keep the process alive
        resolve(reply);
      };
      this.#post({ type: "close" });
    });
  }

  #post(request: CountWorkerRequest): void {
    this.#worker.postMessage(request);
  }

  #request(request: CountWorkerRequest, expect: string): Promise<CountWorkerReply> {
    this.#throwIfFailed();
    return new Promise<CountWorkerReply>((resolve, reject) => {
      this.#waiters.push({ type: expect, resolve, reject });
      this.#post(request);
    });
  }

  #onReply(reply: CountWorkerReply): void {
    if (reply.type === "chunk-done") {
      const segment = this.#lent.get(reply.byteOffset);
      assert(segment !== undefined, "count worker returned a chunk it was not lent");
      this.#lent.delete(reply.byteOffset);
      this.#memory.takeBack(COUNT_WORKER_OWNER, [segment], [0]); // the Worker only read it
      this.#free.push(segment);
      this.#inFlight -= 1;
      this.#wakeIdle();
      return;
    }
    if (reply.type === "closed") {
      this.#onClosed?.(reply);
      return;
    }
    if (reply.type === "failed") {
      const error = reply.exitCode !== undefined
        ? new SpillwayError(reply.message, reply.exitCode)
        : new Error(`Count worker failed: ${reply.name}: ${reply.message}`);
      this.#onFailure(error);
      return;
    }
    const index = this.#waiters.findIndex((waiter) => waiter.type === reply.type);
    if (index >= 0) this.#waiters.splice(index, 1)[0]!.resolve(reply);
  }

  #onFailure(error: Error): void {
    if (this.#failure === undefined) this.#failure = error;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#failure);
    this.#wakeIdle();
  }

  #wakeIdle(): void {
    const idle = this.#idle.splice(0);
    for (const wake of idle) wake();
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }
}
