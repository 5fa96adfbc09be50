import { createHash } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';
import type { ChunkOptions } from './chunker';
import { chunkText, refsOf, type ChunkParams, type FileChunking } from './fileChunks';
import { SourceChangedError } from '../execute/errors';
import { batchBudget, BatchPacker, requestOverhead, type PackOptions } from './packer';
import type { Tokenizer } from './tokenizer';
import type { PackedRequest, ChunkRef, SourceFile } from './types';
import type { OutputSpec } from '../output/spec';
import { setImmediate as nextTurn } from 'timers/promises';

export interface PlanOptions {
  prompt: string;
  tokenizer: Tokenizer;
  chunk: ChunkOptions;
  pack: PackOptions;
  /** The run's output kind (#14): `findings` sends numbered lines, so chunk budgets count the numbers. Default text. */
  output?: OutputSpec;
}

export interface PlannedFile {
  path: string;
  chars: number;
  tokens: number;
  /** sha256 of the text, to notice a file that changes before its chunks are sent. */
  hash: string;
  chunks: ChunkRef[];
}

/** Files, chunks (ranges only, no text) and batches of a run, with its totals. No model is called. */
export interface Plan {
  files: PlannedFile[];
  /** Files that gave no chunk (empty text). */
  empty: string[];
  /**
   * Files left out before any request, with why (an edit run's file with a line over the chunk budget).
   * Absent from plans made before #15.
   */
  skipped?: { path: string; reason: string }[];
  batches: PackedRequest<ChunkRef>[];
  /** The chunk budget actually used: the setting, lowered when a request could not hold one chunk. */
  chunkTokens: number;
  totals: { files: number; chunks: number; batches: number; requests: number; chunkTokens: number; inputTokens: number };
}

/**
 * Hears a plan as it grows (a run that sends while it plans, core/session): each file once its chunks
 * are known, before any batch holding them closes; each batch as it closes (the last one at `finish`).
 */
export interface PlanListener {
  file?(file: PlannedFile): void;
  batch?(batch: PackedRequest<ChunkRef>): void;
}

/** Room for one chunk's wrapper (ids, path, line numbers) when sizing chunks to the request budget. */
const WRAPPER_ALLOWANCE = 64;

const SHA256_RE = /^[0-9a-f]{64}$/;

