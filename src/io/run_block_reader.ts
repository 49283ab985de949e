import { crc32c } from "./crc32c.ts";
import { CorruptSpillError } from "./errors.ts";
import { readFullySync } from "./file_channel.ts";
import {
  acquireLibc,
  cString,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  type Libc,
  O_CLOEXEC,
  O_WRONLY,
  releaseLibc,
} from "./libc.ts";
import {
  BLOCK_HEADER_BYTES,
  blockPosition,
  HEADER_BYTES,
  LAST_BLOCK_FLAG,
  SPILL_MAGIC,
  SPILL_VERSION,
} from "./spill_format.ts";

/**
 * Checks a spill file's header (magic, checksum, version, segment size).
 *
 * @param path The file (for messages).
 * @param header Its first bytes (at least 20 when the file has them).
 * @param segmentBytes The segment size the reader expects.
 * @throws {CorruptSpillError} When a check fails.
 */
export function checkSpillHeader(path: string, header: Uint8Array, segmentBytes: number): void {
  if (header.length < 20) {
    throw new CorruptSpillError(
      path,
      -1,
      "length",
      `${HEADER_BYTES} bytes`,
      `${header.length} bytes`,
    );
  }
  for (let i = 0; i < SPILL_MAGIC.length; i += 1) {
    if (header[i] !== SPILL_MAGIC[i]) {
      throw new CorruptSpillError(path, -1, "magic", "SPILLWAY", hex(header.subarray(0, 8)));
    }
  }
  const crc = crc32c(header, 0, 16);
  const stored = readU32(header, 16);
  if (stored !== crc) throw new CorruptSpillError(path, -1, "CRC32C", hex32(crc), hex32(stored));
  const version = readU32(header, 8);
  if (version !== SPILL_VERSION) {
    throw new CorruptSpillError(path, -1, "version", String(SPILL_VERSION), String(version));
  }
  const fileSegmentBytes = readU32(header, 12);
  if (fileSegmentBytes !== segmentBytes) {
    throw new CorruptSpillError(
      path,
      -1,
      "segment size",
      `${segmentBytes} bytes`,
      `${fileSegmentBytes} bytes`,
    );
  }
}

/**
 * Checks one block read from a spill file (its length, payload length, checksum and index).
 *
 * @param path The file (for messages).
 * @param block The block's bytes (`byteCount` of them were read).
 * @param byteCount Bytes the read returned.
 * @param blockIndex The index the block must carry.
 * @returns The payload's end in `block` (its start is {@linkcode BLOCK_HEADER_BYTES}), negated
 *   (`-end`) when the block is flagged as the run's last.
 * @throws {CorruptSpillError} When a check fails.
 */
export function checkSpillBlock(
  path: string,
  block: Uint8Array,
  byteCount: number,
  blockIndex: number,
): number {
  const segmentBytes = block.length;
  if (byteCount < segmentBytes) {
    throw new CorruptSpillError(
      path,
      blockIndex,
      "length",
      `${segmentBytes} bytes`,
      `${byteCount} bytes (truncated)`,
    );
  }
  const payloadLength = readU32(block, 0);
  if (payloadLength > segmentBytes - BLOCK_HEADER_BYTES) {
    throw new CorruptSpillError(
      path,
      blockIndex,
      "payload length",
      `at most ${segmentBytes - BLOCK_HEADER_BYTES}`,
      String(payloadLength),
    );
  }
  const end = BLOCK_HEADER_BYTES + payloadLength;
  const expected = readU32(block, 12);
  const found = crc32c(block, BLOCK_HEADER_BYTES, end, crc32c(block, 0, 12));
  if (expected !== found) {
    throw new CorruptSpillError(path, blockIndex, "CRC32C", hex32(expected), hex32(found));
  }
  const storedIndex = readU32(block, 8);
  if (storedIndex !== blockIndex) {
    throw new CorruptSpillError(
      path,
      blockIndex,
      "block index",
      String(blockIndex),
      String(storedIndex),
    );
  }
  return (readU32(block, 4) & LAST_BLOCK_FLAG) !== 0 ? -end : end;
}

