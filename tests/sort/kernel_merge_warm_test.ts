import { deepStrictEqual, ok } from "node:assert/strict";
import { WasmKernels } from "../../src/kernels/mod.ts";
import { MERGE_WARM_BYTES, warmMergeKernel } from "../../src/sort/kernel_merge.ts";

Deno.test("warmMergeKernel runs an empty merge and writes only inside its scratch", () => {
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 2, shared: true });
  const kernels = new WasmKernels(memory);
  const bytes = new Uint8Array(memory.buffer);
  bytes.fill(0xa5);
  const at = 4096 + 8; // any offset: the state is words
  ok(at + MERGE_WARM_BYTES < bytes.length);
  warmMergeKernel(kernels, memory, at);
  warmMergeKernel(kernels, memory, at); // again: the same empty merge
  const outside = [...bytes.subarray(0, at), ...bytes.subarray(at + MERGE_WARM_BYTES)];
  deepStrictEqual(outside.filter((byte) => byte !== 0xa5), []);
});
