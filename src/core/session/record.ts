// core/session/record.ts: what a run, a retry, a resume and a run that sends while it plans share:
// the run's options, its folder's creation, the packing window, and sending batches with every outcome
// recorded (and stored in the result cache). Below run.ts and planning.ts, which both use it.
import { randomBytes } from 'crypto';
import type { ChunkOutcome, RunEvent } from '../execute/events';
import type { EndpointLimits } from '../execute/endpointPool';
import { executeRequests, type BatchFeed, type ExecutorOptions } from '../execute/executor';
import type { ChatModel } from '../execute/model';
import { FileChunkSource, type FileReader, type Plan } from '../plan/plan';
import { PROTOCOL_VERSION } from '../plan/protocol';
import type { ResultCache } from '../store/resultCache';
import { RunStore, type EndpointInfo, type PlanningSpec, type RunMeta, type RunSummary } from '../store/runStore';
import type { Tokenizer } from '../plan/tokenizer';
import type { PackedRequest, ChunkRef } from '../plan/types';
import { definedOnly } from '../../util/objects';
import { isRecorded, type OutputSpec } from '../output/spec';
import { hasCap, recordedSpend, type BudgetOptions, type SpendCap, type TokenPrices } from '../execute/budget';
import type { PassKind, RunPass } from '../store/passes';

export interface RunParameters {
  maxConcurrency: number;
  maxRetries: number;
  requestTimeoutMs: number;
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  chunkTokens: number;
  overlapTokens: number;
  chunksPerBatch: number;
  maxBatchTokens: number;
  /** Several endpoints: consecutive transient failures that take one out of the run (executor default 3). */
  dropAfterFailures?: number;
  /** Several endpoints: a 429 asking to wait longer than this takes one out of the run (executor default 60 s). */
  dropAfterRetryAfterMs?: number;
}

export interface RunOptions {
  /** Folder the plan's paths are relative to (recorded in run.json). */
  root: string;
  /** Reads a run-relative path; from `root` on disk by default. */
  read?: FileReader;
  /** The run folder to create. */
  dir: string;
  prompt: string;
  model: ChatModel;
  /** How the model is described in `run.json` (never a key). */
  modelInfo: RunMeta['model'];
  tokenizer: Tokenizer;
  parameters: RunParameters;
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  onOutcome?: (outcome: ChunkOutcome) => void;
  /** Streams replies, passing each piece of text as it arrives (see `ExecutorOptions.onText`). */
  onText?: ExecutorOptions['onText'];
  /**
   * Several endpoints serving the run, each with its model, how run.json names it and its own limits
   * (the run's parameters are their defaults). The first is the primary and should be `model` /
   * `modelInfo`: the result cache keys on it. Left out: `model` is the one endpoint.
   */
  endpoints?: RunEndpoint[];
  /**
   * Results of earlier runs: a chunk whose key (prompt, model, generation parameters, protocol, path
   * and text) is found is recorded `cached` and not sent; every chunk that succeeds is stored.
   */
  cache?: ResultCache;
  /** The output kind (#14), recorded in run.json; a resume or retry reads it from there. Default text. */
  output?: OutputSpec;
  /**
   * A spend cap (#17) for the whole run: what its folder records as spent counts toward it, so a resume
   * with the same cap sends nothing more and one with a raised cap finishes the chunks it left. `prices`
   * are the run's (an endpoint's own `prices` win). A cost cap on an endpoint without prices sends
   * nothing there: front ends refuse it first (`capRefusal`).
   */
  budget?: { cap: SpendCap; prices?: TokenPrices };
  /** Where the executor counts tokens (see `ExecutorOptions.measure`); in this thread by default. */
  measure?: ExecutorOptions['measure'];
}


/** One endpoint of a run: its model and how `run.json` records it (limits included, never a key). */
export interface RunEndpoint {
  model: ChatModel;
  info: EndpointInfo & EndpointLimits;
  /** Its prices (not recorded in run.json), for a spend cap; the run's `budget.prices` when left out. */
  prices?: TokenPrices;
}

