import type { Node as YamlNode, Pair, Scalar, YAMLMap } from "yaml";
import { loadedYaml } from "./yaml_module.ts";
import { isPowerOfTwo, parseByteSize, UsageError } from "../base/mod.ts";
import { leakDetectionLevels, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN } from "../memory/mod.ts";

/** A place in a job file (1-based line and column). */
export interface SourcePosition {
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  column: number;
}

/** A job file that cannot be run: names the file, line, column and the bad key or value. */
export class JobFileError extends UsageError {
  /** The error class name. */
  override name = "JobFileError";
  /** The job file as given. */
  readonly path: string;
  /** Where the problem is (undefined for whole-file problems). */
  readonly position: SourcePosition | undefined;

  /**
   * Creates the error; the message starts with `path:line:column:`.
   *
   * @param path The job file.
   * @param position Where, or undefined.
   * @param problem What is wrong and how to fix it.
   */
  constructor(path: string, position: SourcePosition | undefined, problem: string) {
    super(
      position === undefined
        ? `${path}: ${problem}`
        : `${path}:${position.line}:${position.column}: ${problem}`,
    );
    this.path = path;
    this.position = position;
  }
}

/** The job's configuration (`config:`), in bytes and plain values. */
export interface JobConfig {
  /** `taskmanager.memory.managed.size` (or `memory`): the budget per step in bytes. */
  memoryBytes?: number;
  /** `taskmanager.memory.segment-size` (or `segment-size`): the page size in bytes. */
  segmentBytes?: number;
  /** `io.tmp.dirs` (comma list, or `tmp-dirs` as a list): spill directories, resolved. */
  tmpDirs?: string[];
  /** `taskmanager.runtime.max-fan` (or `fan-in`): most runs merged at once. */
  fanInMax?: number;
  /** `spill`: file, mmap or auto. */
  spill?: string;
  /** `leak-detection`: disabled, simple, advanced or paranoid. */
  leakDetection?: string;
}

/** One option of a step, as written. */
export interface JobStepOption {
  /** The key (a long option name of the command). */
  key: string;
  /** A flag (true/false), one value, or a list (a repeated option). */
  value: boolean | string | string[];
  /** Where the key is. */
  position: SourcePosition;
}

/** One step: a command and its options. */
export interface JobStep {
  /** 1-based step number. */
  index: number;
  /** The command: sort, count, merge or gen. */
  command: string;
  /** The step's `name:` or `step N (command)`. */
  name: string;
  /** Input files, resolved against the job file's folder ("-" stays stdin). */
  inputs: string[];
  /** The output file, resolved, or undefined for stdout. */
  output: string | undefined;
  /** Every other option, in file order (paths already resolved). */
  options: JobStepOption[];
  /** Where the step starts. */
  position: SourcePosition;
}

/** A parsed and validated job. */
export interface JobSpec {
  /** The job file as given. */
  path: string;
  /** `name:` or the file name. */
  name: string;
  /** The configuration. */
  config: JobConfig;
  /** The steps, in order. */
  steps: JobStep[];
}

/**
 * What a job file may say: for each command a step may run, its long option names (without
 * `--`). The CLI builds it from the commands' declared options.
 */
export type StepSchema = ReadonlyMap<string, readonly string[]>;

/** Options of {@linkcode parseJobFile}. */
export interface ParseJobFileOptions {
  /** The job file's path as given: for messages and to resolve relative paths. */
  path: string;
  /** The commands and options a step may use. */
  schema: StepSchema;
}

/** Flink's configuration keys and ours, with their short aliases. */
const configKeys: ReadonlyMap<string, keyof JobConfig> = new Map([
  ["taskmanager.memory.managed.size", "memoryBytes"],
  ["memory", "memoryBytes"],
  ["taskmanager.memory.segment-size", "segmentBytes"],
  ["segment-size", "segmentBytes"],
  ["io.tmp.dirs", "tmpDirs"],
  ["tmp-dirs", "tmpDirs"],
  ["taskmanager.runtime.max-fan", "fanInMax"],
  ["fan-in", "fanInMax"],
  ["spill", "spill"],
  ["leak-detection", "leakDetection"],
]);

