import { findCachedChunks, type ChunkKeyBase } from '../store/cachedChunks';
import type { Bound, Limits } from './estimate';
import { estimateModeOver, recommendOver, type EndpointModel, type EndpointRate, type SeveralModeEstimate, type SeveralRecommendation } from './endpointEstimate';
import type { EndpointLimits } from '../execute/endpointPool';
import { DEFAULT_PACK_OPTIONS, packRequests, requestOverhead, type PackOptions } from '../plan/packer';
import { FileChunkSource, type FileReader, type Plan } from '../plan/plan';
import { latencyOf, outputRatioOf, readRecentRuns, type LatencySource, type OutputRatio } from '../store/recentRuns';
import type { ResultCache } from '../store/resultCache';
import { costOf, formatCost, type Prices } from '../store/report';
import type { Tokenizer } from '../plan/tokenizer';
import type { PackedRequest, ChunkRef } from '../plan/types';

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
  /**
   * The run's endpoints, each with its resolved limits, latency and prices (the first is the primary);
   * left out, or with one, the run has the one endpoint of `limits`, `latency` and `prices`.
   */
  endpoints?: EndpointAssumption[];
}

/** What an estimate assumes of one endpoint. */
export interface EndpointAssumption {
  id: string;
  limits: Limits;
  latency: LatencySource;
  prices: Prices;
}

/** An endpoint as `estimatePlan` takes it: a configured endpoint (`EndpointConfig`, the CLI's) fits. */
export interface EstimateEndpoint extends EndpointLimits, Prices {
  id: string;
}

/** What the estimate says of one endpoint of a several-endpoint run. */
export interface EndpointEstimate {
  id: string;
  limits: Limits;
  /** Its own prices, or the run's when it sets none. */
  prices: Prices;
  latency: PlanEstimate['latency'];
  /** Its part of the configured run's time. */
  time: EndpointRate;
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
  /**
   * At the primary endpoint's prices. Over several endpoints `primary` names it, `range` gives the cost
   * if every request went to the cheapest or to the dearest priced endpoint, `unpriced` those without prices.
   */
  cost: { dollars?: number; input?: number; output?: number; text: string; primary?: string; range?: { min: number; minEndpoint: string; max: number; maxEndpoint: string }; unpriced?: string[] };
  /** The primary endpoint's latency (`ttftMeasured`: the time to first token is the median recorded one). */
  latency: { ttftSeconds: number; outputTokensPerSecond: number; measured: boolean; ttftMeasured: boolean; medianSecondsPerRequest?: number; source: string };
  /** Each endpoint of a several-endpoint run; absent with one. */
  endpoints?: EndpointEstimate[];
  /** The run's limits (one endpoint: its own, where it sets them; several: the defaults of the endpoints). */
  limits: Limits;
  /** The configured run's time. */
  time: { seconds: number; firstResultSeconds: number; secondsPerRequest: number; requestsPerMinute: number; bound: Bound };
  /** Batch versus stream for the same chunks. */
  comparison: { stream: SeveralModeEstimate; packed: SeveralModeEstimate };
  recommendation: SeveralRecommendation;
  assumptions: string[];
}

/** The model's assumptions, shown with every estimate. */
export const ESTIMATE_ASSUMPTIONS: readonly string[] = [
  'A request takes the time to its first token plus its output at a steady rate (from recent runs of the endpoint when there are some).',
  'Requests go at the lowest of concurrency ÷ seconds per request, RPM ÷ 60 and TPM ÷ input tokens per request ÷ 60 (steady state: the first minute may burst faster); the last result comes after requests ÷ that rate, and no sooner than ⌈requests ÷ concurrency⌉ request latencies.',
  'Streamed: one chunk per request, its result shows after the first token plus that chunk\'s output. Packed: a batch\'s results show when its whole reply is done.',
  'Output tokens per request are capped by the reply limit (maxOutputTokens) when one is set; retries and rate-limit waits are not counted.',
];

/** Added to the assumptions of a several-endpoint estimate. */
export const SEVERAL_ENDPOINT_ASSUMPTIONS: readonly string[] = [
  'Several endpoints: each runs at its own rate (its limits, else the run\'s; its own recent latency); the run\'s rate is their sum and each serves its share of it; the last result comes no sooner than the requests could end if handed out as the run\'s pool does (first round the endpoints, then to the fastest with a free slot).',
  'Cost over several endpoints: shown as if every request went to the primary (the first) endpoint, with the range from the cheapest to the dearest priced endpoint; the real split follows each endpoint\'s speed.',
];

