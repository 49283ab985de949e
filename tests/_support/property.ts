import fc from "fast-check";

/** The seed for property tests: SPILLWAY_SEED, else a fresh one (printed on failure). */
export function propertySeed(): number {
  const fromEnv = Deno.env.get("SPILLWAY_SEED");
  return fromEnv !== undefined ? Number(fromEnv) : Math.floor(Math.random() * 0x7fff_ffff);
}

function seedError(seed: number, error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  return new Error(`Property failed (rerun with SPILLWAY_SEED=${seed}):\n${message}`);
}

/** Runs a fast-check property with a seed that the failure message names. */
export function checkProperty<T>(property: fc.IProperty<T>, numRuns = 200): void {
  const seed = propertySeed();
  try {
    fc.assert(property, { seed, numRuns });
  } catch (error) {
    throw seedError(seed, error);
  }
}

/** Async twin of {@linkcode checkProperty}. */
export async function checkAsyncProperty<T>(
  property: fc.IAsyncProperty<T>,
  numRuns = 50,
): Promise<void> {
  const seed = propertySeed();
  try {
    await fc.assert(property, { seed, numRuns });
  } catch (error) {
    throw seedError(seed, error);
  }
}
