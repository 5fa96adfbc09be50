/**
 * Cuts a file into token-bounded, overlapping, lossless chunks.
 *
 * Works on the tokenizer's segments (lines, or pieces of long lines): a file is segmented once, each
 * segment counted once, and chunks end only at segment ends, so a chunk's count is the sum of its
 * segments' counts (exactly `tokenizer.count(chunk.text)`). Linear in the file's length.
 */
import { CutKind, cutKind, nextCut, segmentCounter, type Tokenizer } from './tokenizer';
import { lineNumberTokens } from './protocol';
import type { Chunk, SourceFile } from './types';
import { LineCursor } from '../../util/text';

/** Budget of one chunk. */
export interface ChunkOptions {
  /** Most tokens in one chunk, overlap included (at least `MIN_CHUNK_TOKENS`). */
  chunkTokens: number;
  /** Most tokens a chunk repeats from the end of the previous one (capped at half of `chunkTokens`). */
  overlapTokens: number;
  /**
   * Lines are sent with their numbers (the `findings` kind): every line's prefix counts against the
   * budget, so a chunk as sent holds at most `chunkTokens` tokens.
   */
  lineNumbers?: boolean;
}

export const DEFAULT_CHUNK_OPTIONS: Readonly<ChunkOptions> = Object.freeze({ chunkTokens: 8192, overlapTokens: 100 });

/** Smallest accepted `chunkTokens`: any single character (at most 4 UTF-8 bytes, so 4 tokens) fits. */
export const MIN_CHUNK_TOKENS = 8;

const LF = 10;
const CR = 13;

/**
 * Chunks of `file`, in order, with ids `${fileIndex + 1}.${index + 1}`.
 * Each holds at most `chunkTokens` tokens; each after the first starts with whole segments (up to
 * `overlapTokens` tokens) repeating the end of the previous one. Joining the chunks without their
 * overlaps gives the text back exactly. An empty file gives no chunk.
 * @throws RangeError when `chunkTokens` < `MIN_CHUNK_TOKENS` or `overlapTokens` < 0.
 */
