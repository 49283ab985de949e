import { assert, SpillwayError } from "../base/mod.ts";
import type { SpillRun } from "../io/mod.ts";
import { MemoryLeakError, type MemoryManager, type MemoryReservation } from "../memory/mod.ts";
import type { CountWorkerInit, CountWorkerReply, CountWorkerRequest } from "./count_worker.ts";
import type { WordCountStats } from "./word_counter.ts";

/** How long `close()` waits for the Worker to delete its files before ending it. */
const CLOSE_TIMEOUT_MS = 10_000;

/** Options of {@linkcode CountWorkerClient.start}. */
export interface CountWorkerClientOptions extends CountWorkerInit {
  /** Size of each of the two chunk buffers that travel to the Worker and back. */
  chunkBytes: number;
}

/**
 * The main thread's handle on a count Worker (src/count/count_worker.ts): it reserves the
 * Worker's budget share and two chunk buffers from the main budget, hands chunks over when a
 * buffer is free ({@linkcode CountWorkerClient.offer}), and collects the Worker's word-sorted
 * runs at the end.
 *
 * Chunks are copied into a buffer and moved with a transfer list; the Worker sends the
 * buffer back when it has counted it. With two buffers the Worker always has the next chunk
 * waiting while the main thread counts the chunks it keeps: the split between the two
 * threads balances itself.
 */
export class CountWorkerClient {
  #worker: Worker;
  #reservation: MemoryReservation;
  #free: ArrayBuffer[] = [];
  #inFlight = 0;
  #waiters: Array<{
    type: string;
    resolve: (reply: CountWorkerReply) => void;
    reject: (error: Error) => void;
  }> = [];
  #idle: Array<() => void> = [];
  #failure: Error | undefined;
  #closed = false;
  #ready: Promise<void> = Promise.resolve();
  #isReady = false;
  /** Chunks and bytes handed to the Worker. */
  chunksSent = 0;
  /** Bytes handed to the Worker. */
  bytesSent = 0;

  private constructor(worker: Worker, reservation: MemoryReservation, chunkBytes: number) {
    this.#worker = worker;
    this.#reservation = reservation;
    this.#free.push(new ArrayBuffer(chunkBytes), new ArrayBuffer(chunkBytes));
    worker.onmessage = (event: MessageEvent<CountWorkerReply>) => this.#onReply(event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#onFailure(new Error(`Count worker crashed: ${event.message}`));
    };
  }

  /**
   * Starts a Worker with its budget share. Does not wait for it: chunks are offered to it
   * once it reported ready (module load and setup take a few tens of milliseconds, which the
   * main thread spends counting).
   *
   * @param memory The main budget: the share and the chunk buffers are reserved from it.
   * @param options The Worker's setup and the chunk buffer size.
   * @returns The client.
   * @throws {MemoryBudgetError} If the share does not fit.
   */
  static start(memory: MemoryManager, options: CountWorkerClientOptions): CountWorkerClient {
    const reservation = memory.reserve(
      "count-worker",
      options.budgetBytes + 2 * options.chunkBytes,
    );
    let worker: Worker;
    try {
      worker = new Worker(new URL("./count_worker.ts", import.meta.url).href, { type: "module" });
    } catch (error) {
      reservation.release();
      throw error;
    }
    const client = new CountWorkerClient(worker, reservation, options.chunkBytes);
    const { chunkBytes: _chunkBytes, ...init } = options;
    client.#ready = client.#request({ type: "init", init }, "ready").then(() => {
      client.#isReady = true;
    });
    // A failure is reported by offer/finish; do not leave the promise unhandled.
    client.#ready.catch(() => {});
    return client;
  }

  /**
   * Hands a chunk (whole lines) to the Worker if a buffer is free and the chunk fits it.
   *
   * @param chunk The bytes (copied; the caller's view stays its own).
   * @returns True if the Worker took it; false: count it yourself.
   */
  offer(chunk: Uint8Array): boolean {
    this.#throwIfFailed();
    if (!this.#isReady) return false;
    const buffer = this.#free.length > 0 && chunk.length <= this.#free[0]!.byteLength
      ? this.#free.pop()!
      : undefined;
    if (buffer === undefined) return false;
    new Uint8Array(buffer).set(chunk);
    this.#inFlight += 1;
    this.chunksSent += 1;
    this.bytesSent += chunk.length;
    this.#post({ type: "chunk", buffer, byteLength: chunk.length }, [buffer]);
    return true;
  }

  /**
   * Waits for the chunks in flight, then has the Worker spill its table.
   *
   * @returns The Worker's sorted runs (its files: do not delete them) and its counters.
   */
  async finish(): Promise<{ runs: SpillRun[]; stats: WordCountStats }> {
    await this.#ready;
    while (this.#inFlight > 0) {
      this.#throwIfFailed();
      await new Promise<void>((resolve) => this.#idle.push(resolve));
    }
    const reply = await this.#request({ type: "finish" }, "runs");
    assert(reply.type === "runs", "count worker: expected runs");
    return { runs: reply.runs, stats: reply.stats };
  }

  /**
   * Has the Worker delete its files and check its memory, then ends it and gives the share
   * back. Idempotent; safe after a failure.
   *
   * @throws {MemoryLeakError} If the Worker's memory manager reported a leak.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    let leaks = "";
    if (
      this.#failure === undefined || !(this.#failure.message.startsWith("Count worker crashed"))
    ) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const reply = await Promise.race([
          this.#request({ type: "close" }, "closed"),
          new Promise<undefined>((resolve) => {
            timer = setTimeout(() => resolve(undefined), CLOSE_TIMEOUT_MS);
          }),
        ]);
        if (reply?.type === "closed") leaks = reply.leaks;
      } catch {
        // The Worker failed: terminate it anyway.
      } finally {
        clearTimeout(timer); // a pending timer would keep the process alive
      }
    }
    this.#worker.terminate();
    this.#free = [];
    this.#reservation.release();
    if (leaks !== "") throw new MemoryLeakError(`Count worker: ${leaks}`);
  }

  #post(request: CountWorkerRequest, transfer: Transferable[] = []): void {
    this.#worker.postMessage(request, transfer);
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
      this.#free.push(reply.buffer);
      this.#inFlight -= 1;
      this.#wakeIdle();
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
