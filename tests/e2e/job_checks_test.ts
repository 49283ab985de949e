import { ok, strictEqual } from "node:assert/strict";
import { runSpillway } from "../_support/cli.ts";

// A job that passes `spillway run --dry-run` must not fail on anything knowable up front, and a
// job's messages speak in the job's keys, not in command-line options.

async function withJob(
  yaml: string,
  body: (dir: string, job: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "spillway-job-checks-test-" });
  try {
    await Deno.writeTextFile(`${dir}/in.txt`, "b a\na b\n");
    await Deno.writeTextFile(`${dir}/job.yaml`, yaml);
    await body(dir, `${dir}/job.yaml`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const failingDryRuns: Array<[string, number, string]> = [
  [
    "steps:\n  - count: { input: in.txt, output: c.txt, memory: 256k }\n",
    3,
    "Cannot count words in 7 free segments of 32768 bytes: need at least 14; raise taskmanager.memory.managed.size",
  ],
  ["steps:\n  - sort: { input: nope.txt, output: s.txt }\n", 2, "nope.txt: no such file"],
  [
    'steps:\n  - sort: { input: in.txt, output: s.txt, key: "0,1" }\n',
    2,
    'Invalid key definition -k "0,1"',
  ],
  [
    "config:\n  io.tmp.dirs: nonexistent\nsteps:\n  - sort: { input: in.txt, output: s.txt }\n",
    3,
    "it does not exist; create it or choose another io.tmp.dirs",
  ],
  [
    "steps:\n  - sort: { input: in.txt, output: nodir/s.txt }\n",
    2,
    "its directory does not exist; choose another output",
  ],
  [
    "config:\n  taskmanager.runtime.max-fan: 5000\nsteps:\n  - sort: { input: in.txt, output: s.txt }\n",
    2,
    'Invalid taskmanager.runtime.max-fan "5000": expected a whole number from 2 to 4096',
  ],
];

for (const [yaml, code, expected] of failingDryRuns) {
  Deno.test(`run --dry-run refuses: ${expected.slice(0, 60)}`, async () => {
    await withJob(yaml, async (dir, job) => {
      const result = await runSpillway(["run", "--dry-run", job]);
      strictEqual(result.code, code, result.stderr);
      strictEqual(result.stderr.trim().split("\n").length, 1, result.stderr);
      ok(result.stderr.includes(expected), result.stderr);
      strictEqual(result.stdout, "");
      const left = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
      strictEqual(left.join(","), "in.txt,job.yaml");
    });
  });
}

Deno.test("run --dry-run accepts a step whose input an earlier step writes", async () => {
  await withJob(
    "steps:\n  - sort: { input: in.txt, output: s.txt }\n  - count: { input: s.txt, output: c.txt }\n",
    async (_dir, job) => {
      const result = await runSpillway(["run", "--dry-run", job]);
      strictEqual(result.code, 0, result.stderr);
    },
  );
});

Deno.test("a failing job step names the config key, not --memory (-S)", async () => {
  await withJob(
    "steps:\n  - count: { input: in.txt, output: c.txt, memory: 256k }\n",
    async (_dir, job) => {
      const result = await runSpillway(["run", job]);
      strictEqual(result.code, 3, result.stderr);
      ok(result.stderr.includes("raise taskmanager.memory.managed.size"), result.stderr);
      ok(!result.stderr.includes("--memory (-S)"), result.stderr);
    },
  );
});
