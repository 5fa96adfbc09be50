// core/session/planning.ts: a run that sends while it plans (#17). When no confirmation is asked, the
// executor takes batches as the planner packs them: the first request leaves with the first batch.
// The run folder stays honest and resumable meanwhile: run.json is written when the first file is
// planned, with `planning` (how its files are found again); each planned file goes to plan.jsonl
// before any of its chunks is sent; once the plan is complete run.json is written again whole. A
// resume of a folder still planned sends what did not succeed and plans the rest (`finishPlanning`).
import { createHash } from 'crypto';
import type { ChunkOutcome } from '../execute/events';
import { collectFiles, type CollectResult, type KnownFiles } from '../input/files';
import { BatchPacker, chunkCost } from '../plan/packer';
import type { Tokenizer } from '../plan/tokenizer';
import { FileChunkSource, type Plan, type PlannedFile, type PlanOptions } from '../plan/plan';
import { ParallelPlanner, type PlanCounts, type PlanServices } from '../plan/parallelPlan';
import type { ChunkRef, PackedRequest, PlanInput } from '../plan/types';
import { chunkResultKey } from '../store/cachedChunks';
import type { PlanningSpec, RunStore, RunSummary } from '../store/runStore';
import { FeedQueue, StepQueue } from './feed';
import { createRunStore, newTally, packWindow, sendRecorded, tally, type RunOptions, type SendOptions } from './record';

/** Files fed to a planner, in order; resolves once every file is fed. */
export type FileFeed = (add: (file: PlanInput) => void | Promise<void>, known?: KnownFiles) => Promise<CollectResult | void>;

/** The 1-based shard (of `n`) a planned file belongs to: sha256 of its path, mod `n`; the same on every machine. */
export function shardOf(p: string, n: number): number {
  const h = createHash('sha256').update(p).digest();
  return (h.readUInt32BE(0) % n) + 1;
}

/** The files a planning spec names under `root`, read from disk one at a time (the CLI's `run`, a resume). */
export function specFiles(root: string, spec: PlanningSpec, signal?: AbortSignal, before?: (path: string) => Promise<void> | void): FileFeed {
  return (add, known) =>
    collectFiles(spec.inputs, {
      cwd: root,
      maxFileBytes: spec.maxFileBytes,
      respectGitignore: spec.respectGitignore,
      signal,
      ...(known ? { known } : {}),
      onFile: async (f) => {
        if (spec.shard && shardOf(f.path, spec.shard.n) !== spec.shard.k) return;
        await before?.(f.path);
        await add(f);
      },
    });
}

export interface PlanningRunOptions extends RunOptions {
  /** Recorded in run.json while the run is planned: how a resume finds its files again. */
  planning: PlanningSpec;
  /** The files, in order; `specFiles(root, planning, signal)` by default. */
  files?: FileFeed;
  /** Worker threads and the plan cache to chunk with (#17); every file is chunked in this thread when left out. */
  planServices?: PlanServices;
  /**
   * A run that asks before it sends much (the editor's batchPrompt.confirmAbove): requests go out at once
   * while fewer than `holdAt` batches are planned; from the `holdAt`-th on, sending waits until the
   * plan is complete and `planned` said yes. Never held when left out.
   */
  holdAt?: number;
  /**
   * Told the complete plan of a run that planned a chunk (and what the file feed returned) before the run ends: the editor opens its
   * live document, or asks its confirmation. Resolving false when sending was held (see `holdAt`)
   * declines the rest: it is not sent, its chunks end `canceled` ("not confirmed"), a resume sends them.
   */
  planned?: (plan: Plan, collected: CollectResult | undefined) => boolean | Promise<boolean>;
}

/** Why the chunks of a run that was not confirmed were not sent. */
export const NOT_CONFIRMED = 'Not sent: the run was not confirmed; resume it to send the rest.';

export interface PlanningRunResult {
  plan: Plan;
  /** What the file feed returned (the files it skipped, …). */
  collected?: CollectResult;
  /** Absent when nothing was planned (no chunk): no run folder was written. */
  summary?: RunSummary;
  store?: RunStore;
  /** `planned` declined the rest of the run (see `holdAt`). */
  declined?: true;
  /** Where files were chunked: in this thread, in the pool, from the plan cache (for the log). */
  planCounts: PlanCounts;
}

