// Progress texts (#18): planning, cache hits, retries waiting on their backoff, canceling, and the
// requests-per-minute figure over a sliding window.
import * as assert from 'assert';
import type { ChunkOutcome } from '../../../src/core/execute/events';
import { planningText, ProgressTracker, requestsPerMinute } from '../../../src/core/execute/progress';
import type { ChunkRef } from '../../../src/core/plan/types';

const ref = (id: string): ChunkRef => ({ id, path: 'a.ts', index: 0, start: 0, end: 1, startLine: 1, endLine: 1, overlap: 0, tokens: 1 });
const outcome = (id: string, over: Partial<ChunkOutcome> = {}): ChunkOutcome => ({ chunk: ref(id), status: 'succeeded', attempts: 1, batchId: 'b1', inputTokens: 0, outputTokens: 0, latencyMs: 0, ...over });

describe('progress texts', () => {
  it('measures requests per minute over the last minute, or over the run while it is younger', () => {
    const start = 1_000_000;
    // 30 requests in the run's first 12 s: 150 a minute, not 30.
    const starts = Array.from({ length: 30 }, (_, i) => start + i * 400);
    assert.strictEqual(requestsPerMinute(starts, start + 12_000, start), 150);
    // Two minutes in, only the last minute counts: 20 requests in it.
    const later = [...starts, ...Array.from({ length: 20 }, (_, i) => start + 70_000 + i * 2_500)];
    assert.strictEqual(requestsPerMinute(later, start + 120_000, start), 20);
    assert.strictEqual(requestsPerMinute(starts, start + 2_000, start), undefined, 'too early to say');
    assert.strictEqual(requestsPerMinute([], start + 30_000, start), 0);
  });

  it('the tracker measures its rate from the requests it saw start', () => {
    let now = 0;
    const t = new ProgressTracker(() => now);
    t.update({ type: 'run-started', chunks: 40, batches: 40, concurrency: 4 });
    for (let i = 0; i < 20; i++) {
      now = i * 500;
      t.update({ type: 'batch-started', batchId: `b${i}`, chunkIds: [`${i}`], tokens: 1, attempt: 1 });
    }
    now = 10_000;
    assert.strictEqual(t.requestsPerMinute(), 120);
  });

  it('says planning… N files before the run starts, never 0/0 chunks', () => {
    const t = new ProgressTracker(() => 0);
    assert.strictEqual(t.describe(), 'planning…');
    t.update({ type: 'planning', files: 240, chunks: 0, batches: 0 });
    assert.strictEqual(t.describe(), 'planning… 240 files');
    assert.strictEqual(t.brief(), 'planning… 240 files');
    assert.strictEqual(planningText(1), 'planning… 1 file');
    assert.strictEqual(planningText(120, 600), 'planning… 120 of 600 files');
  });

  it('counts chunks answered from the cache among those done, before and after the run starts', () => {
    const t = new ProgressTracker(() => 0);
    for (const id of ['1', '2']) t.update({ type: 'chunk-finished', outcome: outcome(id, { cached: true, attempts: 0, batchId: 'cache' }) });
    t.update({ type: 'run-started', chunks: 4, batches: 4, concurrency: 2 });
    assert.strictEqual(t.describe(), '2/6 chunks · 2 from the cache');
    assert.strictEqual(t.brief(), '2/6 · 2 cached');
    assert.strictEqual(t.etaMs(), undefined, 'no pace from cache hits');
  });

  it('says which requests wait to be retried, why, and when the next goes; a retry that starts or ends leaves the text', () => {
    let now = 0;
    const t = new ProgressTracker(() => now);
    t.update({ type: 'run-started', chunks: 6, batches: 3, concurrency: 3 });
    t.update({ type: 'retry-scheduled', batchId: 'b1', chunkIds: ['1', '2'], delayMs: 4_000, reason: 'transient', attempt: 2, status: 500 });
    t.update({ type: 'retry-scheduled', batchId: 'b2', chunkIds: ['3', '4'], delayMs: 6_000, reason: 'transient', attempt: 2, status: 500 });
    t.update({ type: 'retry-scheduled', batchId: 'b3', chunkIds: ['5', '6'], delayMs: 5_000, reason: 'transient', attempt: 2, status: 500 });
    assert.strictEqual(t.describe(), '0/6 chunks · retrying 3 requests (HTTP 500), next in 4 s');
    assert.strictEqual(t.brief(), '0/6 · retrying 3 (HTTP 500) in 4 s');
    now = 1_000;
    assert.strictEqual(t.describe(), '0/6 chunks · retrying 3 requests (HTTP 500), next in 3 s');
    t.update({ type: 'batch-started', batchId: 'b1', chunkIds: ['1', '2'], tokens: 1, attempt: 2 });
    t.update({ type: 'retry-scheduled', batchId: 'b4', chunkIds: ['7'], delayMs: 1_000, reason: 'timeout', attempt: 2 });
    assert.strictEqual(t.describe(), '0/6 chunks · retrying 3 requests (HTTP 500, timeout), next in 1 s');
    t.update({ type: 'chunk-finished', outcome: outcome('3', { status: 'failed' }) });
    t.update({ type: 'chunk-finished', outcome: outcome('4', { status: 'failed' }) });
    t.update({ type: 'chunk-finished', outcome: outcome('5', { status: 'failed' }) });
    t.update({ type: 'chunk-finished', outcome: outcome('6', { status: 'failed' }) });
    t.update({ type: 'chunk-finished', outcome: outcome('7', { status: 'failed' }) });
    assert.match(t.describe(), /^5\/6 chunks · 5 failed( · ETA [^·]+)?$/, 'no retry waits any more');
  });

  it('after Cancel says canceling… whatever the counts do, until the result', () => {
    const t = new ProgressTracker(() => 0);
    t.update({ type: 'run-started', chunks: 600, batches: 600, concurrency: 8 });
    t.cancel();
    for (let i = 0; i < 600; i++) t.update({ type: 'chunk-finished', outcome: outcome(`${i}`, { status: 'canceled' }) });
    assert.strictEqual(t.describe(), 'canceling…');
    assert.strictEqual(t.brief(), 'canceling…');
  });
});

describe('ProgressTracker while a run sends as it plans (#17)', () => {
  it('says "planning… N files so far" with the chunks planned so far, and gives an ETA only once the plan is complete', () => {
    let now = 0;
    const t = new ProgressTracker(() => now);
    t.update({ type: 'run-started', chunks: 0, batches: 0, concurrency: 2, planning: true });
    t.update({ type: 'planning', files: 1, chunks: 4, batches: 1 });
    t.update({ type: 'planning', files: 2, chunks: 10, batches: 3 });
    now = 1000;
    t.update({ type: 'chunk-finished', outcome: outcome('1.1', { output: 'x', inputTokens: 1, outputTokens: 1, latencyMs: 1 }) });
    assert.strictEqual(t.describe(), 'planning… 2 files so far · 1/10 chunks');
    assert.strictEqual(t.etaMs(), undefined, 'no ETA while the total is not known');
    t.update({ type: 'plan-finished', files: 3, chunks: 12, batches: 4 });
    assert.strictEqual(t.planningFiles, undefined);
    assert.strictEqual(t.etaMs(), 11_000);
    assert.match(t.describe(), /^1\/12 chunks · ETA /);
  });

  it('a run whose plan was complete before sending never says planning', () => {
    const t = new ProgressTracker(() => 0);
    t.update({ type: 'run-started', chunks: 3, batches: 1, concurrency: 1 });
    assert.strictEqual(t.describe(), '0/3 chunks');
  });
});
