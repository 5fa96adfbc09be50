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

/**
 * 1-based lines of offsets (the line of the character at the offset), asked mostly in increasing order:
 * line breaks are counted forward from the last offset asked, with no table of line starts (a million
 * entries for a large corpus). An offset before the last one makes the table once, and binary search
 * answers from then on: never more than one pass plus a table, whatever order the offsets come in.
 */
export class LineCursor {
  private offset = 0;
  private line = 1;
  private starts: number[] | undefined;

  constructor(private readonly text: string) {}

  lineOf(offset: number): number {
    if (offset < this.offset || this.starts) return this.search(offset);
    for (let i = this.text.indexOf('\n', this.offset); i !== -1 && i < offset; i = this.text.indexOf('\n', i + 1)) this.line++;
    this.offset = offset;
    return this.line;
  }

  private search(offset: number): number {
    return lineAt((this.starts ??= lineStarts(this.text)), offset);
  }
}

/** 1-based line of the character at `offset`, given the offsets where lines start (`starts[0]` is 0): a binary search. */
export function lineAt(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}
