import { InputError } from "../base/mod.ts";

/**
 * Reads up to `byteCount` bytes from the start of a file (`-` is standard input): for small
 * option files such as `--random-source` (which may be `/dev/urandom`) and `--files0-from`.
 *
 * @param path The file.
 * @param byteCount The most bytes to read.
 * @returns The bytes read (fewer at end of file).
 * @throws {InputError} When the file cannot be opened or read.
 */
export function readFileHead(path: string, byteCount: number): Uint8Array {
  const buffer = new Uint8Array(byteCount);
  let filled = 0;
  let file: Deno.FsFile | undefined;
  try {
    const reader = path === "-" ? Deno.stdin : (file = Deno.openSync(path, { read: true }));
    while (filled < byteCount) {
      const count = reader.readSync(buffer.subarray(filled));
      if (count === null) break;
      filled += count;
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message.split(":")[0] : String(error);
    throw new InputError(`Cannot read ${path}: ${reason}`);
  } finally {
    file?.close();
  }
  return buffer.subarray(0, filled);
}
