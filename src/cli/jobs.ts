import { promises as fs } from 'fs';
import * as path from 'path';
import { collectJob } from '../core/jobs/collect';
import { BatchTooLargeError, cancelJob, describeCounts, JOB_FILE, readJob, refreshJob, submitJob, type BatchApi, type JobRecord } from '../core/jobs/job';
import { BatchPromptError, ConfigError } from '../core/execute/errors';
import type { Plan } from '../core/plan/plan';
import type { RunParameters } from '../core/session/run';
import { readSummary, RUN_FILE, RunLockedError, type RunMeta, type RunSummary } from '../core/store/runStore';
import type { Tokenizer } from '../core/plan/tokenizer';
import { batchUnsupportedReason, createBatchApi } from '../providers/batch/batchApi';
import type { EndpointConfig, ProviderKind } from '../providers/endpoint';
import { defaultBaseUrl, needsApiKey } from '../providers/factory';
import { originOf } from '../providers/http/http';
import { keyVarOf, withKeyHint } from './keyHints';
import type { CliEndpoint } from './endpoints';
import { apiKeyFromEnv, UsageError } from './options';
import { describeRecorded, endpointOptionFor, matchRecorded, shown, type RecordedEndpoint } from './trust';

/** `batch-prompt collect` when the job has not ended: nothing was written, try again later. */
export const EXIT_STILL_RUNNING = 3;

interface JobIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
  signal?: AbortSignal;
}

/**
 * The endpoint's batch service with the key from the environment (`apiKeyEnv`, else the provider's
 * variable), or undefined after a one-line reason.
 */
export function selectBatchApi(endpoint: EndpointConfig, io: JobIo, apiKeyEnv?: string): BatchApi | undefined {
  const unsupported = batchUnsupportedReason(endpoint.provider, `--provider ${endpoint.provider}`);
  if (unsupported) {
    io.stderr.write(`batch-prompt: ${unsupported.replace('use "Run Prompt on Files…"', 'use "batch-prompt run"')}\n`);
    return undefined;
  }
  const { key, envVar } = apiKeyEnv ? { key: io.env[apiKeyEnv] || undefined, envVar: apiKeyEnv } : apiKeyFromEnv(endpoint.provider, io.env);
  if (needsApiKey(endpoint) && !key) {
    io.stderr.write(`batch-prompt: set ${envVar} in the environment: the ${endpoint.provider} provider at ${originOf(endpoint.baseUrl ?? defaultBaseUrl(endpoint.provider) ?? '')} needs an API key.\n`);
    return undefined;
  }
  try {
    return createBatchApi(endpoint, key);
  } catch (e) {
    if (!ConfigError.is(e)) throw e;
    io.stderr.write(`batch-prompt: ${e.message}\n`);
    return undefined;
  }
}

/** `batch-prompt submit`: creates the run folder and the provider job, prints both, and exits (0; 1 when refused). */
export async function submitCommand(plan: Plan, options: { dir: string; prompt: string; endpoint: EndpointConfig; api: BatchApi; tokenizer: Tokenizer; parameters: RunParameters }, io: JobIo): Promise<number> {
  const e = options.endpoint;
  let submitted: Awaited<ReturnType<typeof submitJob>>;
  try {
    submitted = await submitJob(plan, {
      root: io.cwd,
      dir: options.dir,
      prompt: options.prompt,
      modelInfo: { id: e.id, provider: e.provider, model: e.model, baseUrl: e.baseUrl, contextWindow: e.contextWindow, maxOutputTokens: e.maxOutputTokens },
      tokenizer: options.tokenizer,
      parameters: options.parameters,
      api: options.api,
      endpointId: e.id,
      maxOutputTokens: e.maxOutputTokens,
      chunksPerBatchName: '--chunks-per-batch',
      signal: io.signal,
    });
  } catch (err) {
    // Over the provider's limits: refused before anything was uploaded or written.
    if (!BatchTooLargeError.isTooLarge(err)) throw err;
    io.stderr.write(`batch-prompt: ${err.message}\n`);
    return 1;
  }
  const { job, summary, refused } = submitted;
  if (!job) {
    const why = refused ? withKeyHint(refused.message, refused.kind, keyVarOf(e.provider, undefined, io.env), io.env) : `${summary?.failed ?? 0} chunk(s) could not be read; see run.jsonl.`;
    io.stderr.write(`batch-prompt: no batch job was created: ${why}\n`);
    io.stdout.write(`Run folder: ${options.dir}\n`);
    return 1;
  }
  const chunks = job.requests.reduce((n, r) => n + r.chunkIds.length, 0);
  io.stdout.write(`Submitted batch job ${job.jobId} to ${job.provider}: ${job.requests.length} requests, ${chunks} chunks.\n`);
  io.stdout.write(`Run folder: ${options.dir}\n`);
  io.stdout.write(`Job id: ${job.jobId}\n`);
  io.stdout.write(`Check it with "batch-prompt status ${path.relative(io.cwd, options.dir) || '.'}", then "batch-prompt collect …" once it has ended (within 24 h).\n`);
  return 0;
}

