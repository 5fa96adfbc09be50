// core/session: the run lifecycle both front ends (the editor, the CLI) share. run.ts: a plan run into
// a new run folder, a retry or a resume of one, through the cache and the executor. prepare.ts: the rules
// before anything is sent (parameters, model info, a folder's tokenizer, typed refusals).
import { packRequests } from '../plan/packer';
import type { Plan } from '../plan/plan';
import { chunkResultKey } from '../store/cachedChunks';
import type { PassKind } from '../store/passes';
import { RunStore, type EndpointInfo, type RunMeta, type RunSummary } from '../store/runStore';
import type { RootPolicy } from '../store/pathGuard';
import type { PackedRequest, ChunkRef } from '../plan/types';
import { definedOnly } from '../../util/objects';
import type { ChunkOutcome } from '../execute/events';
import type { EndpointLimits } from '../execute/endpointPool';
import { FileChunkSource } from '../plan/plan';
import { createRunStore, measured, newTally, packWindow, sendRecorded, tally, type RunOptions, type RunParameters } from './record';
import { finishPlanning } from './planning';

export { createRunStore, executorLimits, newRunId, runBudget, smallestWindow, type RunEndpoint, type RunOptions, type RunParameters } from './record';
export { runPlanning, type PlanningRunOptions, type PlanningRunResult } from './planning';

/** The endpoints a run folder names: every one of a several-endpoint run, or its one model. */
export function endpointsOf(meta: RunMeta): (EndpointInfo & EndpointLimits)[] {
  return meta.endpoints?.length ? meta.endpoints : [meta.model];
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
    batches = await packAgain(chunks, { ...options, prompt: meta.prompt, parameters, output: meta.output }, (id) => `r${id}`);
  } catch (e) {
    await store.release();
    throw e;
  }
  const resumed = { ...options, root: meta.root, prompt: meta.prompt, parameters, output: meta.output, pass: options.pass ?? 'retry' };
  if (meta.planning) {
    // Its plan was not complete (it sent while it planned): the rest is planned and sent now.
    try {
      return { summary: await finishPlanning(store, batches, resumed), store };
    } finally {
      await store.release();
    }
  }
  return execute(store, batches, resumed, 'r');
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

type ExecuteOptions = Pick<RunOptions, 'root' | 'read' | 'prompt' | 'model' | 'endpoints' | 'tokenizer' | 'parameters' | 'signal' | 'onEvent' | 'onOutcome' | 'cache' | 'onText' | 'output' | 'budget' | 'measure'> & { pass: PassKind };

async function execute(store: RunStore, batches: PackedRequest<ChunkRef>[], options: ExecuteOptions, batchPrefix: string): Promise<{ summary: RunSummary; store: RunStore }> {
  try {
    return await executeWithStore(store, batches, options, batchPrefix);
  } finally {
    await store.release();
  }
}

async function executeWithStore(store: RunStore, planned: PackedRequest<ChunkRef>[], options: ExecuteOptions, batchPrefix: string): Promise<{ summary: RunSummary; store: RunStore }> {
  const source = new FileChunkSource(options.read ?? options.root, store.meta.files);
  const cache = options.cache;
  const keys = new Map<string, string>();
  let batches = planned;
  // This pass in its own scope (a retry of one chunk says how that one chunk ended, not the run's counts).
  const pass = newTally(options.pass, planned.reduce((n, b) => n + b.chunks.length, 0));
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
        tally(pass, outcome);
        // Counted by progress displays like any finished chunk (shown as from the cache).
        options.onEvent?.({ type: 'chunk-finished', outcome });
        options.onOutcome?.(outcome);
      }
    }
    if (misses.length < planned.reduce((n, b) => n + b.chunks.length, 0)) {
      // Only the chunks not found are sent, packed again so that no request goes out half empty.
      batches = await packAgain(misses, options, (id) => `${batchPrefix}${id.replace(/^b/, '')}`);
    }
  }
  const summary = await sendRecorded(store, batches, keys, options, source, pass);
  return { summary, store };
}

/**
 * Chunks packed into requests again (a retry's, or those a cache lookup left), under the run's
 * parameters and window, counted where `measure` says; each batch id made by `id`.
 */
async function packAgain(chunks: readonly ChunkRef[], options: Pick<RunOptions, 'prompt' | 'tokenizer' | 'measure' | 'model' | 'endpoints' | 'parameters' | 'output'>, id: (packedId: string) => string): Promise<PackedRequest<ChunkRef>[]> {
  const p = options.parameters;
  const packed = await measured(options, (t) => packRequests(chunks, options.prompt, t, { chunksPerBatch: p.chunksPerBatch, maxBatchTokens: p.maxBatchTokens, ...packWindow(options), output: options.output }));
  return packed.map((b) => ({ ...b, id: id(b.id) }));
}
