import type { BlockChannel, OperationCounter } from "./channel.ts";

/**
 * A {@linkcode BlockChannel} over a `Deno.FsFile`: seeks only when the position jumps, and
 * loops on partial reads and writes. Operations are chained so at most one touches the file
 * position at a time while callers keep several queued (write-behind, read-ahead).
 */
export class FileChannel implements BlockChannel {
  readonly path: string;
  #file: Deno.FsFile | undefined;
  #position = 0;
  #tail: Promise<unknown> = Promise.resolve();
  #counter: OperationCounter;

  /**
   * @param path The file.
   * @param file The open file.
   * @param counter The fault-injection counter.
   */
  constructor(path: string, file: Deno.FsFile, counter: OperationCounter) {
    this.path = path;
    this.#file = file;
    this.#counter = counter;
  }

  write(position: number, bytes: Uint8Array): Promise<void> {
    const run = this.#tail.then(() => this.#write(position, bytes));
    this.#tail = run.catch(() => {});
    return run;
  }

  read(position: number, into: Uint8Array): Promise<number> {
    const run = this.#tail.then(() => this.#read(position, into));
    this.#tail = run.catch(() => {});
    return run;
  }

  async truncate(byteLength: number): Promise<void> {
    await this.#tail;
    this.#counter.tick();
    await this.#open().truncate(byteLength);
  }

  close(): void {
    const file = this.#file;
    this.#file = undefined;
    if (file !== undefined) file.close();
  }

  #open(): Deno.FsFile {
    if (this.#file === undefined) throw new Error(`Cannot use closed spill file ${this.path}`);
    return this.#file;
  }

  async #seek(position: number): Promise<Deno.FsFile> {
    const file = this.#open();
    if (this.#position !== position) {
      await file.seek(position, Deno.SeekMode.Start);
      this.#position = position;
    }
    return file;
  }

  async #write(position: number, bytes: Uint8Array): Promise<void> {
    this.#counter.tick();
    const file = await this.#seek(position);
    let done = 0;
    try {
      while (done < bytes.length) {
        done += await file.write(bytes.subarray(done));
      }
    } finally {
      this.#position = position + done;
    }
  }

  async #read(position: number, into: Uint8Array): Promise<number> {
    this.#counter.tick();
    const file = await this.#seek(position);
    let done = 0;
    try {
      while (done < into.length) {
        const count = await file.read(into.subarray(done));
        if (count === null) break;
        done += count;
      }
    } finally {
      this.#position = position + done;
    }
    return done;
  }
}
