import { strictEqual } from "node:assert/strict";
import { compileKernels } from "../../src/kernels/mod.ts";
import { warmSortKernels, warmSortKernelsInTwo } from "../../src/sort/kernel_warmup.ts";

Deno.test("warmSortKernels sorts and gathers its whole job with the kernels", () => {
  // Its own asserts check that the kernels sorted and that the records fit; here, that every
  // record was gathered, and that a second run (everything compiled) does the same.
  strictEqual(warmSortKernels(compileKernels()), 2048);
  strictEqual(warmSortKernels(compileKernels()), 2048);
});

Deno.test("warmSortKernelsInTwo sorts at once and gathers the sorted job when asked", () => {
  const first = warmSortKernelsInTwo(compileKernels());
  // Another warm-up in between (the Worker's help request) leaves the first one's job alone.
  const second = warmSortKernelsInTwo(compileKernels());
  strictEqual(second.gather(), 2048);
  strictEqual(first.gather(), 2048);
});
