import type { ChunkPool } from './chunkPool';
import { chunkText, type FileChunking } from './fileChunks';
import { hashText, Planner, type Plan, type PlanListener, type PlanOptions } from './plan';
import type { PlanCache } from './planCache';
import { isShippedTokenizer } from './tokenizer';
import type { SourceFile } from './types';

export interface PlanServices {
  /** Worker threads to chunk in (absent: every file is chunked in this thread). */
  pool?: ChunkPool;
  /** Chunkings of files planned before (absent: none kept). */
  cache?: PlanCache;
  /**
   * Files are chunked in this thread while the texts chunked stay within this many UTF-16 units, the
   * rest in the pool (starting workers costs more than chunking a few small files). Default `IN_THREAD_CHARS`.
   */
  inThreadChars?: number;
  /**
   * When every worker is busy, this thread chunks the next file itself, so a plan uses every core
   * (the CLI). Never in the editor, whose thread every extension shares.
   */
  helpInThread?: boolean;
  /**
   * Asked before each file the pool would take: true chunks it in this thread and ends the pool's idle
   * workers (the CLI, while its requests are behind: planning need not hurry, and the workers' heaps
   * need not add up). Only with `helpInThread`.
   */
  inThreadNow?: () => boolean;
  /** `add` waits while the texts not yet packed pass this many UTF-16 units (default 16 Mi), so memory stays bounded. */
  maxPendingChars?: number;
}

/** Below this much text, a plan stays in the caller's thread (measured in `npm run bench -- planning`). */
export const IN_THREAD_CHARS = 512 * 1024;

export interface PlanCounts {
  /** Files whose chunking came from the plan cache. */
  cached: number;
  /** Files chunked in this thread. */
  inThread: number;
  /** Files chunked by the worker pool. */
  pooled: number;
}

/**
 * Plans a run like `Planner`, with each file's chunking taken from the plan cache, else made in a
 * worker thread (or, for the first small texts, in this thread), and packed in the order the files were
 * added: the plan is the same as `Planner`'s, chunk for chunk. Only hashing and packing run in the
 * caller's thread. A pool failure (a worker that died) chunks that file in this thread.
 */
export class ParallelPlanner {
  readonly planner: Planner;
  readonly counts: PlanCounts = { cached: 0, inThread: 0, pooled: 0 };
  private tail: Promise<void> = Promise.resolve();
  private readonly waits: { chars: number; done: Promise<void> }[] = [];
  private pendingChars = 0;
  private chunkedChars = 0;
  private readonly writes = new Set<Promise<void>>();
  private failure: unknown;
  private readonly pool: ChunkPool | undefined;

  constructor(private readonly options: PlanOptions, private readonly services: PlanServices = {}, listener?: PlanListener) {
    this.planner = new Planner(options, listener);
    // A tokenizer of the caller's own (tests) counts its own way: only the shipped ones match a worker's.
    this.pool = services.pool?.available && isShippedTokenizer(options.tokenizer) ? services.pool : undefined;
  }

  /** The plan cache in use, if any. */
  get cache(): PlanCache | undefined {
    return this.services.cache;
  }

  /** Starts planning `file`; resolves once there is room for the next (see `maxPendingChars`). */
  async add(file: SourceFile): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    const text = file.text;
    const hash = hashText(text);
    const chunking = this.chunkingOf(text, hash);
    const meta = { path: file.path, chars: text.length, hash };
    const chars = text.length;
    this.pendingChars += chars;
    const done = (this.tail = this.tail.then(async () => {
      const c = await chunking;
      this.planner.addChunked(meta, c);
    }).catch((e: unknown) => {
      this.failure ??= e;
    }).finally(() => {
      this.pendingChars -= chars;
    }));
    this.waits.push({ chars, done });
    while (this.pendingChars > (this.services.maxPendingChars ?? 16 * 1024 * 1024) && this.waits.length) {
      await this.waits.shift()!.done;
    }
    while (this.waits.length && this.waits.length > 256) this.waits.shift();
  }

  private async chunkingOf(text: string, hash: string): Promise<FileChunking> {
    const params = this.planner.chunkParams;
    const cache = this.services.cache;
    if (cache) {
      const hit = await cache.get(text, hash, params);
      if (hit) {
        this.counts.cached++;
        return hit;
      }
    }
    let chunking: FileChunking | undefined;
    // A file that would pass the threshold goes to the pool: one large first file must not block this thread.
    const inThread = !this.pool || this.chunkedChars + text.length <= (this.services.inThreadChars ?? IN_THREAD_CHARS) ||
      (this.services.helpInThread === true && (this.pool.saturated || this.trimmed()));
    this.chunkedChars += text.length;
    if (!inThread) {
      chunking = await this.pool!.chunk(text, params).catch(() => undefined);
      if (chunking) this.counts.pooled++;
    }
    if (!chunking) {
      chunking = chunkText(text, params, this.options.tokenizer);
      this.counts.inThread++;
    }
    if (cache) {
      const w = cache.put(hash, text.length, params, chunking).catch(() => undefined).finally(() => this.writes.delete(w));
      this.writes.add(w);
    }
    return chunking;
  }

  /** True when the caller wants this file chunked here (`inThreadNow`); the pool's idle workers end then. */
  private trimmed(): boolean {
    if (this.services.inThreadNow?.() !== true) return false;
    this.pool?.trim();
    return true;
  }

  /** The plan, once every file added is packed (and the cache entries written). */
  async finish(): Promise<Plan> {
    await this.tail;
    if (this.failure !== undefined) throw this.failure;
    await Promise.all([...this.writes]);
    return this.planner.finish();
  }
}