export interface EstimateOptions extends Pick<EstimateInput, 'prompt' | 'tokenizer' | 'pack' | 'limits' | 'prices'> {
  /**
   * The run's endpoints (the first is the primary): each one's limits and prices fall back to `limits`
   * and `prices`; its latency comes from its own recent requests. Left out: the one endpoint of `model`.
   */
  endpoints?: readonly EstimateEndpoint[];
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
  /**
   * Runs the estimate's counting (the packing of `buildEstimate`) its own way: the editor's counts are
   * made off its thread (`countedOffThread`). Default: with `tokenizer`, in this thread.
   */
  counted?: Counted;
}

/** Runs `compute` with a tokenizer whose counts are made somewhere (see `EstimateOptions.counted`). */
export type Counted = <T>(compute: (tokenizer: Tokenizer) => T) => Promise<T>;

/**
 * Estimates a plan with what the disk knows: the newest runs under `runsRoot` (latency of this
 * endpoint, output length of this prompt) and the result cache (chunks already done).
 */
export async function estimatePlan(plan: Plan, o: EstimateOptions): Promise<PlanEstimate> {
  const runs = o.runsRoot ? await readRecentRuns(o.runsRoot) : [];
  let cached: Set<string> | undefined;
  if (o.cache && o.model && o.prompt) {
    const base = { prompt: o.prompt, model: o.model, maxOutputTokens: o.pack.maxOutputTokens, output: o.pack.output };
    cached = await findCachedChunks(plan.files.flatMap((f) => f.chunks), new FileChunkSource(o.read, plan.files), o.cache, base, o.signal);
  }
  const build = (tokenizer: Tokenizer) => buildEstimate({
    plan,
    prompt: o.prompt,
    tokenizer,
    pack: o.pack,
    limits: o.limits,
    prices: o.prices,
    cached,
    cacheNote: o.cacheNote ?? (!o.cache ? 'the cache is off' : !o.prompt ? 'no prompt' : 'no model'),
    latency: latencyOf(runs, o.endpoints?.[0]?.id ?? o.model?.id),
    output: outputRatioOf(runs, o.prompt || undefined, o.endpoints?.[0]?.id ?? o.model?.id),
    endpoints: o.endpoints?.map((e) => ({ id: e.id, limits: limitsOf(e, o.limits), latency: latencyOf(runs, e.id), prices: e.inputCostPerMTok !== undefined || e.outputCostPerMTok !== undefined ? { inputCostPerMTok: e.inputCostPerMTok, outputCostPerMTok: e.outputCostPerMTok } : o.prices })),
  });
  return o.counted ? o.counted(build) : build(o.tokenizer);
}

/** An endpoint's limits: its own, else the run's. */
function limitsOf(e: EndpointLimits, run: Limits): Limits {
  const rpm = e.requestsPerMinute ?? run.rpm;
  const tpm = e.tokensPerMinute ?? run.tpm;
  return { concurrency: e.maxConcurrency ?? run.concurrency, ...(rpm ? { rpm } : {}), ...(tpm ? { tpm } : {}) };
}

