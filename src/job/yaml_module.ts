/**
 * npm:yaml, imported on first need: it adds ~10 MiB to the resident set of every process
 * that loads it, and only job files and YAML reports need it. Call {@linkcode loadYaml}
 * (async) before {@linkcode loadedYaml}.
 */
/** The npm:yaml module namespace. */
export type YamlModule = typeof import("yaml");

let yamlModule: YamlModule | undefined;

/**
 * Imports npm:yaml once.
 *
 * @returns The module.
 */
export async function loadYaml(): Promise<YamlModule> {
  yamlModule ??= await import("yaml");
  return yamlModule;
}

/**
 * The module imported by {@linkcode loadYaml}.
 *
 * @returns The module.
 * @throws {Error} If it was not loaded yet (a bug).
 */
export function loadedYaml(): YamlModule {
  if (yamlModule === undefined) throw new Error("npm:yaml is not loaded: await loadYaml() first");
  return yamlModule;
}
