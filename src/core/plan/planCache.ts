import { createHash } from 'crypto';
import { EntryFolder } from '../store/entryFolder';
import { SPAN_FIELDS, type ChunkParams, type FileChunking } from './fileChunks';
import { LineCursor } from '../../util/text';
import { PlanIndex } from './planIndex';

/**
 * Bumped when the chunkers or the segmenter change what they cut, or the entry format changes: old
 * entries are then never read (their keys differ).
 */
export const CHUNKER_VERSION = 1;
const CACHE_FORMAT = 1;
const MAX_REASON = 1000;

export const DEFAULT_PLAN_CACHE_MAX_ENTRIES = 50_000;
export const DEFAULT_PLAN_CACHE_MAX_BYTES = 64 * 1024 * 1024;

/** The cache key of a file's chunking: sha256 over the format, the chunker version, the text's sha256 and every chunk parameter. */
export function planKey(textHash: string, params: ChunkParams): string {
  const material = JSON.stringify([CACHE_FORMAT, CHUNKER_VERSION, textHash, params.encoding, params.chunkTokens, params.overlapTokens, params.lineNumbers, params.edit, params.kind]);
  return createHash('sha256').update(material).digest('hex');
}

interface Entry {
  v: number;
  key: string;
  chars: number;
  spans?: number[];
  skipped?: string;
}

/**
 * Why `entry` cannot be the chunking of `text` under `params`, or undefined when it can. Every entry
 * read is checked, never trusted: the shape; spans that lie within the text, in order, whose new parts
 * tile it exactly (each chunk's new text starts where the last one's ended, the last ends at the end);
 * line ranges that are the lines those offsets are on; counts that are integers within the budget.
 */
export function entryProblem(entry: unknown, key: string, text: string | { readonly length: number }, params: ChunkParams): string | undefined {
  if (typeof entry !== 'object' || entry === null) return 'not an object';
  const e = entry as Partial<Entry>;
  if (e.v !== CACHE_FORMAT) return 'another format';
  if (e.key !== key) return 'another key';
  if (e.chars !== text.length) return 'another length';
  if (e.skipped !== undefined) {
    if (!params.edit) return 'a skip outside an edit run';
    return typeof e.skipped === 'string' && e.skipped.length > 0 && e.skipped.length <= MAX_REASON && e.spans === undefined ? undefined : 'a malformed skip';
  }
  const spans = e.spans;
  if (!Array.isArray(spans) || spans.length % SPAN_FIELDS !== 0) return 'malformed spans';
  if (spans.length === 0) return text.length === 0 ? undefined : 'no chunk for a text';
  let covered = 0;
  for (let i = 0; i < spans.length; i += SPAN_FIELDS) {
    for (let k = 0; k < SPAN_FIELDS; k++) if (!Number.isSafeInteger(spans[i + k])) return 'a span that is not integers';
    const [start, end, , , overlap, trailing, tokens] = spans.slice(i, i + SPAN_FIELDS);
    if (start < 0 || end > text.length || start >= end) return 'a chunk outside the text';
    if (params.edit ? trailing < 0 : trailing !== -1) return 'a wrong trailing context';
    const fresh = start + overlap;
    const freshEnd = end - Math.max(0, trailing);
    if (overlap < 0 || fresh !== covered || freshEnd <= fresh) return 'chunks that do not tile the text';
    covered = freshEnd;
    if (tokens < 1 || tokens > params.chunkTokens) return 'a count outside the budget';
  }
  // Without the text (a file known unread, #17), line ranges can only be in order.
  if (typeof text === 'string' ? !lineRangesHold(spans, text) : !lineRangesOrdered(spans)) return 'a wrong line range';
  return covered === text.length ? undefined : 'chunks that do not reach the end of the text';
}

/** Whether line ranges start at 1 or later, each ends at or after its start, and starts and ends never go back. */
function lineRangesOrdered(spans: readonly number[]): boolean {
  for (let i = 0; i < spans.length; i += SPAN_FIELDS) {
    const [startLine, endLine] = [spans[i + 2], spans[i + 3]];
    if (startLine < 1 || endLine < startLine) return false;
    if (i > 0 && (startLine < spans[i + 2 - SPAN_FIELDS] || endLine < spans[i + 3 - SPAN_FIELDS])) return false;
  }
  return true;
}

/**
 * Whether each span's line range is the lines its first and last characters are on. The offsets are
 * asked in increasing order (chunks' starts and last characters, merged), so the text's line breaks
 * are counted in one pass (the check was the largest cost of a cache hit after reading the entry).
 */
