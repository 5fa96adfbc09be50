import type { ChunkPool } from './chunkPool';
import { chunkText, refsOf, type ChunkParams, type FileChunking } from './fileChunks';
import { hashTextAsync, Planner, type Plan, type PlanListener, type PlanOptions } from './plan';
import type { PlanCache } from './planCache';
import { PrecountedTokenizer } from './offThreadCounts';
import { CHUNK_CLOSER, chunkOpener } from './protocol';
import { isEncodingLoaded, isShippedTokenizer, type Tokenizer } from './tokenizer';
import type { PlanInput, UnreadFile } from './types';
import type { KnownFiles } from '../input/files';

/**
 * Whether this thread may load the encoding to count (300–900 ms of it, once per process): `load`
 * (the CLI); `if-loaded`, only when it is loaded already; `never` (the editor's extension host, which
 * every extension shares). Where it may not, every file is chunked in the worker pool, and the counts
 * packing needs (the prompt and instructions, each chunk's opener line) are made there too.
 */
export type EncodingInThread = 'load' | 'if-loaded' | 'never';

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
  /**
   * `add` waits while the texts not yet packed pass this many UTF-16 units (default 16 Mi), so memory
   * stays bounded (and, in the editor, the thread is not flooded with texts read ahead).
   */
  maxPendingChars?: number;
  /**
   * Whether this thread may load the encoding (default `load`; see `EncodingInThread`). Without a pool
   * (or when a worker fails on a file), files are chunked in this thread whatever this says.
   */
  encodingInThread?: EncodingInThread;
}

/**
 * How the editor plans (vscode/run/planServices.ts adds the pool and the cache; the planning bench
 * measures these): small plans in its thread only once the encoding is loaded there, at most 2 Mi
 * UTF-16 units of texts read ahead.
 */
export const EDITOR_PLAN_SETTINGS = { inThreadChars: 64 * 1024, encodingInThread: 'if-loaded', maxPendingChars: 2 * 1024 * 1024 } as const satisfies PlanServices;

/** Below this much text, a plan stays in the caller's thread (measured in `npm run bench -- planning`). */
export const IN_THREAD_CHARS = 512 * 1024;

export interface PlanCounts {
  /** Files whose chunking came from the plan cache. */
  cached: number;
  /** Files chunked in this thread. */
  inThread: number;
  /** Files chunked by the worker pool. */
  pooled: number;
  /** Of the files from the plan cache, those not read (the plan index knew them unchanged); absent when none. */
  unread?: number;
}

/** Where a plan's files were chunked, for the log: "3 files planned: 3 chunked in worker threads (pool of 1), 0 in this thread, 0 from the plan cache". */
export function describePlanCounts(c: PlanCounts, poolSize: number): string {
  const files = c.cached + c.inThread + c.pooled;
  const unread = c.unread ? ` (${c.unread} of them unchanged since the last plan, not read)` : '';
  return `${files} file${files === 1 ? '' : 's'} planned: ${c.pooled} chunked in worker threads (pool of ${poolSize}), ${c.inThread} in this thread, ${c.cached} from the plan cache${unread}`;
}

/**
 * Plans a run like `Planner`, with each file's chunking taken from the plan cache, else made in a
 * worker thread (or, for the first small texts, in this thread), and packed in the order the files were
 * added: the plan is the same as `Planner`'s, chunk for chunk. Only hashing and packing run in the
 * caller's thread; where it may not load the encoding (`encodingInThread`), packing counts nothing
 * there either (the pool counts for it). A pool failure (a worker that died) chunks that file in this
 * thread, loading the encoding if need be: slower, still the same plan.
 */
export class ParallelPlanner {
  readonly counts: PlanCounts = { cached: 0, inThread: 0, pooled: 0 };
  private inner: Planner | undefined;
  /** Resolves once the planner is made (off the thread: once the prompt's counts came back). */
  private readonly ready: Promise<Planner>;
  /** The packer's counts, when they are made in the pool (see `EncodingInThread`). */
  private readonly precounted: PrecountedTokenizer | undefined;
  private added = 0;
  private tail: Promise<void> = Promise.resolve();
  private readonly waits: { chars: number; done: Promise<void> }[] = [];
  private pendingChars = 0;
  private chunkedChars = 0;
  private readonly writes = new Set<Promise<void>>();
  private failure: unknown;
  private readonly pool: ChunkPool | undefined;

