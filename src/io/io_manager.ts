import {
  assert,
  ExitCode,
  InputError,
  MiB,
  ResourceError,
  SpillwayError,
  UsageError,
} from "../base/mod.ts";
import type { MemoryManager } from "../memory/mod.ts";
import { GzipSource, NativeSource, PipeSource, ReaderSource } from "./byte_sources.ts";
import { type BlockChannel, OperationCounter } from "./channel.ts";
import {
  CompressedReadChannel,
  CompressedWriteChannel,
  killCompressorsSync,
  spawnCompressor,
} from "./compress_channel.ts";
import { errorCode, isDiskError, SpillDiskError, SpillReadError } from "./errors.ts";
import { type ChannelStaging, FileChannel } from "./file_channel.ts";
import { loopTurn, startLoopWatch, stopLoopWatch } from "./event_loop.ts";
import { emptyIoStats, type IoStats } from "./io_stats.ts";
import { currentUid, withLibc } from "./libc.ts";
import { LineReader, readError } from "./line_reader.ts";
import {
  acquireLibc,
  type Libc,
  MmapChannel,
  mmapUnavailableReason,
  releaseLibc,
} from "./mmap_channel.ts";
import { OutputSink, type OutputTarget } from "./output_sink.ts";
import { appendToOutput } from "./append_output.ts";
import { FileCopier } from "./file_copy.ts";
import {
  checkStdinOpen,
  fileBehind,
  isRestrictedPath,
  openOutputTarget,
  type OutputTargetHost,
  ownerLockFree,
  planOutput,
  randomTag,
  STDIN_ALIASES,
  sweepStaleOutputTemps,
} from "./output_target.ts";
import { RunReader } from "./run_reader.ts";
import { RunWriter, type SpillRun } from "./run_writer.ts";

/** How spill files are written and read: plain file I/O, memory mapping, or the best here. */
export type SpillMode = "file" | "mmap" | "auto";

/**
 * The spill mode `auto` picks on Linux when FFI is available. From tests/bench/io_bench.ts
 * (256 MiB, 32 KiB segments, page cache): `file` wrote 1000-byte records at ~780 MB/s and read
 * them at ~1100 MB/s, `mmap` at ~510 and ~710 MB/s (page faults on fresh mappings cost more
 * than the copy a write system call makes); with 100-byte records both were bound by per-record
 * work. So `auto` means `file`; `mmap` stays available with `--spill mmap`.
 */
export const AUTO_SPILL_MODE_LINUX: "file" | "mmap" = "file";

/** Options of {@linkcode IoManager.open}. */
export interface IoManagerOptions {
  /** Write-behind, read-ahead and I/O buffers come from this budget. */
  memory: MemoryManager;
  /** Temp directories (`-T`, repeatable); default `[$TMPDIR ?? "/tmp"]`. */
  tmpDirs?: string[];
  /** Spill channel kind (default `auto`). */
  spillMode?: SpillMode;
  /**
   * Test seam: the Nth I/O operation (1-based) fails with `error` (default an EIO error).
   * Counted: spill file creation and opening, every header/block write and block read, the
   * final truncate, output temp file creation, every output flush and the commit rename.
   */
  faultInjection?: { failAtOperation: number; error?: Error };
  /**
   * Whether SIGINT/SIGTERM/SIGHUP handlers are installed (default true). The handler removes
   * every file synchronously, then calls `onSignal` if given, else `Deno.exit(130/143/129)`.
   * With them comes the event-loop watch (src/io/event_loop.ts) that lets them run during long
   * synchronous stretches; a manager without them (a Worker's) has none.
   */
  handleSignals?: boolean;
  /** Called after the cleanup on a signal instead of `Deno.exit` (the CLI may decide). */
  onSignal?: (signal: Deno.Signal, exitCode: number) => void;
  /** Bytes of file an mmap channel maps at once (default 8 MiB). */
  mmapWindowBytes?: number;
  /**
   * Check the temp directories and create the private ones only when the first spill file is
   * created (default false: at open). GNU sort fails on a missing `-T` directory only when it
   * needs a temp file; an input that fits the budget sorts without one.
   */
  lazyTmpDirs?: boolean;
  /**
   * GNU sort's `--compress-program`: spill files are written through this program (standard
   * input to standard output) and read back through `PROG -d`. Found on `PATH`; only started
   * when a spill file is made. When no process can be made at that moment (EAGAIN, EMFILE), the
   * file is written uncompressed, as GNU sort does when it cannot fork.
   */
  compressProgram?: string;
}

/** Options of {@linkcode IoManager.createRunWriter}. */
export interface RunWriterOptions {
  /** Owner of the pages (default `spill-writer`). */
  owner?: string;
  /** Full blocks that may be in flight while the next fills (default 1). */
  writeBehindSegments?: number;
}

/** Options of {@linkcode IoManager.openRunReader}. */
export interface RunReaderOptions {
  /** Owner of the pages (default `spill-reader`). */
  owner?: string;
  /** Blocks read ahead of the current one (default 1). */
  readAheadSegments?: number;
}

/** Options of {@linkcode IoManager.createOutput}. */
export interface OutputOptions {
  /** Owner of the buffer reservation (default `output`). */
  owner?: string;
  /** Buffer size in segments (default: 256 KiB worth, at most 1/8 of the budget). */
  bufferSegments?: number;
  /** The option that named the path, for messages (default `-o`). */
  option?: string;
}

