// core/session: the run lifecycle both front ends (the editor, the CLI) share. run.ts: a plan run into
// a new run folder, a retry or a resume of one, through the cache and the executor. prepare.ts: the rules
// before anything is sent (parameters, model info, a folder's tokenizer, typed refusals).
import { randomBytes } from 'crypto';
import type { ChunkOutcome, RunEvent } from '../execute/events';
import type { EndpointLimits } from '../execute/endpointPool';
import { executeRequests, type ExecutorOptions } from '../execute/executor';
import type { ChatModel } from '../execute/model';
import { packRequests } from '../plan/packer';
import { FileChunkSource, type FileReader, type Plan } from '../plan/plan';
import { PROTOCOL_VERSION } from '../plan/protocol';
import { chunkResultKey } from '../store/cachedChunks';
import type { ResultCache } from '../store/resultCache';
import type { PassKind } from '../store/passes';
import { RunStore, type EndpointInfo, type RunMeta, type RunSummary } from '../store/runStore';
import type { RootPolicy } from '../store/pathGuard';
import type { Tokenizer } from '../plan/tokenizer';
import type { PackedRequest, ChunkRef } from '../plan/types';
import { definedOnly } from '../../util/objects';
import { isRecorded, type OutputSpec } from '../output/spec';
import { hasCap, recordedSpend, type BudgetOptions, type SpendCap, type TokenPrices } from '../execute/budget';

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
}

/** One endpoint of a run: its model and how `run.json` records it (limits included, never a key). */
export interface RunEndpoint {
  model: ChatModel;
  info: EndpointInfo & EndpointLimits;
  /** Its prices (not recorded in run.json), for a spend cap; the run's `budget.prices` when left out. */
  prices?: TokenPrices;
}

/** The endpoints a run folder names: every one of a several-endpoint run, or its one model. */
export function endpointsOf(meta: RunMeta): (EndpointInfo & EndpointLimits)[] {
  return meta.endpoints?.length ? meta.endpoints : [meta.model];
}

/** A run id that sorts by time: `20261122-140501-a1b2`. */
export function newRunId(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

/**
 * Runs a plan into a new run folder: chunk texts are read from disk as their batch is sent, every
 * outcome is recorded as it arrives, and `summary.json` closes the run. Never throws because chunks
 * failed; a fatal error (bad key, …) is in the summary's `fatal`.
 */
export async function runPlan(plan: Plan, options: RunOptions): Promise<{ summary: RunSummary; store: RunStore }> {
  const store = await createRunStore(plan, options);
  return execute(store, plan.batches, { ...options, pass: 'run' }, 'b');
}

/** Creates a plan's run folder with its `run.json` (shared by `runPlan` and batch jobs' `submitJob`). */
export function createRunStore(plan: Plan, options: Pick<RunOptions, 'dir' | 'root' | 'prompt' | 'modelInfo' | 'endpoints' | 'tokenizer' | 'parameters' | 'output'>): Promise<RunStore> {
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
  });
}

export interface RetryOptions extends Omit<RunOptions, 'dir' | 'root' | 'prompt' | 'modelInfo' | 'parameters'> {
  /** Chunks to retry; all whose latest status is not `succeeded` when omitted. */
  chunkIds?: readonly string[];
  /** Overrides of the run's recorded parameters (for example a lower concurrency). */
  parameters?: Partial<RunParameters>;
  /** How the pass is recorded in the run's history (`passes.jsonl`): a retry unless said. */
  pass?: 'retry' | 'resume';
  /**
   * The folders the run's files may be read from: a folder whose recorded `root` is none of them is
   * refused before anything is written or sent (a cloned repository's run.json may name `~`).
   * Required unless `read` is given (a reader confines itself, as the editor's reads the workspace).
   */
  roots?: RootPolicy;
}

/**
 * Sends again the chunks of a run folder that did not succeed (or the ones named), with the run's own
 * prompt and parameters, through the normal path: packed, limited, retried, recorded. Each file's
 * output is completed in place when its last chunk succeeds. A file edited since the run fails its
 * chunks with `source-changed` rather than mixing two versions.
 */
export async function retryChunks(dir: string, options: RetryOptions): Promise<{ summary: RunSummary; store: RunStore }> {
  if (!options.read && !options.roots) throw new TypeError('retryChunks: give `roots` (the folders the run may read) or a `read` that confines itself');
  const store = await RunStore.openForUpdate(dir, options.roots);
  const wanted = options.chunkIds ? new Set(options.chunkIds) : undefined;
  const chunks = store.unfinishedChunks().filter((c) => !wanted || wanted.has(c.id));
  const meta = store.meta;
  const parameters = { ...(meta.parameters as unknown as RunParameters), ...definedOnly(options.parameters ?? {}) };
  let batches: PackedRequest<ChunkRef>[];
  try {
    batches = packRequests(chunks, meta.prompt, options.tokenizer, {
      chunksPerBatch: parameters.chunksPerBatch,
      maxBatchTokens: parameters.maxBatchTokens,
      ...packWindow(options),
      output: meta.output,
    }).map((b) => ({ ...b, id: `r${b.id}` }));
  } catch (e) {
    await store.release();
    throw e;
  }
  return execute(store, batches, { ...options, root: meta.root, prompt: meta.prompt, parameters, output: meta.output, pass: options.pass ?? 'retry' }, 'r');
}

/**
 * Continues a run interrupted by a crash, a closed window or `kill -9`, from its folder alone (see
 * `RunStore.openForUpdate` for what is repaired first): every chunk that has not succeeded is sent, a
 * chunk that succeeded never again, and `summary.json` closes the run. Refused while another live
 * process writes the folder.
 */
