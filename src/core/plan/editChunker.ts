/**
 * Chunks for edit runs (#15). Each chunk's span is `[leading context][editable part][trailing context]`:
 * the editable parts of a file never overlap and tile it exactly (joining them gives the file byte for
 * byte), every cut is at a line end (after a blank line when one is near), and the read-only context
 * around a part is whole lines, up to `overlapTokens` on each side. A chunk's `tokens` count its whole
 * span, which is at most `chunkTokens`. A file with one line over the budget cannot be edited in parts.
 */
import type { Tokenizer } from './tokenizer';
import type { Chunk, SourceFile } from './types';
import { lineAt } from '../../util/text';

export interface EditChunkOptions {
  /** Most tokens in one chunk's span (contexts included). */
  chunkTokens: number;
  /** Most tokens of read-only context on each side of an editable part (capped at a quarter of `chunkTokens`). */
  overlapTokens: number;
}

/** A file's edit chunks, or why it cannot be edited in parts (nothing is sent for it). */
export type EditChunking = { chunks: Chunk[]; skipped?: undefined } | { chunks?: undefined; skipped: string };

/** The editable part of an edit chunk's text (`overlap` chars of leading context, `trailing` of trailing context). */
export function editableOf(chunk: Pick<Chunk, 'text' | 'overlap' | 'trailing'>): string {
  return chunk.text.slice(chunk.overlap, chunk.text.length - (chunk.trailing ?? 0));
}

/** Offsets where lines start: `[0, …]`, each line ending after its "\n" (the last at the end of the text). */
function lineStarts(text: string): number[] {
  const out = [0];
  for (let i = text.indexOf('\n'); i !== -1 && i + 1 < text.length; i = text.indexOf('\n', i + 1)) out.push(i + 1);
  return out;
}

function isBlankLine(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return false;
  }
  return true;
}

/**
 * Edit chunks of `file`, ids `${fileIndex + 1}.${index + 1}` (see the module comment). An empty file gives
 * no chunk. Linear in the file (one count per line, one per chunk span).
 */
export function chunkFileForEdit(file: SourceFile, fileIndex: number, tokenizer: Tokenizer, options: EditChunkOptions): EditChunking {
  const text = file.text;
  if (text.length === 0) return { chunks: [] };
  const budget = options.chunkTokens;
  const ctx = Math.max(0, Math.min(options.overlapTokens, Math.floor(budget / 4)));
  const starts = lineStarts(text);
  const n = starts.length;
  const at = (i: number) => (i < n ? starts[i] : text.length);
  const cum = [0];
  for (let i = 0; i < n; i++) {
    const t = tokenizer.count(text.slice(at(i), at(i + 1)));
    if (t > budget) {
      return { skipped: `line ${i + 1} alone has ${t} tokens, over the chunk budget of ${budget} (minified code?): a file with such a line cannot be edited in parts` };
    }
    cum.push(cum[i] + t);
  }
  const sum = (a: number, b: number) => cum[b] - cum[a];
  const chunks: Chunk[] = [];
  const emit = (lead: number, a: number, b: number, trail: number, tokens: number): void => {
    const start = at(lead);
    const end = at(trail);
    chunks.push({
      id: `${fileIndex + 1}.${chunks.length + 1}`,
      path: file.path,
      index: chunks.length,
      start,
      end,
      startLine: lead + 1,
      endLine: lineAt(starts, end - 1),
      overlap: at(a) - start,
      trailing: end - at(b),
      tokens,
      text: start === 0 && end === text.length ? text : text.slice(start, end),
    });
  };
  if (cum[n] <= budget) {
    const tokens = tokenizer.count(text);
    if (tokens <= budget) {
      emit(0, 0, n, n, tokens);
      return { chunks };
    }
  }
  const editBudget = Math.max(1, budget - 2 * ctx);
  for (let a = 0; a < n;) {
    // The longest part from `a` that fits the editable budget (a single line always goes alone).
    let b = a + 1;
    while (b < n && sum(a, b + 1) <= editBudget) b++;
    if (b < n) {
      // Prefer ending after a blank line in the later half of the part.
      const half = cum[a] + sum(a, b) / 2;
      for (let k = b; k > a + 1 && cum[k] >= half; k--) {
        if (isBlankLine(text, at(k - 1), at(k))) {
          b = k;
          break;
        }
      }
    }
    for (;;) {
      let lead = a;
      while (lead > 0 && sum(lead - 1, a) <= Math.min(ctx, budget - sum(a, b))) lead--;
      let trail = b;
      while (trail < n && sum(trail, trail + 1) + sum(lead, trail) <= budget && sum(b, trail + 1) <= ctx) trail++;
      // Counts of lines joined may differ from their sum by a few merged tokens: give up context, then lines, until the span fits.
      let tokens = tokenizer.count(text.slice(at(lead), at(trail)));
      while (tokens > budget && trail > b) tokens = tokenizer.count(text.slice(at(lead), at(--trail)));
      while (tokens > budget && lead < a) tokens = tokenizer.count(text.slice(at(++lead), at(trail)));
      // One line alone is within the budget (checked above), so this ends.
      if (tokens <= budget || b - a === 1) {
        emit(lead, a, b, trail, tokens);
        break;
      }
      b--;
    }
    a = b;
  }
  return { chunks };
}

