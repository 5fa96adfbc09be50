import { formatNumber } from '../../util/format';
import { promises as fs } from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../../util/atomicFile';
import { BatchPromptError, CanceledError, ConfigError, describeError, type ErrorKind } from '../execute/errors';
import type { ChunkOutcome } from '../execute/events';
import type { ChatRequest, ChatResponse } from '../execute/model';
import { checkJobChunks } from '../store/pathGuard';
import { FileChunkSource, type Plan } from '../plan/plan';
import { buildMessages, structuredRequest, type AnswerMode } from '../plan/protocol';
import { isStructured } from '../output/spec';
import { createRunStore, type RunOptions } from '../session/run';
import type { RunStore, RunSummary } from '../store/runStore';
import type { Chunk, ChunkRef } from '../plan/types';

/**
 * Provider batch jobs (OpenAI Batch API, Anthropic Message Batches): a plan's batches are sent as one
 * asynchronous job at the provider, one request per batch with the batch id as `custom_id`, and the
 * results are mapped back later into the same run folder as a normal run (see `batchCollect.ts`).
 * `job.json` in the run folder says everything needed to poll, cancel and collect it, never a key.
 */

export type BatchProviderKind = 'openai' | 'anthropic';
export const BATCH_PROVIDERS: readonly BatchProviderKind[] = ['openai', 'anthropic'];
export const JOB_FILE = 'job.json';
/** A `custom_id` both providers accept (Anthropic's documented pattern, the stricter of the two). */
export const CUSTOM_ID_RE = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * One request of a job: a plan batch's request, the same `ChatRequest` fields a live run sends
 * (`responseSchema` included: each provider builds a job's request with its live request's builder).
 */
export interface BatchRequest extends Pick<ChatRequest, 'messages' | 'maxOutputTokens' | 'responseSchema'> {
  customId: string;
}

/** Request counts, the same words for both providers. */
export interface JobCounts {
  total: number;
  succeeded: number;
  failed: number;
  /** Not finished yet. */
  processing: number;
}

/** A job's state as the provider last reported it. */
export interface JobState {
  /** The provider's own word: OpenAI validating/in_progress/finalizing/completed/failed/expired/cancelling/cancelled, Anthropic in_progress/canceling/ended. */
  providerStatus: string;
  /** The provider will process nothing more: results can be collected. */
  ended: boolean;
  counts: JobCounts;
  outputFileId?: string;
  errorFileId?: string;
  resultsUrl?: string;
  /** Why the whole job failed (OpenAI `failed`: the input did not validate). */
  failure?: string;
}

/** One request's result, mapped from the provider's output line. */
export type BatchResult =
  | { customId: string; ok: true; response: ChatResponse }
  | { customId: string; ok: false; status: 'failed' | 'canceled'; error: { kind: ErrorKind; message: string } };

/** A result line that is not JSON and names no request that could be read: its line and file. */
export interface MalformedResultLine {
  line: number;
  /** The file it is in, for messages: "the output file file-abc", "the results file". */
  where: string;
}

/**
 * An ended job's results: one per result line, a malformed line whose request can still be read
 * included as that request's `bad-reply` failure; the malformed lines naming none are listed apart.
 */
export interface BatchResults {
  results: BatchResult[];
  malformed: MalformedResultLine[];
}

/**
 * A provider's batch service. Methods reject with the typed errors of `errors.ts` (a bad key is
 * `AuthError`, fatal); messages never hold a key.
 */
export interface BatchApi {
  readonly provider: BatchProviderKind;
  /** The provider's documented limits of one job (tests inject small ones). */
  readonly limits: BatchLimits;
  /** Builds what `submit` sends, once: its size is what the limits are checked against. */
  encode(requests: readonly BatchRequest[]): EncodedBatch;
  /**
   * Sends an encoded job. When it fails after something was stored at the provider (OpenAI's
   * uploaded input file), that is deleted again, best-effort: the original error is what rejects.
   */
  submit(batch: EncodedBatch, signal?: AbortSignal): Promise<{ jobId: string; inputFileId?: string; state: JobState }>;
  poll(jobId: string, signal?: AbortSignal): Promise<JobState>;
  /**
   * Every result line of an ended job (a request without one is missing: the caller decides why);
   * malformed lines are never dropped (see `BatchResults`).
   */
  results(jobId: string, state: JobState, signal?: AbortSignal): Promise<BatchResults>;
  cancel(jobId: string, signal?: AbortSignal): Promise<JobState>;
}

