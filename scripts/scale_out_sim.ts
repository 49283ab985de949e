/**
 * A local simulation of running spillway as a map/reduce job (Hadoop Streaming style) on
 * one machine, proving the contract of docs/scale-out.md:
 *
 *   split     the input into N splits on line boundaries (what HDFS blocks + input format do)
 *   map       `spillway count -` on each split (stdin -> word<TAB>count on stdout)
 *   shuffle   each mapper's lines go to reducer hash(word) mod R (Hadoop's HashPartitioner
 *             on the key, the text before the first TAB)
 *   reduce    `spillway merge --sum -` per partition (stdin -> summed counts)
 *   collect   `spillway merge --sum` of the R reducer outputs (disjoint words: a global
 *             re-ordering by count, which is what a final `-getmerge | sort` would do)
 *
 * and compares the result byte for byte with one `spillway count` over the whole input.
 *
 * Usage: deno run -A scripts/scale_out_sim.ts [--splits N] [--reducers R] [-S SIZE] FILE...
 * (default: 4 splits, 2 reducers, 256k, data/corpus/*.txt). Exit 0 when equal, 1 when not.
 *
 * @module
 */
// deno-lint-ignore-file no-console

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const PERMISSIONS = ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi", "--allow-sys"];

/** Options of {@linkcode simulateScaleOut}. */
export interface ScaleOutOptions {
  /** Input files (concatenated in order, as one dataset). */
  inputs: string[];
  /** Number of splits, i.e. map tasks. */
  splits: number;
  /** Number of reduce tasks (partitions). */
  reducers: number;
  /** The memory budget of each task (-S), e.g. "256k". */
  memory: string;
  /** Extra arguments for every spillway task (e.g. ["--segment-size", "4k"]). */
  taskArgs?: string[];
  /** Working directory for splits and partitions (created and removed by the caller). */
  workDir: string;
}

/** What the simulation produced. */
export interface ScaleOutResult {
  /** The collected output of the map/reduce job. */
  mapReduce: Uint8Array;
  /** One `spillway count` over all inputs. */
  direct: Uint8Array;
  /** Lines per split, bytes per partition: to show the work was really spread. */
  splitLines: number[];
  /** Bytes of map output per reducer partition. */
  partitionBytes: number[];
}

/** Runs one spillway task: args, stdin bytes -> stdout bytes; throws on a non-zero exit. */
async function task(args: string[], stdin: Uint8Array): Promise<Uint8Array> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...PERMISSIONS, MAIN, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(stdin);
  await writer.close();
  const output = await child.output();
  if (output.code !== 0) {
    throw new Error(
      `spillway ${args.join(" ")} exited with ${output.code}: ${
        new TextDecoder().decode(output.stderr)
      }`,
    );
  }
  return output.stdout;
}

/** FNV-1a (32-bit) over the word's bytes: a stable partitioner like Hadoop's hashCode. */
export function partitionOf(word: Uint8Array, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of word) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

/** Splits bytes into `count` pieces of about equal size, each ending at a line end. */
export function splitLines(data: Uint8Array, count: number): Uint8Array[] {
  const splits: Uint8Array[] = [];
  let start = 0;
  for (let index = 1; index <= count; index += 1) {
    let end = index === count ? data.length : Math.floor((data.length * index) / count);
    if (end < data.length) {
      const newline = data.indexOf(10, Math.max(end - 1, start));
      end = newline === -1 ? data.length : newline + 1;
    }
    splits.push(data.subarray(start, Math.max(start, end)));
    start = Math.max(start, end);
  }
  return splits;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const result = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}

/**
 * Runs the map/reduce simulation and the direct count.
 *
 * @param options Inputs, splits, reducers, budget, work directory.
 * @returns Both outputs and how the work was spread.
 */