const topLevelKeys = ["name", "description", "config", "steps"];
const stepOwnKeys = ["name", "input", "output"];
/** Step options whose values are paths (resolved against the job file's folder). */
const pathOptionKeys = new Set(["input", "output", "tmp-dir", "stats-file", "files0-from"]);
/** Step options whose bare-number values are bytes in a job file (Flink), not KiB. */
const sizeOptionKeys = new Set(["memory", "segment-size", "buffer-size"]);

/**
 * Parses and validates a job file.
 *
 * Unknown keys are errors with a "did you mean" suggestion; every error names the file, line
 * and column. A bare number in a size key means bytes (Flink's convention).
 *
 * @param text The YAML text.
 * @param options The file path and the step schema.
 * @returns The validated job.
 * @throws {JobFileError} On YAML syntax errors and invalid keys or values.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { parseJobFile } from "./job_file.ts";
 * import { loadYaml } from "./yaml_module.ts";
 * await loadYaml();
 * const schema = new Map([["sort", ["reverse", "memory"]]]);
 * const job = parseJobFile(
 *   "config:\n  taskmanager.memory.managed.size: 1024\nsteps:\n  - sort: { input: a.txt, reverse: true }\n",
 *   { path: "jobs/j.yaml", schema },
 * );
 * strictEqual(job.config.memoryBytes, 1024);
 * strictEqual(job.steps[0]!.inputs[0], "jobs/a.txt");
 * ```
 */
export function parseJobFile(text: string, options: ParseJobFileOptions): JobSpec {
  const path = options.path;
  const { LineCounter, parseDocument } = loadedYaml();
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined): SourcePosition | undefined => {
    if (offset === undefined) return undefined;
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const fail = (node: YamlNode | null | undefined, problem: string): never => {
    throw new JobFileError(path, at(node?.range?.[0]), problem);
  };
  const firstError = document.errors[0];
  if (firstError !== undefined) {
    const message = firstError.message.split("\n")[0]!.replace(/\.$/, "").replace(
      / at line \d+, column \d+:?$/,
      "",
    );
    throw new JobFileError(path, at(firstError.pos[0]), `Invalid YAML: ${message}`);
  }
  const root = document.contents;
  if (!loadedYaml().isMap(root)) {
    return fail(root, "A job file must be a mapping with `config:` and `steps:`");
  }
  const baseDir = directoryOf(path);
  const job: JobSpec = { path, name: baseName(path), config: {}, steps: [] };
  let stepsSeen = false;
  for (const pair of root.items) {
    const key = keyText(pair, fail);
    if (key === "name" || key === "description") {
      const value = scalarText(pair.value as YamlNode, key, fail);
      if (key === "name") job.name = value;
    } else if (key === "config") {
      job.config = parseConfig(pair.value as YamlNode, baseDir, fail);
    } else if (key === "steps") {
      stepsSeen = true;
      job.steps = parseSteps(pair.value as YamlNode, { baseDir, schema: options.schema, at, fail });
    } else {
      fail(pair.key as YamlNode, unknownKey("top-level key", key, topLevelKeys));
    }
  }
  if (!stepsSeen || job.steps.length === 0) {
    fail(root, "The job has no steps: add `steps:` with at least one of sort, count, merge, gen");
  }
  return job;
}

type Fail = (node: YamlNode | null | undefined, problem: string) => never;

