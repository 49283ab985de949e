import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { IoManager, timelineStart } from "../../src/io/mod.ts";
import { MemoryManager } from "../../src/memory/mod.ts";
import {
  type EarlySortWorkerOptions,
  sortWorkerCertain,
  spawnEarlySortWorker,
} from "../../src/sort/early_sort_worker.ts";
import { externalSort } from "../../src/sort/external_sort.ts";
import { BytesOrder } from "../../src/sort/record_order.ts";
import { planSort } from "../../src/sort/sort_plan.ts";
import { spawnSortWorker } from "../../src/sort/sort_worker_pool.ts";
import { makeRandom, makeWorkDir, randomLines } from "./_gnu.ts";

const BUDGET = { budgetBytes: 256 * 1024, segmentBytes: 4096, fanInMax: 16 };

/** The largest sort buffer the budget's plans give (with and without this thread's sorts). */
function bufferCapacityBytes(): number {
  const freeSegments = BUDGET.budgetBytes / BUDGET.segmentBytes;
  return Math.max(
    ...[false, true].map((mainSorts) =>
      planSort({ freeSegments, ...BUDGET, useWorker: true, mainSorts }).bufferDataSegments *
      BUDGET.segmentBytes
    ),
  );
}

function options(inputs: string[]): EarlySortWorkerOptions {
  return { ...BUDGET, inputs, recordBytes: undefined, plainBytes: true };
}

/** A Worker whose posted message types are recorded, and whose terminate() is counted. */
function spy(worker: Worker): { posted: string[]; terminated: () => number } {
  const posted: string[] = [];
  let terminated = 0;
  const post = worker.postMessage.bind(worker) as (message: unknown) => void;
  worker.postMessage = (message: { type: string }) => {
    posted.push(message.type);
    post(message);
  };
  const terminate = worker.terminate.bind(worker);
  worker.terminate = () => {
    terminated += 1;
    terminate();
  };
  return { posted, terminated: () => terminated };
}

/** Sorts `path` into `out` with the library API, handing it `spawnedWorker`. */
async function sortFile(
  work: { spill: string },
  path: string,
  out: string,
  spawnedWorker: Worker,
) {
  const memory = new MemoryManager({
    budgetBytes: BUDGET.budgetBytes,
    segmentBytes: BUDGET.segmentBytes,
  });
  const io = await IoManager.open({ memory, tmpDirs: [work.spill], handleSignals: false });
  try {
    return await externalSort([path], out, {
      memory,
      io,
      order: new BytesOrder(),
      orderDescriptor: { kind: "bytes", reverse: false },
      fanInMax: BUDGET.fanInMax,
      spawnedWorker,
    });
  } finally {
    await io.close();
    memory.assertAllReleased();
  }
}

Deno.test("sortWorkerCertain says yes only for plain files larger than a sort buffer", async () => {
  const work = await makeWorkDir();
  try {
    const capacity = bufferCapacityBytes();
    await Deno.writeFile(work.path("fits"), new Uint8Array(capacity).fill(10));
    await Deno.writeFile(work.path("over"), new Uint8Array(capacity + 1).fill(10));
    strictEqual(sortWorkerCertain(options([work.path("fits")])), false);
    strictEqual(sortWorkerCertain(options([work.path("over")])), true);
    // Two inputs that fill more than one buffer together.
    strictEqual(sortWorkerCertain(options([work.path("fits"), work.path("fits")])), true);
    strictEqual(sortWorkerCertain(options(["-"])), false);
    strictEqual(sortWorkerCertain(options([work.path("missing")])), false);
    strictEqual(sortWorkerCertain(options([work.path("over"), "-"])), false);
    // A budget with room for one buffer only: no Worker.
    strictEqual(
      sortWorkerCertain({ ...options([work.path("over")]), budgetBytes: 8 * 4096 }),
      false,
    );
    strictEqual(spawnEarlySortWorker(options([work.path("fits")])), undefined);
  } finally {
    await work.remove();
  }
});

Deno.test("externalSort takes over a spawned sort Worker, warmed up before its init", async () => {
  timelineStart(); // this thread's timeline stays off; the Worker reads the variable at its start
  const work = await makeWorkDir();
  const timeline = work.path("timeline");
  await Deno.mkdir(timeline);
  Deno.env.set("SPILLWAY_TIMELINE", timeline);
  try {
    const input = randomLines(makeRandom(15), 12_000, { maxLength: 40, exotic: false });
    await Deno.writeFile(work.path("in"), input);
    const worker = spawnEarlySortWorker(options([work.path("in")]));
    strictEqual(worker instanceof Worker, true);
    const { posted, terminated } = spy(worker!);
    const stats = await sortFile(work, work.path("in"), work.path("out"), worker!);
    strictEqual(stats.usedWorker, true);
    strictEqual(stats.runCount > 1, true);
    deepStrictEqual(posted.slice(0, 1), ["init"]); // the warm-up was posted at the spawn
    strictEqual(terminated() >= 1, true, "the sort ends the Worker it took over");
    const sorted = await new Deno.Command("sort", {
      args: [work.path("in")],
      env: { LC_ALL: "C" },
      stdout: "piped",
    }).output();
    deepStrictEqual(await Deno.readFile(work.path("out")), sorted.stdout);
    // The Worker's own timeline: its kernels' warm-up began before the init came.
    const spans = [...Deno.readDirSync(timeline)]
      .filter((entry) => entry.name.endsWith("-sort-worker.tsv"))
      .flatMap((entry) => Deno.readTextFileSync(`${timeline}/${entry.name}`).split("\n"))
      .map((line) => line.split("\t"))
      .filter((fields) => fields.length === 4);
    const start = (label: string) => Number(spans.find((fields) => fields[1] === label)?.[2]);
    strictEqual(start("warm-kernels") < start("init"), true, JSON.stringify(spans.slice(0, 4)));
  } finally {
    Deno.env.delete("SPILLWAY_TIMELINE");
    await work.remove();
  }
});

Deno.test("externalSort ends a spawned sort Worker it does not need", async () => {
  const work = await makeWorkDir();
  try {
    await Deno.writeFile(work.path("in"), new TextEncoder().encode("b\na\n"));
    const worker = spawnSortWorker({ warm: true });
    const { posted, terminated } = spy(worker);
    const stats = await sortFile(work, work.path("in"), work.path("out"), worker);
    strictEqual(stats.usedWorker, false);
    deepStrictEqual(posted, []);
    strictEqual(terminated(), 1);
    strictEqual(new TextDecoder().decode(await Deno.readFile(work.path("out"))), "a\nb\n");
  } finally {
    await work.remove();
  }
});
