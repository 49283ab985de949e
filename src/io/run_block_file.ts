import { blockPosition } from "./spill_format.ts";

/**
 * Sealed blocks written into a run file by another thread than its {@linkcode RunWriter}'s:
 * the sort Worker gathers a sorted buffer into blocks and writes them here, in order from
 * block 0, while the main thread's writer holds the file (it wrote the header) and adopts the
 * blocks afterwards ({@linkcode RunWriter.adoptBlocks}). Synchronous: the Worker has nothing
 * else to do meanwhile. Errors are thrown as the file system reports them (with their `code`).
 */
export class RunBlockFile {
  readonly #file: Deno.FsFile;
  readonly #blockBytes: number;
  #blocks = 0;

  /**
   * Opens an existing run file for writing its blocks (nothing is truncated).
   *
   * @param path The run file.
   * @param blockBytes Bytes per block (the segment size).
   */
  constructor(path: string, blockBytes: number) {
    this.#file = Deno.openSync(path, { write: true });
    this.#blockBytes = blockBytes;
    try {
      this.#file.seekSync(blockPosition(0, blockBytes), Deno.SeekMode.Start);
    } catch (error) {
      this.#file.close();
      throw error;
    }
  }

  /** Blocks written. */
  get blockCount(): number {
    return this.#blocks;
  }

  /** Writes the next block (exactly one block long). */
  write(block: Uint8Array): void {
    if (block.length !== this.#blockBytes) throw new RangeError("a run block is one segment long");
    for (let done = 0; done < block.length;) done += this.#file.writeSync(block.subarray(done));
    this.#blocks += 1;
  }

  /** Closes the file. */
  close(): void {
    this.#file.close();
  }
}
