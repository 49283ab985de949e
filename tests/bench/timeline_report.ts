// deno-lint-ignore-file no-console
/**
 * Summarizes a run-generation timeline (src/io/timeline.ts): per thread, the busy time by
 * label, the idle time between spans, and the largest idle gaps, from the first span to the
 * start of the merge.
 *
 * Usage:
 *   SPILLWAY_TIMELINE=/tmp/tl deno task spillway sort -S 64m FILE -o OUT
 *   deno run --allow-read tests/bench/timeline_report.ts /tmp/tl [--spans]
 *
 * @module
 */

interface Span {
  thread: string;
  label: string;
  startMs: number;
  endMs: number;
}

const dir = Deno.args[0];
if (dir === undefined) throw new Error("Usage: timeline_report.ts DIR [--spans]");
const spans: Span[] = [];
for (const entry of Deno.readDirSync(dir)) {
  if (!entry.name.endsWith(".tsv")) continue;
  for (const line of Deno.readTextFileSync(`${dir}/${entry.name}`).split("\n")) {
    const [thread, label, start, end] = line.split("\t");
    if (thread === undefined || label === undefined || end === undefined) continue;
    spans.push({ thread, label, startMs: Number(start), endMs: Number(end) });
  }
}
spans.sort((a, b) => a.startMs - b.startMs);
const originMs = Math.min(...spans.filter((s) => s.label === "startup").map((s) => s.startMs));
const merge = spans.find((s) => s.label === "merge");
const endMs = merge?.startMs ?? Math.max(...spans.map((s) => s.endMs));
const fmt = (ms: number): string => ms.toFixed(1).padStart(8);
console.log(`run generation: ${fmt(endMs - originMs)} ms from process start to merge start`);
if (merge !== undefined) console.log(`merge:          ${fmt(merge.endMs - merge.startMs)} ms`);
for (const thread of [...new Set(spans.map((s) => s.thread))]) {
  const own = spans.filter((s) => s.thread === thread && s.label !== "merge");
  const byLabel = new Map<string, { ms: number; count: number }>();
  let busyMs = 0;
  let cursor = originMs;
  const gaps: { fromMs: number; ms: number; before: string }[] = [];
  for (const span of own) {
    const entry = byLabel.get(span.label) ?? { ms: 0, count: 0 };
    entry.ms += span.endMs - span.startMs;
    entry.count += 1;
    byLabel.set(span.label, entry);
    if (span.startMs > cursor) {
      gaps.push({ fromMs: cursor - originMs, ms: span.startMs - cursor, before: span.label });
    }
    busyMs += Math.max(0, Math.min(span.endMs, endMs) - Math.max(span.startMs, cursor));
    cursor = Math.max(cursor, span.endMs);
  }
  const waits = ["wait-worker", "wait-last-spill"];
  let waitMs = 0;
  for (const w of waits) waitMs += byLabel.get(w)?.ms ?? 0;
  const tailMs = endMs - cursor;
  console.log(
    `\n${thread}: busy ${fmt(busyMs - waitMs)} ms, waiting ${fmt(waitMs)} ms, ` +
      `unrecorded gaps ${fmt(gaps.reduce((a, g) => a + g.ms, 0))} ms, idle tail ${
        fmt(Math.max(0, tailMs))
      } ms`,
  );
  for (const [label, { ms, count }] of [...byLabel].sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`  ${label.padEnd(16)} ${fmt(ms)} ms in ${count}`);
  }
  const largest = gaps.sort((a, b) => b.ms - a.ms).slice(0, 6);
  for (const gap of largest) {
    console.log(`  gap at ${fmt(gap.fromMs)} ms: ${fmt(gap.ms)} ms before ${gap.before}`);
  }
}
if (Deno.args.includes("--spans")) {
  // Per-block spans (gather, write) are shown merged into one span per stretch.
  const shown: Span[] = [];
  for (const span of spans) {
    const blockLabel = span.label === "gather" || span.label === "write";
    const previous = shown.findLast((s) => s.thread === span.thread);
    if (
      blockLabel && previous !== undefined && previous.label === "gather+write" &&
      span.startMs - previous.endMs < 1
    ) {
      previous.endMs = span.endMs;
      continue;
    }
    shown.push(blockLabel ? { ...span, label: "gather+write" } : { ...span });
  }
  console.log("");
  for (const span of shown) {
    console.log(
      `${span.thread.padEnd(12)} ${span.label.padEnd(16)} ${fmt(span.startMs - originMs)} ${
        fmt(span.endMs - originMs)
      }`,
    );
  }
}
