import { formatBytes, MiB } from "../base/mod.ts";
import { MemoryManager } from "../memory/mod.ts";
import type { Command } from "./command.ts";
import { printOut } from "./output.ts";
import { parseCommandArgs } from "./parse_args.ts";

/**
 * `spillway demo`: a memory self-report (exercises the managed-memory layer end to end).
 */
export const demoCommand: Command = {
  name: "demo",
  summary: "show a memory self-report (allocates, fills and releases a budget of pages)",
  help: `Usage: spillway demo

Allocates a 16 MiB budget of 32 KiB pages, writes and checks every page, releases them and
prints the books of the memory manager, including the leak report (expected: no leaks).`,
  run(argv: readonly string[]): Promise<number> {
    parseCommandArgs("demo", argv, {});
    const memory = new MemoryManager({ budgetBytes: 16 * MiB, leakDetection: "advanced" });
    let checked = 0;
    {
      using lease = memory.allocate("demo", memory.totalPages);
      for (const segment of lease.segments) {
        for (let offset = 0; offset < segment.byteLength; offset += 4) {
          segment.setU32BE(offset, (segment.id * 31 + offset) >>> 0);
        }
      }
      for (const segment of lease.segments) {
        for (let offset = 0; offset < segment.byteLength; offset += 4) {
          if (segment.getU32BE(offset) !== ((segment.id * 31 + offset) >>> 0)) {
            throw new Error(`Page #${segment.id} lost a write at ${offset}`);
          }
          checked += 4;
        }
      }
      printOut(
        `memory: budget ${formatBytes(memory.budgetBytes)}, ${memory.totalPages} pages of ${
          formatBytes(memory.segmentBytes)
        }, ${memory.usedPages} leased to "demo"`,
      );
    }
    const report = memory.leakReport();
    printOut(`checked: ${formatBytes(checked)} written and read back`);
    printOut(`peak: ${memory.peakPages} pages; now leased: ${memory.usedPages}`);
    printOut(`leaks: ${report.text === "" ? "none" : report.text}`);
    memory.assertAllReleased();
    return Promise.resolve(0);
  },
};
