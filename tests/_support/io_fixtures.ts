/** Shared helpers of the io tests. */
import { MemoryManager } from "../../src/memory/mod.ts";
import { IoManager, type IoManagerOptions } from "../../src/io/mod.ts";

/** A seed for property tests: $IO_TEST_SEED or a fresh one, printed so a failure can be replayed. */
export function ioTestSeed(name: string): number {
  const fromEnv = Deno.env.get("IO_TEST_SEED");
  const seed = fromEnv !== undefined
    ? Number(fromEnv)
    : (Date.now() ^ (Math.random() * 2 ** 31)) | 0;
  // deno-lint-ignore no-console
  console.log(`${name}: seed ${seed} (replay with IO_TEST_SEED=${seed})`);
  return seed;
}

/** Runs `body` with a fresh temp dir that is removed afterwards. */
export async function withIoTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "spillway-io-test-" });
  try {
    return await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Lists every file under `dir`, recursively, as paths relative to it. */
export function ioListFiles(dir: string): string[] {
  const result: string[] = [];
  const walk = (path: string, prefix: string) => {
    for (const entry of Deno.readDirSync(path)) {
      const relative = prefix + entry.name;
      if (entry.isDirectory) {
        result.push(relative + "/");
        walk(`${path}/${entry.name}`, relative + "/");
      } else {
        result.push(relative);
      }
    }
  };
  walk(dir, "");
  return result.sort();
}

/** Options to open an IoManager in a test: no signal handlers unless asked. */
export interface IoTestSetup {
  memory: MemoryManager;
  io: IoManager;
}

/** Opens a memory manager and an IoManager over `dir`. */
export async function openIoForTest(
  dir: string,
  options: Partial<IoManagerOptions> & { budgetBytes?: number; segmentBytes?: number } = {},
): Promise<IoTestSetup> {
  const memory = new MemoryManager({
    budgetBytes: options.budgetBytes ?? 4 * 1024 * 1024,
    segmentBytes: options.segmentBytes ?? 4096,
  });
  const { budgetBytes: _b, segmentBytes: _s, ...rest } = options;
  const io = await IoManager.open({ handleSignals: false, tmpDirs: [dir], ...rest, memory });
  return { memory, io };
}

/** Reads every record of a run back as copies. */
export async function ioReadAll(
  io: IoManager,
  run: { path: string; recordCount: number; byteLength: number },
  options: { readAheadSegments?: number } = {},
): Promise<Uint8Array[]> {
  const reader = await io.openRunReader(run, options);
  const records: Uint8Array[] = [];
  try {
    for (;;) {
      let more = reader.next();
      if (more instanceof Promise) more = await more;
      if (!more) break;
      records.push(
        reader.recordBytes.slice(reader.recordOffset, reader.recordOffset + reader.recordLength),
      );
    }
  } finally {
    await reader.close();
  }
  return records;
}

/** Writes records into a new run. */
export async function ioWriteRun(
  io: IoManager,
  records: readonly Uint8Array[],
  options: { writeBehindSegments?: number } = {},
): Promise<{ path: string; recordCount: number; byteLength: number }> {
  const writer = await io.createRunWriter("test", options);
  try {
    for (const record of records) {
      const pending = writer.writeRecord(record, 0, record.length);
      if (pending) await pending;
    }
    return await writer.finish();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}