/**
 * Splits an edit chunk that overflowed (its request, or its reply at the output limit) in two at a line
 * end of its editable part near the token midpoint (after a blank line when one is in the middle half).
 * The first keeps the leading context and gets the next lines as trailing context; the second gets the
 * last lines of the first part as leading context and keeps the trailing context, each context up to the
 * larger of the original's two. Ids `${id}a`, `${id}b`; their editable parts join to the original's.
 * @throws RangeError when the editable part is a single line (it cannot be cut at a line end).
 */
export function splitEditChunk(chunk: Chunk, tokenizer: Tokenizer): [Chunk, Chunk] {
  const text = chunk.text;
  const trailing = chunk.trailing ?? 0;
  const eStart = chunk.overlap;
  const eEnd = text.length - trailing;
  // Line starts within the span, at or after eStart and before eEnd (candidate cuts besides eStart).
  const cuts: number[] = [];
  for (let i = text.indexOf('\n', eStart); i !== -1 && i + 1 < eEnd; i = text.indexOf('\n', i + 1)) cuts.push(i + 1);
  if (cuts.length === 0) {
    throw new RangeError(`chunk ${chunk.id}'s editable part is a single line (lines ${chunk.startLine}-${chunk.endLine}): it cannot be split at a line end to fit the model; pick a model with a larger context window or output limit`);
  }
  const total = tokenizer.count(text.slice(eStart, eEnd));
  let cut = cuts[0];
  let score = -Infinity;
  for (const k of cuts) {
    const before = tokenizer.count(text.slice(eStart, k));
    const distance = Math.abs(before - total / 2);
    const prevLine = text.lastIndexOf('\n', k - 2) + 1;
    const blank = isBlankLine(text, prevLine, k) && distance <= total / 4;
    const s = (blank ? total : 0) - distance;
    if (s > score) {
      score = s;
      cut = k;
    }
  }
  const ctx = Math.max(tokenizer.count(text.slice(0, eStart)), tokenizer.count(text.slice(eEnd)));
  // Trailing context of the first part: whole lines from `cut`, up to ctx tokens.
  let aEnd = cut;
  for (let i = text.indexOf('\n', cut); ; i = text.indexOf('\n', i + 1)) {
    const next = i === -1 ? text.length : i + 1;
    if (next <= aEnd || tokenizer.count(text.slice(cut, next)) > ctx) break;
    aEnd = next;
    if (i === -1) break;
  }
  // Leading context of the second part: whole lines before `cut`, up to ctx tokens.
  let bStart = cut;
  while (bStart > 0) {
    const prev = text.lastIndexOf('\n', bStart - 2) + 1;
    if (tokenizer.count(text.slice(prev, cut)) > ctx) break;
    bStart = prev;
  }
  const lineAt = (offset: number): number => {
    let k = chunk.startLine;
    for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) k++;
    return k;
  };
  const headText = text.slice(0, aEnd);
  const tailText = text.slice(bStart);
  return [
    { ...chunk, id: `${chunk.id}a`, end: chunk.start + aEnd, endLine: lineAt(aEnd - 1), overlap: eStart, trailing: aEnd - cut, tokens: tokenizer.count(headText), text: headText },
    { ...chunk, id: `${chunk.id}b`, start: chunk.start + bStart, startLine: lineAt(bStart), overlap: cut - bStart, trailing, tokens: tokenizer.count(tailText), text: tailText },
  ];
}
