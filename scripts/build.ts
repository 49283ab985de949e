/**
 * `deno task build`: the JavaScript that users run. Every TypeScript module of main.ts and src/
 * (not src/kernels/assembly/, which is AssemblyScript) becomes one `.js` file at the same place
 * under `dist/js/` (esbuild's `transform`, pinned in deno.json): types and comments stripped,
 * whitespace and local names minified (names of functions and classes kept), no source map.
 * Relative imports, `import()` and the Worker URLs (`new URL("./sort_worker.ts",
 * import.meta.url)`) name the `.js` files, so the Workers and the lazily imported commands
 * resolve inside the tree (and inside `deno compile`'s binary). Bare specifiers (`yaml`) stay:
 * Deno looks for a config from the main module's directory up and finds the project's deno.json
 * above `dist/js/`, as for the sources.
 *
 * Why: Deno keeps a TypeScript module's emitted code with an inline source map (the source again,
 * base64), and V8 keeps each script's source: the 100 MiB sort peaks ~5 MiB lower from the built
 * tree and a sort starts ~11 ms sooner (docs/performance.md, "Shipping JavaScript").
 *
 * The tree is git-ignored and stamped with a digest of its inputs (the sources, deno.json, this
 * script, Deno's version) and with their sizes and times: the tasks that run spillway depend on
 * `build`, which rebuilds only when the digest changed (and computes it only when a time did);
 * the e2e tests (tests/_support/cli.ts) call {@linkcode ensureBuilt} and run the built tree. A build goes to a fresh directory that replaces `dist/js/` when
 * complete, under a lock (`dist/.build.lock`), so concurrent callers build once.
 *
 * Usage: deno task build [--force]
 * Exit codes: 0 built or up to date; 1 the transpiler failed (or a built import names no built
 * file); 2 usage.
 *
 * @module
 */
// deno-lint-ignore-file no-console
import type { TransformOptions } from "esbuild";

const ROOT = new URL("../", import.meta.url);

/** The built tree, relative to the project root. */
export const BUILD_DIR = "dist/js";

/** The built entry point, relative to the project root. */
export const BUILT_MAIN = `${BUILD_DIR}/main.js`;

const DIGEST_FILE = ".source-digest";
const STAMP_FILE = ".source-stat";
const LOCK_FILE = "dist/.build.lock";

/**
 * The built path of a source module.
 *
 * @param sourcePath A path relative to the project root, such as `src/sort/sort_worker.ts`.
 * @returns Its place in the built tree, such as `dist/js/src/sort/sort_worker.js`.
 */
export function builtPath(sourcePath: string): string {
  return `${BUILD_DIR}/${sourcePath.replace(/\.ts$/, ".js")}`;
}

/**
 * The modules the build transpiles: main.ts and every `.ts` file under src/ but the
 * AssemblyScript kernels' sources.
 *
 * @param root The project root.
 * @returns Paths relative to the root, sorted.
 */
export function sourceModules(root: URL = ROOT): string[] {
  const found = ["main.ts"];
  function scan(relative: string): void {
    for (const entry of Deno.readDirSync(new URL(relative, root))) {
      const path = `${relative}${entry.name}`;
      if (entry.isDirectory && path !== "src/kernels/assembly") scan(`${path}/`);
      else if (entry.isFile && entry.name.endsWith(".ts")) found.push(path);
    }
  }
  scan("src/");
  return found.sort();
}

/** What the built tree depends on: deno.json, this script and the source modules. */
function buildInputs(root: URL): string[] {
  return ["deno.json", "scripts/build.ts", ...sourceModules(root)];
}

/**
 * The inputs' paths, sizes and modification times: a check of a few milliseconds that the sources
 * were not touched since the last build or check (only when it differs is the digest computed).
 */
function statStamp(root: URL): string {
  const lines = [`deno ${Deno.version.deno}`];
  for (const path of buildInputs(root)) {
    const info = Deno.statSync(new URL(path, root));
    lines.push(`${path} ${info.size} ${info.mtime?.getTime()}`);
  }
  return lines.join("\n");
}