export function resumeRun(dir: string, options: Omit<RetryOptions, 'chunkIds'>): Promise<{ summary: RunSummary; store: RunStore }> {
  return retryChunks(dir, { ...options, pass: 'resume' });
}

type ExecuteOptions = Pick<RunOptions, 'root' | 'read' | 'prompt' | 'model' | 'endpoints' | 'tokenizer' | 'parameters' | 'signal' | 'onEvent' | 'onOutcome' | 'cache' | 'onText' | 'output' | 'budget'> & { pass: PassKind };

/** The executor's spend cap for a run folder: the cap, each endpoint's prices, and what the folder records as spent. */
export function runBudget(store: Pick<RunStore, 'recordedUsage' | 'meta'>, options: Pick<RunOptions, 'budget' | 'model' | 'endpoints'>): BudgetOptions | undefined {
  const b = options.budget;
  if (!b || !hasCap(b.cap)) return undefined;
  const own = new Map((options.endpoints ?? []).filter((e) => e.prices).map((e) => [e.model.id, e.prices!]));
  const pricesOf = (id: string) => own.get(id) ?? b.prices;
  // Records of a one-endpoint run name no endpoint: they are the primary's.
  return { cap: b.cap, pricesOf, spent: recordedSpend(store.recordedUsage(), options.endpoints?.[0]?.model.id ?? options.model.id, pricesOf) };
}

/** Batches are packed for the smallest window of the run's endpoints, so that any of them can take any batch. */
function packWindow(options: Pick<RunOptions, 'model' | 'endpoints'>): { contextWindow?: number; maxOutputTokens?: number } {
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

async function execute(store: RunStore, batches: PackedRequest<ChunkRef>[], options: ExecuteOptions, batchPrefix: string): Promise<{ summary: RunSummary; store: RunStore }> {
  try {
    return await executeWithStore(store, batches, options, batchPrefix);
  } finally {
    await store.release();
  }
}

async function executeWithStore(store: RunStore, planned: PackedRequest<ChunkRef>[], options: ExecuteOptions, batchPrefix: string): Promise<{ summary: RunSummary; store: RunStore }> {
  const source = new FileChunkSource(options.read ?? options.root, store.meta.files);
  const p = options.parameters;
  const cache = options.cache;
  const keys = new Map<string, string>();
  let stored = 0;
  let batches = planned;
  // This pass in its own scope (a retry of one chunk says how that one chunk ended, not the run's counts).
  const pass = { kind: options.pass, chunks: planned.reduce((n, b) => n + b.chunks.length, 0), succeeded: 0, failed: 0, canceled: 0, cached: 0, attempts: 0 };
  const count = (o: ChunkOutcome) => {
    pass[o.status]++;
    if (o.cached) pass.cached++;
    pass.attempts += o.attempts;
  };
  if (cache) {
    const misses: ChunkRef[] = [];
    for (const b of planned) {
      for (const c of b.chunks) {
        let text: string;
        try {
          text = await source.text(c);
        } catch {
          misses.push(c); // the executor reports why it cannot be read
          continue;
        }
        const key = chunkResultKey({ prompt: options.prompt, model: store.meta.model, maxOutputTokens: options.model.maxOutputTokens, output: options.output }, c, text);
        keys.set(c.id, key);
        const output = await cache.get(key);
        if (output === undefined) {
          misses.push(c);
          continue;
        }
        const outcome: ChunkOutcome = { chunk: c, status: 'succeeded', output, cached: true, attempts: 0, batchId: 'cache', inputTokens: 0, outputTokens: 0, latencyMs: 0 };
        await store.record(outcome);
        count(outcome);
        // Counted by progress displays like any finished chunk (shown as from the cache).
        options.onEvent?.({ type: 'chunk-finished', outcome });
        options.onOutcome?.(outcome);
      }
    }
    if (misses.length < planned.reduce((n, b) => n + b.chunks.length, 0)) {
      // Only the chunks not found are sent, packed again so that no request goes out half empty.
      batches = packRequests(misses, options.prompt, options.tokenizer, {
        chunksPerBatch: p.chunksPerBatch,
        maxBatchTokens: p.maxBatchTokens,
        ...packWindow(options),
        output: options.output,
      }).map((b) => ({ ...b, id: `${batchPrefix}${b.id.replace(/^b/, '')}` }));
    }
  }
  const execution = await executeRequests(batches, {
    prompt: options.prompt,
    model: options.model,
    tokenizer: options.tokenizer,
    ...executorLimits(p, options.endpoints),
    output: options.output,
    signal: options.signal,
    budget: runBudget(store, options),
    loadText: (c) => source.text(c),
    onEvent: options.onEvent,
    onText: options.onText,
    onOutcome: async (o) => {
      await store.record(o);
      count(o);
      const key = keys.get(o.chunk.id);
      if (cache && key && o.status === 'succeeded' && o.output !== undefined) {
        // A cache that cannot be written costs a future request, never this run.
        await cache.put(key, o.output).then(() => stored++, () => undefined);
      }
      options.onOutcome?.(o);
    },
  });
  const summary = await store.finish(execution, {
    ...pass,
    at: new Date().toISOString(),
    requests: execution.requests,
    inputTokens: execution.inputTokens,
    outputTokens: execution.outputTokens,
    durationMs: execution.durationMs,
    ...(execution.fatal ? { fatal: execution.fatal.message } : {}),
  });
  // Only new entries can push the cache past its bound (a scan of every entry: once per run).
  if (stored > 0) await cache?.prune().catch(() => undefined);
  return { summary, store };
}

