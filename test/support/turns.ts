/** Lets queued promise callbacks and I/O callbacks run for `turns` event-loop turns (turns, never time). */
export async function settle(turns = 50): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
