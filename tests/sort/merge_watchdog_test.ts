import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { MergeWatchdog } from "../../src/sort/merge_watchdog.ts";

const OPTIONS = {
  silenceMsMax: 60_000,
  bootMsMax: 10_000,
  intervalMs: 1_000,
  warnMs: 10_000,
  startMs: 0,
};

Deno.test("MergeWatchdog fails a Worker silent past the limit while this thread waits on nothing", () => {
  const watchdog = new MergeWatchdog(OPTIONS);
  watchdog.heard(0);
  let failedAt = -1;
  for (let nowMs = 1_000; nowMs <= 70_000 && failedAt < 0; nowMs += 1_000) {
    if (watchdog.tick(nowMs, false).failed) failedAt = nowMs;
  }
  strictEqual(failedAt, 61_000);
});

Deno.test("MergeWatchdog gives a Worker that has not spoken yet its boot time too", () => {
  const watchdog = new MergeWatchdog(OPTIONS);
  let failedAt = -1;
  for (let nowMs = 1_000; nowMs <= 80_000 && failedAt < 0; nowMs += 1_000) {
    if (watchdog.tick(nowMs, false).failed) failedAt = nowMs;
  }
  strictEqual(failedAt, 71_000);
});

Deno.test("MergeWatchdog does not count a hold-up of this thread as the Worker's silence", () => {
  // The event loop was held up for 69 s (the machine stalled every thread): the Worker's
  // messages of that time wait unread, and this tick may run before them. It must not fail.
  const watchdog = new MergeWatchdog(OPTIONS);
  watchdog.heard(500);
  deepStrictEqual(watchdog.tick(1_000, false), {
    silentMs: 500,
    heldUpMs: 0,
    failed: false,
    warning: undefined,
  });
  deepStrictEqual(watchdog.tick(71_000, false), {
    silentMs: 1_500,
    heldUpMs: 69_000,
    failed: false,
    warning: "held-up",
  });
  // The queued messages come in next; a Worker silent after the hold-up still fails in time.
  watchdog.heard(71_010);
  let failedAt = -1;
  for (let nowMs = 72_000; nowMs <= 140_000 && failedAt < 0; nowMs += 1_000) {
    const tick = watchdog.tick(nowMs, false);
    if (tick.failed) failedAt = nowMs;
    strictEqual(tick.heldUpMs, 0);
  }
  strictEqual(failedAt, 132_000);
});

Deno.test("MergeWatchdog warns once of a silence from warnMs, and never while this thread is busy", () => {
  const watchdog = new MergeWatchdog(OPTIONS);
  watchdog.heard(0);
  const warnings: Array<[number, string]> = [];
  for (let nowMs = 1_000; nowMs <= 30_000; nowMs += 1_000) {
    // Busy (an output write pending) for the first 15 s: the Worker may wait on this thread.
    const tick = watchdog.tick(nowMs, nowMs <= 15_000);
    if (tick.warning !== undefined) warnings.push([nowMs, tick.warning]);
  }
  deepStrictEqual(warnings, [[25_000, "silent"]]);
});

Deno.test("MergeWatchdog warns once of hold-ups of this thread", () => {
  const watchdog = new MergeWatchdog(OPTIONS);
  watchdog.heard(0);
  strictEqual(watchdog.tick(1_000, true).warning, undefined);
  strictEqual(watchdog.tick(10_500, true).warning, undefined); // held up 8.5 s: below warnMs
  const late = watchdog.tick(22_000, true);
  strictEqual(late.warning, "held-up");
  strictEqual(late.heldUpMs, 10_500);
  strictEqual(watchdog.tick(40_000, true).warning, undefined);
});

Deno.test("MergeWatchdog does not warn of a hold-up in an output write (a slow reader)", () => {
  const watchdog = new MergeWatchdog(OPTIONS);
  watchdog.heard(0);
  const late = watchdog.tick(22_000, false, true);
  strictEqual(late.warning, undefined);
  strictEqual(late.failed, false);
  // A later hold-up that no write explains still warns.
  strictEqual(watchdog.tick(45_000, false).warning, "held-up");
});
