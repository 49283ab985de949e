/** Test support: GNU sort as the oracle, random line inputs, temp dirs. */
import { runCli } from "../../src/cli/mod.ts";

/** Whether `sort` (GNU coreutils) is on PATH. */
export const gnuSortAvailable: boolean = await (async () => {
  try {
    const out = await new Deno.Command("sort", { args: ["--version"], stdout: "piped" }).output();
    return out.success && new TextDecoder().decode(out.stdout).includes("GNU");
  } catch {
    return false;
  }
})();

/** Why GNU tests are skipped (empty when they run). */
export const gnuSkipReason = gnuSortAvailable ? "" : " (skipped: GNU sort not found on PATH)";

/** Runs `LC_ALL=C sort args...` and returns its stdout bytes and exit code. */
export async function gnuSort(
  args: string[],
): Promise<{ code: number; stdout: Uint8Array; stderr: string }> {
  const out = await new Deno.Command("sort", {
    args,
    env: { LC_ALL: "C" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: out.stdout, stderr: new TextDecoder().decode(out.stderr) };
}

/** A seeded xorshift PRNG. */
export function makeRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
}

const ALPHABET = new TextEncoder().encode("aAbB zZ\t09-1.5+e,:;\r");
const EXOTIC = [0x00, 0xff, 0xc3, 0xa9, 0x80, 0x7f];

/**
 * Random lines with many ties: short fields of a small alphabet, some numbers, blanks,
 * CR, NUL and invalid UTF-8 bytes.
 */
export function randomLines(
  random: () => number,
  lineCount: number,
  options: { maxLength?: number; terminator?: number; exotic?: boolean } = {},
): Uint8Array {
  const maxLength = options.maxLength ?? 24;
  const terminator = options.terminator ?? 10;
  const parts: number[] = [];
  for (let i = 0; i < lineCount; i += 1) {
    const kind = random();
    if (kind < 0.15) {
      // a numeric-looking line
      const text = `${random() < 0.3 ? "-" : ""}${Math.floor(random() * 1000)}${
        random() < 0.3 ? "." + Math.floor(random() * 100) : ""
      }${random() < 0.5 ? " x" : ""}`;
      for (const byte of new TextEncoder().encode(text)) parts.push(byte);
    } else {
      const length = Math.floor(random() * maxLength);
      for (let j = 0; j < length; j += 1) {
        let byte = ALPHABET[Math.floor(random() * ALPHABET.length)]!;
        if (options.exotic !== false && random() < 0.03) {
          byte = EXOTIC[Math.floor(random() * EXOTIC.length)]!;
        }
        if (byte === terminator) byte = 0x41;
        parts.push(byte);
      }
    }
    parts.push(terminator);
  }
  return new Uint8Array(parts);
}

/** A temp dir for one test, with a `spill` subdir; `dispose` checks no spill file is left. */
export async function makeWorkDir(): Promise<
  {
    dir: string;
    spill: string;
    path: (name: string) => string;
    remove: () => Promise<void>;
    spillLeftovers: () => string[];
  }
> {
  const dir = await Deno.makeTempDir({ prefix: "spillway-sort-test-" });
  const spill = `${dir}/spill`;
  await Deno.mkdir(spill);
  return {
    dir,
    spill,
    path: (name: string) => `${dir}/${name}`,
    remove: () => Deno.remove(dir, { recursive: true }),
    spillLeftovers: () => [...Deno.readDirSync(spill)].map((entry) => entry.name),
  };
}

/** Runs `spillway sort` in-process (stderr lines are captured by the caller if needed). */
export function spillwaySort(args: string[]): Promise<number> {
  return runCli(["sort", ...args]);
}
