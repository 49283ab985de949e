/**
 * Seeded pseudo-random lines of 20-79 lower-case letters, `bytes` long in all (the last line
 * may be shorter): bulk input for the end-to-end tests that only need many distinct lines.
 */
export function randomLetterLines(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let state = seed >>> 0;
  let at = 0;
  while (at < bytes - 1) {
    const length = Math.min(bytes - 1 - at, 20 + (state % 60));
    for (let i = 0; i < length; i += 1) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      out[at + i] = 97 + ((state >>> 16) % 26);
    }
    out[at + length] = 10;
    at += length + 1;
  }
  out[bytes - 1] = 10;
  return out;
}
