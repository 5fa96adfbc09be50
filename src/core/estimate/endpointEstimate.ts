/**
 * The time model of an estimate over several endpoints (plain arithmetic, no I/O), on top of
 * estimate.ts's one-endpoint model. The dispatcher hands the next request to whichever endpoint has a
 * free slot, so:
 * - each endpoint runs at its own rate: the lowest of its `concurrency / secondsPerRequest`, its
 *   `rpm / 60` and its `tpm / inputTokensPerRequest / 60`, with its own latency (recent runs of it);
 * - the run's rate is the sum of the endpoints' rates, and each endpoint serves its share of that sum;
 * - the last result comes after `requests / sum`, and never before the requests could end if handed out
 *   as the pool does with each endpoint's latency (a slow endpoint that takes one of the last requests
 *   holds the end back; see `roundsFinishSeconds`);
 * - the first requests go round the endpoints, so the first result comes from the fastest of the first
 *   `requests` endpoints.
 */
import { estimateMode, recommend, recommendConcurrency, requestSeconds, throughput, type Bound, type LatencyModel, type Limits, type ModeEstimate, type ModeInput, type Recommendation } from './estimate';

/** One endpoint as the time model sees it: its limits (the run's where it sets none) and its latency. */
export interface EndpointModel {
  id: string;
  latency: LatencyModel;
  limits: Limits;
}

/** What one endpoint does in a mode: its time per request, its rate, what sets that rate, its share. */
export interface EndpointRate {
  id: string;
  secondsPerRequest: number;
  requestsPerMinute: number;
  /** The limit that sets this endpoint's rate. */
  bound: Bound;
  /** Its expected share of the requests (its rate over the sum of rates). */
  share: number;
}

/** A mode's estimate over several endpoints: the one-endpoint fields for the whole run, and each endpoint's part. */
export interface SeveralModeEstimate extends ModeEstimate {
  endpoints?: EndpointRate[];
}

/**
 * Times one way of sending the chunks over `endpoints` (see the top of this file). With one endpoint it
 * is `estimateMode` exactly. Over several, `secondsPerRequest` is the share-weighted mean, and `bound`
 * is `concurrency` when the rounds of latency set the time, else the budget (`rpm`/`tpm`) of the
 * budget-bound endpoint with the largest share.
 */
export function estimateModeOver(input: ModeInput, endpoints: readonly EndpointModel[]): SeveralModeEstimate {
  if (endpoints.length === 1) return estimateMode(input, endpoints[0].latency, endpoints[0].limits);
  const repeatedPromptTokens = input.promptTokensPerRequest * input.requests;
  const outputPerRequest = input.requests ? input.outputTokens / input.requests : 0;
  const inputPerRequest = input.requests ? input.inputTokens / input.requests : 0;
  const rates = endpoints.map((e) => {
    const secondsPerRequest = requestSeconds(e.latency, outputPerRequest);
    return { id: e.id, secondsPerRequest, ...throughput(e.limits, secondsPerRequest, inputPerRequest) };
  });
  const total = rates.reduce((n, r) => n + r.perSecond, 0);
  const parts: EndpointRate[] = rates.map((r) => ({ id: r.id, secondsPerRequest: r.secondsPerRequest, requestsPerMinute: r.perSecond * 60, bound: r.bound, share: total > 0 ? r.perSecond / total : 0 }));
  const secondsPerRequest = parts.reduce((n, p) => n + p.share * p.secondsPerRequest, 0);
  if (input.requests === 0) {
    return { ...input, repeatedPromptTokens, secondsPerRequest, requestsPerMinute: total * 60, bound: 'concurrency', firstResultSeconds: 0, lastResultSeconds: 0, endpoints: parts };
  }
  const byRounds = roundsFinishSeconds(input.requests, endpoints.map((e, i) => ({ concurrency: e.limits.concurrency, secondsPerRequest: rates[i].secondsPerRequest })));
  const byRate = input.requests / total;
  const budgetBound = parts.filter((p) => p.bound !== 'concurrency').sort((a, b) => b.share - a.share)[0];
  const bound: Bound = byRate > byRounds && budgetBound ? budgetBound.bound : 'concurrency';
  const outputPerChunk = input.chunks ? input.outputTokens / input.chunks : 0;
  const firstResultSeconds = Math.min(...startedAtOnce(input.requests, endpoints).map((i) => (input.streamed ? requestSeconds(endpoints[i].latency, outputPerChunk) : rates[i].secondsPerRequest)));
  return { ...input, repeatedPromptTokens, secondsPerRequest, requestsPerMinute: total * 60, bound, firstResultSeconds, lastResultSeconds: Math.max(byRounds, byRate), endpoints: parts };
}

