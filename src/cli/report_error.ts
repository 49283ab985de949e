import { ExitCode, SpillwayError } from "../base/mod.ts";
import { MemoryLeakError, SegmentReleasedError } from "../memory/mod.ts";
import { printError } from "./output.ts";

/** Exit code of an internal error (a bug in spillway): EX_SOFTWARE. */
export const EXIT_INTERNAL = 70;

/**
 * Prints an error as one line (a stack trace too with `--trace`) and returns its exit code.
 *
 * @param error What was thrown.
 * @param debug Whether to print the stack trace.
 * @returns The exit code.
 */
export function reportError(error: unknown, debug: boolean): number {
  if (error instanceof SuppressedError) {
    // A command failed and its scope's cleanup failed too (a leak on the error path): report
    // the failure first, then the cleanup's error, whose code wins (a leak is a bug: 70).
    const failed = reportError(error.suppressed, debug);
    const cleanup = reportError(error.error, debug);
    return cleanup === ExitCode.ok ? failed : cleanup;
  }
  if (error instanceof SpillwayError && error.exitCode === ExitCode.ok) {
    // The reader of stdout went away (`spillway sort | head`): end quietly, like GNU tools.
    if (debug && error.stack) printError(error.stack);
    return ExitCode.ok;
  }
  if (error instanceof SpillwayError) {
    printError(`spillway: ${firstLine(error.message)}`);
    if (debug && error.stack) printError(error.stack);
    return error.exitCode;
  }
  if (error instanceof RangeError || error instanceof SyntaxError || error instanceof TypeError) {
    // Operating errors of the world thrown by lower layers (bad sizes, bad values).
    if (!(error instanceof TypeError) || !looksLikeBug(error)) {
      printError(`spillway: ${firstLine(error.message)}`);
      if (debug && error.stack) printError(error.stack);
      return ExitCode.usage;
    }
  }
  if (error instanceof MemoryLeakError) {
    printError(`spillway: internal error: ${error.message}`);
    return EXIT_INTERNAL;
  }
  const message = error instanceof Error ? error.message : String(error);
  const kind = error instanceof SegmentReleasedError ? "use after free" : "internal error";
  printError(`spillway: ${kind}: ${firstLine(message)} (rerun with --trace for a stack trace)`);
  if (debug && error instanceof Error && error.stack) printError(error.stack);
  return EXIT_INTERNAL;
}

function firstLine(message: string): string {
  return message.split("\n")[0] ?? message;
}

function looksLikeBug(error: TypeError): boolean {
  return /undefined|null|not a function|detached/.test(error.message);
}
