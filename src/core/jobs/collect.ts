import { refreshJob, requireJob, writeJob, type BatchApi, type BatchResult, type JobRecord, type MalformedResultLine } from './job';
import { BatchPromptError, type ErrorKind } from '../execute/errors';
import type { ChunkOutcome, ExecutionSummary } from '../execute/events';
import type { ChatResponse } from '../execute/model';
import { parseReply, type AnswerMode } from '../plan/protocol';
import { encodeEntries, isEdit, validatorOf } from '../output/spec';
import { checkEdit, lineEndingOf } from '../output/editText';
import { editableOf } from '../plan/editChunker';
import { FileChunkSource } from '../plan/plan';
import { describeError } from '../execute/errors';
import { readStructuredReply } from '../output/reply';
import type { ItemValidator } from '../output/validate';
import type { Prices } from '../store/report';
import { writeRunReport } from '../store/runReport';
import { checkRunFolder, readRecords, readSummary, RunLockedError, RunStore, type RunSummary } from '../store/runStore';
import type { ChunkRef } from '../plan/types';

export type CollectResult =
  | { status: 'pending'; job: JobRecord }
  | { status: 'collected'; job: JobRecord; summary: RunSummary }
  /** Collected earlier: nothing was downloaded or written again. */
  | { status: 'already-collected'; job: JobRecord; summary: RunSummary };

export interface CollectOptions {
  signal?: AbortSignal;
  onOutcome?: (outcome: ChunkOutcome) => void;
  /** For the report's cost line. */
  prices?: Prices;
}

/**
 * Maps an ended job's results back into its run folder, as a normal run records them: each request's
 * reply goes through `parseReply` against the chunks it carried; every chunk gets one outcome in
 * `run.jsonl` (succeeded with its output, or failed/canceled with a typed reason), outputs are
 * written, then `summary.json` and `report.md`. A job still running is polled once and left alone.
 * Collecting twice changes nothing; a collect interrupted half-way records only what is missing.
 */
export async function collectJob(dir: string, api: BatchApi, options: CollectOptions = {}): Promise<CollectResult> {
  // The folder and its job file are checked whole before any request or write (`UnsafePathError`).
  await checkRunFolder(dir);
  let job = await requireJob(dir);
  if (job.collectedAt) return { status: 'already-collected', job, summary: await readSummary(dir) };
  if (!job.state.ended) job = await refreshJob(dir, api, options.signal);
  if (!job.state.ended) return { status: 'pending', job };
  const results = await api.results(job.jobId, job.state, options.signal);
  const store = await RunStore.openForUpdate(dir);
  let summary: RunSummary;
  try {
    const recorded = new Set((await readRecords(dir)).map((r) => r.chunkId));
    const refs = new Map<string, ChunkRef>();
    for (const f of store.meta.files) for (const c of f.chunks) refs.set(c.id, c);
    // Edit runs (#15): each answer is checked against its chunk's text, read (and its file's sha checked) from the root.
    const source = isEdit(store.meta.output) ? new FileChunkSource(store.meta.root, store.meta.files) : undefined;
    const structured = store.meta.output ? { validator: validatorOf(store.meta.output), mode: job.answerMode === 'structured' ? 'structured' as const : 'tagged' as const } : undefined;
    const byId = new Map<string, BatchResult>();
    for (const r of results.results) if (!byId.has(r.customId)) byId.set(r.customId, r);
    const execution: ExecutionSummary = { succeeded: 0, failed: 0, canceled: 0, requests: job.requests.length, inputTokens: 0, outputTokens: 0, durationMs: Math.max(0, Date.now() - Date.parse(job.submittedAt)) };
    for (const request of job.requests) {
      const result = byId.get(request.customId);
      const chunks = request.chunkIds.map((id) => refs.get(id)).filter((c): c is ChunkRef => c !== undefined);
      if (result?.ok) {
        execution.inputTokens += result.response.usage?.inputTokens ?? 0;
        execution.outputTokens += result.response.usage?.outputTokens ?? 0;
      }
      const edits = source && result?.ok ? await editTexts(source, chunks) : undefined;
      for (const outcome of outcomesOf(request, chunks, result, job, results.malformed, structured, edits)) {
        if (recorded.has(outcome.chunk.id)) continue;
        await store.record(outcome);
        options.onOutcome?.(outcome);
      }
    }
    summary = await store.finish(execution);
  } finally {
    await store.release();
  }
  await writeRunReport(dir, options.prices, summary);
  job.collectedAt = new Date().toISOString();
  await writeJob(dir, job);
  return { status: 'collected', job, summary };
}

