import { strictEqual } from "node:assert/strict";
import { SPILLWAY_MAIN, SPILLWAY_PERMISSIONS } from "../_support/cli.ts";

/** 9 MiB of text: large enough for count's second thread (it starts at 8 MiB files). */
async function writeCorpus(path: string): Promise<void> {
  const words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"];
  const line = new TextEncoder().encode(words.join(" ") + "\n");
  const bytes = new Uint8Array(9 * 1024 * 1024);
  for (let offset = 0; offset + line.length <= bytes.length; offset += line.length) {
    bytes.set(line, offset);
  }
  bytes.fill(0x0a, bytes.length - (bytes.length % line.length));
  await Deno.writeFile(path, bytes);
}

async function spawn(args: string[], readBytes: number | undefined) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...SPILLWAY_PERMISSIONS, SPILLWAY_MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000), // a hang fails the test instead of stalling the suite
  }).spawn();
  const reader = child.stdout.getReader();
  let received = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    received += value.length;
    if (readBytes !== undefined && received >= readBytes) {
      await reader.cancel(); // like `| head`: the reader goes away
      break;
    }
  }
  const stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
  const status = await child.status;
  return { code: status.code, signal: status.signal, stderr, received };
}

Deno.test("count with two threads exits when done, and quietly when stdout closes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-closed-test-" });
  try {
    const input = `${dir}/in.txt`;
    await writeCorpus(input);
    const whole = await spawn(["count", "--threads", "2", input], undefined);
    strictEqual(whole.code, 0, whole.stderr);
    strictEqual(whole.signal, null);
    const closed = await spawn(["count", "--threads", "2", "--tokenizer", "whitespace", input], 1);
    strictEqual(closed.code, 0, closed.stderr);
    strictEqual(closed.stderr, "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sort ends quietly with exit 0 when stdout closes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spillway-closed-test-" });
  try {
    const input = `${dir}/in.txt`;
    await writeCorpus(input);
    const closed = await spawn(["sort", "-S", "1m", "-T", dir, input], 1);
    strictEqual(closed.code, 0, closed.stderr);
    strictEqual(closed.stderr, "");
    const left = [...Deno.readDirSync(dir)].map((entry) => entry.name);
    strictEqual(left.join(","), "in.txt", "no spill directories left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sort whose final merge runs on the Worker exits when stdout closes", async () => {
  // 9 MiB at -S 8m: three runs, merged on the Worker (from 8 MiB). The main thread's write
  // fails; the Worker, blocked in Atomics.wait for that half, must be woken (terminate() does
  // not end a wait, and a waiting Worker kept the process alive forever).
  const dir = await Deno.makeTempDir({ prefix: "spillway-closed-test-" });
  try {
    const input = `${dir}/in.txt`;
    await writeCorpus(input);
    for (let round = 0; round < 2; round += 1) {
      const closed = await spawn(["sort", "-S", "8m", "-T", dir, input], 1);
      strictEqual(closed.signal, null, "ended by the test's timeout: the sort hung");
      strictEqual(closed.code, 0, closed.stderr);
      strictEqual(closed.stderr, "");
    }
    const left = [...Deno.readDirSync(dir)].map((entry) => entry.name);
    strictEqual(left.join(","), "in.txt", "no spill directories left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
