import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { VERSION } from "../src/cli/mod.ts";
import {
  importCycles,
  importGraph,
  importsOf,
  sourceFiles,
  staticClosure,
  stripComments,
} from "./_support/import_graph.ts";

/** Layers from the bottom up: each may import only from layers to its left, through mod.ts. */
const LAYERS = ["base", "memory", "kernels", "io", "gen", "sort", "count", "job", "cli"];
const FILE_APIS =
  /\bDeno\.(open|openSync|create|createSync|readFile|readFileSync|readTextFile|readTextFileSync|writeFile|writeFileSync|writeTextFile|writeTextFileSync|remove|removeSync|mkdir|mkdirSync|makeTempDir|makeTempFile|rename|renameSync|truncate|readDir|readDirSync)\b/;
const TEST_LIBRARIES = /from\s+["'](node:assert|node:assert\/strict|fast-check)["']/;
/**
 * Worker entry modules. Every module an isolate loads costs resident memory and start-up time in
 * that isolate (docs/performance.md, "Memory"), so the modules a Worker loads may import the
 * self-contained leaf modules below directly instead of a whole layer through its mod.ts.
 */
const WORKER_ENTRIES = ["sort/sort_worker.ts"];
/** Leaf modules that Worker code may import without their layer's mod.ts. */
const WORKER_LEAF_MODULES = new Set([
  "memory/memory_segment.ts",
  "memory/poison_help.ts",
  "kernels/kernel_state.ts",
  "kernels/merge_lines_state.ts",
  "kernels/reference_kernels.ts",
  "kernels/wasm_kernels.ts",
  "io/crc32c.ts",
  "io/errors.ts",
  "io/libc.ts",
  "io/output_part.ts",
  "io/run_block_file.ts",
  "io/run_block_reader.ts",
  "io/spill_format.ts",
  "io/timeline.ts",
]);

Deno.test("Layers import only leftward, and across folders only through mod.ts", async () => {
  const violations: string[] = [];
  const root = new URL("../src", import.meta.url).pathname;
  const workerModules = new Set<string>();
  for (const entry of WORKER_ENTRIES) {
    for (const file of await staticClosure(root, entry)) workerModules.add(file);
  }
  for await (const path of sourceFiles(root)) {
    const relative = path.slice(root.length + 1);
    const folder = relative.includes("/") ? relative.split("/")[0]! : "";
    if (folder === "") continue; // src/mod.ts re-exports every layer
    const layer = LAYERS.indexOf(folder);
    if (layer < 0) {
      violations.push(`${relative}: folder "${folder}" is not a known layer`);
      continue;
    }
    const source = stripComments(await Deno.readTextFile(path));
    for (const specifier of importsOf(source)) {
      if (!specifier.startsWith(".")) continue;
      const target = new URL(specifier, `file://${path}`).pathname;
      if (!target.startsWith(root + "/")) {
        violations.push(`${relative}: imports ${specifier} outside src/`);
        continue;
      }
      const targetRelative = target.slice(root.length + 1);
      const targetFolder = targetRelative.split("/")[0]!;
      if (targetFolder === folder) continue;
      const targetLayer = LAYERS.indexOf(targetFolder);
      if (targetLayer < 0 || targetLayer > layer) {
        violations.push(`${relative}: imports ${targetRelative}, a layer above or beside it`);
      } else if (
        !targetRelative.endsWith("/mod.ts") &&
        !(workerModules.has(relative) && WORKER_LEAF_MODULES.has(targetRelative))
      ) {
        violations.push(
          `${relative}: imports ${targetRelative}; go through ${targetFolder}/mod.ts`,
        );
      }
    }
    if (TEST_LIBRARIES.test(source)) violations.push(`${relative}: imports a test library`);
    if (folder !== "io" && FILE_APIS.test(source)) {
      violations.push(
        `${relative}: touches files directly (${FILE_APIS.exec(source)?.[0]}); only src/io may`,
      );
    }
    if (
      folder !== "cli" && /\bDeno\.(args|exit)\b|Deno\.exitCode/.test(source) && folder !== "io"
    ) {
      violations.push(`${relative}: reads Deno.args or sets the exit code; only src/cli may`);
    }
  }
  deepStrictEqual(violations, []);
});

Deno.test("main.ts only runs the CLI", async () => {
  const source = stripComments(await Deno.readTextFile(new URL("../main.ts", import.meta.url)));
  deepStrictEqual(importsOf(source), ["./src/cli/mod.ts"]);
});

Deno.test("The CLI loads a command's modules only when the command runs", async () => {
  // Start-up time is mostly module loading: `spillway count` must not load the sort command,
  // the job runner or the corpus generator, nor `spillway --help` any command.
  const root = new URL("../src", import.meta.url).pathname;
  const loaded = [...await staticClosure(root, "cli/run_cli.ts")];
  deepStrictEqual(loaded.filter((file) => file.endsWith("_command.ts")), []);
  deepStrictEqual([...new Set(loaded.map((file) => file.split("/")[0]))].sort(), [
    "base",
    "cli",
    "memory",
  ]);
  const count = [...await staticClosure(root, "cli/count_command.ts")];
  deepStrictEqual(count.filter((file) => /^cli\/(sort|run|gen|demo)_/.test(file)), []);
  deepStrictEqual(count.filter((file) => file.startsWith("gen/")), []);
  // The sort command has no use for the count layer (the job planner, which plans count steps
  // too, loads on demand).
  const sort = [...await staticClosure(root, "cli/sort_command.ts")];
  deepStrictEqual(sort.filter((file) => /^(count|gen)\/|^job\/job_plan\.ts$/.test(file)), []);
});

Deno.test("The sort Worker loads only what it runs", async () => {
  // A Worker is a second isolate: each module it loads is parsed, held and compiled there
  // again. The sort Worker sorts, gathers and merges by offset; it has no use for the memory
  // manager, the IoManager, the sort buffer or the comparator orders' parsers (loaded on demand).
  const root = new URL("../src", import.meta.url).pathname;
  const loaded = [...await staticClosure(root, "sort/sort_worker.ts")];
  deepStrictEqual(
    loaded.filter((file) =>
      /^(cli|job|count|gen)\//.test(file) ||
      file.endsWith("/mod.ts") && !file.startsWith("base/") ||
      [
        "io/io_manager.ts",
        "memory/memory_manager.ts",
        "sort/sort_buffer.ts",
        "sort/sort_order.ts",
        "sort/normalized_key.ts",
      ].includes(file)
    ).sort(),
    [],
  );
});

Deno.test("The CLI version matches deno.json", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  strictEqual(VERSION, config.version);
});

