import { ExitCode } from "../base/mod.ts";
import { CommandScope } from "../job/mod.ts";
import { checkSorted, externalSort, orderFromDescriptor } from "../sort/mod.ts";
import type { Command } from "./command.ts";
import { renderHelp } from "./option_spec.ts";
import { printErrorBytes } from "./output.ts";
import { parseSortArgs } from "./sort_args.ts";
import { sortSpec } from "./sort_spec.ts";
import { CommandReport } from "./stats_report.ts";

/** `spillway sort`: GNU-compatible byte-order sort inside a memory budget. */
export const sortCommand: Command = {
  name: "sort",
  summary: sortSpec.summary,
  help: renderHelp(sortSpec),
  spec: sortSpec,
  async run(argv: readonly string[]): Promise<number> {
    const { request, values } = parseSortArgs(argv);
    await using scope = await CommandScope.open({
      ...request,
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
    const stats = await externalSort(request.inputs, request.output, {
      memory,
      io,
      order,
      orderDescriptor: request.descriptor,
      unique: request.unique,
      terminator: request.terminator,
      fanInMax: request.fanInMax,
      mergeOnly: request.merge,
      progress: scope.report.progress,
      ...(request.recordBytes === undefined ? {} : { recordBytes: request.recordBytes }),
    });
    const s = scope.report.stats;
    s.input.files = request.inputs.length;
    s.input.bytes = stats.inputBytes;
    s.input.records = stats.inputRecords;
    s.output.records = stats.outputRecords;
    s.spill.runs = stats.runCount;
    s.spill.mergePasses = stats.mergePasses;
    return await scope.finish(ExitCode.ok);
  },
};
