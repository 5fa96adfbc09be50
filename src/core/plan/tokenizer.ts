/**
 * Token counting for chunk budgets.
 *
 * Every BPE implementation is quadratic on long runs without whitespace, so text is first cut into
 * short *segments* (lines, or pieces of at most ~512 UTF-16 units) and a count is the sum of the
 * library's counts of the segments. The same segmentation drives the chunker's cut points, which is
 * what makes a chunk's count equal to the sum of its segments' counts.
 */

/** Encodings the engine can count with; both ship inside the bundle (no download at run time). */
export type EncodingName = 'o200k_base' | 'cl100k_base';

/** Counts tokens of text the way the chunker does. */
export interface Tokenizer {
  readonly encoding: EncodingName;
  /**
   * Tokens in `text`: the sum of the library's counts over `text`'s segments (see `nextCut`).
   * Special-token strings such as `<|endoftext|>` count as ordinary text, never throw.
   * Equals the bare library count on ordinary source (measured: every TypeScript lib .d.ts, and
   * 1937 of 1942 files of the bench corpus); where a long line is cut inside a pre-token (minified
   * code) it may count a few tokens more.
   */
  count(text: string): number;
}

/** A segment reaching this many UTF-16 units is cut before its next whitespace after a non-whitespace. */
export const SOFT_SEGMENT_LENGTH = 256;
/** A segment reaching this many UTF-16 units is cut anyway (never inside a surrogate pair or CRLF). */
export const HARD_SEGMENT_LENGTH = 512;

/** How a segment ended; larger is a better place for a chunk to end. */
export const CutKind = {
  /** Forced cut inside a long run without whitespace. */
  Hard: 0,
  /** Before a whitespace character that follows a non-whitespace one. */
  Whitespace: 1,
  /** After a "\n". */
  LineEnd: 2,
  /** After a "\n" ending a line of whitespace only (a paragraph break). */
  BlankLine: 3,
  /** The end of the text. */
  End: 4,
} as const;
export type CutKind = (typeof CutKind)[keyof typeof CutKind];

const LF = 10;
const CR = 13;

/** Whitespace as the tokenizers' `\s` sees it, minus CR and LF (lines end segments on their own). */
function isSpace(c: number): boolean {
  if (c === 32 || c === 9) return true;
  if (c < 128) return c === 11 || c === 12;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 ||
    c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff || c === 0x85;
}

/** True when a cut at `i` would split a surrogate pair or a CRLF. */
function splitsPair(text: string, i: number): boolean {
  const before = text.charCodeAt(i - 1);
  const after = text.charCodeAt(i);
  return (before === CR && after === LF) ||
    (before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff);
}

function isNewline(c: number): boolean {
  return c === LF || c === CR;
}

function isSpaceOrNewline(c: number): boolean {
  return c === LF || c === CR || isSpace(c);
}

function isAsciiPunctuation(c: number): boolean {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
}

/** How far past a line break we look for a line of only spaces (bounded, so segmentation stays linear). */
const BLANK_LOOKAHEAD = 64;

/**
 * Whether the "\n" just before `i` ends the segment that began at `start`. It does not where the
 * tokenizers' pre-tokenizer would join it to what follows: a run of line breaks ("\n\n"), a following
 * line of only spaces ("\n  \n"), or, for o200k, punctuation + line breaks + slashes ("};\n//").
 * Reads only `text[start, i]` and, while the segment is short, the next line if it is only spaces;
 * a segment never ends inside what is read, which keeps cuts the same on any cut-aligned substring.
 */
function endsLine(text: string, start: number, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c === LF || c === CR) return false;
  if (c === 47 /* / */) {
    let j = i - 1;
    while (j > start && isNewline(text.charCodeAt(j - 1))) j--;
    return !(j > start && isAsciiPunctuation(text.charCodeAt(j - 1)));
  }
  if ((c === 32 || c === 9) && i - start + BLANK_LOOKAHEAD < SOFT_SEGMENT_LENGTH) {
    const limit = Math.min(i + BLANK_LOOKAHEAD, text.length);
    for (let j = i + 1; j < limit; j++) {
      const d = text.charCodeAt(j);
      if (d === LF || d === CR) return false;
      if (d !== 32 && d !== 9) return true;
    }
  }
  return true;
}

