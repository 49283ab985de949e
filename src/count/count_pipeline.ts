import { type ProgressSink, silentProgress } from "../base/mod.ts";
import { type IoManager, type LineReader, type OutputSink, plainInputBytes } from "../io/mod.ts";
import type { MemoryManager } from "../memory/mod.ts";
import { CountFormatter } from "./count_format.ts";
import type { CountRequest } from "./count_request.ts";

export type { CountRequest };
import { availableParallelism } from "node:os";
import {
  AUTO_IDLE_CORES_MIN,
  type AutoCardinality,
  autoCardinality,
  autoWorkerAllowed,
  type CountPlan,
  planCount,
  workerShouldStart,
} from "./count_plan.ts";
import { CountWorkerClient } from "./count_worker_client.ts";
import {
  countViaSort,
  type MergeStallOptions,
  sortRouteFormat,
  SortRouteTooSmall,
} from "./count_via_sort.ts";
import { countOrderViaSort } from "./count_order_via_sort.ts";
import { WordCounter, type WordCountStats } from "./word_counter.ts";

/** What a count did. */
export interface CountResult extends WordCountStats {
  /** Bytes read from the inputs. */
  inputBytes: number;
  /** Bytes the Worker counted. */
  workerBytes: number;
  /** The plan it ran by. */
  plan: CountPlan;
  /** Whether it counted through the sort engine (count_via_sort.ts). */
  sortRoute?: boolean;
  /**
   * Whether the sort route gave up (a token too long for its share of the budget) and the
   * table's path counted everything again from the start.
   */
  sortRouteFallback?: boolean;
}

/** Where a count runs: the budget, the io manager and the progress sink. */
export interface CountContext {
  /** The budget. */
  memory: MemoryManager;
  /** Inputs, spills and the output. */
  io: IoManager;
  /** Phases `count`, `merge`, `write`; bytes read. */
  progress?: ProgressSink;
  /**
   * A count Worker spawned before the budget and the io manager were set up
   * ({@linkcode spawnEarlyCountWorker}): countWords takes it over, and terminates it if the
   * plan leaves no share for it.
   */
  spawnedWorker?: Worker;
  /** The sort route's final-merge stall warning (and test knobs); count_via_sort.ts. */
  mergeStall?: MergeStallOptions;
}

/**
 * Spawns the count Worker's isolate at once when the count will start it at its first chunk
 * (a plain file large enough for the request's `--threads`, and for `auto` a core to spare):
 * its module graph then loads while this thread opens the budget, the io manager and the
 * output, instead of after (docs/performance.md, "Start-up"). Pass it to countWords as
 * `spawnedWorker`; terminate it if the count does not get that far.
 *
 * @param request The parsed count.
 * @returns The Worker, or undefined when the count should not start one at once.
 */
export function spawnEarlyCountWorker(request: CountRequest): Worker | undefined {
  if (request.threads < 2 || request.inputs.length === 0) return undefined;
  const firstBytes = plainInputBytes(request.inputs.slice(0, 1));
  if (
    firstBytes === undefined ||
    !workerShouldStart(firstBytes, 0, request.threadsAuto === true) ||
    workerAllowed(request) !== true
  ) {
    return undefined;
  }
  return CountWorkerClient.spawn();
}

/**
 * The counting pipeline: reads the inputs in chunks, counts them on this thread and (with
 * `--threads 2`, past the plan's Worker start) on a Worker with its own share of the
 * budget, merges the Worker's runs in, and writes the words (or `--distinct`/`--total`) in the
 * requested order and format. Everything it opens is closed on every path; the output is
 * committed only when complete.
 *
 * @param request What to count and print.
 * @param context Budget, io and progress.
 * @returns The counters and the plan.
 */
