import { strictEqual } from "node:assert/strict";
import { formatDuration, ProgressRenderer } from "../../src/cli/progress.ts";

/** A fake TTY: the screen is what a terminal would show after \r and ESC[K. */
class FakeTerminal {
  raw = "";
  writes = 0;
  write = (text: string): void => {
    this.raw += text;
    this.writes += 1;
  };
  /** The visible current line. */
  get line(): string {
    const afterReturn = this.raw.slice(this.raw.lastIndexOf("\r") + 1);
    return afterReturn.replaceAll("\x1b[K", "");
  }
}

Deno.test("ProgressRenderer shows phase, bytes of total, rate and ETA", () => {
  let clock = 0;
  const tty = new FakeTerminal();
  const progress = new ProgressRenderer({ write: tty.write, now: () => clock });
  progress.phase({ name: "read", totalBytes: 4 * 1024 * 1024 });
  strictEqual(tty.line, "spillway: read  0 B of 4 MiB (0%)");
  clock = 1000;
  progress.advance(1024 * 1024);
  strictEqual(tty.line, "spillway: read  1 MiB of 4 MiB (25%)  1 MiB/s  ETA 3s");
  progress.phase({ name: "merge", pass: 2, passCount: 3, totalBytes: 100 * 1024 });
  clock = 1500;
  progress.advance(50 * 1024);
  strictEqual(tty.line, "spillway: merge pass 2 of 3  50 KiB of 100 KiB (50%)  100 KiB/s  ETA 1s");
  progress.finish();
  strictEqual(tty.raw.endsWith("\r\x1b[K"), true);
  strictEqual(tty.line, "");
  const writes = tty.writes;
  progress.finish(); // idempotent: nothing more to erase
  strictEqual(tty.writes, writes);
});

Deno.test("ProgressRenderer draws at most 10 times per second", () => {
  let clock = 0;
  const tty = new FakeTerminal();
  const progress = new ProgressRenderer({ write: tty.write, now: () => clock });
  progress.phase({ name: "sort" });
  for (let step = 0; step < 10_000; step += 1) {
    clock += 1; // 10 s in 1 ms steps
    progress.advance(10);
  }
  // One draw at the phase start, then one per 100 ms.
  strictEqual(progress.drawCount, 1 + 100);
  strictEqual(tty.line, "spillway: sort  97.7 KiB  9.8 KiB/s");
  progress.finish();
});

Deno.test("ProgressRenderer without redraw writes plain lines and erases nothing", () => {
  let clock = 0;
  const tty = new FakeTerminal();
  const progress = new ProgressRenderer({ write: tty.write, now: () => clock, redraw: false });
  progress.phase({ name: "spill" });
  clock = 200;
  progress.advance(2048);
  progress.finish();
  strictEqual(tty.raw, "spillway: spill  0 B\nspillway: spill  2 KiB  10 KiB/s\n");
});

Deno.test("ProgressRenderer cuts the line to the terminal width and never passes 100%", () => {
  let clock = 0;
  const tty = new FakeTerminal();
  const progress = new ProgressRenderer({ write: tty.write, now: () => clock, columns: 30 });
  progress.phase({ name: "merge", pass: 1, passCount: 1, totalBytes: 10 });
  clock = 100;
  progress.advance(20);
  strictEqual(tty.line, "spillway: merge pass 1 of 1  ");
  strictEqual(tty.line.length, 30 - 1);
  strictEqual(progress.formatLine(clock).includes("(100%)"), true);
  progress.finish();
});

Deno.test("formatDuration rounds up to seconds, minutes and hours", () => {
  strictEqual(formatDuration(0), "0s");
  strictEqual(formatDuration(1), "1s");
  strictEqual(formatDuration(59_000), "59s");
  strictEqual(formatDuration(65_000), "1m05s");
  strictEqual(formatDuration(3_720_000), "1h02m");
});
