/**
 * The time model of an estimate: plain arithmetic over requests, tokens, limits and latency, no I/O.
 *
 * Assumptions (stated in the estimate's output too):
 * - A request takes `ttft + outputTokens / outputTokensPerSecond` seconds: the time to its first output
 *   token, then a steady generation rate. Reading the input (prefill) is inside `ttft`.
 * - Requests run at the lowest of three rates: `concurrency / secondsPerRequest` (every slot busy),
 *   `rpm / 60` and `tpm / inputTokensPerRequest / 60`. The TPM budget counts request input tokens, as
 *   the run's RequestGate does. It is a steady-state rate: the gate's first minute may burst faster.
 * - The last result arrives after `requests / rate`, and never before `ceil(requests / concurrency)`
 *   rounds of one request's latency (a run of 5 requests at concurrency 4 takes two rounds, not 1.25).
 * - A streamed reply shows its first result after `ttft` plus one chunk's output; a packed reply shows
 *   its results when the whole batch's reply has been generated.
 */

/** How long one request takes, from recent runs or from the defaults. */
export interface LatencyModel {
  /** Seconds from sending a request to its first output token. */
  ttftSeconds: number;
  /** Output tokens generated per second once the reply has started. */
  outputTokensPerSecond: number;
  /** True when measured from recent runs; false when these are the defaults. */
  measured: boolean;
  /** Median seconds per request of the recent runs (measured only). */
  medianSecondsPerRequest?: number;
  /** Requests and runs measured (measured only). */
  samples?: { requests: number; runs: number };
  /** Streamed requests whose recorded time to first token set `ttftSeconds` (absent: it is assumed). */
  firstTokenSamples?: number;
}

/** Assumed time to first token when no recent streamed run of the endpoint recorded one. */
export const DEFAULT_TTFT_SECONDS = 0.5;
/** Assumed generation rate with no recent run of the endpoint (a mid-sized hosted model). */
export const DEFAULT_OUTPUT_TOKENS_PER_SECOND = 50;
/** Assumed output tokens per chunk token with no recent run of the prompt: a reply as long as its text. */
export const DEFAULT_OUTPUT_RATIO = 1;

export const DEFAULT_LATENCY: LatencyModel = { ttftSeconds: DEFAULT_TTFT_SECONDS, outputTokensPerSecond: DEFAULT_OUTPUT_TOKENS_PER_SECOND, measured: false };

/** The run's limits: the concurrency and the optional RPM/TPM budgets. */
export interface Limits {
  concurrency: number;
  rpm?: number;
  tpm?: number;
}

export type Bound = 'concurrency' | 'rpm' | 'tpm';

/** Seconds one request takes when its reply is `outputTokens` long. */
export function requestSeconds(latency: LatencyModel, outputTokens: number): number {
  return latency.ttftSeconds + outputTokens / latency.outputTokensPerSecond;
}

/**
 * Requests per second the run sustains, and which limit sets it: the lowest of
 * `concurrency / secondsPerRequest`, `rpm / 60` and `tpm / inputTokensPerRequest / 60`.
 * On a tie the earlier in that order is named.
 */
export function throughput(limits: Limits, secondsPerRequest: number, inputTokensPerRequest: number): { perSecond: number; bound: Bound } {
  let best: { perSecond: number; bound: Bound } = { perSecond: limits.concurrency / Math.max(secondsPerRequest, 1e-9), bound: 'concurrency' };
  if (limits.rpm && limits.rpm / 60 < best.perSecond) best = { perSecond: limits.rpm / 60, bound: 'rpm' };
  if (limits.tpm && inputTokensPerRequest > 0) {
    const perSecond = limits.tpm / inputTokensPerRequest / 60;
    if (perSecond < best.perSecond) best = { perSecond, bound: 'tpm' };
  }
  return best;
}

/**
 * The latency model that reproduces the median recent request. `ttft` is the median recorded time to
 * the first streamed token when some requests were streamed (`firstTokenMs`), else the default 0.5 s (or
 * half the median request, for a server faster than a second); the generation rate is what makes
 * `ttft + medianOutput / rate` equal the median latency. Undefined without samples.
 */
