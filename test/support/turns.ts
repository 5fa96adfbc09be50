/** Lets queued promise callbacks and I/O callbacks run for `turns` event-loop turns (turns, never time). */
export async function settle(turns = 50): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Waits, a turn at a time, until `condition()` holds: for a step that waits on I/O (a write to disk),
 * which a count of turns cannot bound on a busy machine. `guardMs` only stops a hang.
 */
export async function turnsUntil(condition: () => boolean, what: string, guardMs = 30_000): Promise<void> {
  const deadline = Date.now() + guardMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`hang guard: still waiting for ${what} after ${guardMs} ms`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
