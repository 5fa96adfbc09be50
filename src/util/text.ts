/**
 * Joins outputs in order, adding a line break between two when neither side has one. Linear in the
 * total length: the pieces are joined once, and only the last character of what came before is looked
 * at (asking a growing concatenation whether it ends with "\n" flattens it each time: quadratic).
 */
export function joinOutputs(outputs: readonly string[]): string {
  const parts: string[] = [];
  let endsWithBreak = true; // nothing yet: no break before the first
  let empty = true;
  for (const o of outputs) {
    if (!o) continue;
    if (!empty && !endsWithBreak && o.charCodeAt(0) !== 10) parts.push('\n');
    parts.push(o);
    empty = false;
    endsWithBreak = o.charCodeAt(o.length - 1) === 10;
  }
  return parts.join('');
}
