import { ExitCode, formatBytes, ResourceError, SpillwayError } from "../base/mod.ts";

/** Error codes of the operating system that mean "the spill disk cannot take more bytes". */
const diskErrorCodes: ReadonlySet<string> = new Set(["ENOSPC", "EFBIG", "EIO", "EDQUOT", "EROFS"]);

/**
 * Whether an error from a write means the disk or file system refused the bytes.
 *
 * @param error Anything thrown by a write.
 * @returns True for ENOSPC, EFBIG, EIO, EDQUOT and EROFS.
 */
export function isDiskError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && diskErrorCodes.has(code)) return true;
  return /\(os error (28|27|5|122|30)\)/.test(error.message);
}

const osErrorNames: Readonly<Record<string, string>> = {
  "5": "EIO",
  "27": "EFBIG",
  "28": "ENOSPC",
  "30": "EROFS",
  "32": "EPIPE",
  "122": "EDQUOT",
};

/**
 * What to do about a disk error: `otherwise`, but for EFBIG (a file over `ulimit -f`, or the file
 * system's largest file) raising the limit.
 */
export function diskFix(error: unknown, otherwise: string): string {
  return errorCode(error) === "EFBIG"
    ? `the file would exceed the file size limit: raise ulimit -f, or ${otherwise}`
    : otherwise;
}

/** The operating system's error code of an error (`ENOSPC`), or a short name. */
export function errorCode(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
    const number = /\(os error (\d+)\)/.exec(error.message)?.[1];
    if (number !== undefined && osErrorNames[number] !== undefined) return osErrorNames[number];
    return error.name;
  }
  return "Error";
}

/**
 * A record longer than the budget holds (a quarter of it), or than what is free of it beside
 * what is held now: exit 3, naming the `-S` that holds it. A class of its own so that a plan
 * with a smaller share of the budget can tell it from a disk error and fall back.
 */
export class RecordTooLargeError extends ResourceError {}

/**
 * A spill write failed for lack of space or a disk error (ENOSPC, EFBIG, EIO): exit 3.
 *
 * Names the directory, the bytes being written and the fix.
 */
export class SpillDiskError extends ResourceError {
  /** The class name. */
  override name = "SpillDiskError";
  /** The temp directory that refused the bytes. */
  readonly directory: string;
  /** How many bytes were being written. */
  readonly byteLength: number;

  /**
   * Builds the message from the directory, the byte count and the cause.
   *
   * @param directory The temp directory of the spill file.
   * @param byteLength How many bytes were being written.
   * @param cause The original error.
   */
  constructor(directory: string, byteLength: number, cause: unknown) {
    super(
      `Cannot write ${formatBytes(byteLength)} of spill data to ${directory}: ${
        errorCode(cause)
      } (${cause instanceof Error ? cause.message : String(cause)}); ${
        diskFix(cause, "free space there or point -T/--tmp-dir elsewhere")
      }`,
      { cause },
    );
    this.directory = directory;
    this.byteLength = byteLength;
  }
}

/**
 * Reading a spill file back failed (EIO and the like): exit 3. Not a space problem, so the
 * message says the disk may be failing instead of asking for free space.
 */
export class SpillReadError extends ResourceError {
  /** The class name. */
  override name = "SpillReadError";
  /** The spill file. */
  readonly path: string;

  /**
   * Builds the message from the file, the byte count and the cause.
   *
   * @param path The spill file.
   * @param byteLength How many bytes were being read.
   * @param cause The original error.
   */
  constructor(path: string, byteLength: number, cause: unknown) {
    super(
      `Cannot read ${formatBytes(byteLength)} of spill data from ${path}: ${errorCode(cause)} (${
        cause instanceof Error ? cause.message : String(cause)
      }); the temp disk may be failing, rerun with -T/--tmp-dir elsewhere`,
      { cause },
    );
    this.path = path;
  }
}

/** A spill file failed its checks on read (bad checksum, header or truncation): exit 3. */
export class CorruptSpillError extends SpillwayError {
  /** The class name. */
  override name = "CorruptSpillError";
  /** The spill file. */
  readonly path: string;
  /** The 0-based block index, or -1 for the file header. */
  readonly blockIndex: number;
  /** What was checked. */
  readonly what: string;
  /** The expected value. */
  readonly expected: string;
  /** The value found. */
  readonly found: string;

  /**
   * Builds the message: file, block, what was checked, expected and found.
   *
   * @param path The spill file.
   * @param blockIndex The 0-based block index, or -1 for the file header.
   * @param what What was checked.
   * @param expected The expected value.
   * @param found The value found.
   */
  constructor(path: string, blockIndex: number, what: string, expected: string, found: string) {
    super(
      `Corrupt spill file ${path} at ${
        blockIndex < 0 ? "its header" : `block ${blockIndex}`
      }: ${what} expected ${expected}, found ${found}; the temp disk may be failing, rerun with -T elsewhere`,
      ExitCode.resource,
    );
    this.path = path;
    this.blockIndex = blockIndex;
    this.what = what;
    this.expected = expected;
    this.found = found;
  }
}

/** Standard output was closed by the reader (EPIPE, e.g. `| head`): the CLI ends quietly with 0. */
export class OutputClosedError extends SpillwayError {
  /** The class name. */
  override name = "OutputClosedError";
  /**
   * Wraps the BrokenPipe error.
   *
   * @param cause The original BrokenPipe error.
   */
  constructor(cause?: unknown) {
    super("Standard output was closed by the reader", ExitCode.ok, { cause });
  }
}
