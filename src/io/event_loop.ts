/**
 * Keeps the event loop turning during long synchronous stretches, so that a SIGINT or SIGTERM
 * listener runs within ~100 ms.
 *
 * Spillway's hot loops read and write with synchronous calls behind resolved promises: fast, but
 * a promise continuation never lets the event loop poll its signal ops, so a signal could wait
 * for the whole input to be read (and be dropped when the listeners are removed at the end, so
 * the run exited 0). Every block-sized I/O call asks {@linkcode loopTurnDue}; when the loop has
 * not turned for {@linkcode LOOP_TURN_INTERVAL_MS}, it gets a promise that resolves after one
 * turn (a MessageChannel round trip, ~0.3 ms; `setTimeout(0)` took several ms under load).
 * A heartbeat timer, running while an IoManager with signal handlers is open, notes the turns
 * that happen anyway (awaiting a Worker, async I/O), so a loop that turns by itself is never made
 * to. Without such a manager (in a Worker) nothing is due: no turns are forced.
 */

/** How long the event loop may go without a turn while I/O goes on. */
export const LOOP_TURN_INTERVAL_MS = 40;

let users = 0;
let heartbeat: ReturnType<typeof setInterval> | undefined;
let channel: MessageChannel | undefined;
let waiting: Array<() => void> = [];
let lastTurnMs = 0;

function onTurn(): void {
  lastTurnMs = performance.now();
  const resolvers = waiting;
  waiting = [];
  for (const resolve of resolvers) resolve();
}

/** Starts the heartbeat (reference counted: one per open IoManager with signal handlers). */
export function startLoopWatch(): void {
  users += 1;
  if (users > 1) return;
  lastTurnMs = performance.now();
  const timer = setInterval(() => {
    lastTurnMs = performance.now();
  }, LOOP_TURN_INTERVAL_MS / 2);
  Deno.unrefTimer(timer);
  heartbeat = timer;
}

/** Stops the heartbeat after its last user. */
export function stopLoopWatch(): void {
  if (users === 0) return;
  users -= 1;
  if (users > 0) return;
  if (heartbeat !== undefined) clearInterval(heartbeat);
  heartbeat = undefined;
  onTurn();
  channel?.port1.close();
  channel?.port2.close();
  channel = undefined;
}

/** A promise that resolves after the event loop turned once. */
export function loopTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (waiting.length > 1) return;
    if (channel === undefined) {
      channel = new MessageChannel();
      channel.port1.onmessage = onTurn;
    }
    channel.port2.postMessage(0);
  });
}

/**
 * A turn of the event loop when one is due (no turn for {@linkcode LOOP_TURN_INTERVAL_MS}
 * while a watch runs), else undefined. Call it once per block, not per record.
 */
export function loopTurnDue(): Promise<void> | undefined {
  if (users === 0 || performance.now() - lastTurnMs < LOOP_TURN_INTERVAL_MS) return undefined;
  return loopTurn();
}