/**
 * End of the segment that starts at `start` (exclusive). Linear in the segment's length.
 * The decision depends only on the text from `start` to the cut (and the next character), so
 * segmenting any substring that starts and ends at cut points reproduces exactly the same cuts.
 */
export function nextCut(text: string, start: number): number {
  const n = text.length;
  let i = start;
  // Short segment: only a line end cuts.
  const soft = Math.min(start + SOFT_SEGMENT_LENGTH, n);
  while (i < soft) {
    if (text.charCodeAt(i++) === LF && endsLine(text, start, i)) return i;
  }
  // Long segment: also cut before whitespace that follows non-whitespace.
  const hard = Math.min(start + HARD_SEGMENT_LENGTH, n);
  let prevSpace = i > start && isSpaceOrNewline(text.charCodeAt(i - 1));
  while (i < hard) {
    const c = text.charCodeAt(i++);
    if (c === LF) {
      if (endsLine(text, start, i)) return i;
      prevSpace = true;
    } else if (isSpace(c)) {
      if (!prevSpace) return i - 1;
      prevSpace = true;
    } else {
      prevSpace = c === CR;
    }
  }
  if (i >= n) return n;
  // Very long run: hard cut, stepping over a surrogate pair's second half or a CRLF's LF.
  return splitsPair(text, i) ? i + 1 : i;
}

/** Kind of the cut that ends the segment `text[start, end)` (`end` must come from `nextCut`). */
export function cutKind(text: string, start: number, end: number): CutKind {
  if (end >= text.length) return CutKind.End;
  if (text.charCodeAt(end - 1) === LF) {
    // A blank line: the segment's last line holds only whitespace.
    for (let i = end - 2; i >= start - 1; i--) {
      const c = i < 0 ? LF : text.charCodeAt(i);
      if (c === LF) return CutKind.BlankLine;
      if (c !== CR && !isSpace(c)) return CutKind.LineEnd;
    }
    return CutKind.LineEnd;
  }
  return isSpace(text.charCodeAt(end)) && !isSpaceOrNewline(text.charCodeAt(end - 1)) ? CutKind.Whitespace : CutKind.Hard;
}

/** Segments of `text`: `ends[i]` is where segment i ends (it starts at `ends[i - 1]` or 0). */
export interface Segmentation {
  readonly ends: number[];
  readonly kinds: CutKind[];
}

/** Cuts `text` into segments (see `nextCut`). Linear; an empty text has no segment. */
export function segmentBoundaries(text: string): Segmentation {
  const ends: number[] = [];
  const kinds: CutKind[] = [];
  for (let start = 0; start < text.length;) {
    const end = nextCut(text, start);
    ends.push(end);
    kinds.push(cutKind(text, start, end));
    start = end;
  }
  return { ends, kinds };
}

/** The part of gpt-tokenizer's encoding API this module uses. */
export interface EncodingApi {
  countTokens(text: string, options: { disallowedSpecial: Set<string> }): number;
  clearMergeCache(): void;
}

/** Special-token strings in files are text: disallow nothing, allow nothing. */
const AS_TEXT = { disallowedSpecial: new Set<string>() };

/** Segment counts repeat a lot (source repeats lines); the memo starts over past this many entries... */
const MEMO_LIMIT = 200_000;
/** ...or this many UTF-16 units of keys (8 MB at most), so long unique segments cannot grow it far. */
const MEMO_CHAR_LIMIT = 1 << 22;

/**
 * gpt-tokenizer keeps an LRU cache of 100k merged pieces in a Map; once full, every eviction scans the
 * Map's deleted slots, which made text with many unique pieces (base64) several times slower. Only a
 * piece of 2 or more tokens is cached, so a count of n tokens adds at most n / 2 entries (and at most
 * one per character): clearing it before that bound reaches its size keeps it from ever filling.
 */
