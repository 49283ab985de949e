import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { buildKernels } from "../../scripts/build_kernels.ts";
import { compileKernels } from "../../src/kernels/mod.ts";

const kernelsDir = new URL("../../src/kernels/", import.meta.url);

Deno.test({
  name: "The committed kernels.wasm and _kernels_wasm.ts match a fresh build of assembly/",
  // Runs the pinned AssemblyScript compiler from npm (cached after the first run).
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const outDir = await Deno.makeTempDir({ prefix: "spillway-kernels-" });
    try {
      await buildKernels(outDir);
      const fresh = await Deno.readFile(`${outDir}/kernels.wasm`);
      const committed = await Deno.readFile(new URL("kernels.wasm", kernelsDir));
      strictEqual(
        fresh.length === committed.length && fresh.every((byte, i) => byte === committed[i]),
        true,
        "src/kernels/kernels.wasm is stale: run deno task build:kernels and commit the result",
      );
      strictEqual(
        await Deno.readTextFile(`${outDir}/_kernels_wasm.ts`),
        await Deno.readTextFile(new URL("_kernels_wasm.ts", kernelsDir)),
        "src/kernels/_kernels_wasm.ts is stale: run deno task build:kernels",
      );
    } finally {
      await Deno.remove(outDir, { recursive: true });
    }
  },
});

/** Section ids of a wasm binary, in order. */
function sectionIds(wasm: Uint8Array): number[] {
  const ids: number[] = [];
  let at = 8; // magic + version
  while (at < wasm.length) {
    const id = wasm[at++]!;
    let size = 0;
    for (let shift = 0;; shift += 7) {
      const byte = wasm[at++]!;
      size += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) break;
    }
    ids.push(id);
    at += size;
  }
  return ids;
}

Deno.test("The kernels module imports only a shared memory and has no state of its own", async () => {
  const module = compileKernels();
  deepStrictEqual(
    WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}:${i.kind}`),
    ["env.memory:memory"],
  );
  const wasm = await Deno.readFile(new URL("kernels.wasm", kernelsDir));
  const ids = sectionIds(wasm);
  // 6 = globals (mutable state), 11 = data segments (would be written at each instantiation),
  // 8 = start function.
  deepStrictEqual(ids.filter((id) => id === 6 || id === 8 || id === 11), []);
});
