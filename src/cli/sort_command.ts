import { ExitCode } from "../base/mod.ts";
import { CommandScope } from "../job/mod.ts";
import { createScratchFile, holdLibc, type IoManager, removeScratchFile } from "../io/mod.ts";
import {
  checkSorted,
  debugRecord,
  debugWarnings,
  externalSort,
  LineCursor,
  orderFromDescriptor,
  parseSortOrder,
} from "../sort/mod.ts";
import type { Command, CommandContext } from "./command.ts";
import { renderHelp } from "./option_spec.ts";
import { printErrorBytes } from "./output.ts";
import { mergeStallSeam, warnMergeStall } from "./merge_stall.ts";
import { parseSortArgs, type SortRequest } from "./sort_args.ts";
import { sortSpec } from "./sort_spec.ts";
import { CommandReport } from "./stats_report.ts";

/** `spillway sort`: GNU-compatible byte-order sort inside a memory budget. */
export const sortCommand: Command = {
  name: "sort",
  summary: sortSpec.summary,
  get help(): string {
    return renderHelp(sortSpec);
  },
  spec: sortSpec,
  async run(argv: readonly string[], context?: CommandContext): Promise<number> {
    // Parsing counts the free file descriptors through libc and the scope holds libc: one load
    // for both (a load builds a call stub per symbol, ~3 ms).
    using _libc = holdLibc();
    const { request, values } = parseSortArgs(argv);
    await using scope = await CommandScope.open({
      ...request,
      lazyTmpDirs: true,
      report: CommandReport.start("sort", values),
    });
    await scope.report.checkTargets(request.check === undefined ? request.output : undefined);
    const { memory, io } = scope;
    const order = orderFromDescriptor(request.descriptor);
    if (request.check !== undefined) {
      const input = request.inputs[0]!;
      const disorder = await checkSorted(input, {
        memory,
        io,
        order,
        unique: request.unique,
        terminator: request.terminator,
        ...(request.recordBytes === undefined ? {} : { recordBytes: request.recordBytes }),
      });
      if (disorder === undefined) return await scope.finish(ExitCode.ok);
      if (request.check === "diagnose") {
        const head = new TextEncoder().encode(
          `spillway: ${input}:${disorder.lineNumber}: disorder: `,
        );
        const line = request.recordBytes === undefined
          ? disorder.record
          : new TextEncoder().encode(`record ${disorder.lineNumber}`);
        printErrorBytes(head, line, new Uint8Array([10]));
      }
      return await scope.finish(ExitCode.disorder);
    }
    const scratch = request.debug ? createScratchFile() : undefined;
    if (request.debug) printDebugWarnings(request);
    // A merge reads its inputs while it writes: an input that is the output is copied first.
    const inputs = request.merge && scratch === undefined
      ? await io.protectInputs(request.inputs, request.output)
      : request.inputs;
    const stats = await externalSort(inputs, scratch ?? request.output, {
      memory,
      io,
      order,
      orderDescriptor: request.descriptor,
      unique: request.unique,
      terminator: request.terminator,
      fanInMax: request.fanInMax,
      mergeOnly: request.merge,
      useWorker: !request.singleThread,
      ...placedMergeSeam(),
      onMergeStall: (message: string) => warnMergeStall(message, context?.step),
      ...mergeStallSeam(),
      progress: scope.report.progress,
      ...(request.recordBytes === undefined ? {} : { recordBytes: request.recordBytes }),
    });
    if (scratch !== undefined) {
      try {
        await writeDebugOutput(scratch, request, io);
      } finally {
        removeScratchFile(scratch);
      }
    }
    const s = scope.report.stats;
    s.memory.budgetRequestedBytes = request.budgetRequestedBytes;
    s.input.files = request.inputs.length;
    s.input.bytes = stats.inputBytes;
    s.input.records = stats.inputRecords;
    s.output.records = stats.outputRecords;
    s.spill.runs = stats.runCount;
    s.spill.mergePasses = stats.mergePasses;
    return await scope.finish(ExitCode.ok);
  },
};

/**
 * Test seam (docs/stats.md): `SPILLWAY_TEST_PLACED_MERGE_BYTES=N` runs the placed final merge
 * from N bytes to merge on (in 8 ranges), so that small inputs take it.
 */
function placedMergeSeam(): { placedMerge?: { rangeCount: number; bytesMin: number } } {
  const text = Deno.env.get("SPILLWAY_TEST_PLACED_MERGE_BYTES");
  const bytesMin = text === undefined ? NaN : Number(text);
  return Number.isSafeInteger(bytesMin) && bytesMin >= 0
    ? { placedMerge: { rangeCount: 8, bytesMin } }
    : {};
}

/** `--debug`: GNU's warnings about the keys, before sorting. */
function printDebugWarnings(request: SortRequest): void {
  if (request.descriptor.kind !== "spec") return;
  const order = parseSortOrder(request.descriptor.spec);
  const text = debugWarnings(order, request.obsoleteKeys).map((line) => `spillway: ${line}\n`)
    .join("");
  printErrorBytes(new TextEncoder().encode(text));
}

/** `--debug`: copies the sorted scratch file to stdout with GNU's key underlines. */
async function writeDebugOutput(path: string, request: SortRequest, io: IoManager): Promise<void> {
  if (request.descriptor.kind !== "spec") return;
  const order = parseSortOrder(request.descriptor.spec);
  const reader = await io.openInput(path, {
    owner: "debug-output",
    terminator: request.terminator,
    chunkSegments: 1,
  });
  const cursor = new LineCursor(reader, request.terminator, { inputBytes: 0, inputRecords: 0 });
  try {
    while (await cursor.next()) {
      const bytes = debugRecord(
        order,
        cursor.recordBytes,
        cursor.recordOffset,
        cursor.recordLength,
      );
      let written = 0;
      while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
    }
  } finally {
    await cursor.close();
  }
}