const LIBRARY_CACHE_ENTRIES = 100_000;

/** The part of gpt-tokenizer's encoding API this module uses (for a test's own loader). */
export type EncodingLoader = (encoding: EncodingName) => EncodingApi;

/** Loads an encoding's rank tables: 300–900 ms of the calling thread, once per process. */
export function loadEncoding(encoding: EncodingName): EncodingApi {
  // Required here, not imported at the top: the rank tables are megabytes and only the one in use
  // should be evaluated, on first use. esbuild bundles both, so nothing is fetched at run time.
  /* eslint-disable @typescript-eslint/no-require-imports */
  switch (encoding) {
    case 'o200k_base':
      return require('gpt-tokenizer/encoding/o200k_base') as EncodingApi;
    case 'cl100k_base':
      return require('gpt-tokenizer/encoding/cl100k_base') as EncodingApi;
  }
  /* eslint-enable @typescript-eslint/no-require-imports */
  throw new RangeError(`unknown encoding: ${String(encoding)}`);
}

/** A loaded encoding, and a bound on its merge cache's entries (shared by its tokenizers, like the cache). */
interface Library {
  readonly api: EncodingApi;
  cacheBound: number;
}

// A cache, not state: each encoding is loaded once per process.
const libraries = new Map<EncodingName, Library>();

function library(encoding: EncodingName): Library {
  let lib = libraries.get(encoding);
  if (!lib) {
    lib = { api: loadEncoding(encoding), cacheBound: 0 };
    libraries.set(encoding, lib);
  }
  return lib;
}

/** Hash of `text[start, end)` (FNV-1a over UTF-16 units). */
function hashRange(text: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h;
}

/**
 * Segment text -> token count, looked up by a range of a larger text without slicing it (most
 * segments repeat, so most lookups hit and allocate nothing). Open addressing; it starts over past
 * `MEMO_LIMIT` entries or `MEMO_CHAR_LIMIT` key units.
 */
class SegmentMemo {
  private static readonly SLOTS = 1 << 19; // > 2 * MEMO_LIMIT, so probes stay short
  /** Entry index + 1 per slot; 0 is empty. */
  private readonly slots = new Int32Array(SegmentMemo.SLOTS);
  private hashes: number[] = [];
  private keys: string[] = [];
  private counts: number[] = [];
  private chars = 0;

  get(text: string, start: number, end: number, hash: number): number | undefined {
    const mask = SegmentMemo.SLOTS - 1;
    const length = end - start;
    for (let s = hash & mask; ; s = (s + 1) & mask) {
      const e = this.slots[s] - 1;
      if (e < 0) return undefined;
      if (this.hashes[e] !== hash) continue;
      const key = this.keys[e];
      if (key.length !== length) continue;
      let i = 0;
      while (i < length && key.charCodeAt(i) === text.charCodeAt(start + i)) i++;
      if (i === length) return this.counts[e];
    }
  }

  /** Adds `key` (a string of its own, not a slice of a file) with its `hash` and `count`. */
  set(key: string, hash: number, count: number): void {
    if (this.keys.length >= MEMO_LIMIT || this.chars + key.length > MEMO_CHAR_LIMIT) {
      this.slots.fill(0);
      this.hashes = [];
      this.keys = [];
      this.counts = [];
      this.chars = 0;
    }
    this.chars += key.length;
    const mask = SegmentMemo.SLOTS - 1;
    let s = hash & mask;
    while (this.slots[s] !== 0) s = (s + 1) & mask;
    this.hashes.push(hash);
    this.keys.push(key);
    this.counts.push(count);
    this.slots[s] = this.keys.length;
  }
}

class SegmentedTokenizer implements Tokenizer {
  private lib: Library | undefined;
  private readonly memo = new SegmentMemo();

  /** `loader`: a test's own (its library is this tokenizer's alone); absent, the process's shared one. */
  constructor(readonly encoding: EncodingName, private readonly loader?: EncodingLoader) {}

