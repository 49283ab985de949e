/**
 * A Deno cache directory (`DENO_DIR`) of its own for children that run `deno run main.ts` under
 * `ulimit -f`. The runtime writes its cache databases (`$DENO_DIR/*_v2`, SQLite) as it starts and
 * checkpoints them as it shuts down: a database larger than the limit ends the process as it
 * starts (exit 153), before spillway ignores SIGXFSZ. The shared
 * cache's databases grow with every project and test run on the machine (10 MB here), so a test
 * that set the limit over them was skipped where they outgrew it. A fresh directory holds only
 * what spillway's own modules need (with `--no-code-cache`, ~1.5 MB of databases with their
 * write-ahead logs, each a few KB longer per run); the npm packages are linked from the shared
 * cache, so nothing is downloaded.
 *
 * @module
 */

/** A private `DENO_DIR`; `remove()` deletes it (the linked caches stay). */
export interface PrivateDenoDir {
  readonly path: string;
  /** Fails (naming the file) if a file in it is larger than `byteLength`. */
  assertFilesUnder(byteLength: number): void;
  remove(): Promise<void>;
}

/**
 * Makes a private `DENO_DIR` whose `npm` (and `remote`) caches are links to the shared ones
 * (`deno info --json`).
 */
export async function privateDenoDir(): Promise<PrivateDenoDir> {
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const shared = JSON.parse(new TextDecoder().decode(info.stdout)) as Record<string, unknown>;
  const path = await Deno.makeTempDir({ prefix: "spillway-deno-dir-" });
  for (const [name, key] of [["npm", "npmCache"], ["remote", "modulesCache"]] as const) {
    const target = shared[key];
    if (typeof target !== "string") continue;
    const exists = await Deno.stat(target).then(() => true, () => false);
    if (exists) await Deno.symlink(target, `${path}/${name}`);
  }
  return {
    path,
    assertFilesUnder: (byteLength) => assertFilesUnder(path, byteLength),
    remove: () => Deno.remove(path, { recursive: true }),
  };
}

function assertFilesUnder(dir: string, byteLength: number): void {
  for (const entry of Deno.readDirSync(dir)) {
    if (entry.isSymlink) continue;
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) {
      assertFilesUnder(path, byteLength);
    } else if (Deno.statSync(path).size > byteLength) {
      throw new Error(
        `${path} (${Deno.statSync(path).size} B) outgrew the ${byteLength} B file size limit`,
      );
    }
  }
}