export function chunkFile(file: SourceFile, fileIndex: number, tokenizer: Tokenizer, options: ChunkOptions): Chunk[] {
  if (!Number.isInteger(options.chunkTokens) || options.chunkTokens < MIN_CHUNK_TOKENS) {
    throw new RangeError(`chunkTokens must be an integer >= ${MIN_CHUNK_TOKENS}, got ${options.chunkTokens}`);
  }
  if (!Number.isInteger(options.overlapTokens) || options.overlapTokens < 0) {
    throw new RangeError(`overlapTokens must be a non-negative integer, got ${options.overlapTokens}`);
  }
  const text = file.text;
  const chunks: Chunk[] = [];
  if (text.length === 0) return chunks;
  // Numbered lines: a chunk that starts inside a line gets that line's prefix too, so the widest
  // prefix is held back from the budget and added to such a chunk's count.
  const numbered = options.lineNumbers === true;
  const widest = numbered ? lineNumberTokens(countLines(text), 1, tokenizer) : 0;
  const budget = Math.max(MIN_CHUNK_TOKENS, options.chunkTokens - widest);
  // Overlap at most half the budget, so every chunk has room for new text.
  const maxOverlap = Math.min(options.overlapTokens, Math.floor(budget / 2));

  // Segment i is text[pos[i], pos[i + 1]), ends with a cut of kind kinds[i], and cum[i] tokens precede it.
  const pos = [0];
  const cum = [0];
  const kinds: CutKind[] = [];
  const countSegment = segmentCounter(tokenizer);
  let line = 1;
  for (let start = 0; start < text.length;) {
    const end = nextCut(text, start);
    kinds.push(cutKind(text, start, end));
    // Every line that starts in this segment costs its number's prefix (a segment may hold several blank lines).
    let prefix = 0;
    if (numbered) {
      if (start === 0 || text.charCodeAt(start - 1) === LF) prefix += lineNumberTokens(line, 1, tokenizer);
      for (let i = text.indexOf('\n', start); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) {
        line++;
        if (i + 1 < end) prefix += lineNumberTokens(line, 1, tokenizer);
      }
    }
    cum.push(cum[cum.length - 1] + prefix + countSegment(text, start, end));
    pos.push(end);
    start = end;
  }
  const n = kinds.length;

  // Starts and last characters each come in increasing order: a cursor for each.
  const starts = new LineCursor(text);
  const ends = new LineCursor(text);
  const emit = (start: number, end: number, overlap: number, tokens: number, prefixCounted = true): void => {
    const index = chunks.length;
    const startLine = starts.lineOf(start);
    const midLine = start > 0 && text.charCodeAt(start - 1) !== LF;
    chunks.push({
      id: `${fileIndex + 1}.${index + 1}`,
      path: file.path,
      index,
      start,
      end,
      startLine,
      endLine: ends.lineOf(end - 1),
      overlap,
      tokens: numbered && (midLine || !prefixCounted) ? tokens + lineNumberTokens(startLine, 1, tokenizer) : tokens,
      text: start === 0 && end === text.length ? text : text.slice(start, end),
    });
  };

  let first = 0; // first segment of the next chunk, overlap included
  let fresh = 0; // first segment of its new text
  while (fresh < n) {
    // Give up overlap until the first new segment fits.
    while (first < fresh && cum[fresh + 1] - cum[first] > budget) first++;
    if (cum[fresh + 1] - cum[first] > budget) {
      splitOversizeSegment(text, pos[fresh], pos[fresh + 1], tokenizer, budget, emit);
      first = fresh = fresh + 1;
      continue;
    }
    const base = cum[first];
    if (cum[n] - base <= budget) {
      emit(pos[first], text.length, pos[fresh] - pos[first], cum[n] - base);
      break;
    }
    const limit = lastFitting(cum, base + budget, fresh + 1, n);
    const cut = bestCut(kinds, cum, fresh, limit);
    emit(pos[first], pos[cut], pos[fresh] - pos[first], cum[cut] - base);
    // The next chunk repeats whole segments from the end of this one.
    let overlapFrom = cut;
    while (overlapFrom > first && cum[cut] - cum[overlapFrom - 1] <= maxOverlap) overlapFrom--;
    first = overlapFrom;
    fresh = cut;
  }
  return chunks;
}

function countLines(text: string): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Largest j in [lo, hi] with cum[j] <= limit (cum is increasing and cum[lo] <= limit). */
function lastFitting(cum: readonly number[], limit: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (cum[mid] <= limit) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Segment boundary in (fresh, limit] to end a chunk at: the best kind among those in the later half
 * of the new text (so chunks are not tiny), the latest of that kind.
 */
function bestCut(kinds: readonly CutKind[], cum: readonly number[], fresh: number, limit: number): number {
  const half = cum[fresh] + (cum[limit] - cum[fresh]) / 2;
  let cut = limit;
  let best = kinds[limit - 1];
  for (let k = limit - 1; k > fresh && cum[k] >= half && best < CutKind.BlankLine; k--) {
    if (kinds[k - 1] > best) {
      best = kinds[k - 1];
      cut = k;
    }
  }
  return cut;
}

/**
 * Emits `text[start, end)` (one segment over the budget, only with tiny budgets) as several chunks
 * without overlap, cut between characters (never inside a surrogate pair or CRLF), preferring a
 * cut before whitespace. Counts are taken with `tokenizer.count` directly: pieces of a segment do not
 * line up with segment boundaries.
 */
function splitOversizeSegment(
  text: string, start: number, end: number, tokenizer: Tokenizer, budget: number,
  emit: (start: number, end: number, overlap: number, tokens: number, prefixCounted: boolean) => void,
): void {
  const fits = (from: number, to: number): boolean => tokenizer.count(text.slice(from, to)) <= budget;
  for (let from = start; from < end;) {
    let to = end;
    if (!fits(from, end)) {
      // Binary search over safe cut positions; `lo` always fits (one character is at most 4 tokens).
      let lo = safeCutAfter(text, from + 1);
      let hi = end - 1;
      while (lo < hi) {
        let mid = (lo + hi + 1) >>> 1;
        if (splitsPair(text, mid)) mid--;
        if (mid <= lo) break;
        if (fits(from, mid)) lo = mid;
        else hi = mid - 1;
      }
      to = lo;
      for (let q = lo - 1; q > from + (lo - from) / 2; q--) {
        if (isBlank(text.charCodeAt(q)) && !isBlank(text.charCodeAt(q - 1)) && text.charCodeAt(q - 1) !== LF) {
          to = q;
          break;
        }
      }
    }
    emit(from, to, 0, tokenizer.count(text.slice(from, to)), false);
    from = to;
  }
}

function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}