/**
 * The outcomes of one request's chunks. `malformed`: result lines that are not JSON and name no
 * request; a request without a result may be on one of them, so it fails saying so. Exported for tests.
 */
export function outcomesOf(
  request: JobRecord['requests'][number],
  chunks: readonly ChunkRef[],
  result: BatchResult | undefined,
  job: JobRecord,
  malformed: readonly MalformedResultLine[] = [],
  structured?: { validator?: ItemValidator; mode: AnswerMode },
  edits?: ReadonlyMap<string, string | { kind: ErrorKind; message: string }>,
): ChunkOutcome[] {
  const base = { batchId: request.batchId, attempts: 1, latencyMs: 0 };
  if (!result) {
    const { status, error } = malformed.length && !job.state.failure ? malformedReason(request.customId, malformed) : missingReason(request.customId, job);
    return chunks.map((chunk) => ({ ...base, chunk, status, ...(error ? { error } : {}), attempts: status === 'canceled' ? 0 : 1, inputTokens: 0, outputTokens: 0 }));
  }
  if (!result.ok) {
    return chunks.map((chunk) => ({ ...base, chunk, status: result.status, error: result.error, attempts: result.status === 'canceled' ? 0 : 1, inputTokens: 0, outputTokens: 0 }));
  }
  const response = result.response;
  const truncated = response.finishReason === 'length';
  if (structured?.validator) return structuredOutcomes(request, chunks, response, structured.validator, structured.mode);
  const parsed = parseReply(response.text, chunks.map((c) => c.id), { truncated, closedOnly: edits !== undefined });
  const totalTokens = chunks.reduce((n, c) => n + c.tokens, 0) || 1;
  return chunks.map((chunk) => {
    const share = chunk.tokens / totalTokens;
    const usage = { inputTokens: Math.round((response.usage?.inputTokens ?? 0) * share), outputTokens: Math.round((response.usage?.outputTokens ?? 0) * share) };
    const output = parsed.results.get(chunk.id);
    const text = edits?.get(chunk.id);
    if (output !== undefined && typeof text === 'object') return { ...base, ...usage, chunk, status: 'failed' as const, error: text };
    if (output !== undefined && typeof text === 'string') {
      return { ...base, ...usage, chunk, status: 'succeeded' as const, ...checkEdit(editableOf({ ...chunk, text }), output, lineEndingOf(text)) };
    }
    if (output !== undefined) return { ...base, ...usage, chunk, status: 'succeeded' as const, output };
    const why = truncated ? 'the reply was cut off by the output limit' : 'the reply has no result for it';
    return { ...base, ...usage, chunk, status: 'failed' as const, error: { kind: 'bad-reply' as ErrorKind, message: `The batch job's reply to ${request.customId} is unusable for this chunk: ${why}. Retry it.` } };
  });
}

/**
 * A structured run's reply from a batch job (#14): valid values succeed; an invalid one fails
 * `invalid-output` with its raw answer kept (a batch job cannot ask again: its retry, sent live, gets
 * the repair); a chunk without an answer fails as in text runs.
 */
function structuredOutcomes(request: JobRecord['requests'][number], chunks: readonly ChunkRef[], response: ChatResponse, validator: ItemValidator, mode: AnswerMode): ChunkOutcome[] {
  const truncated = response.finishReason === 'length';
  const ranges = new Map(chunks.map((c) => [c.id, { startLine: c.startLine, endLine: c.endLine }]));
  const reply = readStructuredReply(response.text, chunks.map((c) => c.id), mode, validator, ranges, { truncated });
  const totalTokens = chunks.reduce((n, c) => n + c.tokens, 0) || 1;
  return chunks.map((chunk) => {
    const share = chunk.tokens / totalTokens;
    const base = { batchId: request.batchId, attempts: 1, latencyMs: 0, chunk, inputTokens: Math.round((response.usage?.inputTokens ?? 0) * share), outputTokens: Math.round((response.usage?.outputTokens ?? 0) * share) };
    const answer = reply.answers.get(chunk.id);
    if (answer?.ok) return { ...base, status: 'succeeded' as const, output: encodeEntries([{ startLine: chunk.startLine, endLine: chunk.endLine, value: answer.value }]) };
    if (answer) {
      return { ...base, status: 'failed' as const, rawReply: answer.raw, error: { kind: 'invalid-output' as ErrorKind, message: `The batch job's answer for this chunk is not valid: ${answer.error}. Its raw reply is in invalid/${chunk.id}.txt; retry it (a retry asks for a repair).` } };
    }
    const why = truncated ? 'the reply was cut off by the output limit' : 'the reply has no result for it';
    return { ...base, status: 'failed' as const, error: { kind: 'bad-reply' as ErrorKind, message: `The batch job's reply to ${request.customId} is unusable for this chunk: ${why}. Retry it.` } };
  });
}

