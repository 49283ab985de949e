import { assert } from "../base/mod.ts";
import type { OutputSink } from "../io/mod.ts";
import type { WasmKernels } from "../kernels/mod.ts";
import type { MemoryManager, SegmentLease } from "../memory/mod.ts";

const STATE_BYTES = 64;

/**
 * The sort route of `count` (src/count/count_via_sort.ts): an output that counts equal
 * neighbours of the sorted lines written to it and writes each distinct line once with its count
 * (the `countLines` kernel, in a count format: 0 tsv, 1 uniq, 2 csv), as `sort | uniq -c` does. The bytes written are staged in a
 * managed area of at least the longest line, the kernel runs over its complete lines.
 */
export class CountedOutput {
  readonly #sink: OutputSink;
  readonly #kernels: WasmKernels;
  readonly #lease: SegmentLease;
  readonly #memory: MemoryManager;
  readonly #state: number;
  readonly #outStart: number;
  readonly #outEnd: number;
  readonly #carryArea: number;
  readonly #stageStart: number;
  readonly #stageBytes: number;
  #staged = 0;

  /**
   * Pages of the area for lines of at most `lineBytesMax` bytes: the state and the output (a
   * page and twice the longest line: csv doubles quotes), the carry and the stage (a longest line
   * each).
   */
  static segmentsFor(segmentBytes: number, lineBytesMax: number): number {
    return 1 + 4 * Math.ceil((lineBytesMax + 1) / segmentBytes);
  }

  /**
   * @param sink The real output.
   * @param memory The budget.
   * @param kernels This thread's kernels over the budget's memory.
   * @param format Count format (tsv 0, uniq 1, csv 2).
   * @param area Contiguous pages, {@linkcode CountedOutput.segmentsFor} of them; released with
   *   this output.
   */
  constructor(
    sink: OutputSink,
    memory: MemoryManager,
    kernels: WasmKernels,
    format: number,
    area: SegmentLease,
  ) {
    this.#sink = sink;
    this.#memory = memory;
    this.#kernels = kernels;
    this.#lease = area;
    const page = memory.segmentBytes;
    const pages = area.segments.reduce((sum, segment) => sum + segment.bytes.length, 0) / page;
    const lineSegments = (pages - 1) / 4;
    assert(Number.isInteger(lineSegments) && lineSegments >= 1, "a counted output's area");
    const base = area.segments[0]!.bytes.byteOffset;
    this.#state = base;
    this.#outStart = base + STATE_BYTES;
    this.#outEnd = base + (1 + 2 * lineSegments) * page;
    this.#carryArea = this.#outEnd;
    this.#stageStart = this.#carryArea + lineSegments * page;
    this.#stageBytes = lineSegments * page;
    const words = new Uint32Array(memory.wasmMemory.buffer, base, STATE_BYTES / 4);
    words.fill(0);
    words[4] = format;
    words[7] = this.#carryArea;
  }

  /** Appends sorted lines (any cut). */
  async write(bytes: Uint8Array, byteOffset: number, byteLength: number): Promise<void> {
    let from = byteOffset;
    const end = byteOffset + byteLength;
    if (this.#staged === 0 && bytes.buffer === this.#memory.wasmMemory.buffer) {
      // Lines in the managed memory (the merge's output regions): counted where they are.
      const complete = bytes.subarray(from, end).lastIndexOf(10) + 1;
      if (complete > 0) {
        await this.#count(bytes.byteOffset + from, bytes.byteOffset + from + complete, false);
        from += complete;
      }
    }
    while (from < end) {
      const room = this.#stageBytes - this.#staged;
      if (room === 0) {
        await this.#flush(false);
        continue;
      }
      const take = Math.min(room, end - from);
      new Uint8Array(this.#memory.wasmMemory.buffer, this.#stageStart + this.#staged, take)
        .set(bytes.subarray(from, from + take));
      this.#staged += take;
      from += take;
    }
  }

  /** Appends one byte. */
  writeByte(byte: number): Promise<void> {
    return this.write(Uint8Array.of(byte), 0, 1);
  }

  /** Writes the last group and commits the real output. */
  async commit(): Promise<void> {
    await this.#flush(true);
    await this.#sink.commit();
  }

  /** Drops the output. */
  abort(): Promise<void> {
    return this.#sink.abort();
  }

  /** Lines written so far (distinct lines; wraps at 2^32). */
  get linesWritten(): number {
    return new Uint32Array(this.#memory.wasmMemory.buffer, this.#state, STATE_BYTES / 4)[10]!;
  }

  /** Frees the areas. */
  release(): void {
    if (!this.#lease.isReleased) this.#lease.release();
  }

  /** Runs the kernel over the staged complete lines, keeps a cut line for the next write. */
  async #flush(final: boolean): Promise<void> {
    const all = new Uint8Array(this.#memory.wasmMemory.buffer);
    const stage = all.subarray(this.#stageStart, this.#stageStart + this.#staged);
    const complete = stage.lastIndexOf(10) + 1;
    assert(complete > 0 || !final || this.#staged === 0, "the counted output ends in a cut line");
    assert(complete > 0 || final, "a line longer than the counted output's stage");
    await this.#count(this.#stageStart, this.#stageStart + complete, final);
    all.copyWithin(this.#stageStart, this.#stageStart + complete, this.#stageStart + this.#staged);
    this.#staged -= complete;
  }

  /** Counts the lines at [start, end) of the memory (final: writes the last group too). */
  async #count(start: number, end: number, final: boolean): Promise<void> {
    const all = new Uint8Array(this.#memory.wasmMemory.buffer);
    const words = new Uint32Array(this.#memory.wasmMemory.buffer, this.#state, STATE_BYTES / 4);
    words[0] = start;
    words[1] = end;
    words[9] = final ? 1 : 0;
    while (true) {
      words[2] = this.#outStart;
      words[3] = this.#outEnd;
      const status = this.#kernels.countLines(this.#state);
      const written = words[2]! - this.#outStart;
      if (status === 0) {
        if (written > 0) await this.#sink.write(all, this.#outStart, written);
        break;
      }
      assert(written > 0, "a count line longer than the counted output's area");
      await this.#sink.write(all, this.#outStart, written);
    }
  }
}
