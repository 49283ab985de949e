/**
 * The runtime's part of a sort's peak RSS (docs/performance.md, "Memory"): a Deno process that
 * does only what any two-thread kernel sort must do, none of spillway's own work. Steps, chosen by
 * the letters of the first argument (default all):
 *   w  start an empty Worker (a second isolate) and wait for its first reply
 *   k  compile and instantiate the kernels (TurboFan with --no-liftoff)
 *   j  run a hot JavaScript loop until V8 optimizes it
 *   m  grow a shared WebAssembly.Memory to 64 MiB and touch every page (the budget)
 * Then it idles 300 ms, so that `tests/bench/rss_breakdown.py` sees the peak:
 *
 *   tests/bench/rss_breakdown.py -n 3 -- deno run -A \
 *     --v8-flags=--max-semi-space-size=1,--no-liftoff tests/bench/rss_floor.ts wkjm
 *
 * @module
 */
import { WasmKernels } from "../../src/kernels/mod.ts";

const steps = Deno.args[0] ?? "wkjm";
const PAGES_64_MIB = 1024; // WebAssembly pages of 64 KiB
let worker: Worker | undefined;
if (steps.includes("w")) {
  const source = "self.onmessage = () => self.postMessage(1);";
  const url = URL.createObjectURL(new Blob([source], { type: "application/javascript" }));
  worker = new Worker(url, { type: "module" });
  const replied = new Promise((resolve) => worker!.onmessage = resolve);
  worker.postMessage(0);
  await replied;
}
const memory = new WebAssembly.Memory({ initial: 1, maximum: PAGES_64_MIB + 1, shared: true });
if (steps.includes("k")) new WasmKernels(memory);
if (steps.includes("j")) {
  const words = new Uint32Array(1 << 16);
  let mixed = 0;
  for (let round = 0; round < 300; round += 1) {
    for (let i = 0; i < words.length; i += 1) {
      words[i] = (words[i]! * 31 + i) >>> 0;
      mixed ^= words[i]!;
    }
  }
  if (mixed === 0.5) throw new Error("unreachable: keeps the loop alive");
}
if (steps.includes("m")) {
  memory.grow(PAGES_64_MIB);
  new Uint8Array(memory.buffer).fill(1);
}
await new Promise((resolve) => setTimeout(resolve, 300));
worker?.terminate();
