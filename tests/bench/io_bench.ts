// deno-lint-ignore-file no-console
/**
 * io throughput benchmark (a script printing numbers; run on demand, not in a loop):
 *
 *   deno run -A tests/bench/io_bench.ts [--mib 128] [--spill-mib 256] [--tmp DIR]
 *
 * 1. LineReader vs a plain `readSync` + `indexOf("\n")` loop over a file in page cache
 *    (both count lines the same way; bar: LineReader >= 0.6x the plain loop).
 * 2. Spill write + read-back through RunWriter/RunReader for the file and mmap channels
 *    (bar: >= 500 MB/s each, counting record bytes over write time + read time).
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { MemoryManager } from "../../src/memory/mod.ts";
import { crc32c, IoManager, type SpillMode } from "../../src/io/mod.ts";
import { WasmKernels } from "../../src/kernels/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    mib: { type: "string", default: "128" },
    "spill-mib": { type: "string", default: "256" },
    tmp: { type: "string", default: "/tmp" },
    rounds: { type: "string", default: "3" },
    "segment-kib": { type: "string", default: "32" },
  },
});
const MiB = 1024 * 1024;
const inputBytes = Number(values.mib) * MiB;
const spillBytes = Number(values["spill-mib"]) * MiB;
const rounds = Number(values.rounds);
const spillSegmentBytes = Number(values["segment-kib"]) * 1024;
const NEWLINE = 10;

/** CPU time of this process (user + system) in ms: steadier than wall time on a busy box. */
function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

function mbPerSecond(bytes: number, ms: number): string {
  return `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`;
}

function best(times: number[]): number {
  return Math.min(...times);
}

function makeInput(path: string): void {
  const buffer = new Uint8Array(inputBytes);
  let seed = 12345;
  let offset = 0;
  while (offset < buffer.length) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const length = 1 + (seed >>> 8) % 120;
    const end = Math.min(buffer.length - 1, offset + length);
    for (let i = offset; i < end; i += 1) buffer[i] = 97 + ((seed >>> (i & 15)) % 26);
    buffer[end] = NEWLINE;
    offset = end + 1;
  }
  Deno.writeFileSync(path, buffer);
}

function countLines(bytes: Uint8Array, end: number): number {
  let count = 0;
  let index = bytes.indexOf(NEWLINE);
  while (index !== -1 && index < end) {
    count += 1;
    index = bytes.indexOf(NEWLINE, index + 1);
  }
  return count;
}

function plainLoop(path: string): { lines: number; ms: number; cpu: number } {
  const start = performance.now();
  const cpuStart = cpuMs();
  const file = Deno.openSync(path, { read: true });
  const buffer = new Uint8Array(MiB);
  let lines = 0;
  for (;;) {
    const count = file.readSync(buffer);
    if (count === null) break;
    lines += countLines(count === buffer.length ? buffer : buffer.subarray(0, count), count);
  }
  file.close();
  return { lines, ms: performance.now() - start, cpu: cpuMs() - cpuStart };
}

async function lineReaderLoop(
  io: IoManager,
  path: string,
): Promise<{ lines: number; ms: number; cpu: number }> {
  const start = performance.now();
  const cpuStart = cpuMs();
  const reader = await io.openInput(path);
  let lines = 0;
  for (;;) {
    const chunk = await reader.nextChunk();
    if (chunk === undefined) break;
    lines += countLines(chunk, chunk.length);
  }
  await reader.close();
  return { lines, ms: performance.now() - start, cpu: cpuMs() - cpuStart };
}

async function spillRoundTrip(
  mode: SpillMode,
  dir: string,
  recordBytes: number,
  totalBytes = spillBytes,
): Promise<{ writeMs: number; readMs: number; cpuMs: number; bytes: number }> {
  const memory = new MemoryManager({ budgetBytes: 64 * MiB, segmentBytes: 32 * 1024 });
  const io = await IoManager.open({
    memory,
    tmpDirs: [dir],
    spillMode: mode,
    handleSignals: false,
  });
  const record = new Uint8Array(recordBytes);
  for (let i = 0; i < record.length; i += 1) record[i] = 97 + (i % 26);
  const recordCount = Math.floor(totalBytes / recordBytes);
  const cpuStart = cpuMs();
  const writeStart = performance.now();
  const writer = await io.createRunWriter("bench", { writeBehindSegments: 4 });
  for (let i = 0; i < recordCount; i += 1) {
    record[0] = i & 0xff;
    const pending = writer.writeRecord(record, 0, recordBytes);
    if (pending) await pending;
  }
  const run = await writer.finish();
  const writeMs = performance.now() - writeStart;
  const readStart = performance.now();
  const reader = await io.openRunReader(run, { readAheadSegments: 4 });
  let count = 0;
  let checksum = 0;
  for (;;) {
    let more = reader.next();
    if (more instanceof Promise) more = await more;
    if (!more) break;
    checksum += reader.recordBytes[reader.recordOffset]!;
    count += 1;
  }
  await reader.close();
  const readMs = performance.now() - readStart;
  const cpuSpent = cpuMs() - cpuStart;
  if (count !== recordCount) throw new Error(`read ${count} of ${recordCount} records`);
  if (checksum < 0) throw new Error("unreachable");
  await io.deleteRun(run);
  await io.close();
  memory.assertAllReleased();
  return { writeMs, readMs, cpuMs: cpuSpent, bytes: recordCount * recordBytes };
}

