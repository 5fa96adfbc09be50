import { createHash } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';
import { listFiles, writeFileAtomic } from '../../util/atomicFile';
import { readBytesAndTime } from '../../util/fs';
import { PathGuard } from '../store/pathGuard';
import type { FileSignature } from './types';

const INDEX_FORMAT = 1;
/**
 * A file whose time is this close to (or after) the start of the plan that read it is not known by its
 * signature next time: it may have changed again within its file system's time resolution after it was
 * read (git's "racily clean" entries). Two seconds covers the coarsest common one (FAT).
 */
export const RACY_MS = 2000;
/** Indexes kept (one per folder planned, the least recently written deleted first). */
const MAX_INDEXES = 32;
/** Files one index keeps at most; a larger plan writes none (re-planning it reads every file). */
const MAX_FILES = 500_000;
/** The largest index file read. */
const MAX_INDEX_BYTES = 128 * 1024 * 1024;
const SHA256_RE = /^[0-9a-f]{64}$/;

/** What a file was when it was read: its size, times, inode and device (`fs.Stats`). */
export function signatureOf(stat: { size: number; mtimeMs: number; ctimeMs: number; ino: number; dev: number }): FileSignature {
  return [stat.size, stat.mtimeMs, stat.ctimeMs, stat.ino, stat.dev];
}

/** An index row: the signature's five numbers, then the text's sha256 and its length in UTF-16 units. */
type Row = [number, number, number, number, number, string, number];

interface IndexFile {
  v: number;
  /** The folder's real path (a second check against a hash collision of file names). */
  root: string;
  /** When the plan that wrote it started (before any file was stat'ed); see `RACY_MS`. */
  startedAt: number;
  files: Record<string, Row>;
}

/**
 * The files of one folder as the last plan read them (#17): for each path, its signature and the
 * sha256 and length of its text, like git's index. A file whose signature is unchanged (and not racy,
 * see `RACY_MS`) is known without being read, so a plan of an unchanged corpus costs a stat per file.
 * Untrusted input: a row that is not exactly a signature, a sha256 and a length is no row; what a row
 * says is only a key into the plan cache, and the text sent is checked against the sha256 when it is read.
 */
export class PlanIndex {
  private readonly next = new Map<string, Row>();

  private constructor(
    private readonly file: string,
    private readonly root: string,
    private readonly startedAt: number,
    private readonly last: Record<string, unknown> | undefined,
    private readonly lastStartedAt: number,
  ) {}

  /** The index file of `root` (a real path) in `dir`. */
  static fileOf(dir: string, root: string): string {
    return path.join(dir, `${createHash('sha256').update(root).digest('hex')}.json`);
  }

  /** The index of `root` in `dir` as the last plan wrote it (none when missing or malformed), for a plan starting now. */
  static async open(dir: string, root: string, now = Date.now()): Promise<PlanIndex> {
    const file = PlanIndex.fileOf(dir, root);
    let parsed: Partial<IndexFile> | undefined;
    try {
      parsed = JSON.parse((await readBytesAndTime(file, MAX_INDEX_BYTES)).bytes.toString('utf8')) as Partial<IndexFile>;
    } catch {
      parsed = undefined;
    }
    const ok = typeof parsed === 'object' && parsed !== null && parsed.v === INDEX_FORMAT && parsed.root === root &&
      Number.isFinite(parsed.startedAt) && typeof parsed.files === 'object' && parsed.files !== null && !Array.isArray(parsed.files);
    return new PlanIndex(file, root, now, ok ? (parsed!.files as Record<string, unknown>) : undefined, ok ? parsed!.startedAt! : 0);
  }

  /**
   * The sha256 and length of the text of `rel` when its signature is the one the last plan recorded
   * and it was not racy then; otherwise undefined (read it). A file known is kept for the next index.
   */
  lookup(rel: string, signature: FileSignature): { hash: string; chars: number } | undefined {
    const row = this.last && Object.prototype.hasOwnProperty.call(this.last, rel) ? this.last[rel] : undefined;
    if (!isRow(row)) return undefined;
    for (let i = 0; i < 5; i++) if (row[i] !== signature[i]) return undefined;
    // Modified (or its metadata) too near the time it was read: it may have changed unseen since.
    if (Math.max(row[1], row[2]) >= this.lastStartedAt - RACY_MS) return undefined;
    this.next.set(rel, row);
    return { hash: row[5], chars: row[6] };
  }

  /** Records a file read by this plan. */
  record(rel: string, signature: FileSignature, hash: string, chars: number): void {
    if (this.next.size < MAX_FILES) this.next.set(rel, [...signature, hash, chars]);
  }

  /**
   * Writes the index of this plan (the files it read or knew; the others are dropped) atomically,
   * checked against the real path of `dir`, and deletes the oldest indexes beyond `MAX_INDEXES`.
   */
  async save(): Promise<void> {
    if (this.next.size === 0 || this.next.size >= MAX_FILES) return;
    const dir = path.dirname(this.file);
    const body: IndexFile = { v: INDEX_FORMAT, root: this.root, startedAt: this.startedAt, files: Object.fromEntries(this.next) };
    await fs.mkdir(dir, { recursive: true });
    await new PathGuard(dir, 'the plan index').checkReal(this.file, 'the plan index', path.basename(this.file));
    await writeFileAtomic(this.file, JSON.stringify(body), { sync: false });
    await pruneIndexes(dir);
  }
}

function isRow(row: unknown): row is Row {
  if (!Array.isArray(row) || row.length !== 7) return false;
  for (let i = 0; i < 5; i++) if (typeof row[i] !== 'number' || !Number.isFinite(row[i])) return false;
  return typeof row[5] === 'string' && SHA256_RE.test(row[5]) && Number.isSafeInteger(row[6]) && row[6] > 0;
}

/** Deletes the least recently written index files beyond `MAX_INDEXES` (never following a link). */
async function pruneIndexes(dir: string): Promise<void> {
  const names = (await listFiles(dir)).filter((n) => /^[0-9a-f]{64}\.json$/.test(n));
  if (names.length <= MAX_INDEXES) return;
  const dated = await Promise.all(names.map(async (n) => ({ n, t: await fs.lstat(path.join(dir, n)).then((s) => s.mtimeMs, () => 0) })));
  dated.sort((a, b) => a.t - b.t);
  for (const { n } of dated.slice(0, dated.length - MAX_INDEXES)) await fs.rm(path.join(dir, n), { force: true });
}