  constructor(private readonly options: PlanOptions, private readonly services: PlanServices = {}, listener?: PlanListener) {
    // A tokenizer of the caller's own (tests) counts its own way: only the shipped ones match a worker's.
    this.pool = services.pool?.available && isShippedTokenizer(options.tokenizer) ? services.pool : undefined;
    const mode = services.encodingInThread ?? 'load';
    if (!this.pool || mode === 'load' || (mode === 'if-loaded' && isEncodingLoaded(options.tokenizer))) {
      this.inner = new Planner(options, listener);
      this.ready = Promise.resolve(this.inner);
      return;
    }
    const precounted = (this.precounted = new PrecountedTokenizer(options.tokenizer.encoding, options.tokenizer));
    this.ready = this.countFixedTexts(precounted).then(() => (this.inner = new Planner({ ...options, tokenizer: precounted }, listener)));
    // Bad options reject it: `add` and `finish` throw that error; it is not an unhandled rejection meanwhile.
    this.ready.catch(() => undefined);
  }

  /** The planner packing the chunks; made at once, or (off the thread) before the first file is chunked. */
  get planner(): Planner {
    if (!this.inner) throw new Error('The planner is not ready yet: await finish() first.');
    return this.inner;
  }

  /** Counts in the pool what every request costs (the texts a `Planner` counts when made) and the chunk closer. */
  private async countFixedTexts(into: PrecountedTokenizer): Promise<void> {
    const texts = new Set<string>([CHUNK_CLOSER]);
    const recorder: Tokenizer = { encoding: into.encoding, count: (t) => (texts.add(t), 0) };
    void new Planner({ ...this.options, tokenizer: recorder });
    const list = [...texts];
    // A worker that fails leaves these to the fallback (this thread): the plan stays right.
    const counts = await this.pool!.count(list, into.encoding).catch(() => undefined);
    if (counts) list.forEach((t, i) => into.set(t, counts[i]));
  }

  /** The plan cache in use, if any. */
  get cache(): PlanCache | undefined {
    return this.services.cache;
  }

  /**
   * What `collectFiles` may take unread (#17), with a plan cache: a file whose signature the folder's
   * plan index knows (unchanged since a plan read it) and whose chunking the cache holds is planned
   * without being read. Undefined without a cache. The indexes are written when the plan finishes.
   */
  get known(): KnownFiles | undefined {
    const cache = this.services.cache;
    if (!cache) return undefined;
    return {
      unread: async (root, file) => {
        const index = await cache.index(root);
        const hit = index.lookup(file.path, file.signature);
        if (!hit) return undefined;
        const chunking = await cache.getUnread(hit.hash, hit.chars, (await this.ready).chunkParams);
        return chunking ? { path: file.path, hash: hit.hash, chars: hit.chars, chunking } : undefined;
      },
      read: (root, file) => void cache.index(root).then((index) => index.record(file.path, file.signature, file.hash, file.chars)),
    };
  }