/** A provider's documented limits of one job; a job over either is refused before anything is sent. */
export interface BatchLimits {
  maxRequests: number;
  /** Of what is uploaded: OpenAI's JSONL input file, Anthropic's create body (decimal MB: the safe reading). */
  maxBytes: number;
}

/** A job as it will be sent, built once by `BatchApi.encode`. */
export interface EncodedBatch {
  readonly requests: number;
  /** The exact size of what is uploaded. */
  readonly bytes: number;
  /** The document in pieces, in order (sent as a Blob: a large job is never one huge string). */
  readonly parts: readonly string[];
}

/**
 * A job over a provider's limit, refused before anything was uploaded or written. Its message says
 * how large the job is, the limit, and what to do; `chunksPerBatchName` is the setting's name where
 * the user is (CLI flag or editor setting).
 */
export class BatchTooLargeError extends ConfigError {
  constructor(
    readonly provider: BatchProviderKind,
    readonly measure: 'requests' | 'bytes',
    readonly actual: number,
    readonly limit: number,
    details: { chunks: number; chunksPerBatch?: number; chunksPerBatchName?: string },
  ) {
    super(tooLargeMessage(provider, measure, actual, limit, details));
  }

  /** A `ConfigError` that carries the limit (kinds are matched, never messages). */
  static readonly isTooLarge = (e: unknown): e is BatchTooLargeError => ConfigError.is(e) && typeof (e as Partial<BatchTooLargeError>).limit === 'number' && typeof (e as Partial<BatchTooLargeError>).measure === 'string';
}

const SERVICE_NAME: Record<BatchProviderKind, string> = { openai: "OpenAI's Batch API", anthropic: "Anthropic's Message Batches" };

function tooLargeMessage(provider: BatchProviderKind, measure: 'requests' | 'bytes', actual: number, limit: number, d: { chunks: number; chunksPerBatch?: number; chunksPerBatchName?: string }): string {
  const name = d.chunksPerBatchName ?? 'chunksPerBatch';
  const now = d.chunksPerBatch !== undefined ? `now ${d.chunksPerBatch}` : '';
  const parts = Math.ceil(actual / limit);
  const head = `The batch job is too large for ${SERVICE_NAME[provider]}`;
  const nothing = 'Nothing was sent and no run folder was written.';
  if (measure === 'requests') {
    const needed = Math.ceil(d.chunks / limit);
    return `${head}: ${fmt(actual)} requests, over its limit of ${fmt(limit)} per job. ${nothing} Raise ${name} (chunks per request${now ? `, ${now}` : ''}) to at least ${needed} so that ${fmt(d.chunks)} chunks fit in ${fmt(limit)} requests, select fewer files, or submit the files as ${parts} or more separate jobs.`;
  }
  return `${head}: the ${provider === 'openai' ? 'request file' : 'request body'} would be ${megabytes(actual)}, over its limit of ${megabytes(limit)} per job. ${nothing} Select fewer files, or submit the files as ${parts} or more separate jobs of under ${megabytes(limit)} each; raising ${name}${now ? ` (${now})` : ''} shrinks it only a little (the prompt is repeated in every request).`;
}

function fmt(n: number): string {
  return formatNumber(n);
}

function megabytes(bytes: number): string {
  if (bytes < 1_000_000) return `${fmt(bytes)} bytes`;
  const mb = bytes / 1_000_000;
  return `${mb >= 10 ? fmt(Math.round(mb)) : mb.toFixed(1)} MB`;
}

/** Throws `BatchTooLargeError` when `batch` is over `limits`. */
export function checkBatchLimits(provider: BatchProviderKind, batch: Pick<EncodedBatch, 'requests' | 'bytes'>, limits: BatchLimits, details: { chunks: number; chunksPerBatch?: number; chunksPerBatchName?: string }): void {
  if (batch.requests > limits.maxRequests) throw new BatchTooLargeError(provider, 'requests', batch.requests, limits.maxRequests, details);
  if (batch.bytes > limits.maxBytes) throw new BatchTooLargeError(provider, 'bytes', batch.bytes, limits.maxBytes, details);
}

