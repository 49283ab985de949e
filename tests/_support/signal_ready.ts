/**
 * Waits until process `pid` catches `signal` (Linux: the signal's bit in `SigCgt` of
 * /proc/PID/status), that is, until spillway has installed its listener. A fixed delay before
 * sending the signal races with startup on a loaded machine: a signal sent before the
 * listener exists kills the child outright, and the test would fail for the wrong reason.
 * Resolves `false` after `timeoutMs` (or off Linux), so the caller's assertions still decide.
 */
export async function waitForSignalHandler(
  pid: number,
  signal: "SIGINT" | "SIGTERM",
  timeoutMs = 15_000,
): Promise<boolean> {
  const bit = 1n << BigInt((signal === "SIGINT" ? 2 : 15) - 1);
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    let status: string;
    try {
      status = await Deno.readTextFile(`/proc/${pid}/status`);
    } catch {
      return false; // exited, or no /proc
    }
    const caught = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    if (caught !== undefined && (BigInt(`0x${caught}`) & bit) !== 0n) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}
