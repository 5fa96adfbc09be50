import * as assert from 'assert';
import {
  estimateMode,
  latencyFromSamples,
  median,
  recommend,
  recommendConcurrency,
  requestSeconds,
  seconds,
  throughput,
  type LatencyModel,
  type ModeInput,
} from '../../../src/core/estimate/estimate';

// Every expected number below is worked out by hand in the comment beside it.
const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} ≠ ${expected}`);

/** 0.5 s to the first token, then 50 output tokens/s. */
const latency: LatencyModel = { ttftSeconds: 0.5, outputTokensPerSecond: 50, measured: false };

/** 20 chunks of 300 output tokens each, sent one per request (streamed) or four per request. */
const streamed: ModeInput = { chunksPerBatch: 1, streamed: true, chunks: 20, requests: 20, inputTokens: 12_000, promptTokensPerRequest: 100, outputTokens: 6000 };
const packed: ModeInput = { chunksPerBatch: 4, streamed: false, chunks: 20, requests: 5, inputTokens: 10_000, promptTokensPerRequest: 100, outputTokens: 6000 };

describe('estimate: the time model', () => {
  it('a request takes the time to its first token plus its output at the generation rate', () => {
    close(requestSeconds(latency, 300), 6.5, '0.5 + 300/50');
    close(requestSeconds(latency, 1200), 24.5, '0.5 + 1200/50');
  });

  it('throughput is the lowest of concurrency/latency, RPM/60 and TPM/tokens/60, and names the binding limit', () => {
    // 4 slots / 6.5 s = 0.6153… requests/s.
    const free = throughput({ concurrency: 4 }, 6.5, 2000);
    close(free.perSecond, 4 / 6.5, 'concurrency');
    assert.strictEqual(free.bound, 'concurrency');
    // 30 RPM = 0.5/s < 0.615.
    const rpm = throughput({ concurrency: 4, rpm: 30 }, 6.5, 2000);
    close(rpm.perSecond, 0.5, 'rpm');
    assert.strictEqual(rpm.bound, 'rpm');
    // 48 000 TPM / 2000 tokens per request = 24 requests/min = 0.4/s < 40 RPM (0.667/s) < 0.615.
    const tpm = throughput({ concurrency: 4, rpm: 40, tpm: 48_000 }, 6.5, 2000);
    close(tpm.perSecond, 0.4, 'tpm');
    assert.strictEqual(tpm.bound, 'tpm');
  });

  it('times a packed run: whole-batch first result, last after ceil(requests/concurrency) rounds', () => {
    // 6000/5 = 1200 output tokens per request → 24.5 s; concurrency 2 → 3 rounds = 73.5 s (5 × 24.5 / 2 = 61.25 is less).
    const m = estimateMode(packed, latency, { concurrency: 2 });
    close(m.secondsPerRequest, 24.5, 'seconds per request');
    close(m.firstResultSeconds, 24.5, 'first result: the whole first batch');
    close(m.lastResultSeconds, 73.5, 'last result');
    close(m.requestsPerMinute, (2 / 24.5) * 60, 'requests per minute');
    assert.strictEqual(m.repeatedPromptTokens, 500); // 100 × 5
    assert.strictEqual(m.bound, 'concurrency');
  });

  it('a budget the run never reaches does not set its time', () => {
    // 15 RPM = 0.25/s < 8/24.5 = 0.33/s, but 5 requests / 0.25 = 20 s < one round of 24.5 s.
    const m = estimateMode(packed, latency, { concurrency: 8, rpm: 15 });
    close(m.lastResultSeconds, 24.5, 'one round');
    assert.strictEqual(m.bound, 'concurrency');
    // 12 RPM: 5 / 0.2 = 25 s > 24.5 s, so the budget sets it.
    const tight = estimateMode(packed, latency, { concurrency: 8, rpm: 12 });
    close(tight.lastResultSeconds, 25, 'rpm-bound');
    assert.strictEqual(tight.bound, 'rpm');
  });

  it('times a streamed run: first result after one chunk, last set by the RPM budget when it binds', () => {
    // 300 output tokens per request → 6.5 s; first result after 0.5 + 300/50 = 6.5 s.
    const free = estimateMode(streamed, latency, { concurrency: 2 });
    close(free.firstResultSeconds, 6.5, 'first result');
    close(free.lastResultSeconds, 65, '10 rounds of 6.5 s');
    assert.strictEqual(free.repeatedPromptTokens, 2000); // 100 × 20
    // 12 RPM = 0.2/s < 2/6.5 = 0.31/s: 20 / 0.2 = 100 s.
    const limited = estimateMode(streamed, latency, { concurrency: 2, rpm: 12 });
    close(limited.lastResultSeconds, 100, 'rpm-bound last result');
    assert.strictEqual(limited.bound, 'rpm');
    close(limited.requestsPerMinute, 12, 'requests per minute');
  });

  it('a streamed first result comes after one chunk even when a request holds several', () => {
    // 4 chunks of 300 tokens in one streamed request: the first shows after 0.5 + 300/50 = 6.5 s, the request ends after 24.5 s.
    const m = estimateMode({ ...packed, streamed: true }, latency, { concurrency: 8 });
    close(m.firstResultSeconds, 6.5, 'first result');
    close(m.lastResultSeconds, 24.5, 'one round');
  });

  it('nothing to send takes no time', () => {
    const m = estimateMode({ ...packed, chunks: 0, requests: 0, inputTokens: 0, outputTokens: 0 }, latency, { concurrency: 4 });
    assert.deepStrictEqual([m.firstResultSeconds, m.lastResultSeconds, m.repeatedPromptTokens], [0, 0, 0]);
  });

  it('learns latency from recent requests: the median request is reproduced', () => {
    // Median latency 2 s, median output 200; ttft = min(0.5, 2/2) = 0.5; rate = 200 / 1.5 = 133.33 tokens/s.
    const l = latencyFromSamples([{ latencyMs: 1000, outputTokens: 100 }, { latencyMs: 3000, outputTokens: 300 }, { latencyMs: 2000, outputTokens: 200 }], 2)!;
    close(l.ttftSeconds, 0.5, 'ttft');
    close(l.outputTokensPerSecond, 200 / 1.5, 'rate');
    close(l.medianSecondsPerRequest!, 2, 'median');
    assert.deepStrictEqual(l.samples, { requests: 3, runs: 2 });
    close(requestSeconds(l, 200), 2, 'the median request');
    // A server faster than a second: median 0.02 s, ttft = 0.01, median output 6 → 6 / 0.01 = 600 tokens/s.
    const fast = latencyFromSamples([{ latencyMs: 10, outputTokens: 4 }, { latencyMs: 30, outputTokens: 8 }], 1)!;
    close(fast.ttftSeconds, 0.01, 'fast ttft');
    close(fast.outputTokensPerSecond, 600, 'fast rate');
    assert.strictEqual(latencyFromSamples([], 0), undefined);
    assert.strictEqual(median([5, 1, 3, 2]), 2.5);
  });

  it('formats seconds with tenths below ten', () => {
    assert.deepStrictEqual([seconds(6.5), seconds(0.04), seconds(24.5), seconds(73.5), seconds(7325)], ['6.5 s', '0.0 s', '25 s', '1m 14s', '2h 2m']);
  });
});

describe('estimate: batch or stream recommendation', () => {
  it('packs when the RPM budget binds the one-chunk requests and packing finishes sooner', () => {
    // Streamed: 100 s under 12 RPM; packed: 73.5 s under concurrency 2.
    const limits = { concurrency: 2, rpm: 12 };
    const r = recommend(estimateMode(streamed, latency, limits), estimateMode(packed, latency, limits), limits);
    assert.strictEqual(r.mode, 'pack');
    assert.strictEqual(r.chunksPerBatch, 4);
    assert.match(r.why, /RPM budget binds: 20 one-chunk requests need 1m 40s, 5 packed requests 1m 14s/);
    // 12 RPM = 0.2/s × 24.5 s per packed request = 4.9 → 5 in flight, capped at the 5 requests.
    assert.strictEqual(r.concurrency, 5);
  });

  it('packs when the prompt repeated per request is over a quarter of the input', () => {
    // 2000 repeated prompt tokens of 6000 input = 33%.
    const limits = { concurrency: 2 };
    const small = { ...streamed, inputTokens: 6000 };
    const r = recommend(estimateMode(small, latency, limits), estimateMode(packed, latency, limits), limits);
    assert.strictEqual(r.mode, 'pack');
    assert.match(r.why, /prompt repeated in each of 20 one-chunk requests would be 33% of the input tokens \(5% packed\)/);
  });

  it('streams when it finishes no more than 10% later: the first result comes sooner', () => {
    // Streamed 65 s vs packed 73.5 s; 2000/12 000 = 17% repeated prompt.
    const limits = { concurrency: 2 };
    const r = recommend(estimateMode(streamed, latency, limits), estimateMode(packed, latency, limits), limits);
    assert.strictEqual(r.mode, 'stream');
    assert.strictEqual(r.chunksPerBatch, 1);
    assert.match(r.why, /first result comes after 6\.5 s instead of 25 s/);
    // No budget: the configured concurrency (2 ≤ 20 requests).
    assert.strictEqual(r.concurrency, 2);
  });

  it('packs for throughput when streaming would finish over 10% later', () => {
    // ttft 2 s: streamed 40 requests × 8 s / 10 = 32 s; packed 10 requests of 2 + 24 = 26 s in one round. 32 > 28.6.
    const slowStart: LatencyModel = { ttftSeconds: 2, outputTokensPerSecond: 50, measured: false };
    const limits = { concurrency: 10 };
    const s = estimateMode({ ...streamed, chunks: 40, requests: 40, inputTokens: 24_000, outputTokens: 12_000 }, slowStart, limits);
    const p = estimateMode({ ...packed, chunks: 40, requests: 10, inputTokens: 20_000, outputTokens: 12_000 }, slowStart, limits);
    close(s.lastResultSeconds, 32, 'streamed');
    close(p.lastResultSeconds, 26, 'packed');
    const r = recommend(s, p, limits);
    assert.strictEqual(r.mode, 'pack');
    assert.match(r.why, /packing finishes after 26 s instead of 32 s/);
  });

  it('sizes concurrency to the budget, to the requests, or keeps the configured one', () => {
    const s = estimateMode(streamed, latency, { concurrency: 4 });
    // No budget, 20 requests: the configured 4; 5 requests with 8 slots: 5.
    assert.strictEqual(recommendConcurrency(s, { concurrency: 4 }).concurrency, 4);
    assert.strictEqual(recommendConcurrency({ ...s, requests: 5 }, { concurrency: 8 }).concurrency, 5);
    // 12 RPM = 0.2/s × 6.5 s = 1.3 → 2.
    assert.strictEqual(recommendConcurrency(s, { concurrency: 4, rpm: 12 }).concurrency, 2);
    // 30 000 TPM / 600 tokens per request (12 000 / 20) = 50/min = 0.833/s × 6.5 s = 5.42 → 6.
    const tpm = recommendConcurrency(s, { concurrency: 4, tpm: 30_000 });
    assert.strictEqual(tpm.concurrency, 6);
    assert.match(tpm.why, /30000 TPM at 6\.5 s per request keeps 6 requests in flight/);
    // 6000 RPM = 100/s × 6.5 s = 650, capped at the 20 requests.
    const big = recommendConcurrency(s, { concurrency: 4, rpm: 6000 });
    assert.strictEqual(big.concurrency, 20);
    assert.match(big.why, /capped at 20/);
  });
});