/**
 * Plans and sends at once (see the top of this file). Nothing is written before the first chunk is
 * planned; a plan with no chunk returns without a summary. Planning stopped by the signal leaves a
 * folder a resume finishes; a planning error stops the run (what was sent is recorded) and is thrown.
 */
export async function runPlanning(options: PlanningRunOptions): Promise<PlanningRunResult> {
  const p = options.parameters;
  let store: RunStore | undefined;
  let sending: Promise<RunSummary> | undefined;
  const feed = new FeedQueue();
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  let sender: Sender | undefined;
  const steps = new StepQueue();
  const step = (f: () => Promise<void>) => steps.add(f);
  const counts = { files: 0, chunks: 0, batches: 0 };
  const texts = new PlannedTexts();
  // The CLI (it may chunk in this thread): the first files, and any file while the executor is not
  // waiting on an empty feed (requests are behind, not waiting for the plan), are chunked here and idle
  // workers end: a worker costs 100 MB and more of RSS (its heap, the bundle, the tokenizer's tables)
  // and buys nothing then. Nor does a pool of one worker (a 2-core machine): it competes with this
  // thread, which sends the requests (memory bench: no faster, 50-100 MB more). The editor never chunks here.
  const pooled = (options.planServices?.pool?.size ?? 0) >= 2;
  const services = options.planServices?.helpInThread ? { ...options.planServices, inThreadNow: () => !pooled || counts.batches === 0 || !feed.starved } : options.planServices;
  const planner = new ParallelPlanner(
    planOptions(options),
    services,
    {
      file: (f) => {
        const text = texts.take(f.path);
        step(async () => {
          if (!store) {
            store = await createRunStore({ files: [], chunkTokens: p.chunkTokens }, { ...options, planning: options.planning });
            const send = { ...options, signal, pass: 'run' as const };
            sender = new Sender(store, send, feed, 'c');
            sending = sendRecorded(store, feed, sender.keys, send, sender.source, sender.pass);
          }
          await store.addPlannedFile(f);
          // Held batches wait for a confirmation: their files are read again when sent, not kept.
          sender!.source.addFile(f, feed.held ? undefined : text);
          counts.files++;
          counts.chunks += f.chunks.length;
          emit({ type: 'planning', ...counts });
        });
      },
      batch: (b) =>
        step(async () => {
          counts.batches++;
          if (options.holdAt !== undefined && counts.batches >= options.holdAt) feed.hold();
          await sender!.take(b);
        }),
    },
  );
  const emit = (e: { type: 'planning' | 'plan-finished'; files: number; chunks: number; batches: number }) => {
    try {
      options.onEvent?.(e);
    } catch {
      // a display's bug must not stop the run
    }
  };
  let collected: CollectResult | void = undefined;
  let planError: unknown;
  try {
    collected = await (options.files ?? specFiles(options.root, options.planning, options.signal))(async (f) => {
      // Requests are behind: plan no further until the executor takes a batch (the feed is bounded).
      await steps.below();
      await feed.room();
      if (steps.failure !== undefined) throw steps.failure;
      texts.add(f);
      return planner.add(f);
    }, planner.known);
  } catch (e) {
    planError = e;
  }
  const plan = await planner.finish().catch((e: unknown) => {
    planError ??= e;
    return planner.planner.finish();
  });
  texts.clear();
  if (planner.counts.inThread + planner.counts.pooled > 0) await planner.cache?.prune().catch(() => undefined);
  await steps.done();
  const error = steps.failure ?? (options.signal?.aborted ? undefined : planError);
  let declined: true | undefined;
  if (store && sender) {
    try {
      if (error === undefined && planError === undefined) emit({ type: 'plan-finished', ...counts });
      if (error === undefined) await sender.flush();
      if (error === undefined && planError === undefined) {
        await store.completePlan({ order: plan.files.map((f) => f.path), skipped: plan.skipped ?? [], chunkTokens: plan.chunkTokens });
        const go = (await options.planned?.(plan, collected || undefined)) ?? true;
        if (!go && feed.held) {
          declined = true;
          await sender.decline(feed.takeAll());
        }
        feed.release();
      }
    } catch (e) {
      steps.failure ??= e;
    }
    if (steps.failure !== undefined || error !== undefined) stop.abort();
    feed.close();
    const summary = await sending!;
    if (steps.failure ?? error) throw steps.failure ?? error;
    return { plan, collected: collected || undefined, summary, store, planCounts: planner.counts, ...(declined ? { declined } : {}) };
  }
  if (steps.failure ?? error) throw steps.failure ?? error;
  return { plan, collected: collected || undefined, planCounts: planner.counts };
}

