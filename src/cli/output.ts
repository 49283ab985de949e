// deno-lint-ignore-file no-console
/** Writes a line to stderr (the CLI's only way to talk besides results). */
export function printError(line: string): void {
  console.error(line);
}

/** Writes text to stdout followed by a newline. */
export function printOut(text: string): void {
  console.log(text);
}

/** Writes raw bytes to stderr (a `sort -c` diagnostic quotes the line as it is). */
export function printErrorBytes(...parts: Uint8Array[]): void {
  for (const part of parts) {
    let written = 0;
    while (written < part.length) written += Deno.stderr.writeSync(part.subarray(written));
  }
}
