import type { LeakDetectionLevel } from "../memory/mod.ts";
import type { CountFormat } from "./count_format.ts";
import type { CaseMode, TokenizerKind } from "./tokenizer.ts";

/** What to count and how to print it: `spillway count` after parsing. */
export interface CountRequest {
  /** Input paths (`-` is stdin). */
  inputs: string[];
  /** Output path, or undefined for stdout. */
  output: string | undefined;
  /** `--tokenizer`. */
  tokenizer: TokenizerKind;
  /** `--case`. */
  caseMode: CaseMode;
  /** `--order`. */
  order: "count" | "word";
  /** `--top`. */
  top: number | undefined;
  /** `--min-count`. */
  minCount: number;
  /** `--distinct`. */
  distinct: boolean;
  /** `--total`. */
  total: boolean;
  /** `--format`. */
  format: CountFormat;
  /** Temp directories (for the Worker's own IoManager). */
  tmpDirs: string[];
  /** `--leak-detection` (for the Worker's own MemoryManager). */
  leakDetection: LeakDetectionLevel;
  /** `--threads`: 1, or 2 to count on a Worker too. */
  threads: number;
  /** Whether `threads` came from `--threads auto` (the Worker then starts on larger inputs). */
  threadsAuto?: boolean;
  /**
   * For `--threads auto`: idle cores (of `cores`) since start-up, `"too early"` while the
   * window is too short to say, undefined where it cannot be measured (then the 1-minute load
   * average decides). The CLI passes its probe, which starts with the process.
   */
  idleCores?: (cores: number) => number | undefined | "too early";
  /** `--fan-in`. */
  fanInMax: number;
  /**
   * Test seam (`SPILLWAY_TEST_WORKER_FIRST=1`): once the Worker is started, the first chunk waits
   * until it is ready, so that it counts. Without it the read loop never waits: on a loaded
   * machine this thread may count the whole input before the Worker has loaded, which is right.
   */
  workerFirst?: boolean;
}