/**
 * A resume of a run folder still planned: the chunks planned that did not succeed (`unfinished`,
 * packed), then the rest of the plan, replayed from the recorded spec in the same order so that every
 * file keeps its chunk ids; files already planned keep their recorded chunks and are not sent again.
 */
export async function finishPlanning(store: RunStore, unfinished: PackedRequest<ChunkRef>[], options: SendOptions): Promise<RunSummary> {
  const spec = store.meta.planning!;
  const feed = new FeedQueue();
  const sender = new Sender(store, options, feed, 'rc');
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const sending = sendRecorded(store, feed, sender.keys, { ...options, signal }, sender.source, sender.pass);
  const known = new Set(store.meta.files.map((f) => f.path));
  // Files planned now (their chunks go), and files whose new chunks clash with recorded ones (left out).
  const fresh = new Set<string>();
  const skipped: { path: string; reason: string }[] = [];
  const steps = new StepQueue();
  const step = (f: () => Promise<void>) => steps.add(f);
  for (const b of unfinished) step(() => sender.take(b));
  const planner = new ParallelPlanner(
    planOptions(options),
    {},
    {
      file: (f: PlannedFile) =>
        step(async () => {
          if (known.has(f.path)) return;
          try {
            await store.addPlannedFile(f);
          } catch (e) {
            // Its files changed since the run was planned, so a new file's ids meet recorded ones.
            skipped.push({ path: f.path, reason: `not planned on resume: ${e instanceof Error ? e.message : String(e)}; run the prompt on it again` });
            return;
          }
          fresh.add(f.path);
          sender.source.addFile(f);
        }),
      batch: (b) => step(() => sender.take({ ...b, chunks: b.chunks.filter((c) => fresh.has(c.path)) })),
    },
  );
  let planError: unknown;
  try {
    await specFiles(store.meta.root, spec, options.signal)(async (f) => {
      await steps.below();
      await feed.room();
      return planner.add(f);
    });
  } catch (e) {
    planError = e;
  }
  const plan = await planner.finish().catch((e: unknown) => {
    planError ??= e;
    return planner.planner.finish();
  });
  await steps.done();
  const error = steps.failure ?? (options.signal?.aborted ? undefined : planError);
  try {
    if (error === undefined) await sender.flush();
    if (error === undefined && planError === undefined) {
      await store.completePlan({ order: plan.files.map((f) => f.path), skipped: [...(plan.skipped ?? []), ...skipped], chunkTokens: plan.chunkTokens });
    }
  } catch (e) {
    steps.failure ??= e;
  }
  if (steps.failure !== undefined || error !== undefined) stop.abort();
  feed.close();
  const summary = await sending;
  if (steps.failure ?? error) throw steps.failure ?? error;
  return summary;
}

/**
 * The texts of files added to a planner and not yet planned, in order: a planned file's text goes to
 * the chunk source, so its chunks are sliced from the text read for planning (no second read). Files
 * planned come out in the order they went in; those before a planned one gave no chunk and are dropped.
 * Holds only what the planner holds anyway (its texts not yet packed).
 */
class PlannedTexts {
  private readonly items: PlanInput[] = [];
  private head = 0;

  add(f: PlanInput): void {
    this.items.push(f);
  }

  take(p: string): string | undefined {
    while (this.head < this.items.length) {
      const f = this.items[this.head];
      this.items[this.head++] = undefined as unknown as PlanInput;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items.splice(0, this.head);
        this.head = 0;
      }
      // A file planned unread (#17) holds no text: its chunks read it when sent.
      if (f.path === p) return 'text' in f ? f.text : undefined;
    }
    return undefined;
  }

  clear(): void {
    this.items.length = 0;
    this.head = 0;
  }
}

/**
 * Between the planner and the executor: a chunk whose result is in the cache is recorded `cached` and
 * not sent; the others go on in the planner's batches, or packed again when some of a batch were taken
 * from the cache (so that no request goes out half empty).
 */
class Sender {
  readonly source: FileChunkSource;
  /** Cache keys of chunks sent, until their result is stored. */
  readonly keys = new Map<string, string>();
  /** The pass's own counts, cache hits included. */
  readonly pass: ReturnType<typeof newTally>;
  /** Made when a batch first comes back partly from the cache (its counts measured first: see `SendOptions.measure`). */
  private packer?: BatchPacker<ChunkRef>;
  private pending = 0;