/**
 * The blocks of one finished spill run, read synchronously and checked, on whichever thread
 * merges (in the final merge, the main thread reads each run's next block ahead for the merge
 * Worker, which reads a block itself when the main thread has not started on it:
 * src/sort/parallel_merge.ts). Plain spill files only
 * ({@linkcode IoManager.runsReadableElsewhere}). Errors of the file system are
 * thrown as it reports them (with their `code`); the caller maps them.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { MemoryManager } from "../memory/mod.ts";
 * import { IoManager, RunBlockReader } from "./mod.ts";
 * const memory = new MemoryManager({ budgetBytes: 256 * 1024, segmentBytes: 4096 });
 * const tmp = await Deno.makeTempDir();
 * await using io = await IoManager.open({ memory, tmpDirs: [tmp], handleSignals: false });
 * const writer = await io.createRunWriter("example");
 * await writer.writeRecord(new TextEncoder().encode("hello"), 0, 5);
 * const run = await writer.finish();
 * const reader = new RunBlockReader(run.path, 4096);
 * const block = new Uint8Array(4096);
 * strictEqual(reader.next(block), true);
 * strictEqual(reader.payloadEnd - reader.payloadStart, 6); // varint 5 + "hello"
 * strictEqual(reader.isLastBlock, true);
 * strictEqual(reader.next(block), false);
 * reader.close();
 * await io.deleteRun(run);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export class RunBlockReader {
  /** The run file. */
  readonly path: string;
  /** Where the current block's payload starts in the block passed to `next`. */
  readonly payloadStart: number = BLOCK_HEADER_BYTES;
  /** Where it ends. */
  payloadEnd: number = 0;
  /** Whether the current block is the run's last. */
  isLastBlock: boolean = false;
  /** The current block's index (-1 before the first). */
  blockIndex: number = -1;
  readonly #file: Deno.FsFile;
  readonly #blockBytes: number;
  #position = 0;
  /** Blocks [#releaseStart, #releaseEnd) wait to be released (see `releaseBlocks`). */
  #releaseStart = 0;
  #releaseEnd = 0;
  /** libc and a write descriptor for punching holes; null: not opened yet; undefined: off. */
  #punch: { lib: Libc; fd: number } | null | undefined = null;

  /**
   * Opens a run file and checks its header.
   *
   * @param path The run file.
   * @param blockBytes Bytes per block (the segment size).
   * @throws {CorruptSpillError} When the header fails its checks.
   */
  constructor(path: string, blockBytes: number) {
    this.path = path;
    this.#blockBytes = blockBytes;
    this.#file = Deno.openSync(path, { read: true });
    try {
      const header = new Uint8Array(20);
      checkSpillHeader(path, header.subarray(0, this.#readAt(0, header)), blockBytes);
    } catch (error) {
      this.#file.close();
      throw error;
    }
  }

  /**
   * Reads and checks the next block into `block` (one block long).
   *
   * @returns False after the last block.
   * @throws {CorruptSpillError} When the block fails its checks or the run ends unflagged.
   */
  next(block: Uint8Array): boolean {
    if (this.isLastBlock) return false;
    const count = this.readNext(block);
    this.accept(checkSpillBlock(this.path, block, count, this.blockIndex + 1));
    return true;
  }

  /**
   * Reads the next block into `block` (one block long) without checking it, for a check on
   * another thread ({@linkcode checkSpillBlock}); {@linkcode RunBlockReader.accept} its
   * result next.
   *
   * @param block Where to read to.
   * @returns Bytes read (less than a block: a truncated run, which the check reports).
   * @throws {CorruptSpillError} When the run ends before the block.
   */
  readNext(block: Uint8Array): number {
    const blockIndex = this.blockIndex + 1;
    if (block.length !== this.#blockBytes) throw new RangeError("a run block is one segment long");
    const count = this.#readAt(blockPosition(blockIndex, this.#blockBytes), block);
    if (count === 0) {
      throw new CorruptSpillError(
        this.path,
        blockIndex,
        "block",
        "a block with the last-block flag",
        "end of file",
      );
    }
    return count;
  }

  /**
   * Makes the next block current after its check passed.
   *
   * @param checked What {@linkcode checkSpillBlock} returned for it.
   */
  accept(checked: number): void {
    this.blockIndex += 1;
    this.payloadEnd = checked < 0 ? -checked : checked;
    this.isLastBlock = checked < 0;
  }

  /**
   * Moves to block `blockIndex`: the next read is of that block (a merge of a key range starts
   * a run there; its first record starts at the offset the block's flags name).
   *
   * @param blockIndex The block read next.
   */
  seek(blockIndex: number): void {
    this.blockIndex = blockIndex - 1;
    this.isLastBlock = false;
  }

  /**
   * Gives the file space (and page cache) of blocks `[firstBlock, endBlock)` back to the file
   * system by punching a hole in the run file, for a run read once: the final merge frees each
   * block once it is read, so its pages are reused for the output (on a VM, writing into pages
   * the guest never touched cost ~3x) and a merge needs the disk space of its input plus the
   * output written so far, not of both whole. Batched: contiguous blocks are punched once
   * {@linkcode RELEASE_BATCH_BYTES} are pending. Best effort: without libc, or where the file
   * system cannot punch holes, nothing is released (the file is deleted after the merge anyway).
   *
   * @param firstBlock The first block released.
   * @param endBlock The block after the last released.
   */
  releaseBlocks(firstBlock: number, endBlock: number): void {
    if (this.#punch === undefined || endBlock <= firstBlock) return;
    if (firstBlock !== this.#releaseEnd) {
      this.#flushRelease();
      this.#releaseStart = firstBlock;
    }
    this.#releaseEnd = endBlock;
    if ((this.#releaseEnd - this.#releaseStart) * this.#blockBytes >= RELEASE_BATCH_BYTES) {
      this.#flushRelease();
    }
  }

  /** Closes the file. */
  close(): void {
    this.#file.close();
    this.#closePunch();
  }

  /** Punches the pending blocks (their whole 4 KiB pages only: a partial page is zeroed). */
  #flushRelease(): void {
    const start = Math.ceil(blockPosition(this.#releaseStart, this.#blockBytes) / PAGE_BYTES) *
      PAGE_BYTES;
    const end = Math.floor(blockPosition(this.#releaseEnd, this.#blockBytes) / PAGE_BYTES) *
      PAGE_BYTES;
    this.#releaseStart = this.#releaseEnd;
    if (end <= start) return;
    const punch = this.#punchHandle();
    if (punch === undefined) return;
    const mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    if (punch.lib.fallocate(punch.fd, mode, BigInt(start), BigInt(end - start)) !== 0) {
      // EOPNOTSUPP and the like: this file system keeps the blocks until the file is deleted.
      this.#closePunch();
    }
  }

  #punchHandle(): { lib: Libc; fd: number } | undefined {
    if (this.#punch !== null) return this.#punch;
    const lib = acquireLibc();
    if (typeof lib === "string") {
      this.#punch = undefined;
      return undefined;
    }
    const fd = lib.open(cString(this.path), O_WRONLY | O_CLOEXEC, 0);
    if (fd < 0) {
      releaseLibc();
      this.#punch = undefined;
      return undefined;
    }
    this.#punch = { lib, fd };
    return this.#punch;
  }

  #closePunch(): void {
    if (this.#punch) {
      this.#punch.lib.close(this.#punch.fd);
      releaseLibc();
    }
    this.#punch = undefined;
  }

  #readAt(position: number, into: Uint8Array): number {
    const file = this.#file;
    if (position !== this.#position) file.seekSync(position, Deno.SeekMode.Start);
    this.#position = -1; // unknown if the read fails: the next access seeks
    const done = readFullySync(file, into);
    this.#position = position + done;
    return done;
  }
}

/** Bytes of blocks {@linkcode RunBlockReader.releaseBlocks} gathers before it punches. */
export const RELEASE_BATCH_BYTES = 1024 * 1024;
/** The page size holes are aligned to. */
const PAGE_BYTES = 4096;

function readU32(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) |
    (bytes[offset + 3]! << 24)) >>> 0;
}

function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}
