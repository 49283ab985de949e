/**
 * `deno task build` (scripts/build.ts): the JavaScript tree users run. Its specifier rewriting,
 * that the tree the other e2e tests run is complete and current, and that a stale tree is
 * rebuilt before it runs (a project of three modules with a Worker and a lazy import, in a temp
 * directory).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  BUILD_DIR,
  builtPath,
  ensureBuilt,
  rewriteSpecifiers,
  sourceDigest,
  sourceModules,
} from "../../scripts/build.ts";
import { SPILLWAY_MAIN } from "../_support/cli.ts";

const ROOT = new URL("../../", import.meta.url);

Deno.test("build rewrites relative .ts specifiers to .js, in minified code too", () => {
  const code = [
    `import { a } from "./a.ts";`,
    `import {\n  b\n} from "../b/b.ts";`,
    `export * from './c.ts';`,
    `import"./side.ts";import{e as f}from"../e.ts";`,
    `const d = await import(\`./d.ts\`);`,
    `new Worker(new URL("./w.ts", import.meta.url).href, { type: "module" });`,
    `const y = await import("yaml");`,
    `import { cpus } from "node:os";`,
    `const name = "notes.ts", other = "./x.tsx";`,
  ].join("\n");
  strictEqual(
    rewriteSpecifiers(code),
    [
      `import { a } from "./a.js";`,
      `import {\n  b\n} from "../b/b.js";`,
      `export * from './c.js';`,
      `import"./side.js";import{e as f}from"../e.js";`,
      `const d = await import(\`./d.js\`);`,
      `new Worker(new URL("./w.js", import.meta.url).href, { type: "module" });`,
      `const y = await import("yaml");`,
      `import { cpus } from "node:os";`,
      `const name = "notes.ts", other = "./x.tsx";`,
    ].join("\n"),
  );
});

Deno.test("the CLI tests run the built tree: one .js per module, no .ts import, current", async () => {
  strictEqual(SPILLWAY_MAIN, new URL(`${BUILD_DIR}/main.js`, ROOT).pathname);
  const modules = sourceModules();
  ok(modules.includes("src/sort/sort_worker.ts") && modules.includes("src/count/count_worker.ts"));
  for (const module of modules) {
    const code = await Deno.readTextFile(new URL(builtPath(module), ROOT));
    deepStrictEqual(code.match(/["']\.\.?\/[^"'\n]*\.ts["']/g), null, builtPath(module));
    ok(!code.includes("sourceMappingURL"), builtPath(module));
  }
  const digest = await Deno.readTextFile(new URL(`${BUILD_DIR}/.source-digest`, ROOT));
  strictEqual(digest, await sourceDigest(), "dist/js is not current");
});

/** A project of three modules: main imports a module that starts a Worker and imports lazily. */
async function tinyProject(root: string): Promise<void> {
  await Deno.mkdir(`${root}/src`, { recursive: true });
  await Deno.mkdir(`${root}/scripts`);
  await Deno.copyFile(new URL("scripts/build.ts", ROOT), `${root}/scripts/build.ts`);
  await Deno.writeTextFile(`${root}/deno.json`, JSON.stringify({ imports: {} }));
  await Deno.writeTextFile(
    `${root}/main.ts`,
    `import { answer } from "./src/answer.ts";\nconsole.log(await answer());\n`,
  );
  await Deno.writeTextFile(
    `${root}/src/worker.ts`,
    `(self as unknown as Worker).postMessage("from the worker");\nself.close();\n`,
  );
  await writeAnswer(root, "first");
}

async function writeAnswer(root: string, word: string): Promise<void> {
  await Deno.writeTextFile(
    `${root}/src/answer.ts`,
    [
      `export async function answer(): Promise<string> {`,
      `  const worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });`,
      `  const said: string = await new Promise((resolve) => {`,
      `    worker.onmessage = (event: MessageEvent<string>) => resolve(event.data);`,
      `  });`,
      `  worker.terminate();`,
      `  const { word } = await import("./word.ts");`,
      `  return \`\${word} \${said}\`;`,
      `}`,
    ].join("\n"),
  );
  await Deno.writeTextFile(`${root}/src/word.ts`, `export const word: string = "${word}";\n`);
}

async function runBuilt(root: string): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-config", "--allow-read", `${root}/${BUILD_DIR}/main.js`],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  strictEqual(output.code, 0, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout);
}

Deno.test("ensureBuilt rebuilds a stale tree: the Worker and a lazy import resolve in it", async () => {
  const root = await Deno.makeTempDir({ prefix: "spillway-build-" });
  try {
    await tinyProject(root);
    const rootUrl = new URL(`file://${root}/`);
    strictEqual(await ensureBuilt({ root: rootUrl }), 4);
    strictEqual(await runBuilt(root), "first from the worker\n");
    strictEqual(await ensureBuilt({ root: rootUrl }), 0, "current: nothing to build");
    const later = new Date(Date.now() + 5000);
    await Deno.utime(`${root}/src/word.ts`, later, later);
    strictEqual(await ensureBuilt({ root: rootUrl }), 0, "touched, not changed: nothing to build");
    const stamp = await Deno.readTextFile(`${root}/${BUILD_DIR}/.source-stat`);
    ok(stamp.includes(`src/word.ts 37 ${later.getTime()}`), stamp);
    await writeAnswer(root, "second");
    // What an interrupted build leaves (its temporary tree, the tree it replaced) goes.
    await Deno.mkdir(`${root}/dist/.js-interrupted/src`, { recursive: true });
    await Deno.mkdir(`${root}/dist/.js-interrupted2.old`);
    strictEqual(await ensureBuilt({ root: rootUrl }), 4, "a changed source is stale");
    strictEqual(await runBuilt(root), "second from the worker\n");
    const left = [...Deno.readDirSync(`${root}/dist`)].map((entry) => entry.name).sort();
    deepStrictEqual(left, [".build.lock", "js"], "temporary trees left");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("every using declaration of the sources survives in the built tree (a minifier may drop one)", async () => {
  await ensureBuilt();
  const declaration = /^\s*(?:await\s+)?using\s+[\w$]+\s*=/gm;
  const built = /(?:^|[;{}\s])(?:await\s+)?using\s+[\w$]+\s*=/g;
  let inSources = 0;
  let inBuild = 0;
  for (const module of sourceModules()) {
    inSources += (await Deno.readTextFile(new URL(module, ROOT))).match(declaration)?.length ?? 0;
    const path = new URL(builtPath(module), ROOT);
    inBuild += (await Deno.readTextFile(path)).match(built)?.length ?? 0;
  }
  ok(inSources > 0, "no using declaration found in the sources");
  strictEqual(inBuild, inSources);
});
