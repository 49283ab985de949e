import { ok } from "node:assert/strict";
import { fileDescriptorsFree } from "../../src/io/mod.ts";

Deno.test("fileDescriptorsFree counts the descriptors this process opens", () => {
  if (fileDescriptorsFree() === undefined) return; // no libc here: nothing to count
  // `deno test --parallel` runs other test files in this process, opening and closing their own
  // descriptors meanwhile: one of a few tries must see exactly the three opened here.
  const seen: string[] = [];
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const before = fileDescriptorsFree()!;
    const files = [0, 1, 2].map(() => Deno.openSync(Deno.execPath(), { read: true }));
    let opened: number;
    try {
      opened = before - fileDescriptorsFree()!;
    } finally {
      for (const file of files) file.close();
    }
    const closed = fileDescriptorsFree()! - (before - opened);
    seen.push(`${opened}/${closed}`);
    if (opened === 3 && closed === 3) return;
  }
  ok(false, `opened/closed seen: ${seen.join(" ")}`);
});