/** Options of {@linkcode IoManager.openInput}. */
export interface InputOptions {
  /** Owner of the chunk reservation (default `input`). */
  owner?: string;
  /** Record terminator: 10 (`\n`, default) or 0 (`\0`). */
  terminator?: number;
  /** Chunk size in segments (default: 1 MiB worth, at most 1/4 of the budget). */
  chunkSegments?: number;
  /**
   * Called when a record longer than the chunk needs a larger buffer than the budget has free:
   * free memory (e.g. spill and release sort buffers) and resolve true to have the reservation
   * tried again, or false to fail with the budget error.
   */
  onMemoryShort?: (bytes: number) => Promise<boolean>;
  /**
   * Take the chunk buffer from the budget's shared pages instead of the JS heap, so that
   * WebAssembly kernels read the chunks in place (a chunk view is then a view of shared memory:
   * `TextDecoder` cannot decode it directly).
   */
  sharedChunk?: boolean;
  /**
   * With `sharedChunk`: give the chunk's pages back to the budget while a record longer than
   * the chunk is delivered from its own buffer (the chunk is idle then), and take pages for the
   * chunk again after it. A merge holding the long lines of several inputs at once then holds
   * each one's record buffer, not its chunk as well (`sort -m`, `merge`: src/sort/text_merge.ts).
   */
  freeChunkForLongRecords?: boolean;
  /**
   * A chunk may end at any ASCII whitespace byte (space, `\t \n \v \f \r`), not only at the
   * terminator: for a caller that splits records at whitespace anyway (count's sort route), so
   * that a line of many words longer than the chunk needs no buffer of its whole length. A
   * chunk then ends with a whitespace byte, or with the terminator appended at the end of the
   * input.
   */
  cutAtWhitespace?: boolean;
  /**
   * The longest record (without its terminator) the caller planned room for: a record longer
   * than the chunk is then read into one buffer of this many bytes plus one, reserved at once
   * (no doubling, so no old and new buffer at the same time), and a longer record is a
   * {@linkcode ResourceError} naming the `--memory` whose quarter holds it. Default: the buffer
   * doubles until the record fits.
   */
  recordBytesMax?: number;
}

interface Closable {
  readonly isClosed: boolean;
  abort?(): Promise<void>;
  close?(): Promise<void>;
}

const signals: ReadonlyArray<[Deno.Signal, number]> = [
  ["SIGINT", ExitCode.sigint],
  ["SIGTERM", ExitCode.sigterm],
  ["SIGHUP", ExitCode.sighup],
];

const privateDirPattern = /^spillway-(\d+)-[0-9a-z]+$/;
/** A private directory is made as `.spillway-new-PID-TAG`, locked, then renamed. */
const CLAIM_PREFIX = "spillway-new-";
/** How old a claim directory with a free lock must be before a sweep removes it. */
const CLAIM_STALE_MS = 60_000;

