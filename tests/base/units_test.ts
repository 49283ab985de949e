import { strictEqual, throws } from "node:assert/strict";
import { formatBytes, GiB, KiB, MiB, parseByteSize } from "../../src/base/mod.ts";

Deno.test("parseByteSize reads Flink's syntax", () => {
  strictEqual(parseByteSize("64m"), 64 * MiB);
  strictEqual(parseByteSize("64 mb"), 64 * MiB);
  strictEqual(parseByteSize("1g"), GiB);
  strictEqual(parseByteSize("32kb"), 32 * KiB);
  strictEqual(parseByteSize("1024"), 1024);
  strictEqual(parseByteSize("64MiB"), 64 * MiB);
  strictEqual(parseByteSize("64M"), 64 * MiB);
  strictEqual(parseByteSize("1 gb"), GiB);
  strictEqual(parseByteSize("100b"), 100);
});

Deno.test("parseByteSize reads a bare number in the unit asked for", () => {
  strictEqual(parseByteSize("64", { bareUnitBytes: KiB }), 64 * KiB);
  strictEqual(parseByteSize("64"), 64);
});

Deno.test("parseByteSize rejects bad sizes with a clear error", () => {
  throws(() => parseByteSize("64q"), {
    name: "SyntaxError",
    message: 'Invalid size "64q": unknown unit "q"; use b, k, m, g or t (e.g. 64m, 1g, 64MiB)',
  });
  throws(() => parseByteSize("0"), /Invalid size "0": must be at least 1 byte/);
  throws(() => parseByteSize("-5"), /Invalid size "-5": expected a positive number/);
  throws(() => parseByteSize("1.5.3"), /Invalid size "1.5.3"/);
  // Fractions are refused, as GNU sort and Flink refuse them (not rounded to whole bytes).
  throws(() => parseByteSize("1.5k"), {
    name: "SyntaxError",
    message:
      'Invalid size "1.5k": a fraction is not a size; use a whole number in a smaller unit (e.g. 1536k for 1.5m)',
  });
  throws(() => parseByteSize("1.5", { what: "taskmanager.memory.managed.size" }), /fraction/);
  throws(() => parseByteSize(""), /Invalid size ""/);
  throws(() => parseByteSize("m"), /Invalid size "m"/);
  throws(
    () => parseByteSize("5m", { what: "--memory" }) && parseByteSize("x", { what: "--memory" }),
    /Invalid --memory "x"/,
  );
});

Deno.test("formatBytes prints binary units", () => {
  strictEqual(formatBytes(512), "512 B");
  strictEqual(formatBytes(32 * KiB), "32 KiB");
  strictEqual(formatBytes(1.5 * GiB), "1.5 GiB");
});
