import { ok } from "node:assert/strict";
import { CPU_IDLE_WINDOW_MIN_MS, idleCoresSinceStart } from "../../src/cli/cpu_idle.ts";

Deno.test("idleCoresSinceStart measures a window of the CPU counters once it is long enough", async () => {
  await new Promise((resolve) => setTimeout(resolve, CPU_IDLE_WINDOW_MIN_MS + 30));
  const idle = idleCoresSinceStart(2);
  ok(typeof idle === "number", `a number after the window, got ${idle}`);
  ok(idle >= 0 && idle <= 2, `between 0 and the cores, got ${idle}`);
});