export async function countWords(
  request: CountRequest,
  context: CountContext,
): Promise<CountResult> {
  const { memory, io } = context;
  const progress = context.progress ?? silentProgress;
  let output: OutputSink | undefined;
  let counter: WordCounter | undefined;
  let feeder: ChunkFeeder | undefined;
  let early: CountWorkerClient | undefined;
  let spawned = context.spawnedWorker;
  try {
    output = await io.createOutput(request.output, { owner: "count-output" });
    // Planned with the output's buffer already taken.
    const plan = planCount({
      totalSegments: memory.totalSegments,
      freeSegments: memory.freeSegments,
      segmentBytes: memory.segmentBytes,
      threads: request.threads,
      fanIn: request.fanInMax,
    });
    const start = startWorkerEarly(plan, request, context, spawned);
    early = start.worker;
    spawned = start.isolate;
    counter = new WordCounter(memory, io, {
      tokenizer: request.tokenizer,
      caseMode: request.caseMode,
      tablePages: plan.tableSegments,
      tablePagesFirst: plan.tableSegmentsFirst,
      tableRunsShare: plan.tableRunsShare,
      tableGrowRuns: plan.tableGrowRuns,
      fanInMax: request.fanInMax,
      progress,
    });
    const sortRoute = sortRouteFormat(request, memory.budgetBytes);
    feeder = new ChunkFeeder(counter, plan, request, context, {
      worker: early,
      isolate: spawned,
      sortRoute: sortRoute !== undefined,
    });
    early = undefined; // the feeder's now
    spawned = undefined;
    let inputBytes = 0;
    for (const path of request.inputs) {
      if (feeder.routedToSort) break;
      const reader = await io.openInput(path, {
        owner: "count-input",
        chunkSegments: plan.inputChunkSegments,
        recordBytesMax: plan.recordBytesMax,
      });
      try {
        await feeder.feed(reader, inputBytes, progress);
        inputBytes += reader.bytesRead;
      } finally {
        await reader.close();
      }
    }
    if (feeder.routedToSort) {
      // Nearly unique tokens on an idle core: start again through the sort engine.
      await counter.close();
      counter = undefined;
      await feeder.close();
      feeder = undefined;
      await output.abort();
      output = undefined;
      return await countThroughSort(request, context, sortRoute!, plan);
    }
    const workerBytes = await feeder.finish();
    progress.phase({ name: "merge" });
    await writeCounts(counter, request, output);
    progress.phase({ name: "write" });
    await counter.close();
    await feeder.close();
    await output.commit();
    return { ...counter.stats, inputBytes, workerBytes, plan };
  } catch (error) {
    spawned?.terminate();
    await counter?.close().catch(() => {});
    await feeder?.close().catch(() => {});
    await early?.close().catch(() => {});
    await output?.abort().catch(() => {});
    throw error;
  }
}

/**
 * A Worker's isolate takes a tenth of a second or more to load its modules: when the first
 * input is a file large enough that the Worker will start at its first chunk anyway, it starts
 * now (the caller may have spawned the isolate already), while this thread sets up its table
 * and reads. `--threads auto` starts it only once the first words show that the input repeats
 * them (ChunkFeeder.#cardinalityAllows): a spawned isolate waits in the feeder until then.
 *
 * @returns The started Worker, or the spawned isolate left for the feeder (auto), or neither.
 */
function startWorkerEarly(
  plan: CountPlan,
  request: CountRequest,
  context: CountContext,
  spawned: Worker | undefined,
): { worker?: CountWorkerClient; isolate?: Worker } {
  const auto = request.threadsAuto === true;
  if (spawned !== undefined) {
    if (plan.workerSegments === 0) {
      spawned.terminate();
      return {};
    }
    return auto
      ? { isolate: spawned }
      : { worker: startCountWorker(plan, request, context, spawned) };
  }
  if (auto || plan.workerSegments === 0 || request.inputs.length === 0) return {};
  const firstBytes = plainInputBytes(request.inputs.slice(0, 1));
  if (
    firstBytes !== undefined && workerShouldStart(firstBytes, 0, false) &&
    workerAllowed(request) === true
  ) {
    return { worker: startCountWorker(plan, request, context) };
  }
  return {};
}

/**
 * Nearly unique tokens on an idle core: counts again from the start through the sort engine.
 * The route sorts in half the budget and holds a few copies of the longest line: a token of
 * many MiB fits only the table's path, which then counts again on one thread.
 *
 * @param sortRoute The lines' `FormatCountsFormat` ({@linkcode sortRouteFormat}).
 */
async function countThroughSort(
  request: CountRequest,
  context: CountContext,
  sortRoute: number,
  plan: CountPlan,
): Promise<CountResult> {
  try {
    const routed = request.order === "count"
      ? await countOrderViaSort(request, context, sortRoute)
      : await countViaSort(request, context, sortRoute);
    return { ...routed, workerBytes: 0, plan, sortRoute: true };
  } catch (error) {
    if (!(error instanceof SortRouteTooSmall)) throw error;
    const { spawnedWorker: _spent, ...again } = context;
    const counted = await countWords({ ...request, threads: 1, threadsAuto: false }, again);
    return { ...counted, sortRouteFallback: true };
  }
}

/** Hands input chunks to the counter, or to the Worker once it runs and has room. */
class ChunkFeeder {
  readonly #counter: WordCounter;
  readonly #plan: CountPlan;
  readonly #request: CountRequest;
  readonly #context: CountContext;
  #worker: CountWorkerClient | undefined = undefined;
  #eventLoop: EventLoopYield | undefined = undefined;
  #autoAllowed: boolean | undefined = undefined;
  #waitedForWorker = false;
  /** A spawned Worker isolate not started yet (`--threads auto` waits for the cardinality). */
  #isolate: Worker | undefined;
  #cardinality: AutoCardinality;
  /** Input bytes this thread counted. */
  #countedBytes = 0;
  /** Whether nearly unique tokens may go through the sort engine (count_via_sort.ts). */
  readonly #sortRoute: boolean;
  /** Whether the feeder stopped for the sort route (the count starts again there). */
  routedToSort = false;

