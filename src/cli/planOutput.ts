import * as path from 'path';
import type { ChunkKeyBase } from '../core/store/cachedChunks';
import { comparisonRows, estimateRows, recommendationText } from '../core/estimate/estimateRender';
import type { Plan } from '../core/plan/plan';
import { estimatePlan, type PlanEstimate } from '../core/estimate/planEstimate';
import type { ResultCache } from '../core/store/resultCache';
import type { Tokenizer } from '../core/plan/tokenizer';
import { resolveEndpoints, type CliEndpoint } from './endpoints';
import type { CliOptions } from './options';

export interface CliEstimateContext {
  cwd: string;
  /** The prompt given to `plan`, or '' (then nothing is looked up in the cache). */
  prompt: string;
  tokenizer: Tokenizer;
  /** The endpoint named by --provider/--base-url/--model, as a run would record it; undefined without --model. */
  model?: ChunkKeyBase['model'];
  /** The endpoints of --endpoint / --config (the first is the primary), as `planEndpoints` read them. */
  endpoints?: CliEndpoint[];
  /** The result cache, unless --no-cache. */
  cache?: ResultCache;
  signal?: AbortSignal;
}

/**
 * The endpoints `plan` estimates over: those of --endpoint / --config, read as `run` reads them (no key
 * is needed: nothing is sent); undefined without those options. @throws UsageError for a bad spec or file
 */
export async function planEndpoints(opts: CliOptions, cwd: string): Promise<CliEndpoint[] | undefined> {
  if (opts.endpoints.length === 0 && opts.config === undefined) return undefined;
  return resolveEndpoints(opts.endpoints, opts.config, cwd);
}

/**
 * The estimate of `batch-prompt plan`: recent runs from --runs-dir, the cache when a prompt and a model
 * are named; over the endpoints of --endpoint / --config when given (each with its own limits, else the
 * run's --concurrency/--rpm/--tpm, and its own prices from --config, else --input-cost/--output-cost).
 */
export function estimateCliPlan(plan: Plan, opts: CliOptions, ctx: CliEstimateContext): Promise<PlanEstimate> {
  const cacheNote = !ctx.cache ? '--no-cache' : !ctx.prompt ? 'give --prompt or --prompt-file and --model to look chunks up in the cache' : !ctx.model ? 'give --model to look chunks up in the cache' : undefined;
  return estimatePlan(plan, {
    ...(ctx.endpoints ? { endpoints: ctx.endpoints } : {}),
    prompt: ctx.prompt,
    tokenizer: ctx.tokenizer,
    pack: { chunksPerBatch: opts.chunksPerBatch, maxBatchTokens: opts.maxBatchTokens, contextWindow: opts.contextWindow, maxOutputTokens: opts.maxOutputTokens },
    limits: { concurrency: opts.concurrency, ...(opts.rpm ? { rpm: opts.rpm } : {}), ...(opts.tpm ? { tpm: opts.tpm } : {}) },
    prices: { inputCostPerMTok: opts.inputCostPerMTok, outputCostPerMTok: opts.outputCostPerMTok },
    runsRoot: path.resolve(ctx.cwd, opts.runsDir ?? path.join('.batch-prompt', 'runs')),
    read: ctx.cwd,
    model: ctx.model,
    cache: ctx.cache,
    cacheNote,
    signal: ctx.signal,
  });
}

/** The estimate as aligned text lines for the terminal. */
export function renderEstimateText(e: PlanEstimate): string {
  const rows = estimateRows(e);
  const width = Math.max(...rows.map(([k]) => k.length));
  const out = ['Estimate', ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`), ''];
  const cmp = comparisonRows(e);
  const head: [string, string, string] = ['', 'streamed', 'packed'];
  const w0 = Math.max(...cmp.map(([k]) => k.length));
  const w1 = Math.max(head[1].length, ...cmp.map(([, s]) => s.length));
  out.push(`Batch or stream (the ${e.toSend.chunks} chunks to send)`);
  for (const [k, s, p] of [head, ...cmp]) out.push(`  ${k.padEnd(w0)}  ${s.padEnd(w1)}  ${p}`.trimEnd());
  out.push('', `Recommendation: ${recommendationText(e, { chunksPerBatch: '--chunks-per-batch', concurrency: '--concurrency', endpointConcurrency: 'concurrency=N in each --endpoint, or maxConcurrency in --config' })}`, '', 'Assumptions:', ...e.assumptions.map((a) => `  - ${a}`));
  return `${out.join('\n')}\n`;
}