Deno.test("src has no import cycles, static or dynamic", async () => {
  const root = new URL("../src", import.meta.url).pathname;
  deepStrictEqual(importCycles(await importGraph(root)), []);
});

Deno.test("The cycle check sees a cycle closed by a dynamic import (fixture)", async () => {
  const root = new URL("./_support/fixtures/import_cycle", import.meta.url).pathname;
  deepStrictEqual(importCycles(await importGraph(root)), [["runner.ts", "table.ts"]]);
});

Deno.test("importCycles finds self-imports and longer rings, and nothing in a DAG", () => {
  deepStrictEqual(importCycles(new Map([["a", ["a"]]])), [["a"]]);
  deepStrictEqual(
    importCycles(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]])),
    [["a", "b", "c"]],
  );
  deepStrictEqual(importCycles(new Map([["a", ["b", "c"]], ["b", ["c"]], ["c", []]])), []);
});

Deno.test("The count Worker loads no sort engine, no output formatting, no CLI", async () => {
  // Its isolate parses and runs every module of its graph before it counts a chunk, and keeps
  // them in its heap (docs/performance.md, "Start-up"): the block pieces of the sort layer
  // come through sort/blocks/mod.ts, not the external sort, its Workers and GNU key options.
  const root = new URL("../src", import.meta.url).pathname;
  const loaded = [...await staticClosure(root, "count/count_worker.ts")];
  deepStrictEqual(
    loaded.filter((file) =>
      /^sort\/(mod|external_sort|sort_worker_pool|merge_worker|parallel_merge|merge_sorted_files|check_sorted|key_split)\.ts$/
        .test(file) ||
      /^(cli|job|gen)\//.test(file) ||
      /^count\/(count_format|count_pipeline|count_sum)\.ts$/.test(file)
    ),
    [],
  );
});