/** Builds the estimate of a plan: what would be sent, its cost and time, and batch versus stream. */
export function buildEstimate(input: EstimateInput): PlanEstimate {
  const { plan, prompt, tokenizer, pack } = input;
  const all = plan.batches.flatMap((b) => b.chunks);
  const toSend = input.cached ? all.filter((c) => !input.cached!.has(c.id)) : all;
  const ratio = input.output.ratio;
  const cap = pack.maxOutputTokens;
  const assumed: EndpointAssumption[] = input.endpoints?.length ? input.endpoints : [{ id: '', limits: input.limits, latency: input.latency, prices: input.prices }];
  const several = assumed.length > 1;
  const models: EndpointModel[] = assumed.map((e) => ({ id: e.id, latency: e.latency.latency, limits: e.limits }));
  // One endpoint runs within its own limits; several, each within its own, the run's being their defaults.
  const limits = several ? input.limits : assumed[0].limits;
  const modeOf = (chunksPerBatch: number, streamed: boolean): SeveralModeEstimate => {
    const batches = packRequests(toSend, prompt, tokenizer, { ...pack, chunksPerBatch });
    return estimateModeOver(
      {
        chunksPerBatch,
        streamed,
        chunks: toSend.length,
        requests: batches.length,
        inputTokens: batches.reduce((n, b) => n + b.tokens, 0),
        promptTokensPerRequest: requestOverhead(prompt, tokenizer, chunksPerBatch, pack.output),
        outputTokens: outputTokensOf(batches, ratio, cap),
      },
      models,
    );
  };
  const configured = pack.chunksPerBatch;
  const stream = modeOf(1, true);
  // Packing is compared at the configured size, or at the default when the configuration is one chunk.
  const packed = modeOf(configured > 1 ? configured : DEFAULT_PACK_OPTIONS.chunksPerBatch, false);
  const run = configured === 1 ? stream : packed;
  return {
    files: plan.totals.files,
    chunks: plan.totals.chunks,
    planned: { requests: plan.totals.requests, inputTokens: plan.totals.inputTokens },
    cached: input.cached ? { chunks: all.length - toSend.length } : { unknown: input.cacheNote ?? 'not looked up' },
    toSend: { chunks: toSend.length, requests: run.requests, inputTokens: run.inputTokens, outputTokens: run.outputTokens },
    output: { ratio, measured: input.output.measured, source: input.output.source, ...(cap ? { maxOutputTokens: cap } : {}) },
    cost: costOver(run.inputTokens, run.outputTokens, assumed),
    latency: latencyOut(assumed[0].latency),
    ...(several ? { endpoints: assumed.map((e, i) => ({ id: e.id, limits: e.limits, prices: e.prices, latency: latencyOut(e.latency), time: run.endpoints![i] })) } : {}),
    limits,
    time: { seconds: run.lastResultSeconds, firstResultSeconds: run.firstResultSeconds, secondsPerRequest: run.secondsPerRequest, requestsPerMinute: run.requestsPerMinute, bound: run.bound },
    comparison: { stream, packed },
    recommendation: recommendOver(stream, packed, models, limits),
    assumptions: [...ESTIMATE_ASSUMPTIONS, ...(several ? SEVERAL_ENDPOINT_ASSUMPTIONS : [])],
  };
}

function latencyOut(l: LatencySource): PlanEstimate['latency'] {
  const m = l.latency;
  return { ttftSeconds: m.ttftSeconds, outputTokensPerSecond: m.outputTokensPerSecond, measured: m.measured, ttftMeasured: m.firstTokenSamples !== undefined, ...(m.medianSecondsPerRequest !== undefined ? { medianSecondsPerRequest: m.medianSecondsPerRequest } : {}), source: l.source };
}

/**
 * The cost at the primary endpoint's prices; over several endpoints also the range from the cheapest to
 * the dearest priced one (each request costs what the endpoint that serves it charges, and which one
 * serves it depends on their speed at run time, so no split is guessed).
 */
function costOver(inputTokens: number, outputTokens: number, endpoints: readonly EndpointAssumption[]): PlanEstimate['cost'] {
  const primary = endpoints[0];
  const dollars = costOf(inputTokens, outputTokens, primary.prices);
  const cost: PlanEstimate['cost'] = { ...(dollars !== undefined ? { dollars, input: costOf(inputTokens, 0, primary.prices), output: costOf(0, outputTokens, primary.prices) } : {}), text: formatCost(dollars) };
  if (endpoints.length < 2) return cost;
  const priced = endpoints.map((e) => ({ id: e.id, dollars: costOf(inputTokens, outputTokens, e.prices) })).filter((e): e is { id: string; dollars: number } => e.dollars !== undefined);
  const unpriced = endpoints.filter((e) => costOf(0, 0, e.prices) === undefined).map((e) => e.id);
  cost.primary = primary.id;
  if (unpriced.length) cost.unpriced = unpriced;
  if (priced.length) {
    const min = priced.reduce((a, b) => (b.dollars < a.dollars ? b : a));
    const max = priced.reduce((a, b) => (b.dollars > a.dollars ? b : a));
    cost.range = { min: min.dollars, minEndpoint: min.id, max: max.dollars, maxEndpoint: max.id };
  }
  return cost;
}

/** Estimated output tokens of the batches: `ratio` per chunk token, each request capped at `cap`. */
export function outputTokensOf(batches: readonly PackedRequest<ChunkRef>[], ratio: number, cap?: number): number {
  let total = 0;
  for (const b of batches) {
    const wanted = Math.round(ratio * b.chunks.reduce((n, c) => n + c.tokens, 0));
    total += cap ? Math.min(wanted, cap) : wanted;
  }
  return total;
}
