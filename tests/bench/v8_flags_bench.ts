/**
 * Measures V8 flags for spillway's WebAssembly kernels: one long call of a byte loop over a
 * shared memory (the shape of a kernel call: sort, gather or merge a whole buffer), in child
 * processes with and without each flag, alternating, medians.
 *
 * Usage: deno run -A tests/bench/v8_flags_bench.ts [rounds]
 *
 * Measured here (Deno 2.9.6, 64 MiB, 3 rounds on a shared 2-core machine): default (Liftoff)
 * 2034-2519 ms, `--no-liftoff` 478-622 ms: about 4x. A call that starts in Liftoff stays there
 * until it returns, so kernels need `--no-liftoff`; it changes nothing for JavaScript.
 *
 * @module
 */
// deno-lint-ignore-file no-console

/** A hand-assembled module: `sum(ptr, len)` adds bytes of an imported shared memory. */
const KERNEL = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // magic, version
  ...[0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f], // type: (i32, i32) -> i32
  ...[0x02, 0x12, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79], // env.memory
  ...[0x02, 0x03, 0x01, 0x80, 0x80, 0x04], // memory, shared, min 1, max 65536 pages
  ...[0x03, 0x02, 0x01, 0x00], // one function of type 0
  ...[0x07, 0x07, 0x01, 0x03, 0x73, 0x75, 0x6d, 0x00, 0x00], // export "sum"
  ...[0x0a, 0x2f, 0x01, 0x2d, 0x01, 0x01, 0x7f], // code: one body, one i32 local
  ...[0x20, 0x01, 0x20, 0x00, 0x6a, 0x21, 0x01], // len = ptr + len (the end)
  ...[0x02, 0x40, 0x03, 0x40], // block, loop
  ...[0x20, 0x00, 0x20, 0x01, 0x4f, 0x0d, 0x01], // if ptr >= end: break
  ...[0x20, 0x02, 0x20, 0x00, 0x2d, 0x00, 0x00, 0x6a, 0x21, 0x02], // acc += load8_u(ptr)
  ...[0x20, 0x00, 0x41, 0x01, 0x6a, 0x21, 0x00], // ptr += 1
  ...[0x0c, 0x00, 0x0b, 0x0b, 0x20, 0x02, 0x0b], // continue; end; return acc
]);

const BYTES = 64 << 20;

async function child(): Promise<void> {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
  memory.grow(BYTES / 65536);
  new Uint8Array(memory.buffer).fill(1, 0, BYTES);
  const { instance } = await WebAssembly.instantiate(KERNEL, { env: { memory } });
  const sum = instance.exports.sum as (byteOffset: number, byteLength: number) => number;
  const started = performance.now();
  const total = sum(0, BYTES);
  const elapsedMs = performance.now() - started;
  if (total !== BYTES) throw new Error(`kernel returned ${total}`);
  console.log(JSON.stringify({ elapsedMs }));
}

async function run(flags: string): Promise<number> {
  const args = ["run", "-A", ...(flags === "" ? [] : [`--v8-flags=${flags}`])];
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...args, new URL(import.meta.url).pathname, "--child"],
    stdout: "piped",
  }).output();
  return JSON.parse(new TextDecoder().decode(output.stdout)).elapsedMs;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

if (Deno.args[0] === "--child") {
  await child();
} else {
  const rounds = Number(Deno.args[0] ?? 5);
  const variants = ["", "--no-liftoff", "--max-semi-space-size=1,--no-liftoff"];
  const times = new Map<string, number[]>(variants.map((flags) => [flags, []]));
  for (let round = 0; round < rounds; round += 1) {
    for (const flags of variants) times.get(flags)!.push(await run(flags));
  }
  const base = median(times.get("")!);
  for (const flags of variants) {
    const m = median(times.get(flags)!);
    console.log(
      `${(flags || "(default)").padEnd(40)} median ${m.toFixed(0)} ms  ${
        (base / m).toFixed(2)
      }x vs default`,
    );
  }
}
