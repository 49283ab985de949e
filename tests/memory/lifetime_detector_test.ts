import { ok, strictEqual } from "node:assert/strict";

// The detector must be able to fail a test: run a fixture test that writes through a stale
// view and check that `deno test` fails it with the report (segment, releasing owner, byte).
Deno.test("the write-after-release detector fails a test that writes through a stale view", async () => {
  const fixture = new URL("./fixtures/stale_write_fixture.ts", import.meta.url);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--no-check", "--allow-read", fixture.pathname],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  strictEqual(output.code, 1, text);
  ok(
    /Write after release: segment #2 of "sort-buffer" was written after "sort-buffer" released it \(page 1, byte 17 is 0x42, not the poison 0xdb\)/
      .test(text),
    text,
  );
  ok(/FAILED/.test(text), text);
});