/** True when a cut at `i` would split a surrogate pair or a CRLF. */
function splitsPair(text: string, i: number): boolean {
  const before = text.charCodeAt(i - 1);
  const after = text.charCodeAt(i);
  return (before === CR && after === LF) ||
    (before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff);
}

/** `i`, or `i + 1` when a cut at `i` would split a pair. */
function safeCutAfter(text: string, i: number): number {
  return i < text.length && splitsPair(text, i) ? i + 1 : i;
}

/**
 * Splits a chunk that alone overflows a model's context into two at the best boundary near its token
 * midpoint. Ids `${id}a` and `${id}b`, both keep `index`; the first keeps the original's overlap, the
 * second has none. Their texts join to the original's. Counts are recomputed.
 * @throws RangeError when the chunk has no new text to cut (a single character).
 */
export function splitChunk(chunk: Chunk, tokenizer: Tokenizer, options: { lineNumbers?: boolean } = {}): [Chunk, Chunk] {
  const text = chunk.text;
  const cut = splitPoint(text, chunk.overlap, tokenizer);
  if (cut <= chunk.overlap || cut >= text.length) {
    throw new RangeError(`chunk ${chunk.id} is too small to split`);
  }
  const head = text.slice(0, cut);
  const tail = text.slice(cut);
  const linesBefore = (to: number): number => {
    let k = 0;
    for (let i = text.indexOf('\n'); i !== -1 && i < to; i = text.indexOf('\n', i + 1)) k++;
    return k;
  };
  const headEnd = chunk.startLine + linesBefore(cut - 1);
  const tailStart = chunk.startLine + linesBefore(cut);
  const numbers = (from: number, to: number): number => (options.lineNumbers ? lineNumberTokens(from, to - from + 1, tokenizer) : 0);
  return [
    { ...chunk, id: `${chunk.id}a`, end: chunk.start + cut, endLine: headEnd, tokens: tokenizer.count(head) + numbers(chunk.startLine, headEnd), text: head },
    { ...chunk, id: `${chunk.id}b`, start: chunk.start + cut, startLine: tailStart, overlap: 0, tokens: tokenizer.count(tail) + numbers(tailStart, chunk.endLine), text: tail },
  ];
}

/** Offset in (from, text.length) to split `text` at: best segment boundary near the token midpoint. */
function splitPoint(text: string, from: number, tokenizer: Tokenizer): number {
  const ends: number[] = [];
  const kinds: CutKind[] = [];
  const cum: number[] = [];
  let total = 0;
  for (let start = 0; start < text.length;) {
    const end = nextCut(text, start);
    total += tokenizer.count(text.slice(start, end));
    ends.push(end);
    kinds.push(cutKind(text, start, end));
    cum.push(total);
    start = end;
  }
  // Prefer the best kind within the middle half of the tokens, then the nearest to the midpoint.
  let cut = -1;
  let score = -Infinity;
  for (let i = 0; i < ends.length - 1; i++) {
    if (ends[i] <= from) continue;
    const distance = Math.abs(cum[i] - total / 2);
    const s = (distance <= total / 4 ? kinds[i] * total : -total) - distance;
    if (s > score) {
      score = s;
      cut = ends[i];
    }
  }
  if (cut !== -1) return cut;
  // One segment of new text: cut between characters near its middle.
  let mid = from + Math.ceil((text.length - from) / 2);
  if (mid < text.length && splitsPair(text, mid)) mid++;
  return mid;
}