/** `job.json`: the job of a run folder. */
export interface JobRecord {
  version: 1;
  provider: BatchProviderKind;
  /** The endpoint id (the key is looked up by it at each poll, never stored). */
  endpointId: string;
  jobId: string;
  inputFileId?: string;
  submittedAt: string;
  /** Every request sent: its `custom_id`, the plan batch and the chunks it carries, in order. */
  requests: { customId: string; batchId: string; chunkIds: string[] }[];
  state: JobState;
  polledAt?: string;
  cancelRequestedAt?: string;
  /** Set once the results are in the run folder: collecting again changes nothing. */
  collectedAt?: string;
  /** How a structured run's requests asked for their answers (#14); absent: tagged (text runs, older jobs). */
  answerMode?: AnswerMode;
}

export async function readJob(dir: string): Promise<JobRecord | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, JOB_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let job: JobRecord;
  try {
    job = JSON.parse(text) as JobRecord;
  } catch (e) {
    throw new Error(`${path.join(dir, JOB_FILE)} is not valid JSON (${(e as Error).message}); it is not a batch job record.`);
  }
  if (!job || typeof job.jobId !== 'string' || !Array.isArray(job.requests)) throw new Error(`${path.join(dir, JOB_FILE)} is not a batch job record.`);
  checkJobChunks(job, JOB_FILE);
  return job;
}

export function writeJob(dir: string, job: JobRecord): Promise<void> {
  return writeFileAtomic(path.join(dir, JOB_FILE), JSON.stringify(job, null, 2));
}

/** The job of a run folder when it has not been collected yet (such a run must not be resumed by sending). */
export async function pendingJob(dir: string): Promise<JobRecord | undefined> {
  try {
    const job = await readJob(dir);
    return job && !job.collectedAt ? job : undefined;
  } catch {
    return undefined;
  }
}

/** Requests done (succeeded or failed) out of the total, for progress. */
export function describeCounts(c: JobCounts): string {
  return `${c.succeeded + c.failed}/${c.total}${c.failed ? ` (${c.failed} failed)` : ''}`;
}

export interface SubmitOptions extends Omit<RunOptions, 'model' | 'cache' | 'onEvent'> {
  api: BatchApi;
  endpointId: string;
  /** `max_tokens` of every request (the endpoint's setting). */
  maxOutputTokens?: number;
  /** How the user sets chunks per request where they are, for the too-large message (`--chunks-per-batch`, `batchPrompt.chunksPerBatch`). */
  chunksPerBatchName?: string;
}

export interface SubmitResult {
  store: RunStore;
  /** The job; undefined when nothing could be sent (see `summary`). */
  job?: JobRecord;
  /** Set when the run ended at submit time: no chunk readable, or the provider refused the job. */
  summary?: RunSummary;
  /** Why the provider refused the job (or the submit was canceled), to tell the user. */
  refused?: { kind: ErrorKind; message: string };
}

/**
 * Reads the chunk texts, builds the job's requests (one per plan batch) and checks the provider's
 * limits on exactly what would be uploaded; only then creates the run folder (as `runPlan` does) and
 * submits. A job over a limit rejects with `BatchTooLargeError` having sent and written nothing. A
 * chunk whose file changed since planning fails at once (`source-changed`) and is left out of its
 * request. When the provider refuses the job, every chunk ends (failed, or canceled with `fatal` for
 * a bad key) and the folder is an ordinary finished run that can be retried.
 */