/**
 * Owns every file spillway creates: one private directory (mode 0700) per process in each
 * temp directory, spill files (0600, created exclusively, round-robin over the directories),
 * and output temp files. Removes them all on `close()`, on error paths and on
 * SIGINT/SIGTERM/SIGHUP; sweeps directories left by dead processes at start.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { MemoryManager } from "../memory/mod.ts";
 * import { IoManager } from "./io_manager.ts";
 * const memory = new MemoryManager({ budgetBytes: 1 << 20, segmentBytes: 4096 });
 * const tmp = await Deno.makeTempDir();
 * {
 *   await using io = await IoManager.open({ memory, tmpDirs: [tmp], handleSignals: false });
 *   const writer = await io.createRunWriter("sort");
 *   const record = new TextEncoder().encode("hello");
 *   const pending = writer.writeRecord(record, 0, record.length);
 *   if (pending) await pending;
 *   const run = await writer.finish();
 *   const reader = await io.openRunReader(run);
 *   let more = reader.next();
 *   if (more instanceof Promise) more = await more;
 *   strictEqual(reader.recordLength, 5);
 *   await reader.close();
 * }
 * memory.assertAllReleased();
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export class IoManager implements AsyncDisposable {
  /** The spill channel kind in force. */
  readonly spillMode: "file" | "mmap";
  /** Live counters. */
  readonly stats: IoStats = emptyIoStats();
  /** The private directories, one per temp directory (none yet while they are lazy). */
  get privateDirs(): readonly string[] {
    return this.#privateDirs;
  }
  #privateDirs: string[];
  /** With `lazyTmpDirs`: the temp directories whose private directories are not made yet. */
  #pendingTmpDirs: string[] | undefined = undefined;
  /** The temp directories the private directories are (or will be) made in. */
  #tmpDirs: readonly string[] = [];
  /**
   * Claim and final names of private directories being made: a signal that arrives between
   * `mkdir` and the rename removes them too (they are not in `privateDirs` yet).
   */
  #dirsInMaking = new Set<string>();
  #memory: MemoryManager;
  #files = new Set<string>();
  /** What a signal undoes before the exit (standard output cut back: output_target.ts). */
  #signalUndos = new Set<() => void>();
  /** The kernel copies of {@linkcode IoManager.appendFiles}: one libc load, closed at close. */
  #fileCopier: FileCopier | undefined;
  #live = new Set<Closable>();
  #fileCounter = 0;
  #counter: OperationCounter;
  #signalHandlers: Array<[Deno.Signal, () => void]> = [];
  /** Whether this manager started the event-loop watch (with its signal handlers). */
  #watchesLoop = false;
  #onUnload = (): void => this.removeAllSync();
  #targetHost: OutputTargetHost;
  #ownerLocks: Deno.FsFile[] = [];
  #onSignal: ((signal: Deno.Signal, exitCode: number) => void) | undefined;
  #closed = false;
  #mmapWindowBytes: number;
  #libc: Libc | undefined;
  #compressProgram: string | undefined;

  private constructor(
    memory: MemoryManager,
    privateDirs: string[],
    spillMode: "file" | "mmap",
    options: IoManagerOptions,
  ) {
    this.#memory = memory;
    this.#privateDirs = privateDirs;
    this.spillMode = spillMode;
    this.#counter = new OperationCounter(
      options.faultInjection?.failAtOperation ?? 0,
      options.faultInjection?.error,
    );
    this.#onSignal = options.onSignal;
    this.#libc = undefined;
    this.#compressProgram = options.compressProgram;
    this.#targetHost = {
      counter: this.#counter,
      addFile: (path) => {
        this.#files.add(path);
        this.stats.filesCreated += 1;
      },
      forgetFile: (path) => void this.#files.delete(path),
      deleteFile: (path) => this.deleteFile(path),
      undoOnSignal: (undo) => {
        this.#signalUndos.add(undo);
        return () => void this.#signalUndos.delete(undo);
      },
    };
    this.#mmapWindowBytes = Math.max(
      memory.segmentBytes,
      Math.ceil((options.mmapWindowBytes ?? 8 * MiB) / memory.segmentBytes) * memory.segmentBytes,
    );
  }

  /**
   * Checks the temp directories, creates the private directories, sweeps stale ones and
   * installs the signal handlers.
   *
   * @throws {ResourceError} If a temp directory is missing, not a directory or not writable.
   * @throws {UsageError} If `spillMode` is `mmap` and mmap is unavailable here.
   */
  static async open(options: IoManagerOptions): Promise<IoManager> {
    const spillMode = resolveSpillMode(options.spillMode ?? "auto");
    const tmpDirs = options.tmpDirs !== undefined && options.tmpDirs.length > 0
      ? options.tmpDirs
      : [defaultTmpDir()];
    const manager = new IoManager(options.memory, [], spillMode, options);
    manager.#tmpDirs = tmpDirs;
    manager.#pendingTmpDirs = tmpDirs;
    // Safety net: a process that ends without close() still removes its files.
    globalThis.addEventListener("unload", manager.#onUnload);
    // The handlers come before the first directory: a signal while it is made removes it.
    if (options.handleSignals ?? true) {
      // The loop watch is there for the signal listeners. Without them (a Worker's manager)
      // it would only cost: its timer took 5-10 ms to start in a fresh Worker isolate.
      startLoopWatch();
      manager.#watchesLoop = true;
      manager.#installSignalHandlers();
    }
    if (!(options.lazyTmpDirs ?? false)) {
      try {
        manager.#makePendingDirs();
      } catch (error) {
        await manager.close();
        throw error;
      }
    }
    if (spillMode === "mmap") {
      const libc = acquireLibc();
      if (typeof libc === "string") {
        await manager.close();
        throw new UsageError(`Cannot use --spill mmap: mmap spilling ${libc}; use --spill file`);
      }
      manager.#libc = libc;
    }
    return manager;
  }

  /** Files created and not yet removed. */
  get liveFiles(): readonly string[] {
    return [...this.#files];
  }

  /** The temp directory holding `path` (for messages). */
  directoryOf(path: string): string {
    const slash = path.lastIndexOf("/");
    const privateDir = slash > 0 ? path.slice(0, slash) : path;
    const parent = privateDir.lastIndexOf("/");
    return parent > 0 ? privateDir.slice(0, parent) : privateDir;
  }

  /**
   * Whether another thread may write a new run's blocks itself, by path, beside its writer
   * ({@linkcode RunWriter.adoptBlocks}): plain spill files only, no `--compress-program`, and no
   * fault planned by the test seam (every operation must then pass this thread's counter).
   */
  get runsWritableElsewhere(): boolean {
    return this.spillMode === "file" && this.#compressProgram === undefined &&
      !this.#counter.armed;
  }

  /**
   * Whether another thread may read finished runs' blocks itself with a
   * {@linkcode RunBlockReader} (the merge Worker): the same conditions as
   * {@linkcode IoManager.runsWritableElsewhere}. Count what it read with
   * {@linkcode IoManager.countBlocksReadElsewhere}.
   */
  get runsReadableElsewhere(): boolean {
    return this.runsWritableElsewhere;
  }

  /**
   * Adds blocks another thread read and checked to the stats.
   *
   * @param blockCount Blocks read.
   */
  countBlocksReadElsewhere(blockCount: number): void {
    this.stats.blocksRead += blockCount;
    this.stats.bytesReadBack += blockCount * this.#memory.segmentBytes;
  }

  /**
   * Creates a spill file and a writer over it.
   *
   * @param prefix Names the file: `<prefix>.<000001>.spill`.
   * @param options Owner of the pages and write-behind depth.
   * @throws {MemoryBudgetError} If the pages do not fit the budget.
   * @throws {SpillDiskError} If the file cannot be created for lack of space.
   */
  async createRunWriter(prefix: string, options: RunWriterOptions = {}): Promise<RunWriter> {
    this.#checkOpen();
    this.#makePendingDirs();
    const writeBehind = options.writeBehindSegments ?? 1;
    assert(Number.isSafeInteger(writeBehind) && writeBehind >= 0, "writeBehindSegments >= 0");
    const owner = options.owner ?? "spill-writer";
    if (this.#compressProgram !== undefined) {
      const writer = await this.#createCompressedWriter(prefix, owner, writeBehind);
      if (writer !== undefined) return writer;
    }
    // File channel: the write-behind allowance becomes one staging buffer, so full blocks
    // leave in big system calls. Mmap channel: write-behind pages (the copy is the write).
    const staged = this.spillMode === "file" && writeBehind > 0;
    const lease = this.#memory.allocate(owner, staged ? 1 : 1 + writeBehind);
    let channel: BlockChannel;
    try {
      const staging = staged ? this.#staging(owner, writeBehind) : undefined;
      try {
        channel = this.#createChannel(this.#nextPath(prefix), staging);
      } catch (error) {
        staging?.release();
        throw error;
      }
    } catch (error) {
      lease.release();
      throw error;
    }
    const writer = new RunWriter({ channel, lease, memory: this.#memory, host: this });
    this.#track(writer);
    return writer;
  }

  /**
   * Opens a finished run for reading.
   *
   * @param run The run from {@linkcode RunWriter.finish}.
   * @param options Owner of the pages and read-ahead depth.
   * @throws {CorruptSpillError} If the file header is damaged.
   */
  async openRunReader(run: SpillRun, options: RunReaderOptions = {}): Promise<RunReader> {
    this.#checkOpen();
    const readAhead = options.readAheadSegments ?? 1;
    assert(Number.isSafeInteger(readAhead) && readAhead >= 0, "readAheadSegments >= 0");
    const owner = options.owner ?? "spill-reader";
    const compressed = run.compressed === true;
    const staged = (this.spillMode === "file" || compressed) && readAhead > 0;
    const lease = this.#memory.allocate(owner, staged ? 1 : 1 + readAhead);
    let channel: BlockChannel;
    try {
      this.#counter.tick();
      if (compressed) {
        channel = await this.#openCompressedChannel(run, owner, Math.max(1, readAhead));
      } else if (this.spillMode === "mmap") {
        channel = MmapChannel.openRead(run.path, {
          lib: this.#libc!,
          windowBytes: this.#mmapWindowBytes,
          counter: this.#counter,
          stats: this.stats,
        });
      } else {
        const file = Deno.openSync(run.path, { read: true });
        let staging: ChannelStaging | undefined;
        try {
          staging = staged ? this.#staging(owner, readAhead) : undefined;
        } catch (error) {
          file.close();
          throw error;
        }
        channel = new FileChannel(run.path, file, this.#counter, staging);
      }
    } catch (error) {
      lease.release();
      if (isDiskError(error)) throw new SpillReadError(run.path, 0, error);
      if (error instanceof SpillwayError) throw error;
      throw new ResourceError(
        `Cannot open spill file ${run.path}: ${errorCode(error)} (${
          error instanceof Error ? error.message : String(error)
        })`,
        { cause: error },
      );
    }
    const reader = new RunReader({
      run,
      channel,
      lease,
      memory: this.#memory,
      owner,
      host: this,
    });
    this.#track(reader);
    try {
      await reader.start();
    } catch (error) {
      await reader.close();
      throw error;
    }
    return reader;
  }

  /**
   * A writer through `--compress-program`, or undefined when no process can be made now (the
   * caller then writes the run uncompressed). The write-behind allowance becomes the buffer
   * that carries PROG's output to the file.
   */
  async #createCompressedWriter(
    prefix: string,
    owner: string,
    writeBehind: number,
  ): Promise<RunWriter | undefined> {
    const program = this.#compressProgram!;
    const lease = this.#memory.allocate(owner, 1);
    const bufferBytes = Math.max(1, writeBehind) * this.#memory.segmentBytes;
    let channel: CompressedWriteChannel;
    try {
      const reservation = this.#memory.reserve(owner, bufferBytes);
      try {
        const path = this.#nextPath(prefix);
        this.#counter.tick();
        const child = spawnCompressor(program, false);
        if (child === undefined) {
          reservation.release();
          lease.release();
          return undefined;
        }
        let file: Deno.FsFile;
        try {
          file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
        } catch (error) {
          child.kill("SIGKILL");
          await child.status;
          if (isDiskError(error)) throw new SpillDiskError(this.directoryOf(path), 0, error);
          throw error;
        }
        this.#files.add(path);
        this.stats.filesCreated += 1;
        channel = new CompressedWriteChannel({
          path,
          file,
          child,
          program,
          counter: this.#counter,
          bufferBytes,
          reservation,
        });
      } catch (error) {
        reservation.release();
        throw error;
      }
    } catch (error) {
      if (!lease.isReleased) lease.release();
      throw error;
    }
    const writer = new RunWriter({
      channel,
      lease,
      memory: this.#memory,
      host: this,
      compressed: true,
    });
    this.#track(writer);
    return writer;
  }

  /** Opens a compressed run: its file fed to `PROG -d`, whose output the reader reads. */
  async #openCompressedChannel(
    run: SpillRun,
    owner: string,
    bufferSegments: number,
  ): Promise<BlockChannel> {
    const program = this.#compressProgram;
    assert(program !== undefined, "a compressed run is read by the manager that wrote it");
    const bufferBytes = bufferSegments * this.#memory.segmentBytes;
    const reservation = this.#memory.reserve(owner, bufferBytes);
    let file: Deno.FsFile | undefined;
    try {
      file = await Deno.open(run.path, { read: true });
      const child = spawnCompressor(program, true)!;
      const parts = { path: run.path, file, child, program, counter: this.#counter };
      return new CompressedReadChannel({ ...parts, bufferBytes, reservation }, run.byteLength);
    } catch (error) {
      file?.close();
      reservation.release();
      throw error;
    }
  }

  /** With `lazyTmpDirs`: makes the private directories now (the first temp file is due). */
  #makePendingDirs(): void {
    const pending = this.#pendingTmpDirs;
    if (pending === undefined) return;
    this.#pendingTmpDirs = undefined;
    const made = makePrivateDirs(pending, this.#dirsInMaking);
    this.#privateDirs = made.privateDirs;
    this.#ownerLocks = made.ownerLocks;
    this.#dirsInMaking.clear();
  }

  /**
   * Makes a streaming merge safe when its output is also one of its inputs. A regular output
   * file is written beside the target and renamed at the end, so reading the input meanwhile is
   * fine; but an output written in place (a hard-linked file, a file in a directory spillway
   * cannot write, `/dev/fd/N`) is truncated when the output starts, while the merge still
   * reads the input. Such an input is first copied to a temp file (by the kernel:
   * `copy_file_range`, no buffer in the budget), as GNU sort does; the copy is deleted with the
   * other temp files.
   *
   * @param inputs The input paths (`-` is stdin).
   * @param output The output path (`-` or undefined: stdout).
   * @returns The inputs to read: the same paths, the overwritten ones replaced by their copies.
   * @throws {SpillDiskError} If the copy does not fit the temp directory.
   */
  async protectInputs(
    inputs: readonly string[],
    output: string | undefined,
  ): Promise<string[]> {
    this.#checkOpen();
    const plan = await planOutput(output, "-o");
    // A regular file is renamed over at the end: reading it meanwhile is safe.
    const behind = plan.kind === "in-place"
      ? fileBehind(plan.target)
      : plan.kind === "stdout"
      ? fileBehind("/proc/self/fd/1") // `>> input`
      : undefined;
    const target = behind === undefined ? undefined : await statOrUndefined(behind);
    if (target === undefined) return [...inputs];
    const copies = new Map<string, string>();
    const result: string[] = [];
    for (const input of inputs) {
      const file = fileBehind(STDIN_ALIASES.has(input) ? "/proc/self/fd/0" : input);
      const info = file === undefined ? undefined : await statOrUndefined(file);
      if (info === undefined || info.ino !== target.ino || info.dev !== target.dev) {
        result.push(input);
        continue;
      }
      let copy = copies.get(file!);
      if (copy === undefined) {
        copy = await this.#copyInput(file!, input);
        copies.set(file!, copy);
      }
      result.push(copy);
    }
    return result;
  }

  async #copyInput(file: string, input: string): Promise<string> {
    this.#makePendingDirs();
    // Keep `.gz`: the copy is read as the input would have been.
    const path = `${this.#nextPath("input-copy")}${input.endsWith(".gz") ? ".gz" : ""}`;
    this.#files.add(path);
    this.stats.filesCreated += 1;
    try {
      this.#counter.tick();
      await Deno.copyFile(file, path);
      await Deno.chmod(path, 0o600);
    } catch (error) {
      await this.deleteFile(path).catch(() => {});
      if (isDiskError(error)) throw new SpillDiskError(this.directoryOf(path), 0, error);
      throw readError(input, error);
    }
    return path;
  }

  /**
   * A new path in a private directory for a temp file the caller writes (as an output, with
   * {@linkcode IoManager.createOutput}: its bytes count as spilled, not as output) and reads back ({@linkcode IoManager.appendFile}): it is
   * removed by {@linkcode IoManager.deleteFile}, on close and on a signal, like a run.
   *
   * @param prefix Names the file.
   * @returns The path (no file there yet).
   */
  tempPath(prefix: string): string {
    this.#checkOpen();
    this.#makePendingDirs();
    const path = this.#nextPath(prefix);
    this.#files.add(path);
    this.stats.filesCreated += 1;
    return path;
  }

  /**
   * Appends `sources` to an output that nothing was written to yet: bytes as they are, and the
   * files at the paths among them (of {@linkcode IoManager.tempPath}). Into a regular file
   * ({@linkcode OutputSink.parts}) the kernel copies the files (`copy_file_range`); else, and
   * where it cannot, they are read into a buffer (pages of the budget, taken by `buffer` only
   * then: the caller releases them) and written.
   */
  async appendFiles(
    sink: OutputSink,
    sources: readonly (string | Uint8Array)[],
    buffer: () => Uint8Array,
  ): Promise<void> {
    this.#checkOpen();
    for (const source of sources) {
      assert(typeof source !== "string" || this.#files.has(source), `${source} is not ours`);
    }
    this.#fileCopier ??= new FileCopier();
    await appendToOutput(sink, sources, { buffer, stats: this.stats, copier: this.#fileCopier });
  }

  /** Removes a run's file (as soon as it was merged). */
  async deleteRun(run: SpillRun): Promise<void> {
    await this.deleteFile(run.path);
  }

  /**
   * Removes a file this manager created and forgets it; a missing file is fine. Synchronous
   * inside (an unlink does not wait on the disk; on a busy machine an asynchronous call waits
   * for two threads to be scheduled), a promise for the callers.
   */
  deleteFile(path: string): Promise<void> {
    if (!this.#files.delete(path)) return Promise.resolve();
    try {
      Deno.removeSync(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        this.#files.add(path);
        return Promise.reject(error);
      }
    }
    this.stats.filesDeleted += 1;
    return Promise.resolve();
  }

  /**
   * Checks that `path` can be written, without touching it: call it before reading any
   * input, so that a bad `-o` fails at once.
   *
   * @param path The output path (`-` or undefined: stdout).
   * @param option The option that named it, for messages (default `-o`).
   * @throws {UsageError} If it cannot be written (see {@linkcode planOutput}).
   */
  async checkOutput(path: string | undefined, option = "-o"): Promise<void> {
    await planOutput(path, option);
  }

  /**
   * Creates an output: stdout for `undefined` or `"-"`; for a regular file (or a new one), a
   * temp file beside the real target renamed over it on commit; anything else (a FIFO, a
   * device, `/dev/fd/N`, a hard-linked file, a file in a directory we cannot write) is opened
   * and written in place.
   *
   * @throws {UsageError} If the target is a directory or its directory cannot take a file.
   */
  async createOutput(path: string | undefined, options: OutputOptions = {}): Promise<OutputSink> {
    this.#checkOpen();
    const option = options.option ?? "-o";
    const plan = await planOutput(path, option);
    if (plan.kind === "atomic") await sweepStaleOutputTemps(plan.dir);
    let target: OutputTarget;
    try {
      target = openOutputTarget(plan, this.#targetHost);
    } catch (error) {
      if (error instanceof SpillwayError) throw error;
      if (isDiskError(error)) {
        throw new ResourceError(`Cannot create output ${plan.name}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      const reason = error instanceof Deno.errors.NotFound
        ? "its directory does not exist"
        : error instanceof Deno.errors.PermissionDenied
        ? "permission denied"
        : (error as Error).message;
      throw new UsageError(
        `Cannot create output ${plan.name}: ${reason}; choose another ${option}`,
        {
          cause: error,
        },
      );
    }
    const sink = new OutputSink({
      target,
      memory: this.#memory,
      owner: options.owner ?? "output",
      bufferBytes: this.#bufferBytes(options.bufferSegments, 256 * 1024, 8),
      stats: this.stats,
      // A temp file of ours (tempPath) is spilled bytes, not output.
      spill: path !== undefined && this.#files.has(path),
      ...(path !== undefined && this.#files.has(path)
        ? { spillDirectory: this.directoryOf(path) }
        : {}),
    });
    this.#track(sink);
    return sink;
  }

  /**
   * Opens an input: a file, `"-"` for stdin, a pipe or FIFO, or a `.gz` file.
   *
   * @throws {InputError} If the input is missing, a directory or unreadable.
   */
  async openInput(path: string, options: InputOptions = {}): Promise<LineReader> {
    this.#checkOpen();
    let source: ReaderSource | PipeSource | GzipSource | NativeSource;
    let totalBytes: number | undefined;
    if (STDIN_ALIASES.has(path)) {
      checkStdinOpen();
      // `< file` reads fast and never waits; a pipe or terminal may wait: read it async.
      source = stdinIsSeekable()
        ? new ReaderSource("standard input", Deno.stdin, undefined)
        : new PipeSource("standard input", Deno.stdin, undefined);
    } else if (isRestrictedPath(path)) {
      source = new NativeSource(path);
    } else {
      let info: Deno.FileInfo;
      let file: Deno.FsFile;
      try {
        // Synchronous where nothing can block (a FIFO's open waits for its writer): on a busy
        // machine each asynchronous call waits for two threads to be scheduled.
        info = Deno.statSync(path);
        if (info.isDirectory) throw new InputError(`Cannot read ${path}: it is a directory`);
        file = info.isFile
          ? Deno.openSync(path, { read: true })
          : await Deno.open(path, { read: true });
      } catch (error) {
        throw readError(path, error);
      }
      if (path.endsWith(".gz")) {
        file.close();
        source = await GzipSource.open(path, path);
      } else if (info.isFile) {
        source = new ReaderSource(path, file, () => file.close());
        totalBytes = info.size;
      } else {
        source = new PipeSource(path, file, () => file.close());
      }
    }
    let reader: LineReader;
    try {
      reader = new LineReader({
        source,
        memory: this.#memory,
        owner: options.owner ?? "input",
        chunkBytes: this.#bufferBytes(options.chunkSegments, MiB, 4),
        terminator: options.terminator ?? 10,
        totalBytes,
        stats: this.stats,
        onMemoryShort: options.onMemoryShort,
        sharedChunk: options.sharedChunk,
        freeChunkForLongRecords: options.freeChunkForLongRecords,
        cutAtWhitespace: options.cutAtWhitespace,
        recordBytesMax: options.recordBytesMax,
      });
    } catch (error) {
      source.close();
      throw error;
    }
    this.#track(reader);
    return reader;
  }

  /**
   * Aborts open writers and outputs, closes readers, deletes every file this manager created,
   * removes the private directories and the signal handlers. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // A signal that arrived during a synchronous stretch is acted on now, not dropped with the
    // listeners (one turn of the event loop runs it).
    if (this.#signalHandlers.length > 0) await loopTurn();
    this.#removeSignalHandlers();
    globalThis.removeEventListener("unload", this.#onUnload);
    for (const item of [...this.#live]) {
      try {
        if (item.abort !== undefined) await item.abort();
        else if (item.close !== undefined) await item.close();
      } catch {
        // keep cleaning up
      }
    }
    this.#live.clear();
    for (const path of [...this.#files]) await this.deleteFile(path).catch(() => {});
    for (const dir of this.privateDirs) {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // keep cleaning up
      }
    }
    if (this.#watchesLoop) stopLoopWatch();
    this.#watchesLoop = false;
    for (const lock of this.#ownerLocks) {
      try {
        lock.close();
      } catch {
        // already closed
      }
    }
    this.#ownerLocks = [];
    if (this.#libc !== undefined) {
      this.#libc = undefined;
      releaseLibc();
    }
    this.#fileCopier?.close();
    this.#fileCopier = undefined;
  }

  /** Same as {@linkcode IoManager.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Removes every file and private directory now, synchronously (the signal path).
   * Open file handles stay open; Linux lets us unlink them.
   */
  removeAllSync(): void {
    for (const path of this.#files) {
      try {
        Deno.removeSync(path);
      } catch {
        // already gone
      }
    }
    this.#files.clear();
    for (const dir of [...this.privateDirs, ...this.#dirsInMaking]) {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // already gone (or, for a directory in making, not made yet)
      }
    }
  }

  /**
   * Signal path: also removes the private dirs of other IoManagers of this process (count and
   * sort Workers open their own, without signal handlers), since the exit ends them too, and
   * their claim directories (`.spillway-new-PID-*`) if one is being made at this moment.
   */
  #removeProcessDirsSync(): void {
    const prefix = `spillway-${Deno.pid}-`;
    const claimPrefix = `.${CLAIM_PREFIX}${Deno.pid}-`;
    for (const tmpDir of this.#tmpDirs) {
      const parent = tmpDir.endsWith("/") && tmpDir.length > 1 ? tmpDir.slice(0, -1) : tmpDir;
      try {
        for (const entry of Deno.readDirSync(parent)) {
          const ours = entry.name.startsWith(prefix) || entry.name.startsWith(claimPrefix);
          if (entry.isDirectory && ours) {
            try {
              Deno.removeSync(`${parent}/${entry.name}`, { recursive: true });
            } catch {
              // already gone
            }
          }
        }
      } catch {
        // parent unreadable: nothing more to do
      }
    }
  }

  #track<T extends Closable>(item: T): void {
    if (this.#live.size >= 64) {
      for (const old of this.#live) if (old.isClosed) this.#live.delete(old);
    }
    this.#live.add(item);
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error("Cannot use a closed IoManager");
  }

  #nextPath(prefix: string): string {
    assert(this.#privateDirs.length > 0, "private dirs exist before the first spill file");
    this.#fileCounter += 1;
    const dir = this.privateDirs[(this.#fileCounter - 1) % this.privateDirs.length]!;
    const name = prefix.replace(/[^A-Za-z0-9_-]/g, "_") || "run";
    return `${dir}/${name}.${String(this.#fileCounter).padStart(6, "0")}.spill`;
  }

  /**
   * A staging buffer of `segmentCount` segments for `owner`: contiguous pages of the shared
   * memory, which an earlier phase has usually touched already (a heap buffer of the same size
   * added its bytes to the RSS: 48 merge readers' read-ahead raised the peak of a 1 GiB sort
   * by several MiB), else, when the free pages are fragmented, a heap buffer reserved from
   * the budget.
   */
  #staging(owner: string, segmentCount: number): ChannelStaging {
    const memory = this.#memory;
    const lease = memory.tryAllocateContiguous(owner, segmentCount);
    if (lease !== undefined) {
      const pages = lease;
      return { buffer: pages.segments[0]!.bytes, release: () => pages.release() };
    }
    const bytes = segmentCount * memory.segmentBytes;
    const reservation = memory.reserve(owner, bytes);
    return { buffer: new Uint8Array(bytes), release: () => reservation.release() };
  }

  #createChannel(path: string, staging: ChannelStaging | undefined): BlockChannel {
    try {
      this.#counter.tick();
      const channel = this.spillMode === "mmap"
        ? MmapChannel.create(path, {
          lib: this.#libc!,
          windowBytes: this.#mmapWindowBytes,
          counter: this.#counter,
          stats: this.stats,
        })
        : new FileChannel(
          path,
          Deno.openSync(path, { read: true, write: true, createNew: true, mode: 0o600 }),
          this.#counter,
          staging,
        );
      this.#files.add(path);
      this.stats.filesCreated += 1;
      return channel;
    } catch (error) {
      if (isDiskError(error)) throw new SpillDiskError(this.directoryOf(path), 0, error);
      throw error;
    }
  }

  #bufferBytes(segments: number | undefined, preferredBytes: number, budgetShare: number): number {
    const memory = this.#memory;
    const count = segments ??
      Math.max(
        1,
        Math.min(
          Math.ceil(preferredBytes / memory.segmentBytes),
          Math.floor(memory.totalSegments / budgetShare),
        ),
      );
    assert(Number.isSafeInteger(count) && count >= 1, `buffer segments must be >= 1: ${count}`);
    return count * memory.segmentBytes;
  }

  #installSignalHandlers(): void {
    for (const [signal, exitCode] of signals) {
      const handler = () => {
        killCompressorsSync();
        for (const undo of this.#signalUndos) {
          try {
            undo();
          } catch {
            // keep cleaning up
          }
        }
        this.removeAllSync();
        this.#removeProcessDirsSync();
        this.#removeSignalHandlers();
        if (this.#onSignal !== undefined) this.#onSignal(signal, exitCode);
        else Deno.exit(exitCode);
      };
      try {
        Deno.addSignalListener(signal, handler);
        this.#signalHandlers.push([signal, handler]);
      } catch {
        // signals are not supported here (e.g. Windows has no SIGHUP)
      }
    }
  }

  #removeSignalHandlers(): void {
    for (const [signal, handler] of this.#signalHandlers) {
      try {
        Deno.removeSignalListener(signal, handler);
      } catch {
        // already removed
      }
    }
    this.#signalHandlers = [];
  }
}

/** `Deno.stat`, or undefined when it fails (a file that is not there, a dangling link). */
async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    const info = await Deno.stat(path);
    return info.ino === null ? undefined : info;
  } catch {
    return undefined;
  }
}

/** Whether standard input is seekable (a regular file): reading it never waits for a writer. */
function stdinIsSeekable(): boolean {
  const SEEK_CUR = 1;
  return withLibc((lib) => Number(lib.lseek(0, 0n, SEEK_CUR)) >= 0, false);
}

function resolveSpillMode(mode: SpillMode): "file" | "mmap" {
  if (mode === "file") return "file";
  const reason = mmapUnavailableReason();
  if (mode === "mmap") {
    if (reason !== undefined) {
      throw new UsageError(`Cannot use --spill mmap: ${reason}; use --spill file`);
    }
    return "mmap";
  }
  return reason === undefined ? AUTO_SPILL_MODE_LINUX : "file";
}

function defaultTmpDir(): string {
  try {
    const fromEnv = Deno.env.get("TMPDIR");
    if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  } catch {
    // no --allow-env: use the default
  }
  return "/tmp";
}

/**
 * Checks that `dir` can hold spillway's private directory (it exists, is a directory and takes
 * a new directory), without leaving anything behind: for `spillway run --dry-run`.
 *
 * @param dir The temp directory.
 * @throws {ResourceError} If it cannot (exit 3).
 */
export async function checkTmpDirUsable(dir: string): Promise<void> {
  checkTmpDir(dir);
  try {
    const probe = await Deno.makeTempDir({ dir, prefix: ".spillway-check-" });
    await Deno.remove(probe);
  } catch (error) {
    const reason = error instanceof Deno.errors.PermissionDenied
      ? "it is not writable"
      : (error as Error).message;
    throw new ResourceError(
      `Cannot use temp directory ${dir}: ${reason}; choose another -T/--tmp-dir`,
      { cause: error },
    );
  }
}

/**
 * Checks that an input exists and is not a directory, without reading it (`-` and device
 * paths pass): for `spillway run --dry-run`.
 *
 * @param path The input.
 * @throws {InputError} If it is missing, a directory or unreadable (exit 2).
 */
export async function checkInputPath(path: string): Promise<void> {
  if (STDIN_ALIASES.has(path) || isRestrictedPath(path)) return;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    throw readError(path, error);
  }
  if (info.isDirectory) throw new InputError(`Cannot read ${path}: it is a directory`);
}

function checkTmpDir(dir: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(dir);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "it does not exist"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (error as Error).message;
    throw new ResourceError(
      `Cannot use temp directory ${dir}: ${reason}; create it or choose another -T/--tmp-dir`,
      { cause: error },
    );
  }
  if (!info.isDirectory) {
    throw new ResourceError(
      `Cannot use temp directory ${dir}: it is not a directory; choose another -T/--tmp-dir`,
    );
  }
}

/** The owner lock in each private directory: held (flock) from creation until the process ends. */
export const OWNER_LOCK_NAME = "owner.lock";

/**
 * Creates `DIR/spillway-PID-TAG` (0700) with its owner lock taken. The lock is what tells a
 * later sweep that the directory is in use, across PID namespaces (containers sharing /tmp):
 * the kernel drops it when the process ends, however it ends. The directory is made under a
 * claim name (`.spillway-new-PID-TAG`, which sweeps leave alone while it is young), locked,
 * then renamed: a sweep never sees a `spillway-*` directory whose lock is not yet taken.
 */
function createPrivateDir(
  dir: string,
  inMaking: Set<string>,
): { path: string; lock: Deno.FsFile } {
  const parent = dir.endsWith("/") && dir.length > 1 ? dir.slice(0, -1) : dir;
  for (let attempt = 0;; attempt += 1) {
    const name = `spillway-${Deno.pid}-${randomTag()}`;
    const claim = `${parent}/.${CLAIM_PREFIX}${name.slice("spillway-".length)}`;
    const path = `${parent}/${name}`;
    // Named before they exist: the signal path removes whichever of the two is there.
    inMaking.add(claim);
    try {
      Deno.mkdirSync(claim, { mode: 0o700 });
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists && attempt < 8) continue;
      const reason = error instanceof Deno.errors.PermissionDenied
        ? "it is not writable"
        : (error as Error).message;
      throw new ResourceError(
        `Cannot use temp directory ${dir}: ${reason}; choose another -T/--tmp-dir`,
        { cause: error },
      );
    }
    let lock: Deno.FsFile | undefined;
    try {
      Deno.chmodSync(claim, 0o700);
      lock = Deno.openSync(`${claim}/${OWNER_LOCK_NAME}`, {
        write: true,
        createNew: true,
        mode: 0o600,
      });
      lock.lockSync(true);
      if (exists(path)) {
        // The same pid and tag from an earlier process: never rename over it.
        lock.close();
        Deno.removeSync(claim, { recursive: true });
        inMaking.delete(claim);
        if (attempt < 8) continue;
        throw new Error(`${path} already exists`);
      }
      inMaking.add(path);
      Deno.renameSync(claim, path);
      return { path, lock };
    } catch (error) {
      lock?.close();
      try {
        Deno.removeSync(claim, { recursive: true });
      } catch {
        // best effort: the error below is what the user needs
      }
      throw new ResourceError(
        `Cannot use temp directory ${dir}: ${
          (error as Error).message
        }; choose another -T/--tmp-dir`,
        { cause: error },
      );
    }
  }
}

/** Whether anything (even a dangling symlink) is at `path`. */
function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Removes `spillway-*` directories of processes that ended: only directories (never a
 * symlink) of the current user whose owner lock can be taken. A directory without an owner
 * lock is left alone. Claim directories (`.spillway-new-*`, a process killed while creating
 * its directory) go too once their lock is free and they are older than a minute.
 */
function sweepStaleDirs(dir: string): void {
  if (Deno.build.os !== "linux") return;
  const stale: string[] = [];
  try {
    for (const entry of Deno.readDirSync(dir)) {
      if (!entry.isDirectory) continue;
      const claim = entry.name.startsWith(`.${CLAIM_PREFIX}`);
      if (!claim && !privateDirPattern.test(entry.name)) continue;
      const path = `${dir}/${entry.name}`;
      const info = lstatOrUndefined(path);
      if (info === undefined || !info.isDirectory || info.uid !== currentUid()) continue;
      if (claim && Date.now() - (info.mtime?.getTime() ?? Date.now()) < CLAIM_STALE_MS) continue;
      if (ownerLockFree(`${path}/${OWNER_LOCK_NAME}`)) stale.push(path);
    }
  } catch {
    // an unreadable temp dir is reported by createPrivateDir
  }
  for (const path of stale) {
    try {
      Deno.removeSync(path, { recursive: true });
    } catch {
      // another sweep was first, or it is not ours to remove
    }
  }
}

function lstatOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Checks the temp directories, sweeps stale private dirs and makes this process's ones, each
 * with its owner lock.
 */
function makePrivateDirs(
  tmpDirs: readonly string[],
  inMaking: Set<string>,
): { privateDirs: string[]; ownerLocks: Deno.FsFile[] } {
  for (const dir of tmpDirs) checkTmpDir(dir);
  const privateDirs: string[] = [];
  const ownerLocks: Deno.FsFile[] = [];
  try {
    for (const dir of tmpDirs) {
      sweepStaleDirs(dir);
      const created = createPrivateDir(dir, inMaking);
      privateDirs.push(created.path);
      ownerLocks.push(created.lock);
    }
  } catch (error) {
    for (const dir of privateDirs) {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // best effort: the error is what the user needs
      }
    }
    for (const lock of ownerLocks) lock.close();
    throw error;
  }
  return { privateDirs, ownerLocks };
}