  /** Whether counting now would not load the encoding in this thread. */
  get loaded(): boolean {
    return this.lib !== undefined || (this.loader === undefined && libraries.has(this.encoding));
  }

  count(text: string): number {
    let total = 0;
    for (let start = 0; start < text.length;) {
      const end = nextCut(text, start);
      total += this.countSegment(text, start, end);
      start = end;
    }
    return total;
  }

  /** Count of the segment `text[start, end)` (as cut by `nextCut`), without segmenting it again. */
  countSegment(text: string, start: number, end: number): number {
    const hash = hashRange(text, start, end);
    const hit = this.memo.get(text, start, end, hash);
    if (hit !== undefined) return hit;
    // A copy, not a slice: the memo and gpt-tokenizer's merge cache (whose keys are slices of what it
    // is given) would otherwise keep the whole file alive. V8 flattens the concatenation.
    const slice = text.slice(start, end);
    const segment = slice.length < 13 ? slice : (' ' + slice).slice(1);
    const lib = (this.lib ??= this.loader ? { api: this.loader(this.encoding), cacheBound: 0 } : library(this.encoding));
    if (lib.cacheBound + segment.length > LIBRARY_CACHE_ENTRIES) {
      lib.api.clearMergeCache();
      lib.cacheBound = 0;
    }
    const n = lib.api.countTokens(segment, AS_TEXT);
    lib.cacheBound += Math.min(segment.length, n >> 1);
    this.memo.set(segment, hash, n);
    return n;
  }
}

/**
 * A new tokenizer for `encoding` with its own memo; prefer the shared `getTokenizer`.
 * (Benchmarks use this to start each measurement from an empty memo.)
 */
export function createTokenizer(encoding: EncodingName = 'o200k_base', options: { loader?: EncodingLoader } = {}): Tokenizer {
  if (encoding !== 'o200k_base' && encoding !== 'cl100k_base') {
    throw new RangeError(`unknown encoding: ${String(encoding)}`);
  }
  return new SegmentedTokenizer(encoding, options.loader);
}

/**
 * Whether `tokenizer` can count in this thread without loading its encoding's rank tables first (a
 * tokenizer not made here is taken as loaded: its cost is its own).
 */
export function isEncodingLoaded(tokenizer: Tokenizer): boolean {
  return tokenizer instanceof SegmentedTokenizer ? tokenizer.loaded : true;
}

/**
 * Counts the segment `text[start, end)` (a piece `nextCut` delimits) without re-segmenting it or,
 * for the shipped tokenizer, slicing it when it was seen before; for the chunker, which has already
 * segmented the file.
 */
export function segmentCounter(tokenizer: Tokenizer): (text: string, start: number, end: number) => number {
  return tokenizer instanceof SegmentedTokenizer
    ? (text, start, end) => tokenizer.countSegment(text, start, end)
    : (text, start, end) => tokenizer.count(text.slice(start, end));
}

// A cache, not state: one tokenizer (and one memo) per encoding for the process's lifetime.
const tokenizers = new Map<EncodingName, Tokenizer>();

/**
 * The shared tokenizer for `encoding` (default o200k_base, the GPT-4o/GPT-5 family).
 * Cheap to call: the encoding's rank table is loaded on the first `count`, once per process.
 * @throws RangeError for an unknown encoding name.
 */
export function getTokenizer(encoding: EncodingName = 'o200k_base'): Tokenizer {
  let t = tokenizers.get(encoding);
  if (!t) {
    t = createTokenizer(encoding);
    tokenizers.set(encoding, t);
  }
  return t;
}

/**
 * True for tokenizers made here (`getTokenizer`, `createTokenizer`): their counts depend only on the
 * encoding, so a worker thread's own tokenizer of that encoding counts the same.
 */
export function isShippedTokenizer(tokenizer: Tokenizer): boolean {
  return tokenizer instanceof SegmentedTokenizer;
}
