import { strictEqual } from "node:assert/strict";
import { fileDescriptorsFree } from "../../src/io/mod.ts";

Deno.test("fileDescriptorsFree counts the descriptors this process opens", () => {
  const before = fileDescriptorsFree();
  if (before === undefined) return; // no libc here: nothing to count
  const files = [0, 1, 2].map(() => Deno.openSync(Deno.execPath(), { read: true }));
  try {
    strictEqual(fileDescriptorsFree(), before - files.length);
  } finally {
    for (const file of files) file.close();
  }
  strictEqual(fileDescriptorsFree(), before);
});