function lineRangesHold(spans: readonly number[], text: string): boolean {
  const lines = new LineCursor(text);
  const n = spans.length / SPAN_FIELDS;
  const first = (k: number) => spans[k * SPAN_FIELDS];
  const last = (k: number) => spans[k * SPAN_FIELDS + 1] - 1;
  for (let a = 0, b = 0; a < n || b < n;) {
    if (b >= n || (a < n && first(a) <= last(b))) {
      if (lines.lineOf(first(a)) !== spans[a++ * SPAN_FIELDS + 2]) return false;
    } else if (lines.lineOf(last(b)) !== spans[b++ * SPAN_FIELDS + 3]) {
      return false;
    }
  }
  return true;
}

export interface PlanCacheOptions {
  maxEntries?: number;
  maxBytes?: number;
  /** The time a plan starts at, for its plan index (tests move it; default `Date.now`). */
  clock?: () => number;
}

/**
 * Files' chunkings on disk (#17), one JSON file per key (`ab/abcdef….json`), written atomically: chunk
 * boundaries, line ranges and counts, never text. Keyed by the text's sha256 and every chunk parameter
 * (`planKey`), so a changed file, or a run with other parameters, never finds an entry, and is chunked
 * again alone. Untrusted input: an entry read that is not exactly a chunking of the text (`entryProblem`)
 * is a miss. Bounded like the result cache: `prune()` deletes the least recently used entries (a hit
 * refreshes its time, at most once an hour).
 */
export class PlanCache {
  private readonly folder: EntryFolder;
  /** Entries refused since made (for tests and the log). */
  rejected = 0;

  private readonly clock: () => number;

  constructor(readonly dir: string, options: PlanCacheOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.folder = new EntryFolder(dir, 'plan cache', options.maxEntries ?? DEFAULT_PLAN_CACHE_MAX_ENTRIES, options.maxBytes ?? DEFAULT_PLAN_CACHE_MAX_BYTES);
  }

  /** Where the plan indexes are (#17): beside the entries' folder, so that pruning entries never counts them. */
  get indexDir(): string {
    return `${this.dir}-index`;
  }

  private readonly indexes = new Map<string, Promise<PlanIndex>>();

  /** The plan index of the folder `root` (a real path), opened once for the plans this cache serves. */
  index(root: string): Promise<PlanIndex> {
    let index = this.indexes.get(root);
    if (!index) {
      index = PlanIndex.open(this.indexDir, root, this.clock());
      this.indexes.set(root, index);
    }
    return index;
  }

  /** Writes the indexes opened (what this plan read or knew); a failure to write one is no error (a cache). */
  async saveIndexes(): Promise<void> {
    await Promise.all([...this.indexes.values()].map((i) => i.then((index) => index.save()).catch(() => undefined)));
  }

  get maxEntries(): number {
    return this.folder.maxEntries;
  }

  get maxBytes(): number {
    return this.folder.maxBytes;
  }

  entryPath(key: string): string {
    return this.folder.entryPath(key);
  }

  /** The chunking of `text` (whose sha256 is `textHash`) under `params`, or undefined: missing, unreadable or not valid for this text. */
  async get(text: string, textHash: string, params: ChunkParams): Promise<FileChunking | undefined> {
    return this.read(textHash, text, params);
  }

  private async read(textHash: string, text: string | { readonly length: number }, params: ChunkParams): Promise<FileChunking | undefined> {
    const key = planKey(textHash, params);
    const read = await this.folder.readUsed(key);
    if (read === undefined) return undefined;
    const entry = read.entry;
    if (entryProblem(entry, key, text, params) !== undefined) {
      this.rejected++;
      return undefined;
    }
    void this.folder.touchStale(key, read.usedAt);
    const e = entry as Entry;
    return e.skipped !== undefined ? { skipped: e.skipped } : { spans: e.spans! };
  }

  /**
   * The chunking of a text known only by its sha256 and length (a file a plan index knew unread, #17),
   * or undefined. The entry is checked as `get` checks it, except its line ranges against the text
   * (only their order): the text is read, and checked against the sha256, when its chunks are sent.
   */
  async getUnread(textHash: string, chars: number, params: ChunkParams): Promise<FileChunking | undefined> {
    return this.read(textHash, { length: chars }, params);
  }

  async put(textHash: string, chars: number, params: ChunkParams, chunking: FileChunking): Promise<void> {
    const key = planKey(textHash, params);
    const entry: Entry = { v: CACHE_FORMAT, key, chars, ...(chunking.skipped !== undefined ? { skipped: chunking.skipped } : { spans: chunking.spans }) };
    await this.folder.write(key, entry);
  }

  /** Deletes the least recently used entries beyond the bounds, and temporary files of dead writers. */
  prune(): Promise<{ entries: number; bytes: number; evicted: number }> {
    return this.folder.prune();
  }
}
