import * as assert from 'assert';
import { estimateModeOver, recommendOver, roundsFinishSeconds, type EndpointModel } from '../../../src/core/estimate/endpointEstimate';
import { estimateMode, latencyFromSamples, type ModeInput } from '../../../src/core/estimate/estimate';
import { renderEstimateMarkdown } from '../../../src/core/estimate/estimateRender';
import { createPlan } from '../../../src/core/plan/plan';
import { buildEstimate } from '../../../src/core/estimate/planEstimate';
import type { Prices } from '../../../src/core/store/report';
import { getTokenizer } from '../../../src/core/plan/tokenizer';

// Every expected number below is worked out by hand in the comment beside it.
const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} ≠ ${expected}`);

/** 20 requests of one chunk, 500 input and 100 output tokens each, not streamed. */
const input: ModeInput = { chunksPerBatch: 1, streamed: false, chunks: 20, requests: 20, inputTokens: 10_000, promptTokensPerRequest: 100, outputTokens: 2000 };

/** fast: 0.5 s + 100 / 50 = 2.5 s per request, 5 slots, no budget: 5 / 2.5 = 2 requests/s (120/min), set by concurrency. */
const fast: EndpointModel = { id: 'fast', latency: { ttftSeconds: 0.5, outputTokensPerSecond: 50, measured: true }, limits: { concurrency: 5 } };
/** slow: 1 s + 100 / 25 = 5 s per request, 10 slots (10 / 5 = 2/s) but 30 RPM = 0.5/s: set by its RPM budget. */
const slow: EndpointModel = { id: 'slow', latency: { ttftSeconds: 1, outputTokensPerSecond: 25, measured: true }, limits: { concurrency: 10, rpm: 30 } };

describe('estimate: several endpoints', () => {
  it('sums the endpoints\' rates, each under its own limits and latency, and says which limit binds each', () => {
    const m = estimateModeOver(input, [fast, slow]);
    // 2 + 0.5 = 2.5 requests/s = 150/min; shares 2/2.5 = 80% and 20%.
    close(m.requestsPerMinute, 150, 'sum of rates');
    assert.deepStrictEqual(m.endpoints!.map((p) => [p.id, p.bound]), [['fast', 'concurrency'], ['slow', 'rpm']]);
    close(m.endpoints![0].requestsPerMinute, 120, 'fast rate');
    close(m.endpoints![1].requestsPerMinute, 30, 'slow rate');
    close(m.endpoints![0].share, 0.8, 'fast share');
    close(m.endpoints![1].share, 0.2, 'slow share');
    close(m.endpoints![0].secondsPerRequest, 2.5, 'fast latency');
    close(m.endpoints![1].secondsPerRequest, 5, 'slow latency');
    // Share-weighted seconds per request: 0.8 × 2.5 + 0.2 × 5 = 3.
    close(m.secondsPerRequest, 3, 'mean seconds per request');
    // Handed out as the pool does: at 0 s the requests go round (fast, slow, …) until fast's 5 slots are full,
    // then slow's: 5 + 10; at 2.5 s fast's 5 end and it takes the last 5: all done by 5 s. By rate: 20 / 2.5 = 8 s.
    // The rate (slow's RPM budget) sets the end: 8 s.
    close(m.lastResultSeconds, 8, 'last result');
    assert.strictEqual(m.bound, 'rpm');
    // Both get a request at once (fast's 5 slots hold fewer than 20): the first result is fast's, 2.5 s.
    close(m.firstResultSeconds, 2.5, 'first result');
    // Alone, fast would need 20 / 2 = 10 s; slow alone 20 / 0.5 = 40 s.
    close(estimateMode(input, fast.latency, fast.limits).lastResultSeconds, 10, 'fast alone');
    close(estimateMode(input, slow.latency, slow.limits).lastResultSeconds, 40, 'slow alone');
  });

  it('a slow endpoint that takes one of the last requests holds the end back: the rounds set the time', () => {
    // 6 requests go round: fast 3, slow 3 at 0 s; slow's end at 5 s. By rate: 6 / 2.5 = 2.4 s.
    const six = { ...input, chunks: 6, requests: 6, inputTokens: 3000, outputTokens: 600 };
    const m = estimateModeOver(six, [fast, slow]);
    close(m.lastResultSeconds, 5, 'rounds');
    assert.strictEqual(m.bound, 'concurrency');
    // One request goes to the first named endpoint (none is measured yet): 2.5 s on fast, 5 s on slow.
    const one = { ...input, chunks: 1, requests: 1, inputTokens: 500, outputTokens: 100 };
    close(estimateModeOver(one, [fast, slow]).lastResultSeconds, 2.5, 'fast first');
    close(estimateModeOver(one, [slow, fast]).lastResultSeconds, 5, 'slow first');
    close(estimateModeOver(one, [slow, fast]).firstResultSeconds, 5, 'only slow starts');
    // Streamed, the first result is one chunk's output: 0.5 + 100 / 50 = 2.5 s on fast, 1 + 4 = 5 s on slow.
    close(estimateModeOver({ ...six, streamed: true }, [slow, fast]).firstResultSeconds, 2.5, 'the fastest that starts at once');
  });

  it('the rounds of latency: one endpoint is ⌈requests ÷ concurrency⌉ × latency; several take work in turn', () => {
    assert.strictEqual(roundsFinishSeconds(5, [{ concurrency: 4, secondsPerRequest: 2 }]), 4);
    // 9 requests: at 0 s A (2 slots, 1 s), B (1 slot, 3 s), A: A 2, B 1; A takes 2 more at 1 s and at 2 s; at
    // 3 s A (measured 1 s) is preferred to B (3 s) for the last 2: done at 4 s.
    assert.strictEqual(roundsFinishSeconds(9, [{ concurrency: 2, secondsPerRequest: 1 }, { concurrency: 1, secondsPerRequest: 3 }]), 4);
    assert.strictEqual(roundsFinishSeconds(0, [{ concurrency: 2, secondsPerRequest: 1 }]), 0);
  });

  it('one endpoint is the one-endpoint model exactly', () => {
    assert.deepStrictEqual(estimateModeOver(input, [slow]), estimateMode(input, slow.latency, slow.limits));
  });

  it('recommends a concurrency per endpoint: its budget at its latency, or its own slots without one', () => {
    const m = estimateModeOver(input, [fast, slow]);
    const r = recommendOver(m, m, [fast, slow], { concurrency: 4 });
    // fast: no budget, 5 slots for its ⌈0.8 × 20⌉ = 16 requests: 5. slow: 30 RPM = 0.5/s × 5 s = 2.5 → 3 in flight.
    assert.deepStrictEqual(r.endpoints!.map((p) => [p.id, p.concurrency]), [['fast', 5], ['slow', 3]]);
    assert.strictEqual(r.concurrency, 8);
    assert.match(r.concurrencyWhy, /^fast: no RPM\/TPM budget given: the configured concurrency; slow: 30 RPM at 5\.0 s per request keeps 3 requests in flight$/);
  });

  it('a plan over two endpoints: per-endpoint rows (limits, rate, what binds, share, latency source) and the cost range', () => {
    const tokenizer = getTokenizer();
    const prompt = 'Summarise.';
    const plan = createPlan([{ path: 'a.txt', text: 'word '.repeat(400) }], { prompt, tokenizer, chunk: { chunkTokens: 50, overlapTokens: 0 }, pack: { chunksPerBatch: 1, maxBatchTokens: 32768 } });
    const source = (id: string) => ({ latency: id === 'fast' ? fast.latency : slow.latency, source: `recent runs of ${id}` });
    const estimate = (fastPrices: Prices, slowPrices: Prices) => buildEstimate({
      plan,
      prompt,
      tokenizer,
      pack: { chunksPerBatch: 1, maxBatchTokens: 32768 },
      limits: { concurrency: 4 },
      prices: {},
      latency: source('fast'),
      output: { ratio: 1, measured: false, source: 'assumed' },
      endpoints: [
        { id: 'fast', limits: fast.limits, latency: source('fast'), prices: fastPrices },
        { id: 'slow', limits: slow.limits, latency: source('slow'), prices: slowPrices },
      ],
    });
    const e = estimate({ inputCostPerMTok: 2, outputCostPerMTok: 8 }, { inputCostPerMTok: 1, outputCostPerMTok: 4 });
    const run = e.comparison.stream;
    assert.deepStrictEqual(e.endpoints!.map((p) => [p.id, p.time.bound, p.limits]), [['fast', 'concurrency', { concurrency: 5 }], ['slow', 'rpm', { concurrency: 10, rpm: 30 }]]);
    close(e.time.requestsPerMinute, run.endpoints!.reduce((n, p) => n + p.requestsPerMinute, 0), 'the run\'s rate is the sum');
    // Cost at the primary's prices, and the range: slow charges half of fast's prices.
    close(e.cost.dollars!, (run.inputTokens * 2 + run.outputTokens * 8) / 1e6, 'primary cost');
    assert.deepStrictEqual([e.cost.primary, e.cost.range!.minEndpoint, e.cost.range!.maxEndpoint], ['fast', 'slow', 'fast']);
    close(e.cost.range!.min, e.cost.dollars! / 2, 'cheapest');
    const md = renderEstimateMarkdown(e);
    assert.match(md, /\| Cost \| \$[\d.]+ \(input \$[\d.]+, output \$[\d.]+\) if every request went to the primary fast; from \$[\d.]+ \(all on slow\) to \$[\d.]+ \(all on fast\) as the endpoints share the work \|/);
    assert.match(md, /\| Latency \| per endpoint, below \|/);
    assert.match(md, /\| Time \| about [\d.]+ s \(first result after [\d.]+ s; 2 endpoints together [\d.]+ requests\/min, each set by its own limit as below\) \|/);
    assert.match(md, /\| Endpoint fast \| concurrency 5, no RPM budget, no TPM budget; [\d.]+ s per request, [\d.]+ requests\/min set by its concurrency \(5\), about \d+% of the requests; latency: recent runs of fast \|/);
    assert.match(md, /\| Endpoint slow \| concurrency 10, 30 RPM, no TPM budget; [\d.]+ s per request, 30 requests\/min set by its RPM budget \(30\), about \d+% of the requests; latency: recent runs of slow \|/);
    assert.match(md, /\| Set by \| fast: its concurrency \(5\), slow: its RPM budget \(30\) \|/);
    assert.match(md, /concurrency per endpoint fast \d+, slow \d+ \(maxConcurrency of each endpoint in batchPrompt\.models\)/);
    assert.match(md, /- Several endpoints: each runs at its own rate/);
    // Without prices, said once; with only the second endpoint priced, the primary's is n/a and the other's shown.
    assert.match(renderEstimateMarkdown(estimate({}, {})), /\| Cost \| n\/a \(no prices for these endpoints\) \|/);
    const half = estimate({}, { inputCostPerMTok: 1, outputCostPerMTok: 4 });
    assert.match(renderEstimateMarkdown(half), /\| Cost \| n\/a for the primary fast \(no prices\); \$[\d.]+ if every request went to slow \|/);
  });

  it('a recorded time to first token replaces the assumed 0.5 s, and shortens a streamed first result', () => {
    // Median latency 2 s, median output 150, first tokens 0.1, 0.3 (median 0.2): rate 150 / 1.8.
    const l = latencyFromSamples([{ latencyMs: 1000, outputTokens: 100, firstTokenMs: 100 }, { latencyMs: 3000, outputTokens: 200, firstTokenMs: 300 }], 1)!;
    close(l.ttftSeconds, 0.2, 'median first token');
    close(l.outputTokensPerSecond, 150 / 1.8, 'rate');
    assert.strictEqual(l.firstTokenSamples, 2);
    // Without recorded first tokens: 0.5 s assumed.
    close(latencyFromSamples([{ latencyMs: 1000, outputTokens: 100 }, { latencyMs: 3000, outputTokens: 200 }], 1)!.ttftSeconds, 0.5, 'assumed');
  });
});
