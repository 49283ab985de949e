import type { ByteSource } from "./line_reader.ts";

/** A {@linkcode ByteSource} over an open file, stdin or a pipe (a `Deno.Reader`-like). */
export class ReaderSource implements ByteSource {
  readonly name: string;
  #reader: { read(p: Uint8Array): Promise<number | null> } | undefined;
  #closer: (() => void) | undefined;

  /**
   * @param name The input's name in messages.
   * @param reader What to read from.
   * @param closer What closes it (undefined for stdin, which stays open).
   */
  constructor(
    name: string,
    reader: { read(p: Uint8Array): Promise<number | null> },
    closer: (() => void) | undefined,
  ) {
    this.name = name;
    this.#reader = reader;
    this.#closer = closer;
  }

  read(into: Uint8Array): Promise<number | null> {
    if (this.#reader === undefined) return Promise.resolve(null);
    return this.#reader.read(into);
  }

  close(): void {
    this.#reader = undefined;
    const closer = this.#closer;
    this.#closer = undefined;
    if (closer !== undefined) closer();
  }
}

/** A {@linkcode ByteSource} over a gzip file: the stream's chunks are copied out as asked. */
export class GzipSource implements ByteSource {
  readonly name: string;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #pending: Uint8Array | undefined = undefined;
  #pendingOffset = 0;

  /**
   * @param name The input's name in messages.
   * @param file The open compressed file (the stream closes it).
   */
  constructor(name: string, file: Deno.FsFile) {
    this.name = name;
    this.#reader = file.readable.pipeThrough(new DecompressionStream("gzip")).getReader();
  }

  async read(into: Uint8Array): Promise<number | null> {
    const reader = this.#reader;
    if (reader === undefined) return null;
    while (this.#pending === undefined || this.#pendingOffset >= this.#pending.length) {
      const result = await reader.read();
      if (result.done) return null;
      this.#pending = result.value;
      this.#pendingOffset = 0;
    }
    const pending = this.#pending;
    const count = Math.min(into.length, pending.length - this.#pendingOffset);
    into.set(pending.subarray(this.#pendingOffset, this.#pendingOffset + count), 0);
    this.#pendingOffset += count;
    return count;
  }

  close(): void {
    const reader = this.#reader;
    this.#reader = undefined;
    this.#pending = undefined;
    if (reader !== undefined) reader.cancel().catch(() => {});
  }
}