/** A run id that sorts by time: `20261122-140501-a1b2`. */
export function newRunId(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

/** Creates a plan's run folder with its `run.json` (shared by `runPlan` and batch jobs' `submitJob`). */
export function createRunStore(
  plan: Pick<Plan, 'files' | 'skipped' | 'chunkTokens'>,
  options: Pick<RunOptions, 'dir' | 'root' | 'prompt' | 'modelInfo' | 'endpoints' | 'tokenizer' | 'parameters' | 'output'> & { planning?: PlanningSpec },
): Promise<RunStore> {
  const runId = options.dir.split(/[\\/]/).filter(Boolean).pop() ?? newRunId();
  return RunStore.create(options.dir, {
    runId,
    createdAt: new Date().toISOString(),
    root: options.root,
    prompt: options.prompt,
    model: options.endpoints?.length ? stripLimits(options.endpoints[0].info) : options.modelInfo,
    ...(options.endpoints?.length ? { endpoints: options.endpoints.map((e) => definedOnly(e.info) as EndpointInfo & EndpointLimits) } : {}),
    encoding: options.tokenizer.encoding,
    protocolVersion: PROTOCOL_VERSION,
    ...(isRecorded(options.output) ? { output: options.output } : {}),
    parameters: { ...options.parameters, chunkTokens: plan.chunkTokens },
    files: plan.files.map((f) => ({ path: f.path, hash: f.hash, chunks: f.chunks })),
    ...(plan.skipped?.length ? { skipped: plan.skipped } : {}),
    ...(options.planning ? { planning: options.planning } : {}),
  });
}

/** Batches are packed for the smallest window of the run's endpoints, so that any of them can take any batch. */
export function packWindow(options: Pick<RunOptions, 'model' | 'endpoints'>): { contextWindow?: number; maxOutputTokens?: number } {
  return smallestWindow(options.endpoints?.length ? options.endpoints.map((e) => e.model) : [options.model]);
}

/** The context window (with its reply reservation) that fits every one of `models`: the packer's budget. */
export function smallestWindow(models: readonly Pick<ChatModel, 'contextWindow' | 'maxOutputTokens'>[]): { contextWindow?: number; maxOutputTokens?: number } {
  const windowed = models.filter((m) => m.contextWindow);
  if (windowed.length === 0) return { contextWindow: undefined, maxOutputTokens: models[0].maxOutputTokens };
  const smallest = windowed.reduce((a, b) => (a.contextWindow! - (a.maxOutputTokens ?? 0) <= b.contextWindow! - (b.maxOutputTokens ?? 0) ? a : b));
  return { contextWindow: smallest.contextWindow, maxOutputTokens: smallest.maxOutputTokens };
}

/** A run's recorded parameters and endpoints as the executor takes them (a run, a retry, a reduce level). */
export function executorLimits(p: RunParameters, endpoints?: readonly RunEndpoint[]): Pick<ExecutorOptions, 'maxConcurrency' | 'maxRetries' | 'requestTimeoutMs' | 'requestsPerMinute' | 'tokensPerMinute' | 'dropAfterFailures' | 'dropAfterRetryAfterMs' | 'endpoints'> {
  return {
    maxConcurrency: p.maxConcurrency,
    maxRetries: p.maxRetries,
    requestTimeoutMs: p.requestTimeoutMs,
    requestsPerMinute: p.requestsPerMinute,
    tokensPerMinute: p.tokensPerMinute,
    dropAfterFailures: p.dropAfterFailures,
    dropAfterRetryAfterMs: p.dropAfterRetryAfterMs,
    ...(endpoints?.length ? { endpoints: endpoints.map((e) => ({ model: e.model, maxConcurrency: e.info.maxConcurrency, requestsPerMinute: e.info.requestsPerMinute, tokensPerMinute: e.info.tokensPerMinute })) } : {}),
  };
}

function stripLimits(info: EndpointInfo & EndpointLimits): EndpointInfo {
  const { maxConcurrency: _c, requestsPerMinute: _r, tokensPerMinute: _t, ...rest } = info;
  return definedOnly(rest) as EndpointInfo;
}


export type SendOptions = Pick<RunOptions, 'root' | 'read' | 'prompt' | 'model' | 'endpoints' | 'tokenizer' | 'parameters' | 'signal' | 'onEvent' | 'onOutcome' | 'cache' | 'onText' | 'output' | 'budget' | 'measure'> & { pass: PassKind };

/** `compute` with the run's token counts, made where `measure` says (in this thread by default). */
export function measured<T>(options: Pick<RunOptions, 'measure' | 'tokenizer'>, compute: (tokenizer: Tokenizer) => T): Promise<T> {
  return options.measure ? options.measure(compute) : Promise.resolve(compute(options.tokenizer));
}

/** The executor's spend cap for a run folder: the cap, each endpoint's prices, and what the folder records as spent. */
export function runBudget(store: Pick<RunStore, 'recordedUsage' | 'meta'>, options: Pick<RunOptions, 'budget' | 'model' | 'endpoints'>): BudgetOptions | undefined {
  const b = options.budget;
  if (!b || !hasCap(b.cap)) return undefined;
  const own = new Map((options.endpoints ?? []).filter((e) => e.prices).map((e) => [e.model.id, e.prices!]));
  const pricesOf = (id: string) => own.get(id) ?? b.prices;
  // Records of a one-endpoint run name no endpoint: they are the primary's.
  return { cap: b.cap, pricesOf, spent: recordedSpend(store.recordedUsage(), options.endpoints?.[0]?.model.id ?? options.model.id, pricesOf) };
}

/** One pass's own counts (a run, a retry, a resume), recorded in `passes.jsonl` when it ends. */
export type PassTally = Pick<RunPass, 'kind' | 'succeeded' | 'failed' | 'canceled' | 'cached' | 'attempts'> & { chunks?: number };

/** A pass's tally before any chunk ended; `chunks` its chunks when known (a run that plans as it sends counts them as they end). */
export function newTally(kind: PassKind, chunks?: number): PassTally {
  return { kind, ...(chunks === undefined ? {} : { chunks }), succeeded: 0, failed: 0, canceled: 0, cached: 0, attempts: 0 };
}

/** Counts a chunk's outcome in its pass. */
export function tally(t: PassTally, o: ChunkOutcome): void {
  t[o.status]++;
  if (o.cached) t.cached++;
  t.attempts += o.attempts;
}

/**
 * Sends batches (all known, or fed as they are planned) through the executor, recording every outcome
 * in `store` and storing each success whose cache key is in `keys` (the key is dropped once stored);
 * writes `summary.json`. Chunk texts are read from disk as their batch goes (`FileChunkSource`).
 */
export async function sendRecorded(
  store: RunStore,
  batches: readonly PackedRequest<ChunkRef>[] | BatchFeed,
  keys: Map<string, string>,
  options: SendOptions,
  source = new FileChunkSource(options.read ?? options.root, store.meta.files),
  pass = newTally(options.pass),
): Promise<RunSummary> {
  const cache = options.cache;
  let stored = 0;
  const execution = await executeRequests(batches, {
    prompt: options.prompt,
    model: options.model,
    tokenizer: options.tokenizer,
    ...executorLimits(options.parameters, options.endpoints),
    output: options.output,
    signal: options.signal,
    budget: runBudget(store, options),
    loadText: (c) => source.text(c),
    ...(options.measure ? { measure: options.measure } : {}),
    onEvent: options.onEvent,
    onText: options.onText,
    onOutcome: async (o: ChunkOutcome) => {
      await store.record(o);
      tally(pass, o);
      const key = keys.get(o.chunk.id);
      keys.delete(o.chunk.id);
      if (cache && key && o.status === 'succeeded' && o.output !== undefined) {
        // A cache that cannot be written costs a future request, never this run.
        await cache.put(key, o.output).then(() => stored++, () => undefined);
      }
      options.onOutcome?.(o);
    },
  });
  const summary = await store.finish(execution, {
    ...pass,
    chunks: pass.chunks ?? pass.succeeded + pass.failed + pass.canceled,
    at: new Date().toISOString(),
    requests: execution.requests,
    inputTokens: execution.inputTokens,
    outputTokens: execution.outputTokens,
    durationMs: execution.durationMs,
    ...(execution.fatal ? { fatal: execution.fatal.message } : {}),
  });
  // Only new entries can push the cache past its bound (a scan of every entry: once per run).
  if (stored > 0) await cache?.prune().catch(() => undefined);
  return summary;
}
