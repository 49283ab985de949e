import { strictEqual } from "node:assert/strict";
import { compileKernels } from "../../src/kernels/mod.ts";
import { warmSortKernels } from "../../src/sort/kernel_warmup.ts";

Deno.test("warmSortKernels sorts and gathers its whole job with the kernels", () => {
  // Its own asserts check that the kernels sorted and that the records fit; here, that every
  // record was gathered, and that a second run (everything compiled) does the same.
  strictEqual(warmSortKernels(compileKernels()), 2048);
  strictEqual(warmSortKernels(compileKernels()), 2048);
});