export function latencyFromSamples(samples: readonly { latencyMs: number; outputTokens: number; firstTokenMs?: number }[], runs: number): LatencyModel | undefined {
  const usable = samples.filter((s) => s.latencyMs > 0);
  if (usable.length === 0) return undefined;
  const medianSeconds = median(usable.map((s) => s.latencyMs / 1000));
  const medianOutput = median(usable.map((s) => s.outputTokens));
  const firsts = usable.filter((s) => s.firstTokenMs !== undefined).map((s) => s.firstTokenMs! / 1000);
  const ttftSeconds = firsts.length ? Math.min(median(firsts), medianSeconds) : Math.min(DEFAULT_TTFT_SECONDS, medianSeconds / 2);
  const generating = medianSeconds - ttftSeconds;
  const outputTokensPerSecond = medianOutput > 0 && generating > 0 ? medianOutput / generating : DEFAULT_OUTPUT_TOKENS_PER_SECOND;
  return { ttftSeconds, outputTokensPerSecond, measured: true, medianSecondsPerRequest: medianSeconds, samples: { requests: usable.length, runs }, ...(firsts.length ? { firstTokenSamples: firsts.length } : {}) };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** One way of sending the chunks: how many requests, and how many tokens go in and come out. */
export interface ModeInput {
  chunksPerBatch: number;
  /** True when the reply is streamed and each chunk's result shows as soon as it is generated. */
  streamed: boolean;
  chunks: number;
  requests: number;
  /** Input tokens of all requests, prompt and wrapping included. */
  inputTokens: number;
  /** Tokens of the prompt, the instructions and the message framing: repeated in every request. */
  promptTokensPerRequest: number;
  /** Estimated output tokens of all requests. */
  outputTokens: number;
}

export interface ModeEstimate extends ModeInput {
  /** `promptTokensPerRequest × requests`. */
  repeatedPromptTokens: number;
  secondsPerRequest: number;
  requestsPerMinute: number;
  /** What sets the last result's time: a budget when `requests / rate` exceeds the rounds of latency, else concurrency. */
  bound: Bound;
  firstResultSeconds: number;
  lastResultSeconds: number;
}

/** Times one way of sending the chunks under the limits (see the assumptions at the top of this file). */
export function estimateMode(input: ModeInput, latency: LatencyModel, limits: Limits): ModeEstimate {
  const repeatedPromptTokens = input.promptTokensPerRequest * input.requests;
  if (input.requests === 0) {
    return { ...input, repeatedPromptTokens, secondsPerRequest: 0, requestsPerMinute: 0, bound: 'concurrency', firstResultSeconds: 0, lastResultSeconds: 0 };
  }
  const outputPerRequest = input.outputTokens / input.requests;
  const secondsPerRequest = requestSeconds(latency, outputPerRequest);
  const rate = throughput(limits, secondsPerRequest, input.inputTokens / input.requests);
  const outputPerChunk = input.chunks ? input.outputTokens / input.chunks : 0;
  const firstResultSeconds = input.streamed ? requestSeconds(latency, outputPerChunk) : secondsPerRequest;
  const rounds = Math.ceil(input.requests / Math.max(1, limits.concurrency));
  const byRounds = rounds * secondsPerRequest;
  const byRate = input.requests / rate.perSecond;
  // A budget that the run's few rounds never reach does not set its time: concurrency (latency) does.
  const bound = byRate > byRounds ? rate.bound : 'concurrency';
  return { ...input, repeatedPromptTokens, secondsPerRequest, requestsPerMinute: rate.perSecond * 60, bound, firstResultSeconds, lastResultSeconds: Math.max(byRounds, byRate) };
}

/** Most concurrency recommended (the setting's own maximum). */
export const MAX_RECOMMENDED_CONCURRENCY = 64;
/** Streaming is recommended against packing when the prompt repeated per request stays under this share of the input. */
export const PROMPT_SHARE_LIMIT = 0.25;
/** Streaming may finish this much later than packing and still be recommended, for its earlier first result. */
export const STREAM_SLACK = 0.1;

export interface Recommendation {
  mode: 'stream' | 'pack';
  chunksPerBatch: number;
  concurrency: number;
  /** Why this mode, one sentence. */
  why: string;
  /** Why this concurrency, one sentence. */
  concurrencyWhy: string;
}

/**
 * Streaming or packing, and the concurrency, in this order of reasons:
 * 1. an RPM/TPM budget binds the one-chunk requests and packing finishes sooner: pack;
 * 2. the prompt repeated in every one-chunk request is over a quarter of the input: pack;
 * 3. streaming finishes no more than 10% later: stream (its first result comes sooner);
 * 4. otherwise pack, for throughput.
 */
export function recommend(stream: ModeEstimate, packed: ModeEstimate, limits: Limits): Recommendation {
  const pct = (n: number, of: number) => `${Math.round((n / Math.max(of, 1)) * 100)}%`;
  let mode: 'stream' | 'pack';
  let why: string;
  if ((stream.bound === 'rpm' || stream.bound === 'tpm') && packed.lastResultSeconds < stream.lastResultSeconds) {
    mode = 'pack';
    why = `the ${stream.bound === 'rpm' ? 'RPM' : 'TPM'} budget binds: ${stream.requests} one-chunk requests need ${seconds(stream.lastResultSeconds)}, ${packed.requests} packed requests ${seconds(packed.lastResultSeconds)}`;
  } else if (stream.repeatedPromptTokens > PROMPT_SHARE_LIMIT * stream.inputTokens) {
    mode = 'pack';
    why = `the prompt repeated in each of ${stream.requests} one-chunk requests would be ${pct(stream.repeatedPromptTokens, stream.inputTokens)} of the input tokens (${pct(packed.repeatedPromptTokens, packed.inputTokens)} packed)`;
  } else if (stream.lastResultSeconds <= packed.lastResultSeconds * (1 + STREAM_SLACK)) {
    mode = 'stream';
    why = `the first result comes after ${seconds(stream.firstResultSeconds)} instead of ${seconds(packed.firstResultSeconds)}, and the last no more than ${Math.round(STREAM_SLACK * 100)}% later`;
  } else {
    mode = 'pack';
    why = `packing finishes after ${seconds(packed.lastResultSeconds)} instead of ${seconds(stream.lastResultSeconds)}`;
  }
  const chosen = mode === 'stream' ? stream : packed;
  const c = recommendConcurrency(chosen, limits);
  return { mode, chunksPerBatch: chosen.chunksPerBatch, concurrency: c.concurrency, why, concurrencyWhy: c.why };
}

/**
 * The concurrency that keeps an RPM/TPM budget busy: requests per second the budget allows times the
 * seconds per request, rounded up; never more than the requests or 64. Without a budget, the
 * configured concurrency, capped at the number of requests (more slots would stay idle).
 */
export function recommendConcurrency(mode: ModeEstimate, limits: Limits): { concurrency: number; why: string } {
  const requests = Math.max(1, mode.requests);
  const inputPerRequest = mode.requests ? mode.inputTokens / mode.requests : 0;
  const budgets: { perSecond: number; name: string }[] = [];
  if (limits.rpm) budgets.push({ perSecond: limits.rpm / 60, name: `${limits.rpm} RPM` });
  if (limits.tpm && inputPerRequest > 0) budgets.push({ perSecond: limits.tpm / inputPerRequest / 60, name: `${limits.tpm} TPM` });
  if (budgets.length === 0) {
    const concurrency = Math.max(1, Math.min(limits.concurrency, requests));
    return { concurrency, why: concurrency < limits.concurrency ? `only ${mode.requests} request${mode.requests === 1 ? '' : 's'}` : 'no RPM/TPM budget given: the configured concurrency' };
  }
  const budget = budgets.reduce((a, b) => (b.perSecond < a.perSecond ? b : a));
  const needed = Math.ceil(budget.perSecond * mode.secondsPerRequest - 1e-9);
  const concurrency = Math.max(1, Math.min(needed, requests, MAX_RECOMMENDED_CONCURRENCY));
  return { concurrency, why: `${budget.name} at ${seconds(mode.secondsPerRequest)} per request keeps ${needed} request${needed === 1 ? '' : 's'} in flight${concurrency < needed ? ` (capped at ${concurrency})` : ''}` };
}

/** "0.8 s", "12 s", "3m 20s": seconds for estimates (tenths below ten seconds). */
export function seconds(s: number): string {
  if (s < 10) return `${(Math.round(s * 10) / 10).toFixed(1)} s`;
  const r = Math.round(s);
  if (r < 60) return `${r} s`;
  const m = Math.floor(r / 60);
  if (m < 60) return `${m}m ${r % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}