/**
 * When the last of `requests` ends if each takes its endpoint's latency and they are handed out as the
 * run's pool does (endpointPool.ts `pick`): to an endpoint with a free slot, the lowest measured latency
 * first, an endpoint not yet measured counting as fastest, then the fewest in flight, then the earlier
 * named. So the first requests go round the endpoints, and later ones mostly to the fastest free one.
 * Budgets are left out (the rate covers them). One endpoint: `ceil(requests / concurrency) × latency`.
 */
export function roundsFinishSeconds(requests: number, endpoints: readonly { concurrency: number; secondsPerRequest: number }[]): number {
  const slots = endpoints.map((e) => Math.max(1, e.concurrency));
  const ends: number[][] = endpoints.map(() => []);
  const heads = endpoints.map(() => 0);
  const measured = endpoints.map(() => false);
  let now = 0;
  let left = requests;
  let last = 0;
  while (left > 0) {
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (const [i, e] of endpoints.entries()) {
        const inFlight = ends[i].length - heads[i];
        if (inFlight >= slots[i]) continue;
        const rank = (measured[i] ? e.secondsPerRequest : 0) + inFlight * 1e-6;
        if (rank < bestRank) [best, bestRank] = [i, rank];
      }
      if (best < 0 || left === 0) break;
      ends[best].push(now + endpoints[best].secondsPerRequest);
      last = Math.max(last, now + endpoints[best].secondsPerRequest);
      left--;
    }
    if (left === 0) break;
    // Each endpoint's requests end in the order they started (one latency each): the next end is a head.
    now = Math.min(...ends.map((q, i) => (heads[i] < q.length ? q[heads[i]] : Infinity)));
    for (const [i, q] of ends.entries()) {
      while (heads[i] < q.length && q[heads[i]] <= now) {
        heads[i]++;
        measured[i] = true;
      }
    }
  }
  return last;
}

/** Indexes of the endpoints that get a request at once: the first requests go round them, one each. */
function startedAtOnce(requests: number, endpoints: readonly EndpointModel[]): number[] {
  return endpoints.slice(0, Math.max(1, Math.min(requests, endpoints.length))).map((_, i) => i);
}

/** The recommendation over several endpoints: a concurrency for each. */
export interface SeveralRecommendation extends Recommendation {
  /** Per endpoint (several endpoints only); `concurrency` above is their sum. */
  endpoints?: { id: string; concurrency: number; why: string }[];
}

/**
 * Streaming or packing as `recommend` decides it; over several endpoints, a concurrency for each: the
 * one that keeps its own budget busy at its own latency, for its share of the requests.
 */
export function recommendOver(stream: SeveralModeEstimate, packed: SeveralModeEstimate, endpoints: readonly EndpointModel[], runLimits: Limits): SeveralRecommendation {
  if (endpoints.length === 1) return recommend(stream, packed, endpoints[0].limits);
  const r = recommend(stream, packed, runLimits);
  const chosen = r.mode === 'stream' ? stream : packed;
  const per = endpoints.map((e, i) => {
    const part = chosen.endpoints![i];
    const requests = Math.max(1, Math.ceil(part.share * chosen.requests - 1e-9));
    const inputTokens = chosen.requests ? (chosen.inputTokens / chosen.requests) * requests : 0;
    const c = recommendConcurrency({ ...chosen, requests, inputTokens, secondsPerRequest: part.secondsPerRequest }, e.limits);
    return { id: e.id, concurrency: c.concurrency, why: c.why };
  });
  return { ...r, concurrency: per.reduce((n, p) => n + p.concurrency, 0), concurrencyWhy: per.map((p) => `${p.id}: ${p.why}`).join('; '), endpoints: per };
}
