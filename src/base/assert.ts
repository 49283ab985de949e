/** Thrown when an internal invariant does not hold: always a bug in spillway. */
export class AssertionError extends Error {
  /** The error class name. */
  override name = "AssertionError";
}

/**
 * Asserts an invariant; throws {@linkcode AssertionError} when it does not hold.
 *
 * Use for bugs only; errors of the world (bad input, full disk) get their own classes.
 *
 * @param condition The invariant that must hold.
 * @param message What was expected, evaluated eagerly: keep out of per-byte loops.
 * @throws {AssertionError} When `condition` is false.
 *
 * @example Usage
 * ```ts
 * import { assert } from "./assert.ts";
 * assert(1 + 1 === 2, "arithmetic works");
 * ```
 */
export function assert(condition: unknown, message = "Assertion failed"): asserts condition {
  if (!condition) throw new AssertionError(message);
}
