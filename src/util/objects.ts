/**
 * `o` without its entries whose value is undefined (an override left out keeps the recorded value; a
 * record written to run.json carries no empty keys).
 */
export function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
