import { promises as fs } from 'fs';
import * as path from 'path';
import { type BatchApi, JOB_FILE, readJob, type JobRecord } from '../core/jobs/job';
import { BatchPromptError, ConfigError } from '../core/execute/errors';
import { RUN_FILE, RunLockedError, type RunMeta } from '../core/store/runStore';
import { batchUnsupportedReason, createBatchApi } from '../providers/batch/batchApi';
import type { EndpointConfig, ProviderKind } from '../providers/endpoint';
import { defaultBaseUrl, needsApiKey } from '../providers/factory';
import { originOf } from '../providers/http/http';
import type { CliEndpoint } from './endpoints';
import type { Io } from './io';
import { keyVarOf, withKeyHint } from './keyHints';
import { apiKeyFromEnv, UsageError } from './options';
import { describeRecorded, endpointOptionFor, matchRecorded, shown, type RecordedEndpoint } from './trust';

// What the batch-job commands (submit, status, collect, cancel) share: the batch service of an
// endpoint, a run folder's job opened against the endpoints this command line configures, and
// provider calls whose typed errors become one line on stderr.

/** `batch-prompt collect` when the job has not ended: nothing was written, try again later. */
export const EXIT_STILL_RUNNING = 3;

/**
 * The endpoint's batch service with the key from the environment (`apiKeyEnv`, else the provider's
 * variable), or undefined after a one-line reason.
 */
export function selectBatchApi(endpoint: EndpointConfig, io: Io, apiKeyEnv?: string): BatchApi | undefined {
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

/** The endpoints this command line configures (see cli/trust.ts); throws `UsageError` for a bad spec or config. */
export type Configured = () => Promise<CliEndpoint[]>;

export interface OpenedJob {
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
export async function openJob(command: 'status' | 'collect' | 'cancel', dirArg: string, io: Io, configured: Configured, fromFolderOnceCollected = false): Promise<OpenedJob | number> {
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

/** Runs a call to the provider; a typed error (or the folder held by another process) becomes one line on stderr and exit code 1. */
export async function guard<T>(fn: () => Promise<T>, io: Io, keyVar?: string): Promise<T | number> {
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