export async function simulateScaleOut(options: ScaleOutOptions): Promise<ScaleOutResult> {
  const taskArgs = ["-S", options.memory, ...(options.taskArgs ?? [])];
  const parts: Uint8Array[] = [];
  for (const input of options.inputs) {
    const bytes = await Deno.readFile(input);
    parts.push(bytes);
    if (bytes.length > 0 && bytes[bytes.length - 1] !== 10) parts.push(new Uint8Array([10]));
  }
  const data = concat(parts);
  const splits = splitLines(data, options.splits);
  // Map: every split counted on its own (the tasks would run on different machines).
  const mapOutputs = await Promise.all(
    splits.map((split) => task(["count", ...taskArgs, "-"], split)),
  );
  // Shuffle: route each word<TAB>count line to its reducer by the hash of the word.
  const partitions: Uint8Array[][] = Array.from({ length: options.reducers }, () => []);
  for (const output of mapOutputs) {
    let lineStart = 0;
    while (lineStart < output.length) {
      const lineEnd = output.indexOf(10, lineStart);
      const tab = output.indexOf(9, lineStart);
      const word = output.subarray(lineStart, tab);
      partitions[partitionOf(word, options.reducers)]!.push(
        output.subarray(lineStart, lineEnd + 1),
      );
      lineStart = lineEnd + 1;
    }
  }
  // Reduce: sum each partition (all counts of a word meet in one reducer).
  const reduced = await Promise.all(
    partitions.map((lines) => task(["merge", "--sum", ...taskArgs, "-"], concat(lines))),
  );
  // Collect: the partitions hold disjoint words; order them globally like count does.
  const reducerFiles: string[] = [];
  for (const [index, bytes] of reduced.entries()) {
    const path = `${options.workDir}/part-r-${String(index).padStart(5, "0")}`;
    await Deno.writeFile(path, bytes);
    reducerFiles.push(path);
  }
  const mapReduce = await task(["merge", "--sum", ...taskArgs, ...reducerFiles], new Uint8Array());
  const direct = await task(["count", ...taskArgs, ...options.inputs], new Uint8Array());
  return {
    mapReduce,
    direct,
    splitLines: splits.map((split) => split.filter((byte) => byte === 10).length),
    partitionBytes: partitions.map((lines) => lines.reduce((sum, line) => sum + line.length, 0)),
  };
}

async function main(args: string[]): Promise<number> {
  let splits = 4;
  let reducers = 2;
  let memory = "256k";
  const inputs: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index]!;
    if (arg === "--splits") splits = Number(args[++index]);
    else if (arg === "--reducers") reducers = Number(args[++index]);
    else if (arg === "-S") memory = args[++index] ?? memory;
    else inputs.push(arg);
  }
  if (inputs.length === 0) {
    const corpus = new URL("../data/corpus/", import.meta.url).pathname;
    for (const entry of Deno.readDirSync(corpus)) {
      if (entry.name.endsWith(".txt")) inputs.push(`${corpus}${entry.name}`);
    }
    inputs.sort();
  }
  const workDir = await Deno.makeTempDir({ prefix: "spillway-scale-out-" });
  try {
    const result = await simulateScaleOut({
      inputs,
      splits,
      reducers,
      memory,
      taskArgs: ["--segment-size", "4k"],
      workDir,
    });
    const same = result.mapReduce.length === result.direct.length &&
      result.mapReduce.every((byte, index) => byte === result.direct[index]);
    const words = result.direct.filter((byte) => byte === 10).length;
    console.log(
      `splits: ${splits} (lines ${result.splitLines.join(", ")}); reducers: ${reducers} ` +
        `(map output bytes ${result.partitionBytes.join(", ")}); budget per task: ${memory}`,
    );
    console.log(
      same
        ? `map/reduce output equals one 'spillway count' over the whole input (${words} words, ${result.direct.length} bytes)`
        : "MISMATCH: the map/reduce output differs from one 'spillway count'",
    );
    return same ? 0 : 1;
  } finally {
    await Deno.remove(workDir, { recursive: true });
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
