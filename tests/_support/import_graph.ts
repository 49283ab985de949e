/**
 * The import graph of a TypeScript tree (relative static imports, re-exports, dynamic
 * `import()` and `new URL()` module references) and its cycles, for tests/architecture_test.ts.
 *
 * @module
 */

/** Relative module specifiers a source file refers to (comments stripped first). */
export function importsOf(source: string): string[] {
  const specifiers: string[] = [];
  const pattern =
    /(?:import|export)\s[^'"]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|new URL\(\s*["']([^"']+)["']/g;
  for (const match of source.matchAll(pattern)) {
    specifiers.push(match[1] ?? match[2] ?? match[3] ?? "");
  }
  return specifiers;
}

/** Removes block and line comments (good enough for import scanning). */
export function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

/** Every `.ts` file under `dir`, recursively. */
export async function* sourceFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

/** The module graph under `root`: file (relative to root) -> files it imports (relative). */
export async function importGraph(root: string): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for await (const path of sourceFiles(root)) {
    const source = stripComments(await Deno.readTextFile(path));
    const targets: string[] = [];
    for (const specifier of importsOf(source)) {
      if (!specifier.startsWith(".") || !specifier.endsWith(".ts")) continue;
      const target = new URL(specifier, `file://${path}`).pathname;
      if (target.startsWith(root + "/")) targets.push(target.slice(root.length + 1));
    }
    graph.set(path.slice(root.length + 1), targets);
  }
  return graph;
}

/**
 * The import cycles of a graph: one list of files per strongly connected component with more
 * than one file (or a file importing itself), each sorted, the lists sorted.
 */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  // Tarjan's algorithm, iterative over a small graph.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let counter = 0;
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    for (;;) {
      const member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
      if (member === node) break;
    }
    const selfImport = (graph.get(node) ?? []).includes(node);
    if (component.length > 1 || selfImport) cycles.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return cycles.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/**
 * Relative modules a source file loads when it is evaluated: static imports and re-exports,
 * without type-only ones (erased) and without dynamic `import()` (loaded on use).
 */
export function staticImportsOf(source: string): string[] {
  const specifiers: string[] = [];
  const pattern =
    /(?:^|\n)\s*(?:(import|export)(\s+type)?\s[^'"]*?from\s+["']([^"']+)["']|import\s+["']([^"']+)["'])/g;
  for (const match of source.matchAll(pattern)) {
    if (match[4] !== undefined) specifiers.push(match[4]);
    else if (match[2] === undefined) specifiers.push(match[3]!);
  }
  return specifiers;
}

/** The files under `root` that evaluating `entry` (relative to root) loads, entry included. */
export async function staticClosure(root: string, entry: string): Promise<Set<string>> {
  const loaded = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (loaded.has(file)) continue;
    loaded.add(file);
    const path = `${root}/${file}`;
    const source = stripComments(await Deno.readTextFile(path));
    for (const specifier of staticImportsOf(source)) {
      if (!specifier.startsWith(".")) continue;
      const target = new URL(specifier, `file://${path}`).pathname;
      if (target.startsWith(root + "/")) pending.push(target.slice(root.length + 1));
    }
  }
  return loaded;
}
