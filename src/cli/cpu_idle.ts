/**
 * How many cores are idle right now, from the system's CPU time counters (`os.cpus()`), over
 * the window from this module's evaluation (while the CLI's own modules load: run_cli.ts imports
 * it for that, before any command's modules) to the call. A
 * truer picture than the 1-minute load average, which still counts processes that ended up to
 * a minute ago (a script running one command after another keeps it near 1 on an idle
 * machine). Undefined without `--allow-sys`, or when the window is too short for the counters'
 * 10 ms ticks to say anything.
 *
 * @module
 */
import { cpus } from "node:os";

/** Shortest window that gives an answer (the counters tick every 10 ms per core). */
export const CPU_IDLE_WINDOW_MIN_MS = 40;

interface CpuSample {
  at: number;
  idle: number;
  total: number;
}

function readCpuSample(): CpuSample | undefined {
  try {
    let idle = 0;
    let total = 0;
    for (const cpu of cpus()) {
      const t = cpu.times;
      idle += t.idle;
      total += t.user + t.nice + t.sys + t.idle + t.irq;
    }
    if (!(total > 0)) return undefined;
    return { at: performance.now(), idle, total };
  } catch {
    return undefined; // no --allow-sys
  }
}

const startSample = readCpuSample();

/**
 * Idle cores (0 to the machine's core count) between start-up and now; this process's own
 * thread counts as busy.
 *
 * @param cores The cores to scale the idle share by.
 * @returns The idle cores; `undefined` when the counters cannot be read; `"too early"` when
 *   the window is still shorter than {@linkcode CPU_IDLE_WINDOW_MIN_MS}.
 */
export function idleCoresSinceStart(cores: number): number | undefined | "too early" {
  if (startSample === undefined) return undefined;
  const now = readCpuSample();
  if (now === undefined) return undefined;
  if (now.at - startSample.at < CPU_IDLE_WINDOW_MIN_MS) return "too early";
  const total = now.total - startSample.total;
  if (total <= 0) return "too early";
  return cores * (now.idle - startSample.idle) / total;
}