/** Edit runs: each chunk's text as planned, or why it cannot be had (the file changed or went away). */
async function editTexts(source: FileChunkSource, chunks: readonly ChunkRef[]): Promise<Map<string, string | { kind: ErrorKind; message: string }>> {
  const out = new Map<string, string | { kind: ErrorKind; message: string }>();
  for (const c of chunks) out.set(c.id, await source.text(c).catch((e: unknown) => describeError(e)));
  return out;
}

/** A request without a result while some result lines could not be read: its result may be one of them. */
function malformedReason(customId: string, malformed: readonly MalformedResultLine[]): { status: 'failed'; error: { kind: ErrorKind; message: string } } {
  const byFile = new Map<string, number[]>();
  for (const m of malformed) byFile.set(m.where, [...(byFile.get(m.where) ?? []), m.line]);
  const where = [...byFile].map(([file, lines]) => `${lines.length === 1 ? 'line' : 'lines'} ${lines.join(', ')} of ${file}`).join('; ');
  const n = malformed.length;
  return { status: 'failed', error: { kind: 'bad-reply', message: `The provider's results for this job had ${n} malformed ${n === 1 ? 'line' : 'lines'} (${where}) that name no request, and none of the others answered request ${customId}: its result may be one of them. Retry it.` } };
}

/** Why a request has no result line: the job was canceled, expired, failed as a whole, or lost it. */
function missingReason(customId: string, job: JobRecord): { status: 'failed' | 'canceled'; error?: { kind: ErrorKind; message: string } } {
  const s = job.state.providerStatus;
  if (job.state.failure) return { status: 'failed', error: { kind: 'invalid-request', message: `The provider refused the batch job: ${job.state.failure}` } };
  if (s === 'expired') return { status: 'failed', error: { kind: 'timeout', message: `The batch job expired (24 h window) before request ${customId} ran. Retry it.` } };
  if (job.cancelRequestedAt || s === 'cancelled' || s === 'canceled') return { status: 'canceled', error: { kind: 'canceled', message: `The batch job was canceled before request ${customId} ran.` } };
  return { status: 'failed', error: { kind: 'bad-reply', message: `The provider returned no result for request ${customId}. Retry it.` } };
}

export interface WatchOptions extends CollectOptions {
  /** Between polls (production 30-60 s). */
  intervalMs: number;
  /** Each poll's state, after `job.json` is updated. */
  onJob?: (job: JobRecord) => void;
  /** A poll that failed for a reason that may pass (network, 5xx): polling goes on. */
  onPollError?: (error: unknown) => void;
  /** Waits `ms` or rejects when `signal` aborts; a timer by default (tests pass their own). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * Polls a job until it ends, then collects it. `apiOf` is called before every poll, so the key is read
 * afresh each time (and never kept). Resolves with the collect result, or `undefined` when `signal`
 * aborted (the job keeps running at the provider; polling can resume from the folder later). A fatal
 * error (bad key) rejects.
 */
export async function watchJob(dir: string, apiOf: () => Promise<BatchApi>, options: WatchOptions): Promise<CollectResult | undefined> {
  const sleep = options.sleep ?? defaultSleep;
  // Refused before the first poll: a folder that could lead a write outside itself is not watched.
  await checkRunFolder(dir);
  await requireJob(dir);
  for (;;) {
    if (options.signal?.aborted) return undefined;
    try {
      const api = await apiOf();
      const job = await refreshJob(dir, api, options.signal);
      options.onJob?.(job);
      if (job.collectedAt || job.state.ended) return await collectJob(dir, api, options);
    } catch (e) {
      if (options.signal?.aborted) return undefined;
      // Another process collecting the same job holds the folder: look again at the next poll.
      const retry = RunLockedError.is(e) || (BatchPromptError.isAny(e) && !e.fatal && e.kind !== 'invalid-request');
      if (!retry) throw e;
      options.onPollError?.(e);
    }
    try {
      await sleep(options.intervalMs, options.signal);
    } catch {
      return undefined;
    }
  }
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('aborted'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