/**
 * A digest of everything the built tree depends on: Deno's version, deno.json, this script and
 * each source module's path and bytes.
 *
 * @param root The project root.
 * @returns A hex SHA-256.
 */
export async function sourceDigest(root: URL = ROOT): Promise<string> {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [encoder.encode(`deno ${Deno.version.deno}\0`)];
  for (const path of buildInputs(root)) {
    parts.push(encoder.encode(`${path}\0`), Deno.readFileSync(new URL(path, root)));
  }
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength + 1, 0));
  let byteOffset = 0;
  for (const part of parts) {
    joined.set(part, byteOffset);
    byteOffset += part.byteLength + 1; // a 0 byte after each part
  }
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
  return Array.from(hash, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function builtStamp(root: URL, name: string): string | undefined {
  try {
    return Deno.readTextFileSync(new URL(`${BUILD_DIR}/${name}`, root));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Rewrites one emitted module's relative `.ts` specifiers (imports, `import()`, Worker URLs) to
 * name the `.js` files. A string literal that names no module but ends in `.ts` and starts with
 * `./` or `../` would change too; the build then fails unless it names a built module.
 *
 * @param code The transpiler's output for one module.
 * @returns The module as shipped.
 */
export function rewriteSpecifiers(code: string): string {
  return code.replace(/(["'`])(\.\.?\/[^"'`\n]*)\.ts\1/g, "$1$2.js$1");
}

/** Relative specifiers of a built module that name no file of the built tree. */
function unresolved(code: string, modulePath: string, built: Set<string>): string[] {
  const missing: string[] = [];
  for (const match of code.matchAll(/(["'`])(\.\.?\/[^"'`\n]*\.[jt]s)\1/g)) {
    const target = new URL(match[2]!, `file:///${modulePath}`).pathname.slice(1);
    if (!built.has(target)) missing.push(`${modulePath}: ${match[2]}`);
  }
  return missing;
}

/** esbuild's options for one module: types stripped; whitespace and local names minified. */
const TRANSFORM: TransformOptions = {
  loader: "ts",
  format: "esm",
  target: "esnext",
  minifyWhitespace: true,
  minifyIdentifiers: true,
  // Not minifySyntax: esbuild 0.25.5's syntax minifier turns a `using` declaration used once into
  // a plain expression, so its dispose never runs (the gen command leaked its buffer).
  keepNames: true, // stack traces and `--trace` still name functions and classes
  legalComments: "none",
};

/** Transpiles each module to `outDir` at the same relative place, specifiers rewritten. */
async function transpile(root: URL, outDir: string, modules: string[]): Promise<void> {
  const built = new Set(modules.map((path) => path.replace(/\.ts$/, ".js")));
  const missing: string[] = [];
  const esbuild = await import("esbuild"); // only when building: a check stays quick
  try {
    for (const module of modules) {
      const source = await Deno.readTextFile(new URL(module, root));
      const path = module.replace(/\.ts$/, ".js");
      const { code } = await esbuild.transform(source, { ...TRANSFORM, sourcefile: module });
      const shipped = rewriteSpecifiers(code);
      missing.push(...unresolved(shipped, path, built));
      await Deno.mkdir(`${outDir}/${path.slice(0, path.lastIndexOf("/") + 1)}`, {
        recursive: true,
      });
      await Deno.writeTextFile(`${outDir}/${path}`, shipped);
    }
  } finally {
    await esbuild.stop(); // its service process would keep this one alive
  }
  if (missing.length > 0) {
    throw new Error(`Built modules import files the build did not make:\n${missing.join("\n")}`);
  }
}

async function buildInto(
  root: URL,
  outDir: string,
  stamps: { digest: string; stat: string },
): Promise<number> {
  const modules = sourceModules(root);
  await transpile(root, outDir, modules);
  await Deno.writeTextFile(`${outDir}/${DIGEST_FILE}`, stamps.digest);
  await Deno.writeTextFile(`${outDir}/${STAMP_FILE}`, stamps.stat);
  return modules.length;
}

/**
 * Removes what a build that was interrupted (a signal: its `finally` never ran) left in `dist/`:
 * its temporary tree or the tree it was replacing. Only under the lock, so no build is under way.
 */
async function removeInterruptedBuilds(root: URL): Promise<void> {
  const dist = new URL("dist/", root).pathname;
  for (const entry of Deno.readDirSync(dist)) {
    if (entry.isDirectory && entry.name.startsWith(".js-")) {
      await Deno.remove(`${dist}${entry.name}`, { recursive: true });
    }
  }
}

/** Puts a finished build in place of `dist/js/`. */
async function replaceBuild(root: URL, fresh: string): Promise<void> {
  const target = new URL(BUILD_DIR, root).pathname;
  const old = `${fresh}.old`;
  const hadOld = await Deno.rename(target, old).then(() => true, (error) => {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  });
  await Deno.rename(fresh, target);
  if (hadOld) await Deno.remove(old, { recursive: true });
}

/**
 * The build lock, held until disposed; undefined when the checkout cannot be written (a
 * read-only install: its tree is used as it is when current).
 */
async function openLock(root: URL): Promise<Deno.FsFile | undefined> {
  try {
    await Deno.mkdir(new URL("dist/", root), { recursive: true });
    const lock = await Deno.open(new URL(LOCK_FILE, root), { create: true, write: true });
    await lock.lock(true);
    return lock;
  } catch (error) {
    if (error instanceof Deno.errors.PermissionDenied || isReadOnlyFileSystem(error)) {
      return undefined;
    }
    throw error;
  }
}

/** Whether `error` is EROFS (Deno has no class of its own for it). */
function isReadOnlyFileSystem(error: unknown): boolean {
  return error instanceof Error && /os error 30\b|Read-only file system/.test(error.message);
}

/**
 * Builds `dist/js/` unless it is current, under a lock. Current: the inputs' sizes and times are
 * those of the last build or check, or else their digest is the build's (then the times are
 * recorded, so the next check is quick again).
 *
 * @param options `force`: build even when current; `root`: the project root.
 * @returns The number of modules built, or 0 when the tree was current.
 * @throws {Error} When the transpiler fails or a built import names no built file.
 */
export async function ensureBuilt(
  options: { force?: boolean; root?: URL } = {},
): Promise<number> {
  const root = options.root ?? ROOT;
  const stat = statStamp(root);
  if (!options.force && builtStamp(root, STAMP_FILE) === stat) return 0;
  using lock = await openLock(root);
  const digest = await sourceDigest(root);
  if (!options.force && builtStamp(root, DIGEST_FILE) === digest) {
    // Touched only (a copy that lost the times): the next check is quick again, if writable.
    if (lock !== undefined) {
      await Deno.writeTextFile(new URL(`${BUILD_DIR}/${STAMP_FILE}`, root), stat);
    }
    return 0;
  }
  if (lock === undefined) {
    throw new Error(
      `${BUILD_DIR}/ is missing or older than the sources, and this checkout is not writable: run \`deno task build\` where it is`,
    );
  }
  await removeInterruptedBuilds(root);
  const fresh = await Deno.makeTempDir({ dir: new URL("dist/", root).pathname, prefix: ".js-" });
  try {
    const count = await buildInto(root, fresh, { digest, stat });
    await Deno.chmod(fresh, 0o755); // a temp dir is the owner's only; the tree is for every user
    await replaceBuild(root, fresh);
    return count;
  } finally {
    await Deno.remove(fresh, { recursive: true }).catch(() => {});
  }
}

async function main(args: string[]): Promise<number> {
  if (args.length > 1 || (args.length === 1 && args[0] !== "--force")) {
    console.error("Usage: deno task build [--force]");
    return 2;
  }
  const startedMs = performance.now();
  try {
    const count = await ensureBuilt({ force: args[0] === "--force" });
    const elapsedMs = Math.round(performance.now() - startedMs);
    // Quiet unless someone watches: `deno task -q spillway` stays quiet when it rebuilds.
    if (count > 0 && Deno.stderr.isTerminal()) {
      console.error(`build: ${BUILD_DIR}/ from ${count} modules (${elapsedMs} ms)`);
    }
    return 0;
  } catch (error) {
    console.error(`build: ${error instanceof Error ? error.message : error}`);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
