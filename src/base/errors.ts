/**
 * Exit codes a script can trust (see docs/cli.md).
 */
export const ExitCode = {
  ok: 0,
  /** `sort -c` found disorder. */
  disorder: 1,
  /** Usage or input error. */
  usage: 2,
  /** Resource error: budget too small, disk full, temp dir unusable. */
  resource: 3,
  sighup: 129,
  sigint: 130,
  sigterm: 143,
} as const;

/** Base of every error that the CLI turns into one line on stderr and an exit code. */
export class SpillwayError extends Error {
  /** The error class name. */
  override name = "SpillwayError";
  /** The process exit code this error maps to. */
  readonly exitCode: number;

  /**
   * Creates an error that ends the process with `exitCode`.
   *
   * @param message One line: the action, the numbers with units, then the fix.
   * @param exitCode The exit code of the process when this error ends it.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, exitCode: number, options?: ErrorOptions) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/** A bad command line, option value or job file: exit 2. */
export class UsageError extends SpillwayError {
  /** The error class name. */
  override name = "UsageError";
  /**
   * Creates a usage error (exit 2).
   *
   * @param message What was wrong and how to fix it.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.usage, options);
  }
}

/** An input that cannot be read or parsed (missing, directory, corrupt): exit 2. */
export class InputError extends SpillwayError {
  /** The error class name. */
  override name = "InputError";
  /**
   * Creates an input error (exit 2).
   *
   * @param message Which input and what was wrong.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.usage, options);
  }
}

/** A resource ran out: budget too small, disk full, temp dir unusable: exit 3. */
export class ResourceError extends SpillwayError {
  /** The error class name. */
  override name = "ResourceError";
  /**
   * Creates a resource error (exit 3).
   *
   * @param message Which resource, how much was asked and the fix.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.resource, options);
  }
}