  constructor(
    counter: WordCounter,
    plan: CountPlan,
    request: CountRequest,
    context: CountContext,
    started: {
      worker: CountWorkerClient | undefined;
      isolate: Worker | undefined;
      sortRoute?: boolean;
    },
  ) {
    this.#sortRoute = started.sortRoute === true;
    this.#counter = counter;
    this.#plan = plan;
    this.#request = request;
    this.#context = context;
    this.#isolate = started.isolate;
    this.#cardinality = request.threadsAuto === true ? "undecided" : "worker";
    const worker = started.worker;
    if (worker !== undefined) {
      this.#worker = worker;
      this.#eventLoop = new EventLoopYield();
    }
  }

  /** Feeds one input; `bytesBefore` counts the earlier inputs (for the Worker's start). */
  async feed(reader: LineReader, bytesBefore: number, progress: ProgressSink): Promise<void> {
    progress.phase(
      reader.totalBytes === undefined
        ? { name: "count" }
        : { name: "count", totalBytes: reader.totalBytes },
    );
    let reported = 0;
    for (;;) {
      const chunk = await reader.nextChunk();
      if (chunk === undefined) break;
      if (
        this.#plan.workerSegments > 0 && this.#worker === undefined &&
        workerShouldStart(
          reader.totalBytes,
          bytesBefore + reader.bytesRead,
          this.#request.threadsAuto === true,
        ) && this.#workerAllowed() && this.#cardinalityAllows()
      ) {
        this.#startWorker();
      }
      if (this.routedToSort) return;
      const worker = this.#worker;
      if (worker !== undefined && this.#request.workerFirst === true && !this.#waitedForWorker) {
        this.#waitedForWorker = true;
        await worker.whenReady();
      }
      if (worker === undefined || !worker.offer(chunk)) {
        const pending = this.#counter.addChunk(chunk);
        if (pending) await pending;
        this.#countedBytes += reader.bytesRead - reported;
        // Let the event loop deliver the Worker's returned buffers (a buffered read may
        // resolve without a macrotask turn).
        if (worker !== undefined) await this.#eventLoop!.next();
      }
      progress.advance(reader.bytesRead - reported);
      reported = reader.bytesRead;
    }
  }

  /** `--threads auto` starts the Worker only with half a core idle (asked until it can say). */
  #workerAllowed(): boolean {
    this.#autoAllowed ??= workerAllowed(this.#request);
    if (this.#autoAllowed === false) this.#endIsolate();
    return this.#autoAllowed === true;
  }

  /** Ends a spawned isolate that will not count (a loaded Worker holds memory). */
  #endIsolate(): void {
    this.#isolate?.terminate();
    this.#isolate = undefined;
  }

  /**
   * `--threads auto` starts the Worker only for input whose first words repeat: on nearly
   * unique tokens it stays on one thread (count_plan.ts, `autoCardinality`) and ends the
   * spawned isolate. Asked before each chunk until it can say; `--threads 2` always may.
   */
  #cardinalityAllows(): boolean {
    if (this.#cardinality === "undecided") {
      this.#cardinality = autoCardinality({
        ...this.#counter.tableSample,
        runCount: this.#counter.runCount,
        inputBytes: this.#countedBytes,
      });
      if (this.#cardinality === "one thread") {
        this.#endIsolate();
        // The Worker was allowed (a core to spare): the sort engine uses it better.
        this.routedToSort = this.#sortRoute;
      }
    }
    return this.#cardinality === "worker";
  }

  #startWorker(): void {
    this.#eventLoop = new EventLoopYield();
    const isolate = this.#isolate;
    this.#isolate = undefined;
    this.#worker = startCountWorker(this.#plan, this.#request, this.#context, isolate);
  }

  /**
   * Takes the Worker's words: its table's words added in place when they all fit its table
   * (no sort, run file or merge), else its runs for the merge. Returns the bytes it counted.
   */
  async finish(): Promise<number> {
    this.#endIsolate();
    const worker = this.#worker;
    if (worker === undefined) return 0;
    const layout = await worker.table();
    if (layout !== undefined) await this.#counter.addForeignTable(layout);
    const { runs, stats } = await worker.finish({ discard: layout !== undefined });
    this.#counter.addForeignRuns(runs, stats);
    return worker.bytesSent;
  }

  /** Stops the Worker (if any, started or not) and the event-loop channel. */
  async close(): Promise<void> {
    this.#endIsolate();
    this.#eventLoop?.[Symbol.dispose]();
    this.#eventLoop = undefined;
    await this.#worker?.close();
  }
}

