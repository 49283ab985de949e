import { InputError } from "../base/mod.ts";
import type { IoManager, LineReader } from "../io/mod.ts";
import type { MemoryManager, MemoryReservation } from "../memory/mod.ts";
import type { RecordOrder } from "./record_order.ts";

/** Options of {@linkcode checkSorted}. */
export interface CheckSortedOptions {
  /** The budget (input chunk, the copy of the previous record). */
  memory: MemoryManager;
  /** Opens the input. */
  io: IoManager;
  /** The ordering. */
  order: RecordOrder;
  /** `-u`: equal keys are disorder too. */
  unique?: boolean;
  /** Line terminator: 10 (default) or 0. */
  terminator?: number;
  /** Fixed-size binary records of this many bytes instead of lines. */
  recordBytes?: number;
}

/** The first out-of-order record. */
export interface Disorder {
  /** 1-based line (or record) number. */
  lineNumber: number;
  /** A copy of the record (without its terminator). */
  record: Uint8Array;
}

/**
 * Checks that an input is sorted (`sort -c`); stops at the first disorder.
 *
 * @param input The input path (`-` is stdin).
 * @param options Budget, I/O, order, flags.
 * @returns The first disorder, or undefined when the input is sorted.
 * @throws {InputError} If the input cannot be read.
 */
export async function checkSorted(
  input: string,
  options: CheckSortedOptions,
): Promise<Disorder | undefined> {
  const reader = await options.io.openInput(input, {
    owner: "check-input",
    terminator: options.terminator ?? 10,
  });
  const previous = new PreviousRecord(options.memory);
  try {
    return await scan(reader, previous, options);
  } finally {
    previous.release();
    await reader.close();
  }
}

async function scan(
  reader: LineReader,
  previous: PreviousRecord,
  options: CheckSortedOptions,
): Promise<Disorder | undefined> {
  const order = options.order;
  const unique = options.unique ?? false;
  const terminator = options.terminator ?? 10;
  const fixed = options.recordBytes;
  let lineNumber = 0;
  const check = (bytes: Uint8Array, start: number, length: number): Disorder | undefined => {
    lineNumber += 1;
    if (previous.length >= 0) {
      const result = unique
        ? order.compareKeys(previous.bytes, 0, previous.length, bytes, start, length)
        : order.compare(previous.bytes, 0, previous.length, bytes, start, length);
      if (result > 0 || (unique && result === 0)) {
        return { lineNumber, record: bytes.slice(start, start + length) };
      }
    }
    previous.remember(bytes, start, length);
    return undefined;
  };
  let carry = new Uint8Array(0);
  let carried = 0;
  while (true) {
    const view = await reader.nextChunk();
    if (view === undefined) break;
    if (fixed === undefined) {
      let start = 0;
      while (start < view.length) {
        const stop = view.indexOf(terminator, start);
        const found = check(view, start, stop - start);
        if (found !== undefined) return found;
        start = stop + 1;
      }
      continue;
    }
    const chunk = reader.sawMissingTerminator ? view.subarray(0, view.length - 1) : view;
    if (carry.length === 0) carry = new Uint8Array(fixed);
    let start = 0;
    if (carried > 0) {
      const take = Math.min(fixed - carried, chunk.length);
      carry.set(chunk.subarray(0, take), carried);
      carried += take;
      start = take;
      if (carried < fixed) continue;
      carried = 0;
      const found = check(carry, 0, fixed);
      if (found !== undefined) return found;
    }
    while (start + fixed <= chunk.length) {
      const found = check(chunk, start, fixed);
      if (found !== undefined) return found;
      start += fixed;
    }
    if (start < chunk.length) {
      carry.set(chunk.subarray(start), 0);
      carried = chunk.length - start;
    }
  }
  if (carried > 0) {
    throw new InputError(
      `Cannot check ${reader.name}: it ends with a partial record of ${carried} bytes; --record-size is ${fixed} bytes`,
    );
  }
  return undefined;
}

/** A budgeted copy of the previous record (it may live in a chunk that is about to change). */
class PreviousRecord {
  bytes: Uint8Array = new Uint8Array(0);
  length = -1;
  readonly #memory: MemoryManager;
  #reservation: MemoryReservation | undefined = undefined;

  constructor(memory: MemoryManager) {
    this.#memory = memory;
  }

  remember(bytes: Uint8Array, start: number, length: number): void {
    if (length > this.bytes.length) {
      const capacity = Math.max(256, 2 ** Math.ceil(Math.log2(length)));
      this.#reservation?.release();
      this.#reservation = undefined;
      this.#reservation = this.#memory.reserve("check-previous", capacity);
      this.bytes = new Uint8Array(capacity);
    }
    this.bytes.set(bytes.subarray(start, start + length), 0);
    this.length = length;
  }

  release(): void {
    this.#reservation?.release();
    this.#reservation = undefined;
  }
}