/** The endpoints this command line configures (see cli/trust.ts); throws `UsageError` for a bad spec or config. */
export type Configured = () => Promise<CliEndpoint[]>;

interface OpenedJob {
  dir: string;
  job: JobRecord;
  /** Undefined when the job was collected earlier and the folder answers. */
  api: BatchApi | undefined;
  /** The variable the key came from, named when the provider refuses it. */
  keyVar?: string;
}

/**
 * The run folder's job and the batch service to ask about it, or an exit code after a reason. With
 * `fromFolderOnceCollected` (status, collect), a job already collected is answered from the folder: no
 * key needed. Otherwise the folder's endpoint must match one `configured` (provider, URL origin, key
 * variable), whose URL, key variable and headers are used: the folder never chooses where a key goes.
 */
async function openJob(command: 'status' | 'collect' | 'cancel', dirArg: string, io: JobIo, configured: Configured, fromFolderOnceCollected = false): Promise<OpenedJob | number> {
  const dir = path.resolve(io.cwd, dirArg);
  let meta: RunMeta;
  let job: JobRecord | undefined;
  try {
    meta = JSON.parse(await fs.readFile(path.join(dir, RUN_FILE), 'utf8')) as RunMeta;
    job = await readJob(dir);
  } catch {
    io.stderr.write(`batch-prompt: ${dir} is not a run folder (no readable ${RUN_FILE}).\n`);
    return 1;
  }
  if (!job) {
    io.stderr.write(`batch-prompt: ${dir} holds an ordinary run, not a batch job; see its summary.json, or "batch-prompt resume" it.\n`);
    return 1;
  }
  if (fromFolderOnceCollected && job.collectedAt) return { dir, job, api: undefined };
  const m = meta.model ?? { id: job.endpointId };
  const recorded: RecordedEndpoint = { id: job.endpointId, provider: job.provider, baseUrl: m.baseUrl, model: m.model, apiKeyEnv: m.apiKeyEnv };
  let allowed: CliEndpoint[];
  try {
    allowed = await configured();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`batch-prompt: ${e.message}\n`);
    return 1;
  }
  const c = matchRecorded(recorded, allowed);
  if (!c) {
    const option = endpointOptionFor(recorded) ?? '--endpoint PROVIDER:MODEL@URL';
    io.stderr.write(
      `batch-prompt: ${JOB_FILE} of run ${shown(meta.runId)} (batch job ${shown(job.jobId)}) names the endpoint ${describeRecorded(recorded)}, which is not one you configured; nothing was sent. ` +
        `To ${command === 'status' ? 'ask it about the job' : command === 'collect' ? 'collect the job from it' : 'cancel the job there'}, name it: batch-prompt ${command} ${dirArg} ${option} (or --config FILE).\n`,
    );
    return 1;
  }
  const endpoint: EndpointConfig = { id: job.endpointId, provider: job.provider as ProviderKind, baseUrl: c.baseUrl, model: m.model ?? '', maxOutputTokens: m.maxOutputTokens, headers: c.headers };
  const api = selectBatchApi(endpoint, io, c.apiKeyEnv);
  return api ? { dir, job, api, keyVar: keyVarOf(job.provider as ProviderKind, c.apiKeyEnv, io.env) } : 1;
}