/**
 * `--threads auto` starts the Worker only on a machine with half a core idle: measured over
 * this process's start-up where the CPU counters can say (the request's `idleCores`), else by
 * the 1-minute load average. `--threads 2` always may. Undefined while the window is still too
 * short to say: ask again later (the read loop asks at each chunk).
 */
function workerAllowed(request: CountRequest): boolean | undefined {
  if (request.threadsAuto !== true) return true;
  const cores = availableParallelism();
  const idle = request.idleCores?.(cores);
  if (idle === "too early") return undefined;
  if (typeof idle === "number") return cores >= 2 && idle >= AUTO_IDLE_CORES_MIN;
  return autoWorkerAllowed(cores, loadAverage());
}

/** Starts the count Worker with the plan's share of the budget (in `spawned`, if given). */
function startCountWorker(
  plan: CountPlan,
  request: CountRequest,
  context: CountContext,
  spawned?: Worker,
): CountWorkerClient {
  const { memory, io } = context;
  return CountWorkerClient.start(memory, {
    budgetBytes: plan.workerSegments * memory.segmentBytes,
    segmentBytes: memory.segmentBytes,
    leakDetection: request.leakDetection,
    tokenizer: request.tokenizer,
    caseMode: request.caseMode,
    tmpDirs: request.tmpDirs,
    spillMode: io.spillMode,
    chunkBytes: plan.inputChunkSegments * memory.segmentBytes,
    tableRunsShare: plan.tableRunsShare,
  }, spawned);
}

/** Writes the words (or `--distinct`/`--total`) in the request's order and format. */
async function writeCounts(
  counter: WordCounter,
  request: CountRequest,
  sink: OutputSink,
): Promise<void> {
  if (request.distinct || request.total) {
    let distinct = 0;
    let total = 0;
    await counter.finish({ order: "word", minCount: request.minCount }, (_b, _o, _n, count) => {
      distinct += 1;
      total += count;
      return undefined;
    });
    const bytes = new TextEncoder().encode(numbersText(request, distinct, total));
    const pending = sink.write(bytes, 0, bytes.length);
    if (pending) await pending;
    return;
  }
  const formatter = new CountFormatter(sink, request.format);
  const begun = formatter.begin();
  if (begun) await begun;
  const finishOptions = {
    order: request.order,
    minCount: request.minCount,
    ...(request.top === undefined ? {} : { top: request.top }),
    lines: formatter,
  };
  await counter.finish(finishOptions, (bytes, offset, length, count) => {
    return formatter.word(bytes, offset, length, count);
  });
  const ended = formatter.end();
  if (ended) await ended;
}

/**
 * Yields one turn of the event loop (pending Worker messages are delivered first) through a
 * MessageChannel: ~20 us where setTimeout(0) costs ~2 ms. The channel is opened when the
 * Worker starts and closed at the count's end: an open port keeps the process alive, and
 * `unref()` exists only where Node's compatibility layer happened to be loaded.
 */
class EventLoopYield implements Disposable {
  #channel = new MessageChannel();
  #waiters: Array<() => void> = [];

  constructor() {
    this.#channel.port1.onmessage = () => this.#waiters.shift()?.();
  }

  /** Resolves after one turn of the event loop. */
  next(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#waiters.push(resolve);
      this.#channel.port2.postMessage(0);
    });
  }

  [Symbol.dispose](): void {
    this.#channel.port1.close();
    this.#channel.port2.close();
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}

/**
 * The output of `--distinct`/`--total`: one number a line (tsv, csv), or one object with the
 * numbers asked for (json, yaml), so that every json or yaml output parses.
 */
function numbersText(request: CountRequest, distinct: number, total: number): string {
  const numbers: Array<[string, number]> = [
    ...(request.distinct ? [["distinct", distinct] as [string, number]] : []),
    ...(request.total ? [["total", total] as [string, number]] : []),
  ];
  if (request.format === "json") {
    return `{${numbers.map(([name, value]) => `"${name}": ${value}`).join(", ")}}\n`;
  }
  if (request.format === "yaml") {
    return numbers.map(([name, value]) => `${name}: ${value}\n`).join("");
  }
  return numbers.map(([, value]) => `${value}\n`).join("");
}

/** The 1-minute load average, or undefined where it cannot be read (no --allow-sys). */
function loadAverage(): number | undefined {
  try {
    return Deno.loadavg()[0];
  } catch {
    return undefined;
  }
}
