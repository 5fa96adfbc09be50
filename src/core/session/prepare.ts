import { pendingJob, type JobRecord } from '../jobs/job';
import { getTokenizer, type Tokenizer } from '../plan/tokenizer';
import type { EndpointInfo, RunMeta } from '../store/runStore';
import { definedOnly } from '../../util/objects';
import type { EndpointLimits } from '../execute/endpointPool';
import type { RunParameters } from './run';

// The rules both front ends apply before a run, a resume or a retry is sent: the run's parameters
// and how run.json names its model (from plain option objects: the editor's settings and the CLI's
// flags map onto them), the tokenizer of a run folder, and the refusal to send a folder whose
// provider batch job is not collected yet. Each front end words the refusal itself.

/**
 * A run's limits and sizes as the user gives them (editor settings, CLI flags): times in seconds, a
 * rate of 0 or undefined for "no limit". `runParameters` turns them into what run.json records.
 */
export type RunSettings = Omit<RunParameters, 'requestTimeoutMs' | 'dropAfterRetryAfterMs' | 'requestsPerMinute' | 'tokensPerMinute'> & {
  requestTimeoutSeconds: number;
  /** 0 or undefined: no limit. */
  requestsPerMinute?: number;
  /** 0 or undefined: no limit. */
  tokensPerMinute?: number;
  /** Several endpoints: a 429 asking to wait longer than this takes one out of the run; undefined: the executor's default. */
  dropAfterWaitSeconds?: number;
};

/** The parameters of a new run (recorded in run.json, read again by its resume). */
export function runParameters(s: RunSettings): RunParameters {
  return {
    maxConcurrency: s.maxConcurrency,
    maxRetries: s.maxRetries,
    requestTimeoutMs: s.requestTimeoutSeconds * 1000,
    requestsPerMinute: s.requestsPerMinute || undefined,
    tokensPerMinute: s.tokensPerMinute || undefined,
    chunkTokens: s.chunkTokens,
    overlapTokens: s.overlapTokens,
    chunksPerBatch: s.chunksPerBatch,
    maxBatchTokens: s.maxBatchTokens,
    dropAfterFailures: s.dropAfterFailures,
    dropAfterRetryAfterMs: s.dropAfterWaitSeconds === undefined ? undefined : s.dropAfterWaitSeconds * 1000,
  };
}

/**
 * Overrides of a run folder's recorded parameters for its resume or retry: only those given (a rate
 * of 0 is not given: the recorded limit stays). The sizes are left out: the folder's chunks are fixed.
 */
export function parameterOverrides(s: Partial<Omit<RunSettings, 'chunkTokens' | 'overlapTokens' | 'chunksPerBatch' | 'maxBatchTokens'>>): Partial<RunParameters> {
  return definedOnly({
    maxConcurrency: s.maxConcurrency,
    maxRetries: s.maxRetries,
    requestTimeoutMs: s.requestTimeoutSeconds === undefined ? undefined : s.requestTimeoutSeconds * 1000,
    requestsPerMinute: s.requestsPerMinute || undefined,
    tokensPerMinute: s.tokensPerMinute || undefined,
    dropAfterFailures: s.dropAfterFailures,
    dropAfterRetryAfterMs: s.dropAfterWaitSeconds === undefined ? undefined : s.dropAfterWaitSeconds * 1000,
  });
}

/** An endpoint as a front end describes it (a CLI flag set, a configured endpoint, an editor model). */
export interface EndpointDescription {
  id: string;
  provider: string;
  model?: string;
  baseUrl?: string;
  contextWindow?: number;
  maxOutputTokens?: number;
  apiVersion?: string;
}

/**
 * How run.json names a run's one model: enough to rebuild it from the CLI or the editor, never a key
 * or a header. Also what the result cache keys on (id, provider, base URL, model).
 */
export function modelInfoOf(e: EndpointDescription): RunMeta['model'] {
  return definedOnly<EndpointInfo>({ id: e.id, provider: e.provider, model: e.model, baseUrl: e.baseUrl || undefined, contextWindow: e.contextWindow, maxOutputTokens: e.maxOutputTokens, apiVersion: e.apiVersion });
}

/**
 * How run.json records one endpoint of a several-endpoint run: its model info, its own limits, and
 * (CLI) the names of its key variable and headers; never a key or a header value.
 */
export function endpointInfoOf(e: EndpointDescription & EndpointLimits & Pick<EndpointInfo, 'apiKeyEnv' | 'headerNames'>): EndpointInfo & EndpointLimits {
  return definedOnly({ ...modelInfoOf(e), apiKeyEnv: e.apiKeyEnv, headerNames: e.headerNames, maxConcurrency: e.maxConcurrency, requestsPerMinute: e.requestsPerMinute, tokensPerMinute: e.tokensPerMinute });
}

/** The tokenizer a run folder was planned with: its resume and retries count and pack as it did. */
export function tokenizerOf(meta: Pick<RunMeta, 'encoding'>): Tokenizer {
  return getTokenizer(meta.encoding === 'cl100k_base' ? 'cl100k_base' : 'o200k_base');
}

/** Why a run folder must not be sent again (resumed or retried); each front end says it in its own words. */
export type ResendRefusal = {
  /** Its chunks are at the provider as a batch job: sending them again would pay twice. Collect the job instead. */
  refused: 'uncollected-job';
  job: JobRecord;
};

/** Undefined when the run folder may be resumed or retried; else why not. */
export async function resendRefusal(dir: string): Promise<ResendRefusal | undefined> {
  const job = await pendingJob(dir);
  return job ? { refused: 'uncollected-job', job } : undefined;
}