export async function submitJob(plan: Plan, options: SubmitOptions): Promise<SubmitResult> {
  const { api } = options;
  const details = { chunks: plan.totals.chunks, chunksPerBatch: options.parameters.chunksPerBatch, chunksPerBatchName: options.chunksPerBatchName };
  // The request count is known from the plan: refuse before reading any file.
  checkBatchLimits(api.provider, { requests: plan.batches.length, bytes: 0 }, api.limits, details);
  const source = new FileChunkSource(options.read ?? options.root, plan.files);
  const unreadable: ChunkOutcome[] = [];
  const requests: JobRecord['requests'] = [];
  const bodies: BatchRequest[] = [];
  // Both batch APIs (OpenAI, Anthropic) have a structured-output mode; a structured run uses it.
  const mode: AnswerMode = isStructured(options.output) ? 'structured' : 'tagged';
  const refs = new Map<string, ChunkRef>();
  for (const [i, batch] of plan.batches.entries()) {
    const chunks: Chunk[] = [];
    for (const c of batch.chunks) {
      try {
        chunks.push({ ...c, text: await source.text(c) });
      } catch (e) {
        unreadable.push({ chunk: c, status: 'failed', error: describeError(e), attempts: 0, batchId: batch.id, inputTokens: 0, outputTokens: 0, latencyMs: 0 });
      }
    }
    if (chunks.length === 0) continue;
    const customId = CUSTOM_ID_RE.test(batch.id) ? batch.id : `req${i + 1}`;
    for (const c of chunks) refs.set(c.id, c);
    requests.push({ customId, batchId: batch.id, chunkIds: chunks.map((c) => c.id) });
    bodies.push({ customId, messages: buildMessages(options.prompt, chunks, true, options.output, mode), maxOutputTokens: options.maxOutputTokens, ...structuredRequest(options.output, chunks) });
  }
  const encoded = requests.length ? api.encode(bodies) : undefined;
  if (encoded) checkBatchLimits(api.provider, encoded, api.limits, details);

  const store = await createRunStore(plan, options);
  try {
    for (const outcome of unreadable) await record(store, outcome, options);
    if (!encoded) return { store, summary: await store.finish(emptyExecution()) };
    let submitted: Awaited<ReturnType<BatchApi['submit']>>;
    try {
      if (options.signal?.aborted) throw new CanceledError();
      submitted = await api.submit(encoded, options.signal);
    } catch (e) {
      const error = describeError(e);
      const fatal = BatchPromptError.isAny(e) && e.fatal;
      const canceled = fatal || CanceledError.is(e);
      for (const r of requests) {
        for (const id of r.chunkIds) {
          await record(store, { chunk: refs.get(id)!, status: canceled ? 'canceled' : 'failed', ...(canceled && !fatal ? {} : { error }), attempts: canceled ? 0 : 1, batchId: r.batchId, inputTokens: 0, outputTokens: 0, latencyMs: 0 }, options);
        }
      }
      return { store, summary: await store.finish({ ...emptyExecution(), ...(fatal ? { fatal: error } : {}) }), refused: error };
    }
    const job: JobRecord = {
      version: 1,
      provider: api.provider,
      endpointId: options.endpointId,
      jobId: submitted.jobId,
      ...(submitted.inputFileId ? { inputFileId: submitted.inputFileId } : {}),
      submittedAt: new Date().toISOString(),
      requests,
      state: submitted.state,
      ...(mode === 'structured' ? { answerMode: mode } : {}),
    };
    await writeJob(store.dir, job);
    return { store, job };
  } finally {
    // The job runs at the provider, not in this process: the folder is not held while it does.
    await store.release();
  }
}

async function record(store: RunStore, outcome: ChunkOutcome, options: Pick<SubmitOptions, 'onOutcome'>): Promise<void> {
  await store.record(outcome);
  options.onOutcome?.(outcome);
}

function emptyExecution() {
  return { succeeded: 0, failed: 0, canceled: 0, requests: 0, inputTokens: 0, outputTokens: 0, durationMs: 0 };
}

/** Asks the provider for the job's state and records it in `job.json`. */
export async function refreshJob(dir: string, api: BatchApi, signal?: AbortSignal): Promise<JobRecord> {
  const job = await requireJob(dir);
  if (job.collectedAt) return job;
  job.state = await api.poll(job.jobId, signal);
  job.polledAt = new Date().toISOString();
  await writeJob(dir, job);
  return job;
}

/**
 * Cancels the job at the provider (it may take a while to stop; requests already done keep their
 * results, which `collectJob` maps back; the others end `canceled`).
 */
export async function cancelJob(dir: string, api: BatchApi, signal?: AbortSignal): Promise<JobRecord> {
  const job = await requireJob(dir);
  if (job.collectedAt || job.state.ended) return job;
  job.state = await api.cancel(job.jobId, signal);
  job.cancelRequestedAt = new Date().toISOString();
  await writeJob(dir, job);
  return job;
}

export async function requireJob(dir: string): Promise<JobRecord> {
  const job = await readJob(dir);
  if (!job) throw new Error(`${dir} has no batch job (${JOB_FILE} is missing); it is an ordinary run.`);
  return job;
}