function parseConfig(node: YamlNode, baseDir: string, fail: Fail): JobConfig {
  if (node === null || (loadedYaml().isScalar(node) && node.value === null)) return {};
  if (!loadedYaml().isMap(node)) {
    return fail(node, "`config:` must be a mapping of configuration keys");
  }
  const config: JobConfig = {};
  for (const pair of (node as YAMLMap).items) {
    const key = keyText(pair, fail);
    const field = configKeys.get(key);
    const valueNode = pair.value as YamlNode;
    if (field === undefined) {
      fail(pair.key as YamlNode, unknownKey("configuration key", key, [...configKeys.keys()]));
    }
    if (field === "tmpDirs") {
      const dirs = loadedYaml().isSeq(valueNode)
        ? valueNode.items.map((item) => scalarText(item as YamlNode, key, fail))
        : scalarText(valueNode, key, fail).split(",");
      const cleaned = dirs.map((dir) => dir.trim()).filter((dir) => dir !== "");
      if (cleaned.length === 0) fail(valueNode, `Empty ${key}: give at least one directory`);
      config.tmpDirs = cleaned.map((dir) => resolvePath(baseDir, dir));
      continue;
    }
    const text = scalarText(valueNode, key, fail);
    try {
      if (field === "memoryBytes") {
        config.memoryBytes = parseByteSize(text, { what: key, bareUnitBytes: 1 });
      } else if (field === "segmentBytes") {
        const bytes = parseByteSize(text, { what: key, bareUnitBytes: 1 });
        if (!isPowerOfTwo(bytes) || bytes < SEGMENT_BYTES_MIN || bytes > SEGMENT_BYTES_MAX) {
          throw new RangeError(
            `Invalid ${key} "${text}": must be a power of two from 4kb to 16mb (e.g. 32kb)`,
          );
        }
        config.segmentBytes = bytes;
      } else if (field === "fanInMax") {
        // The commands' own --fan-in limit: a job must not pass validation and then fail at a
        // later step's command line.
        if (!/^\d+$/.test(text) || Number(text) < 2 || Number(text) > 4096) {
          throw new RangeError(`Invalid ${key} "${text}": expected a whole number from 2 to 4096`);
        }
        config.fanInMax = Number(text);
      } else if (field === "spill") {
        config.spill = oneOf(key, text, ["file", "mmap", "auto"]);
      } else if (field === "leakDetection") {
        config.leakDetection = oneOf(key, text, leakDetectionLevels);
      }
    } catch (error) {
      if (error instanceof RangeError || error instanceof SyntaxError) {
        fail(valueNode, error.message);
      }
      throw error;
    }
  }
  return config;
}

function parseSteps(
  node: YamlNode,
  context: {
    baseDir: string;
    schema: StepSchema;
    at: (offset: number | undefined) => SourcePosition | undefined;
    fail: Fail;
  },
): JobStep[] {
  const { fail, schema, baseDir } = context;
  if (!loadedYaml().isSeq(node)) {
    return fail(node, "`steps:` must be a list of steps such as `- sort: { input: a.txt }`");
  }
  const commandNames = [...schema.keys()];
  const steps: JobStep[] = [];
  for (const item of node.items) {
    const stepNode = item as YamlNode;
    const index = steps.length + 1;
    if (!loadedYaml().isMap(stepNode) || stepNode.items.length !== 1) {
      fail(
        stepNode,
        `Step ${index} must be one command with its options, e.g. \`- sort: { input: a.txt }\``,
      );
    }
    const pair = (stepNode as YAMLMap).items[0]!;
    const command = keyText(pair, fail);
    const accepted = schema.get(command);
    if (accepted === undefined) {
      fail(pair.key as YamlNode, unknownKey("step command", command, commandNames));
    }
    const step: JobStep = {
      index,
      command,
      name: `step ${index} (${command})`,
      inputs: [],
      output: undefined,
      options: [],
      position: context.at(stepNode.range?.[0]) ?? { line: 0, column: 0 },
    };
    const body = pair.value as YamlNode;
    if (body !== null && !(loadedYaml().isScalar(body) && body.value === null)) {
      if (!loadedYaml().isMap(body)) {
        fail(body, `The options of step ${index} (${command}) must be a mapping`);
      }
      for (const optionPair of (body as YAMLMap).items) {
        const key = keyText(optionPair, fail);
        const valueNode = optionPair.value as YamlNode;
        const position = context.at((optionPair.key as YamlNode).range?.[0])!;
        if (key === "name") {
          step.name = scalarText(valueNode, key, fail);
        } else if (key === "input") {
          const inputs = loadedYaml().isSeq(valueNode)
            ? valueNode.items.map((entry) => scalarText(entry as YamlNode, key, fail))
            : [scalarText(valueNode, key, fail)];
          step.inputs = inputs.map((input) => resolvePath(baseDir, input));
        } else if (key === "output") {
          step.output = resolvePath(baseDir, scalarText(valueNode, key, fail));
        } else if (accepted!.includes(key)) {
          step.options.push({ key, value: optionValue(key, valueNode, baseDir, fail), position });
        } else {
          fail(
            optionPair.key as YamlNode,
            unknownKey(`option of ${command}`, key, [...stepOwnKeys, ...accepted!]),
          );
        }
      }
    }
    steps.push(step);
  }
  return steps;
}

