import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  helpPoisonCheck,
  MemoryManager,
  type PoisonCheckHelp,
  type PoisonHelper,
  type PoisonViolation,
} from "../../src/memory/mod.ts";

const PAGE = 4096;
/** 16 MiB of 4 KiB pages: past the 4 MiB from which the check is shared. */
const PAGES = 4096;
/** Pages written after their release, at these bytes (first, inside, across chunks, last). */
const STALE_WRITES: readonly [page: number, byte: number][] = [
  [0, 0],
  [5, 100],
  [127, PAGE - 1],
  [128, 7],
  [2000, 64],
  [PAGES - 1, PAGE - 1],
];

/** Releases every page of a fresh manager, writes the stale bytes, and checks the poison. */
function violationsWith(helper: PoisonHelper | undefined): PoisonViolation[] {
  const memory = new MemoryManager({ budgetBytes: PAGES * PAGE, segmentBytes: PAGE });
  const lease = memory.allocate("sort-buffer", PAGES);
  const views = lease.segments.map((segment) => segment.bytes);
  lease.release();
  for (const [page, byte] of STALE_WRITES) views[page]![byte] = 0x42;
  if (helper !== undefined) memory.attachPoisonHelper(helper);
  try {
    const violations = [...memory.verifyPoison()];
    // Reported once: the pages are poisoned again, found clean by the next check.
    strictEqual(memory.verifyPoison().length, violations.length);
    return violations;
  } finally {
    memory.detachPoisonHelper();
  }
}

/** A helper in this thread: `onPost` plays the other thread's part when it is asked. */
function helperThat(onPost: (help: PoisonCheckHelp) => void): PoisonHelper & { ended: number } {
  return {
    ended: 0,
    post: onPost,
    [Symbol.dispose]() {
      this.ended += 1;
    },
  };
}

Deno.test("A lent poison helper: the writes after release found are the same as without it", () => {
  const alone = violationsWith(undefined);
  strictEqual(alone.length, STALE_WRITES.length);
  for (let i = 0; i < STALE_WRITES.length; i += 1) {
    const [page, byte] = STALE_WRITES[i]!;
    ok(alone[i]!.detail.startsWith(`page ${page}, byte ${byte} is 0x42`), alone[i]!.detail);
  }
  const helpers = {
    // It takes every chunk before this thread starts.
    "takes all": helperThat((help) => strictEqual(helpPoisonCheck(help) > 0, true)),
    // It takes a chunk and is never heard of again: this thread reads that chunk itself.
    "stalls": helperThat((help) => void Atomics.add(help.control, 0, 1)),
    // It marks a clean chunk dirty (conservative): its pages are checked one by one here.
    "marks one dirty": helperThat((help) => {
      Atomics.add(help.control, 0, 1);
      Atomics.store(help.control, 4, 2);
    }),
    // The message never arrives.
    "never comes": helperThat(() => {}),
  };
  for (const [name, helper] of Object.entries(helpers)) {
    deepStrictEqual(violationsWith(helper), alone, name);
    strictEqual(helper.ended, 1, `${name}: detach ends the helper`);
  }
});

Deno.test("A poison helper on a Worker shares the check and finds the same writes", async () => {
  const worker = new Worker(new URL("./fixtures/poison_helper_worker.ts", import.meta.url), {
    type: "module",
  });
  const answers: number[] = [];
  const answered = new Promise<void>((resolve) => {
    worker.onmessage = (event: MessageEvent<number>) => {
      answers.push(event.data);
      resolve();
    };
  });
  let ended = false;
  const helper: PoisonHelper = {
    post: (help) => worker.postMessage(help),
    [Symbol.dispose]() {
      ended = true;
    },
  };
  try {
    deepStrictEqual(violationsWith(helper), violationsWith(undefined));
    await answered; // the Worker ran its part (it may have come after this thread took all)
    strictEqual(answers.length, 1);
    ok(ended, "detach ends the helper");
  } finally {
    worker.terminate();
  }
});

Deno.test("A manager with a helper checks few poisoned pages alone, and detaching is idempotent", () => {
  const memory = new MemoryManager({ budgetBytes: 64 * PAGE, segmentBytes: PAGE });
  const lease = memory.allocate("small", 64);
  const stale = lease.segments[3]!.bytes;
  lease.release();
  stale[9] = 1;
  let posts = 0;
  let ends = 0;
  memory.attachPoisonHelper({
    post: () => void (posts += 1),
    [Symbol.dispose]: () => void (ends += 1),
  });
  strictEqual(memory.verifyPoison().length, 1);
  strictEqual(posts, 0, "256 KiB poisoned: not worth a message");
  memory.detachPoisonHelper();
  memory.detachPoisonHelper();
  strictEqual(ends, 1);
  // A second helper replaces (and ends) the first.
  let firstEnded = false;
  memory.attachPoisonHelper({ post() {}, [Symbol.dispose]: () => void (firstEnded = true) });
  memory.attachPoisonHelper({ post() {}, [Symbol.dispose]() {} });
  ok(firstEnded);
  memory.detachPoisonHelper();
});
