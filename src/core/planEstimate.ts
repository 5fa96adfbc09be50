import { findCachedChunks, type ChunkKeyBase } from './cachedChunks';
import { estimateMode, recommend, type Bound, type Limits, type ModeEstimate, type Recommendation } from './estimate';
import { DEFAULT_PACK_OPTIONS, packBatches, requestOverhead, type PackOptions } from './packer';
import { FileChunkSource, type FileReader, type Plan } from './plan';
import { latencyOf, outputRatioOf, readRecentRuns, type LatencySource, type OutputRatio } from './recentRuns';
import type { ResultCache } from './resultCache';
import { costOf, formatCost, type Prices } from './report';
import type { Tokenizer } from './tokenizer';
import type { Batch, ChunkRef } from './types';

export interface EstimateInput {
  plan: Plan;
  prompt: string;
  tokenizer: Tokenizer;
  /** The packing the plan was made with (the configured chunks per batch, the budgets). */
  pack: PackOptions;
  limits: Limits;
  prices: Prices;
  /** Ids of the chunks already in the result cache; undefined when not looked up (say why in `cacheNote`). */
  cached?: ReadonlySet<string>;
  cacheNote?: string;
  latency: LatencySource;
  output: OutputRatio;
}

/** Everything "Estimate Run…" and `batch-prompt plan` show; plain data (the CLI prints it as JSON). */
export interface PlanEstimate {
  files: number;
  chunks: number;
  /** The plan's requests and input tokens, before the cache is consulted. */
  planned: { requests: number; inputTokens: number };
  /** Chunks whose result is in the cache (not sent), or why that is unknown. */
  cached: { chunks: number } | { unknown: string };
  /** What a run would send: the chunks not cached, packed again as the run does. */
  toSend: { chunks: number; requests: number; inputTokens: number; outputTokens: number };
  output: { ratio: number; measured: boolean; source: string; maxOutputTokens?: number };
  cost: { dollars?: number; input?: number; output?: number; text: string };
  latency: { ttftSeconds: number; outputTokensPerSecond: number; measured: boolean; medianSecondsPerRequest?: number; source: string };
  limits: Limits;
  /** The configured run's time. */
  time: { seconds: number; firstResultSeconds: number; secondsPerRequest: number; requestsPerMinute: number; bound: Bound };
  /** Batch versus stream for the same chunks. */
  comparison: { stream: ModeEstimate; packed: ModeEstimate };
  recommendation: Recommendation;
  assumptions: string[];
}

/** The model's assumptions, shown with every estimate. */
export const ESTIMATE_ASSUMPTIONS: readonly string[] = [
  'A request takes the time to its first token plus its output at a steady rate (from recent runs of the endpoint when there are some).',
  'Requests go at the lowest of concurrency ÷ seconds per request, RPM ÷ 60 and TPM ÷ input tokens per request ÷ 60 (steady state: the first minute may burst faster); the last result comes after requests ÷ that rate, and no sooner than ⌈requests ÷ concurrency⌉ request latencies.',
  'Streamed: one chunk per request, its result shows after the first token plus that chunk\'s output. Packed: a batch\'s results show when its whole reply is done.',
  'Output tokens per request are capped by the reply limit (maxOutputTokens) when one is set; retries and rate-limit waits are not counted.',
];

export interface EstimateOptions extends Pick<EstimateInput, 'prompt' | 'tokenizer' | 'pack' | 'limits' | 'prices'> {
  /** The folder of the run folders to learn latency and output length from. */
  runsRoot?: string;
  /** The run's root folder or reader, to read chunk texts for the cache lookup. */
  read: string | FileReader;
  /** The endpoint as a run records it (`RunMeta['model']`); latency and cache keys are per endpoint. */
  model?: ChunkKeyBase['model'];
  /** The result cache to count cached chunks in; looked up only with a prompt and a model. */
  cache?: ResultCache;
  /** Why the cache is not looked up, when it is not (shown instead of a count). */
  cacheNote?: string;
  signal?: AbortSignal;
}

/**
 * Estimates a plan with what the disk knows: the newest runs under `runsRoot` (latency of this
 * endpoint, output length of this prompt) and the result cache (chunks already done).
 */
