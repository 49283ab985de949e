// deno-lint-ignore-file no-console
/** Writes a line to stderr (the CLI's only way to talk besides results). */
export function printError(line: string): void {
  console.error(line);
}

/** Writes text to stdout followed by a newline. */
export function printOut(text: string): void {
  console.log(text);
}