  constructor(
    private readonly store: RunStore,
    private readonly options: SendOptions,
    private readonly feed: FeedQueue,
    private readonly prefix: string,
  ) {
    this.source = new FileChunkSource(options.read ?? options.root, store.meta.files);
    this.pass = newTally(options.pass);
  }

  /** The packer for chunks a cache hit left over, with what it will count measured where `measure` says. */
  private async packerFor(chunks: readonly ChunkRef[]): Promise<BatchPacker<ChunkRef>> {
    const p = this.options.parameters;
    const make = (t: Tokenizer) => new BatchPacker<ChunkRef>(this.options.prompt, t, { chunksPerBatch: p.chunksPerBatch, maxBatchTokens: p.maxBatchTokens, ...packWindow(this.options), output: this.options.output });
    if (this.options.measure) {
      await this.options.measure((t) => {
        if (!this.packer) make(t); // what every request costs, counted once
        for (const c of chunks) chunkCost(c, t);
      });
    }
    return (this.packer ??= make(this.options.measure?.known ?? this.options.tokenizer));
  }

  async take(b: PackedRequest<ChunkRef>): Promise<void> {
    const misses = await this.lookUp(b.chunks);
    if (misses.length === 0) return;
    if (misses.length === b.chunks.length && this.pending === 0) return this.feed.push(b);
    const packer = await this.packerFor(misses);
    for (const c of misses) {
      const closed = packer.add(c);
      this.pending = closed ? 1 : this.pending + 1;
      if (closed) await this.feed.push({ ...closed, id: `${this.prefix}${closed.id.replace(/^b/, '')}` });
    }
  }

  /** Records the chunks of batches that will not be sent (a declined confirmation) as canceled. */
  async decline(batches: readonly PackedRequest<ChunkRef>[]): Promise<void> {
    for (const b of batches) {
      for (const c of b.chunks) {
        this.keys.delete(c.id);
        await this.settle({ chunk: c, status: 'canceled', error: { kind: 'canceled', message: NOT_CONFIRMED }, attempts: 0, batchId: b.id, inputTokens: 0, outputTokens: 0, latencyMs: 0 });
      }
    }
  }

  /** Records an outcome decided here (from the cache, not confirmed), counted by progress displays like any other. */
  private async settle(outcome: ChunkOutcome): Promise<void> {
    await this.store.record(outcome);
    tally(this.pass, outcome);
    this.options.onEvent?.({ type: 'chunk-finished', outcome });
    this.options.onOutcome?.(outcome);
  }

  async flush(): Promise<void> {
    const last = this.packer?.flush();
    this.pending = 0;
    if (last) await this.feed.push({ ...last, id: `${this.prefix}${last.id.replace(/^b/, '')}` });
  }

  private async lookUp(chunks: readonly ChunkRef[]): Promise<ChunkRef[]> {
    const cache = this.options.cache;
    if (!cache) return [...chunks];
    const misses: ChunkRef[] = [];
    for (const c of chunks) {
      let text: string;
      try {
        text = await this.source.text(c);
      } catch {
        misses.push(c); // the executor reports why it cannot be read
        continue;
      }
      const key = chunkResultKey({ prompt: this.options.prompt, model: this.store.meta.model, maxOutputTokens: this.options.model.maxOutputTokens, output: this.options.output }, c, text);
      const output = await cache.get(key);
      if (output === undefined) {
        this.keys.set(c.id, key);
        misses.push(c);
        continue;
      }
      await this.settle({ chunk: c, status: 'succeeded', output, cached: true, attempts: 0, batchId: 'cache', inputTokens: 0, outputTokens: 0, latencyMs: 0 });
    }
    return misses;
  }
}

/** The planner's options for a run's recorded parameters, prompt and output kind. */
function planOptions(options: Pick<SendOptions, 'prompt' | 'tokenizer' | 'output' | 'parameters' | 'model' | 'endpoints'>): PlanOptions {
  const p = options.parameters;
  return {
    prompt: options.prompt,
    tokenizer: options.tokenizer,
    ...(options.output && options.output.kind !== 'text' ? { output: options.output } : {}),
    chunk: { chunkTokens: p.chunkTokens, overlapTokens: p.overlapTokens },
    pack: { chunksPerBatch: p.chunksPerBatch, maxBatchTokens: p.maxBatchTokens, ...packWindow(options) },
  };
}