export function hashText(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Texts longer than this are hashed by `hashTextAsync` in slices of this many UTF-16 units (~1–2 ms each). */
export const HASH_SLICE_CHARS = 256 * 1024;

/**
 * `hashText(text)` without holding the thread for a large text: hashed in slices, yielding to the
 * event loop between them. A slice never ends between the halves of a surrogate pair (UTF-8 encodes
 * the pair, not its halves), so the hash is `hashText`'s. `text` may come in pieces (`SourceFile.pieces`,
 * none ending inside a pair): the hash of their concatenation, which is never made.
 */
export async function hashTextAsync(text: string | readonly string[], sliceChars = HASH_SLICE_CHARS): Promise<string> {
  const pieces = typeof text === 'string' ? [text] : text;
  if (pieces.length === 1 && pieces[0].length <= sliceChars) return hashText(pieces[0]);
  const hash = createHash('sha256');
  let first = true;
  for (const piece of pieces) {
    for (let start = 0; start < piece.length;) {
      if (!first) await nextTurn();
      first = false;
      let end = Math.min(start + sliceChars, piece.length);
      const last = piece.charCodeAt(end - 1);
      if (end < piece.length && last >= 0xd800 && last <= 0xdbff) end++;
      hash.update(piece.slice(start, end));
      start = end;
    }
  }
  return hash.digest('hex');
}

/**
 * Plans a run, one file at a time: chunks every file, packs the chunks in file order, and totals
 * tokens. Chunk texts are dropped as soon as a file is chunked, so a plan's memory is its ranges, not
 * the corpus. The chunk budget is lowered when the request budget (a small context window, a long
 * prompt) could not hold a full chunk.
 */
export class Planner {
  private readonly chunkOptions: ChunkOptions;
  /** What this plan's chunks depend on besides a file's text (the worker threads and the plan cache take it). */
  readonly chunkParams: ChunkParams;
  private readonly packer: BatchPacker<ChunkRef>;
  private readonly files: PlannedFile[] = [];
  private readonly empty: string[] = [];
  private readonly skipped: { path: string; reason: string }[] = [];
  private readonly batches: PackedRequest<ChunkRef>[] = [];
  private fileIndex = 0;

  constructor(
    private readonly options: PlanOptions,
    private readonly listener: PlanListener = {},
  ) {
    const pack = { ...options.pack, ...(options.output ? { output: options.output } : {}) };
    const room = batchBudget(pack) - requestOverhead(options.prompt, options.tokenizer, 1, pack.output) - WRAPPER_ALLOWANCE;
    const chunkTokens = Math.max(16, Math.min(options.chunk.chunkTokens, room));
    this.chunkOptions = {
      chunkTokens,
      overlapTokens: Math.min(options.chunk.overlapTokens, Math.floor(chunkTokens / 4)),
      ...(pack.output?.kind === 'findings' ? { lineNumbers: true } : {}),
    };
    this.packer = new BatchPacker<ChunkRef>(options.prompt, options.tokenizer, pack);
    this.chunkParams = {
      encoding: options.tokenizer.encoding,
      chunkTokens: this.chunkOptions.chunkTokens,
      overlapTokens: this.chunkOptions.overlapTokens,
      lineNumbers: this.chunkOptions.lineNumbers === true,
      edit: options.output?.kind === 'edit',
      kind: options.output?.kind ?? 'text',
    };
  }

  /** Chunks `file` in this thread and packs its chunks. */
  add(file: SourceFile): void {
    this.addChunked({ path: file.path, chars: file.text.length, hash: file.hash ?? hashText(file.text) }, chunkText(file.text, this.chunkParams, this.options.tokenizer));
  }

  /**
   * Packs a file chunked elsewhere (a worker thread, the plan cache) by `chunkText` with `chunkParams`.
   * Files must come in the run's order: a file's place gives its chunks' ids.
   */
  addChunked(file: { path: string; chars: number; hash: string }, chunking: FileChunking): void {
    const fileIndex = this.fileIndex++;
    if (chunking.skipped !== undefined) {
      this.skipped.push({ path: file.path, reason: chunking.skipped });
      return;
    }
    const chunks = refsOf(chunking.spans, file.path, fileIndex);
    if (chunks.length === 0) {
      this.empty.push(file.path);
      return;
    }
    const tokens = chunks.reduce((n, c) => n + c.tokens, 0);
    const planned: PlannedFile = { path: file.path, chars: file.chars, tokens, hash: file.hash, chunks };
    this.files.push(planned);
    this.listener.file?.(planned);
    for (const c of chunks) {
      const closed = this.packer.add(c);
      if (closed) this.closed(closed);
    }
  }

  private closed(batch: PackedRequest<ChunkRef>): void {
    this.batches.push(batch);
    this.listener.batch?.(batch);
  }

  finish(): Plan {
    const last = this.packer.flush();
    if (last) this.closed(last);
    const chunkCount = this.files.reduce((n, f) => n + f.chunks.length, 0);
    return {
      files: this.files,
      empty: this.empty,
      skipped: this.skipped,
      batches: this.batches,
      chunkTokens: this.chunkOptions.chunkTokens,
      totals: {
        files: this.files.length,
        chunks: chunkCount,
        batches: this.batches.length,
        requests: this.batches.length,
        chunkTokens: this.files.reduce((n, f) => n + f.tokens, 0),
        inputTokens: this.batches.reduce((n, b) => n + b.tokens, 0),
      },
    };
  }
}

/** Plans files already in memory (see `Planner`). */
export function createPlan(files: Iterable<SourceFile>, options: PlanOptions): Plan {
  const planner = new Planner(options);
  for (const f of files) planner.add(f);
  return planner.finish();
}

/** Reads a file of the run by its run-relative path (from disk, or through VS Code's file system). */
export type FileReader = (relativePath: string) => Promise<string>;

/** Reads run-relative paths under `root` from disk. */
export function diskReader(root: string): FileReader {
  return (p) => fs.readFile(path.join(root, ...p.split('/')), 'utf8');
}

/**
 * Reads chunk texts just before they are sent, checking that each file is still the one that was
 * planned. A file is read once for all its chunks: reads in flight are shared, and the last few files
 * stay in memory (at most `cacheSize` files and `cacheChars` characters, the newest always). A run
 * that sends while it plans hands over the text it planned (`addFile`), held until each of its chunks
 * has been taken once (at most `heldChars` in all), so a file is not read twice either. Chunks are
 * ranges of the one shared text; a chunk's text is sliced (a flat copy) only when its request is built,
 * so a request in flight never holds its whole file. Memory is bounded by the work in flight.
 */
export class FileChunkSource {
  /** Reads done or in flight, oldest first (LRU). */
  private readonly reads = new Map<string, Promise<string>>();
  private readonly readChars = new Map<string, number>();
  private cachedChars = 0;
  /** Texts handed over by the planner, with the ids of the chunks not yet taken. */
  private readonly held = new Map<string, { text: string; left: Set<string> }>();
  private heldTotal = 0;
  private readonly hashes: Map<string, string>;
  private readonly read: FileReader;

  constructor(
    rootOrReader: string | FileReader,
    files: readonly Pick<PlannedFile, 'path' | 'hash'>[],
    private readonly cacheSize = 8,
    private readonly cacheChars = 8 * 1024 * 1024,
    private readonly heldChars = 16 * 1024 * 1024,
  ) {
    this.read = typeof rootOrReader === 'string' ? diskReader(rootOrReader) : rootOrReader;
    this.hashes = new Map(files.map((f) => [f.path, f.hash]));
  }

  /**
   * A file planned after this source was made (a run that sends while it plans). With `text`, the
   * text it was planned from (whose sha256 is `hash`), kept until each of its chunks is taken once,
   * unless the texts held would pass `heldChars` (then it is read again when sent).
   */
  addFile(file: Pick<PlannedFile, 'path' | 'hash'> & { chunks?: readonly Pick<ChunkRef, 'id'>[] }, text?: string): void {
    this.hashes.set(file.path, file.hash);
    this.drop(file.path);
    if (text === undefined || !file.chunks?.length || this.heldTotal + text.length > this.heldChars) return;
    this.held.set(file.path, { text, left: new Set(file.chunks.map((c) => c.id)) });
    this.heldTotal += text.length;
  }

  /** Texts held for chunks not yet taken (for tests and benchmarks), in UTF-16 units. */
  get heldSize(): number {
    return this.heldTotal;
  }

  async text(chunk: ChunkRef): Promise<string> {
    const held = this.held.get(chunk.path);
    if (held) {
      held.left.delete(chunk.id);
      if (held.left.size === 0) this.drop(chunk.path);
      return flatCopy(held.text.slice(chunk.start, chunk.end));
    }
    const text = await this.fileText(chunk.path);
    return flatCopy(text.slice(chunk.start, chunk.end));
  }

  private drop(p: string): void {
    const held = this.held.get(p);
    if (!held) return;
    this.held.delete(p);
    this.heldTotal -= held.text.length;
  }

  /** The file's checked text: one read shared by every chunk asking while it is in flight or cached. */
  private fileText(p: string): Promise<string> {
    let read = this.reads.get(p);
    if (read) {
      // Refresh its place in the LRU order.
      this.reads.delete(p);
      this.reads.set(p, read);
      return read;
    }
    read = this.readChecked(p);
    this.reads.set(p, read);
    read.then(
      (text) => {
        if (this.reads.get(p) !== read) return;
        this.readChars.set(p, text.length);
        this.cachedChars += text.length;
        this.evict();
      },
      () => {
        // A failed read is not kept: the next chunk tries again (and fails with its own message).
        if (this.reads.get(p) === read) this.reads.delete(p);
      },
    );
    return read;
  }

  private evict(): void {
    for (const oldest of this.reads.keys()) {
      if (this.reads.size <= 1 || (this.reads.size <= this.cacheSize && this.cachedChars <= this.cacheChars)) return;
      const chars = this.readChars.get(oldest);
      if (chars === undefined) continue; // still in flight: its chunks are waiting for it
      this.reads.delete(oldest);
      this.readChars.delete(oldest);
      this.cachedChars -= chars;
    }
  }

  private async readChecked(p: string): Promise<string> {
    let text: string;
    try {
      text = await this.read(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const gone = code === 'ENOENT' || code === 'FileNotFound' || (e as Error).name === 'EntryNotFound (FileSystemError)';
      throw new SourceChangedError(gone ? `${p} was deleted after the run was planned.` : `${p} could not be read (${code ?? String(e)}).`);
    }
    const expected = this.hashes.get(p);
    // A missing, empty or malformed hash proves nothing: the text is refused, never sent unchecked.
    if (typeof expected !== 'string' || !SHA256_RE.test(expected)) {
      throw new SourceChangedError(`${p} has no valid sha256 recorded in run.json, so its text cannot be checked against the plan; run the prompt on it again.`);
    }
    if (hashText(text) !== expected) {
      throw new SourceChangedError(`${p} changed after the run was planned; run the prompt on it again.`);
    }
    return text;
  }
}

/**
 * A slice of a long string that does not keep the long string alive (V8 slices point into their
 * parent): the chunk's UTF-16 code units copied as they are.
 */
function flatCopy(slice: string): string {
  return slice.length < 64 ? slice : Buffer.from(slice, 'utf16le').toString('utf16le');
}
