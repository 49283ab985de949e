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
// The control block's words (poison_help.ts): round, next chunk, and chunk 0's mark.
const ROUND = 0;
const NEXT = 1;
const FIRST_MARK = 6;

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

/** A helper on this thread: `onRound` plays the other thread's part when asked in a round. */
function helperThat(
  onRound: (help: PoisonCheckHelp, round: number) => void,
): PoisonHelper & { posts: number; ended: number } {
  return {
    posts: 0,
    ended: 0,
    post(help) {
      this.posts += 1;
      const round = Atomics.load(help.control, ROUND);
      if (round > 0) onRound(help, round);
    },
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
    // It takes every chunk before this thread starts (no standby: it is this thread).
    "takes all": helperThat((help) => ok(helpPoisonCheck(help, { standbyMs: 0 }) > 0)),
    // It takes a chunk and is never heard of again: this thread reads that chunk itself.
    "stalls": helperThat((help) => void Atomics.add(help.control, NEXT, 1)),
    // It marks a clean chunk dirty (conservative): its pages are checked one by one here.
    "marks one dirty": helperThat((help, round) => {
      Atomics.add(help.control, NEXT, 1);
      Atomics.store(help.control, FIRST_MARK, 4 * round + 2);
    }),
    // A mark left from an earlier round (a helper late by a round) counts as none: chunk 0
    // holds a stale write and is read here.
    "marks from an earlier round": helperThat((help, round) => {
      Atomics.add(help.control, NEXT, 1);
      Atomics.store(help.control, FIRST_MARK, 4 * (round - 1) + 1);
    }),
    // The message never arrives.
    "never comes": helperThat(() => {}),
  };
  for (const [name, helper] of Object.entries(helpers)) {
    deepStrictEqual(violationsWith(helper), alone, name);
    // Asked when lent, and in each of the two rounds (it was not waiting on the control block).
    strictEqual(helper.posts, 3, `${name}: asked again in each round`);
    strictEqual(helper.ended, 1, `${name}: detach ends the helper`);
  }
});

Deno.test("A poison helper on a Worker waits for the checks, shares them, and ends when detached", async () => {
  const worker = new Worker(new URL("./fixtures/poison_helper_worker.ts", import.meta.url), {
    type: "module",
  });
  const answered = new Promise<number>((resolve) => {
    worker.onmessage = (event: MessageEvent<number>) => resolve(event.data);
  });
  let posts = 0;
  let ended = false;
  const helper: PoisonHelper = {
    post: (help) => {
      posts += 1;
      worker.postMessage(help);
    },
    [Symbol.dispose]() {
      ended = true;
    },
  };
  try {
    deepStrictEqual(violationsWith(helper), violationsWith(undefined));
    // Its wait on the control block ended at the detach: it answered how many chunks it took.
    ok(await answered >= 0);
    ok(ended, "detach ends the helper");
    ok(posts >= 1 && posts <= 3, `${posts} posts`);
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
  strictEqual(posts, 1, "asked when lent, not for 256 KiB of poisoned pages");
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

Deno.test("Free pages too scattered to share (more chunks than the control block holds) are checked alone", () => {
  const memory = new MemoryManager({ budgetBytes: PAGES * PAGE, segmentBytes: PAGE });
  const leases = Array.from({ length: PAGES }, (_, page) => memory.allocate(`page-${page % 2}`, 1));
  const stale = leases[PAGES - 2]!.segments[0]!.bytes;
  // Every other page free: 8 MiB poisoned in 2048 runs of one page.
  for (let page = 0; page < PAGES; page += 2) leases[page]!.release();
  stale[PAGE - 1] = 5;
  let posts = 0;
  memory.attachPoisonHelper({ post: () => void (posts += 1), [Symbol.dispose]() {} });
  try {
    const violations = memory.verifyPoison();
    strictEqual(violations.length, 1);
    ok(violations[0]!.detail.startsWith(`page ${PAGES - 2}, byte ${PAGE - 1} is 0x05`));
    strictEqual(posts, 1, "asked when lent only: no shared round");
  } finally {
    memory.detachPoisonHelper();
    for (let page = 1; page < PAGES; page += 2) leases[page]!.release();
  }
});