/** `batch-prompt status DIR`: asks the provider, prints the job's state and request counts. */
export async function statusCommand(dirArg: string, io: JobIo, configured: Configured): Promise<number> {
  const opened = await openJob('status', dirArg, io, configured, true);
  if (typeof opened === 'number') return opened;
  let job = opened.job;
  const api = opened.api;
  if (api) {
    const failed = await guard(() => refreshJob(opened.dir, api, io.signal), io, opened.keyVar);
    if (typeof failed === 'number') return failed;
    job = failed;
  }
  const s = job.state;
  io.stdout.write(`Job ${job.jobId} (${job.provider}, endpoint ${job.endpointId}): ${s.providerStatus}${job.cancelRequestedAt ? ', cancel requested' : ''}\n`);
  io.stdout.write(`Requests: ${describeCounts(s.counts)} done, ${s.counts.succeeded} succeeded, ${s.counts.failed} failed, ${s.counts.processing} processing\n`);
  if (s.failure) io.stdout.write(`The provider refused the job: ${s.failure}\n`);
  io.stdout.write(job.collectedAt ? `Collected at ${job.collectedAt}; results in ${opened.dir}\n` : s.ended ? `Ended: run "batch-prompt collect ${dirArg}" to write the results.\n` : 'Still running at the provider.\n');
  return 0;
}

/**
 * `batch-prompt collect DIR`: when the job has ended, downloads and maps its results into the run
 * folder; the summary goes to the caller (printed as for `run`). Still running: a line, exit 3.
 */
export async function collectCommand(dirArg: string, io: JobIo, configured: Configured): Promise<{ summary: RunSummary; dir: string } | number> {
  // A job collected earlier is answered from its folder: no key, no request.
  const opened = await openJob('collect', dirArg, io, configured, true);
  if (typeof opened === 'number') return opened;
  const api = opened.api;
  if (!api) {
    io.stdout.write(`Job ${opened.job.jobId} was collected at ${opened.job.collectedAt}; nothing written again.\n`);
    return { summary: await readSummary(opened.dir), dir: opened.dir };
  }
  const result = await guard(() => collectJob(opened.dir, api, { signal: io.signal }), io, opened.keyVar);
  if (typeof result === 'number') return result;
  if (result.status === 'pending') {
    io.stdout.write(`Job ${result.job.jobId} is still running (${result.job.state.providerStatus}, ${describeCounts(result.job.state.counts)} requests done); nothing written. Collect again later.\n`);
    return EXIT_STILL_RUNNING;
  }
  if (result.status === 'already-collected') io.stdout.write(`Job ${result.job.jobId} was collected at ${result.job.collectedAt}; nothing written again.\n`);
  return { summary: result.summary, dir: opened.dir };
}

/** `batch-prompt cancel DIR`: asks the provider to cancel; `collect` then records what finished. */
export async function cancelCommand(dirArg: string, io: JobIo, configured: Configured): Promise<number> {
  const opened = await openJob('cancel', dirArg, io, configured);
  if (typeof opened === 'number') return opened;
  const api = opened.api!;
  const job = await guard(() => cancelJob(opened.dir, api, io.signal), io, opened.keyVar);
  if (typeof job === 'number') return job;
  io.stdout.write(job.cancelRequestedAt ? `Cancel requested for job ${job.jobId} (${job.state.providerStatus}); "batch-prompt collect ${dirArg}" records what finished once it has ended.\n` : `Job ${job.jobId} had already ended (${job.state.providerStatus}); nothing to cancel.\n`);
  return 0;
}

/** Runs a call to the provider; a typed error (or the folder held by another process) becomes one line on stderr and exit code 1. */
async function guard<T>(fn: () => Promise<T>, io: JobIo, keyVar?: string): Promise<T | number> {
  try {
    return await fn();
  } catch (e) {
    if (!BatchPromptError.isAny(e) && !RunLockedError.is(e)) throw e;
    // A refused key names the variable it came from.
    const message = BatchPromptError.isAny(e) ? withKeyHint(e.message, e.kind, keyVar, io.env) : e.message;
    io.stderr.write(`batch-prompt: ${message}\n`);
    return 1;
  }
}