function optionValue(
  key: string,
  node: YamlNode,
  baseDir: string,
  fail: Fail,
): boolean | string | string[] {
  if (loadedYaml().isScalar(node) && typeof node.value === "boolean") return node.value;
  const convert = (text: string): string => {
    if (pathOptionKeys.has(key)) return resolvePath(baseDir, text);
    if (sizeOptionKeys.has(key) && /^\s*\d+\s*$/.test(text)) return `${text.trim()}b`;
    return text;
  };
  if (loadedYaml().isSeq(node)) {
    return node.items.map((entry) => convert(scalarText(entry as YamlNode, key, fail)));
  }
  return convert(scalarText(node, key, fail));
}

function keyText(pair: Pair, fail: Fail): string {
  const key = pair.key as YamlNode;
  if (
    !loadedYaml().isScalar(key) || (typeof key.value !== "string" && typeof key.value !== "number")
  ) {
    return fail(
      key,
      "Keys must be plain words such as `sort` or `taskmanager.memory.managed.size`",
    );
  }
  return String(key.value);
}

function scalarText(node: YamlNode | null | undefined, key: string, fail: Fail): string {
  if (!loadedYaml().isScalar(node)) {
    return fail(node, `Invalid value of "${key}": expected a single value`);
  }
  const value = (node as Scalar).value;
  if (value === null || value === undefined || value === "") {
    return fail(node, `Missing value of "${key}"`);
  }
  if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
    return fail(node, `Invalid value of "${key}": expected text or a number`);
  }
  // Keep numbers as written (1e3 stays "1e3" so the size parser can reject it).
  return typeof value === "number" && (node as Scalar).source !== undefined
    ? String((node as Scalar).source)
    : String(value);
}

function oneOf(key: string, text: string, allowed: readonly string[]): string {
  if (!allowed.includes(text)) {
    throw new RangeError(`Invalid ${key} "${text}": use one of ${allowed.join(", ")}`);
  }
  return text;
}

function resolvePath(baseDir: string, path: string): string {
  if (path === "-" || path.startsWith("/")) return path;
  return normalizePath(`${baseDir}/${path}`);
}

function baseName(path: string): string {
  const last = path.split("/").pop() ?? path;
  return last.replace(/\.ya?ml$/, "");
}

/**
 * The message for an unknown key, with the closest known key when one is close enough.
 *
 * @param what What kind of key (for the message).
 * @param key The unknown key.
 * @param known The accepted keys.
 * @returns One line.
 */
export function unknownKey(what: string, key: string, known: readonly string[]): string {
  const suggestion = closestMatch(key, known);
  const hint = suggestion === undefined
    ? (known.length === 0 ? "" : `; known: ${known.join(", ")}`)
    : `; did you mean "${suggestion}"?`;
  return `Unknown ${what} "${key}"${hint}`;
}

/**
 * The known word nearest to `word` by edit distance, if within a third of its length (at
 * least 2 edits), else undefined.
 *
 * @param word The misspelt word.
 * @param known The candidates.
 * @returns The suggestion.
 *
 * @example Usage
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { closestMatch } from "./job_file.ts";
 * strictEqual(closestMatch("revrse", ["reverse", "unique"]), "reverse");
 * strictEqual(closestMatch("zzz", ["reverse"]), undefined);
 * ```
 */
export function closestMatch(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined = undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The directory part of a POSIX path (`.` when there is none). */
function directoryOf(path: string): string {
  const slash = path.lastIndexOf("/");
  if (slash < 0) return ".";
  return slash === 0 ? "/" : path.slice(0, slash);
}

/** Folds `.` and `..` segments and repeated slashes of a POSIX path. */
function normalizePath(path: string): string {
  const absolute = path.startsWith("/");
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === ".." && parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
    else if (part !== ".." || !absolute) parts.push(part);
  }
  const joined = parts.join("/");
  return absolute ? `/${joined}` : joined === "" ? "." : joined;
}
