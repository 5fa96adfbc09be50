import * as assert from 'assert';
import { ProgressTracker } from '../../../src/core/execute/progress';
import type { ChunkOutcome } from '../../../src/core/execute/events';

const outcome = (id: string): ChunkOutcome => ({ chunk: { id, path: 'a.ts', index: 0, start: 0, end: 1, startLine: 1, endLine: 1, overlap: 0, tokens: 1 }, status: 'succeeded', output: 'x', attempts: 1, batchId: 'b1', inputTokens: 1, outputTokens: 1, latencyMs: 1 });

describe('ProgressTracker while a run sends as it plans (#17)', () => {
  it('says "planning… N files so far" with the chunks planned so far, and gives an ETA only once the plan is complete', () => {
    let now = 0;
    const t = new ProgressTracker(() => now);
    t.update({ type: 'run-started', chunks: 0, batches: 0, concurrency: 2, planning: true });
    t.update({ type: 'planning', files: 1, chunks: 4, batches: 1 });
    t.update({ type: 'planning', files: 2, chunks: 10, batches: 3 });
    now = 1000;
    t.update({ type: 'chunk-finished', outcome: outcome('1.1') });
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