if (!import.meta.main) {
  // Under `deno bench`: small, steady cases; the full run is `deno run -A tests/bench/io_bench.ts`.
  const block = new Uint8Array(32 * 1024).map((_, i) => i * 31);
  Deno.bench("crc32c of one 32 KiB block (tables: a plain buffer)", () => {
    crc32c(block, 16, block.length);
  });
  // A block in a kernel memory takes the 16 vector lanes (src/io/crc32c.ts).
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 2, shared: true });
  const kernelBlock = new Uint8Array(memory.buffer, 65536, block.length);
  kernelBlock.set(block);
  const kernels = new WasmKernels(memory); // crc32c finds it by the view's buffer
  Deno.bench("crc32c of one 32 KiB block (16 lanes: a kernel memory)", () => {
    crc32c(kernelBlock, 16, kernelBlock.length);
  });
  if (kernels.memory !== memory) throw new Error("unreachable");
  for (const mode of ["file", "mmap"] as const) {
    Deno.bench(`spill 16 MiB of 100-byte records and read it back (${mode})`, async () => {
      const dir = await Deno.makeTempDir({ prefix: "spillway-io-bench-" });
      try {
        await spillRoundTrip(mode, dir, 100, 16 * MiB);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
} else {
  const dir = await Deno.makeTempDir({ dir: values.tmp, prefix: "spillway-io-bench-" });
  try {
    const input = `${dir}/input.txt`;
    makeInput(input);
    console.log(`input: ${inputBytes / MiB} MiB of text in ${dir} (page cache warmed)`);
    plainLoop(input); // warm the page cache
    const memory = new MemoryManager({ budgetBytes: 64 * MiB, segmentBytes: 32 * 1024 });
    const io = await IoManager.open({ memory, tmpDirs: [dir], handleSignals: false });
    const plain = { wall: [] as number[], cpu: [] as number[] };
    const reader = { wall: [] as number[], cpu: [] as number[] };
    for (let round = 0; round < rounds; round += 1) {
      // Alternate the order so neither side always runs on a warmer machine.
      const readerFirst = round % 2 === 1;
      const readerResult = readerFirst ? await lineReaderLoop(io, input) : undefined;
      const plainResult = plainLoop(input);
      const lines = readerResult ?? await lineReaderLoop(io, input);
      if (lines.lines !== plainResult.lines) {
        throw new Error(`line counts differ: ${lines.lines} vs ${plainResult.lines}`);
      }
      plain.wall.push(plainResult.ms);
      plain.cpu.push(plainResult.cpu);
      reader.wall.push(lines.ms);
      reader.cpu.push(lines.cpu);
    }
    await io.close();
    memory.assertAllReleased();
    for (
      const [name, times] of [["plain readSync+indexOf", plain], [
        "LineReader+indexOf",
        reader,
      ]] as const
    ) {
      console.log(
        `${name.padEnd(22)}: wall ${best(times.wall).toFixed(0)} ms (${
          mbPerSecond(inputBytes, best(times.wall))
        }), cpu ${best(times.cpu).toFixed(0)} ms (${mbPerSecond(inputBytes, best(times.cpu))})`,
      );
    }
    console.log(
      `LineReader ratio: wall ${(best(plain.wall) / best(reader.wall)).toFixed(2)}x, cpu ${
        (best(plain.cpu) / best(reader.cpu)).toFixed(2)
      }x the plain loop (bar >= 0.6x)`,
    );
    await Deno.remove(input);
    for (const recordBytes of [100, 1000]) {
      for (const mode of ["file", "mmap"] as const) {
        const results = [];
        for (let round = 0; round < rounds; round += 1) {
          results.push(await spillRoundTrip(mode, dir, recordBytes));
        }
        const fastest = results.reduce((a, b) =>
          a.writeMs + a.readMs <= b.writeMs + b.readMs ? a : b
        );
        console.log(
          `spill ${mode.padEnd(4)} ${String(recordBytes).padStart(4)}-byte records, ${
            spillBytes / MiB
          } MiB, ${spillSegmentBytes / 1024} KiB segments: write ${
            mbPerSecond(fastest.bytes, fastest.writeMs)
          }, read ${mbPerSecond(fastest.bytes, fastest.readMs)}, write+read ${
            mbPerSecond(fastest.bytes, fastest.writeMs + fastest.readMs)
          } (bar >= 500 MB/s); cpu-time rate ${mbPerSecond(fastest.bytes, fastest.cpuMs)}`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
