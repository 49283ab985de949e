/** spillway's version (kept equal to deno.json's by tests/architecture_test.ts). */
export const VERSION = "0.1.0";