export async function estimatePlan(plan: Plan, o: EstimateOptions): Promise<PlanEstimate> {
  const runs = o.runsRoot ? await readRecentRuns(o.runsRoot) : [];
  let cached: Set<string> | undefined;
  if (o.cache && o.model && o.prompt) {
    const base = { prompt: o.prompt, model: o.model, maxOutputTokens: o.pack.maxOutputTokens };
    cached = await findCachedChunks(plan.files.flatMap((f) => f.chunks), new FileChunkSource(o.read, plan.files), o.cache, base, o.signal);
  }
  return buildEstimate({
    plan,
    prompt: o.prompt,
    tokenizer: o.tokenizer,
    pack: o.pack,
    limits: o.limits,
    prices: o.prices,
    cached,
    cacheNote: o.cacheNote ?? (!o.cache ? 'the cache is off' : !o.prompt ? 'no prompt' : 'no model'),
    latency: latencyOf(runs, o.model?.id),
    output: outputRatioOf(runs, o.prompt || undefined, o.model?.id),
  });
}

/** Builds the estimate of a plan: what would be sent, its cost and time, and batch versus stream. */
export function buildEstimate(input: EstimateInput): PlanEstimate {
  const { plan, prompt, tokenizer, pack, limits } = input;
  const all = plan.batches.flatMap((b) => b.chunks);
  const toSend = input.cached ? all.filter((c) => !input.cached!.has(c.id)) : all;
  const ratio = input.output.ratio;
  const cap = pack.maxOutputTokens;
  const modeOf = (chunksPerBatch: number, streamed: boolean): ModeEstimate => {
    const batches = packBatches(toSend, prompt, tokenizer, { ...pack, chunksPerBatch });
    return estimateMode(
      {
        chunksPerBatch,
        streamed,
        chunks: toSend.length,
        requests: batches.length,
        inputTokens: batches.reduce((n, b) => n + b.tokens, 0),
        promptTokensPerRequest: requestOverhead(prompt, tokenizer, chunksPerBatch),
        outputTokens: outputTokensOf(batches, ratio, cap),
      },
      input.latency.latency,
      limits,
    );
  };
  const configured = pack.chunksPerBatch;
  const stream = modeOf(1, true);
  // Packing is compared at the configured size, or at the default when the configuration is one chunk.
  const packed = modeOf(configured > 1 ? configured : DEFAULT_PACK_OPTIONS.chunksPerBatch, false);
  const run = configured === 1 ? stream : packed;
  const inputCost = costOf(run.inputTokens, 0, input.prices);
  const outputCost = costOf(0, run.outputTokens, input.prices);
  const dollars = costOf(run.inputTokens, run.outputTokens, input.prices);
  const l = input.latency.latency;
  return {
    files: plan.totals.files,
    chunks: plan.totals.chunks,
    planned: { requests: plan.totals.requests, inputTokens: plan.totals.inputTokens },
    cached: input.cached ? { chunks: all.length - toSend.length } : { unknown: input.cacheNote ?? 'not looked up' },
    toSend: { chunks: toSend.length, requests: run.requests, inputTokens: run.inputTokens, outputTokens: run.outputTokens },
    output: { ratio, measured: input.output.measured, source: input.output.source, ...(cap ? { maxOutputTokens: cap } : {}) },
    cost: { ...(dollars !== undefined ? { dollars, input: inputCost, output: outputCost } : {}), text: formatCost(dollars) },
    latency: { ttftSeconds: l.ttftSeconds, outputTokensPerSecond: l.outputTokensPerSecond, measured: l.measured, ...(l.medianSecondsPerRequest !== undefined ? { medianSecondsPerRequest: l.medianSecondsPerRequest } : {}), source: input.latency.source },
    limits,
    time: { seconds: run.lastResultSeconds, firstResultSeconds: run.firstResultSeconds, secondsPerRequest: run.secondsPerRequest, requestsPerMinute: run.requestsPerMinute, bound: run.bound },
    comparison: { stream, packed },
    recommendation: recommend(stream, packed, limits),
    assumptions: [...ESTIMATE_ASSUMPTIONS],
  };
}

/** Estimated output tokens of the batches: `ratio` per chunk token, each request capped at `cap`. */
export function outputTokensOf(batches: readonly Batch<ChunkRef>[], ratio: number, cap?: number): number {
  let total = 0;
  for (const b of batches) {
    const wanted = Math.round(ratio * b.chunks.reduce((n, c) => n + c.tokens, 0));
    total += cap ? Math.min(wanted, cap) : wanted;
  }
  return total;
}
