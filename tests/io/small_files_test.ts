import { ok, throws } from "node:assert/strict";
import { fileDescriptorsFree, readFileHead } from "../../src/io/mod.ts";

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

Deno.test("readFileHead words a missing file, a directory and an unreadable one as inputs are", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-small-files-" });
  try {
    // (`--files0-from`, `--random-source`: it said `No such file or directory (os error 2)`.)
    throws(() => readFileHead(`${dir}/missing`, 16), {
      name: "InputError",
      message: `Cannot read ${dir}/missing: no such file or directory`,
    });
    throws(() => readFileHead(dir, 16), {
      name: "InputError",
      message: `Cannot read ${dir}: it is a directory`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
