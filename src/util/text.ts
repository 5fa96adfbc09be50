/** Joins outputs in order, adding a line break between two when neither side has one. */
export function joinOutputs(outputs: readonly string[]): string {
  let out = '';
  for (const o of outputs) {
    if (out && !out.endsWith('\n') && o && !o.startsWith('\n')) out += '\n';
    out += o;
  }
  return out;
}