  /** Starts planning `file`; resolves once there is room for the next (see `maxPendingChars`). */
  async add(file: PlanInput): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    const place = { path: file.path, fileIndex: this.added++ };
    let hashed: Promise<string>;
    let chunking: Promise<{ chunking: FileChunking; openerTokens?: number[] }>;
    let chars: number;
    // Texts held until packed count against `maxPendingChars`; an unread file holds none.
    let held = 0;
    if ('text' in file) {
      const text = file.text;
      hashed = file.hash !== undefined ? Promise.resolve(file.hash) : hashTextAsync(file.pieces ?? text);
      chunking = hashed.then((hash) => this.chunkingOf(text, hash, place, file.pieces));
      chars = held = text.length;
    } else {
      hashed = Promise.resolve(file.hash);
      chunking = this.knownChunking(file, place);
      chars = file.chars;
    }
    this.pendingChars += held;
    const done = (this.tail = this.tail.then(async () => {
      const [hash, c] = await Promise.all([hashed, chunking]);
      const planner = await this.ready;
      const openers = c.openerTokens && c.chunking.spans ? refsOf(c.chunking.spans, place.path, place.fileIndex).map(chunkOpener) : [];
      openers.forEach((o, i) => this.precounted!.set(o, c.openerTokens![i]));
      try {
        planner.addChunked({ path: file.path, chars, hash }, c.chunking);
      } finally {
        for (const o of openers) this.precounted!.delete(o);
      }
    }).catch((e: unknown) => {
      this.failure ??= e;
    }).finally(() => {
      this.pendingChars -= held;
    }));
    this.waits.push({ chars: held, done });
    while (this.pendingChars > (this.services.maxPendingChars ?? 16 * 1024 * 1024) && this.waits.length) {
      await this.waits.shift()!.done;
    }
    while (this.waits.length && this.waits.length > 256) this.waits.shift();
  }

  /** An unread file's chunking (from the plan cache), with its openers counted in the pool off the thread. */
  private async knownChunking(file: UnreadFile, place: { path: string; fileIndex: number }): Promise<{ chunking: FileChunking; openerTokens?: number[] }> {
    this.counts.cached++;
    this.counts.unread = (this.counts.unread ?? 0) + 1;
    return this.withOpeners(file.chunking, place, (await this.ready).chunkParams);
  }

  /** `chunking`, with the tokens of each chunk's opener when they are counted off the thread. */
  private async withOpeners(chunking: FileChunking, place: { path: string; fileIndex: number }, params: ChunkParams): Promise<{ chunking: FileChunking; openerTokens?: number[] }> {
    if (this.precounted === undefined || !chunking.spans) return { chunking };
    const openers = refsOf(chunking.spans, place.path, place.fileIndex).map(chunkOpener);
    const openerTokens = await this.pool!.count(openers, params.encoding).catch(() => undefined);
    return { chunking, ...(openerTokens ? { openerTokens } : {}) };
  }

  /**
   * The file's chunking, from the cache, the pool or this thread; off the thread, with each chunk's
   * opener counted in the pool (`openerTokens`), so that packing it counts nothing here.
   */
  private async chunkingOf(text: string, hash: string, place: { path: string; fileIndex: number }, pieces?: readonly string[]): Promise<{ chunking: FileChunking; openerTokens?: number[] }> {
    const params = (await this.ready).chunkParams;
    const offThread = this.precounted !== undefined;
    const cache = this.services.cache;
    if (cache) {
      const hit = await cache.get(text, hash, params);
      if (hit) {
        this.counts.cached++;
        return this.withOpeners(hit, place, params);
      }
    }
    let chunking: FileChunking | undefined;
    let openerTokens: number[] | undefined;
    // A file that would pass the threshold goes to the pool: one large first file must not block this thread.
    const inThread = !this.pool || (!offThread && (this.chunkedChars + text.length <= (this.services.inThreadChars ?? IN_THREAD_CHARS) ||
      (this.services.helpInThread === true && (this.pool.saturated || this.trimmed()))));
    this.chunkedChars += text.length;
    if (!inThread) {
      if (offThread) {
        const placed = await this.pool!.chunkPlaced(text, params, place, pieces).catch(() => undefined);
        chunking = placed?.chunking;
        openerTokens = placed?.openerTokens;
      } else {
        chunking = await this.pool!.chunk(text, params, pieces).catch(() => undefined);
      }
      if (chunking) this.counts.pooled++;
    }
    if (!chunking) {
      // No pool, or its worker failed on this file: chunked here (off the thread, loading the encoding: slow, still right).
      chunking = chunkText(text, params, this.options.tokenizer);
      this.counts.inThread++;
    }
    if (cache) {
      const w = cache.put(hash, text.length, params, chunking).catch(() => undefined).finally(() => this.writes.delete(w));
      this.writes.add(w);
    }
    return { chunking, ...(openerTokens ? { openerTokens } : {}) };
  }

  /** Texts the packer had to count in this thread (off the thread: 0 unless a worker failed). */
  get countedInThread(): number {
    return this.precounted?.fellBack ?? 0;
  }

  /** True when the caller wants this file chunked here (`inThreadNow`); the pool's idle workers end then. */
  private trimmed(): boolean {
    if (this.services.inThreadNow?.() !== true) return false;
    this.pool?.trim();
    return true;
  }

  /** The plan, once every file added is packed (and the cache entries written). */
  async finish(): Promise<Plan> {
    await this.ready;
    await this.tail;
    if (this.failure !== undefined) throw this.failure;
    await Promise.all([...this.writes]);
    await this.services.cache?.saveIndexes();
    return this.planner.finish();
  }
}
