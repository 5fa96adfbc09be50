// What the batch-job tests (batchJob, batchLimits) share: the prompt, the parameters and the plan.
import { createPlan, type Plan } from '../../src/core/plan/plan';
import type { RunParameters } from '../../src/core/session/run';
import { getTokenizer } from '../../src/core/plan/tokenizer';
import type { SourceFile } from '../../src/core/plan/types';

export const JOB_PROMPT = 'Upper-case it.';

/** 120-token chunks, two per batch, no retries: a few requests for a couple of small files. */
export const JOB_PARAMETERS: RunParameters = { maxConcurrency: 2, maxRetries: 0, requestTimeoutMs: 10_000, chunkTokens: 120, overlapTokens: 0, chunksPerBatch: 2, maxBatchTokens: 32768 };

/** The plan of `files` with JOB_PROMPT and JOB_PARAMETERS' chunking and packing. */
export function planJob(files: readonly SourceFile[]): Plan {
  const p = JOB_PARAMETERS;
  return createPlan(files, { prompt: JOB_PROMPT, tokenizer: getTokenizer(), chunk: { chunkTokens: p.chunkTokens, overlapTokens: p.overlapTokens }, pack: { chunksPerBatch: p.chunksPerBatch, maxBatchTokens: p.maxBatchTokens } });
}
