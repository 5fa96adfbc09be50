import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ChunkOutcome } from '../../src/core/events';
import { latencyOf, outputRatioOf, readRecentRuns } from '../../src/core/recentRuns';
import { RunStore, type RunMeta } from '../../src/core/runStore';
import { a1, a2, b1, meta, outcome } from '../support/runFixtures';

/** A finished run folder written by the real RunStore, with the outcomes given. */
async function writeRun(root: string, name: string, m: RunMeta, outcomes: ChunkOutcome[]): Promise<void> {
  const store = await RunStore.create(path.join(root, name), { ...m, runId: name });
  for (const o of outcomes) await store.record(o);
  await store.finish({ succeeded: outcomes.length, failed: 0, canceled: 0, requests: 2, inputTokens: 0, outputTokens: 0, durationMs: 1 });
}

describe('estimate: recent runs', () => {
  let root = '';
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-recent-'));
    // Endpoint e1, prompt "p": request b1 = chunks a1 + a2 (2 s, 100 output tokens each), request b2 = chunk b1
    // (4 s, 300 output tokens). Each fixture chunk has 5 tokens of text.
    await writeRun(root, '20261120-100000-aaaa', { ...meta({ id: 'e1' }), prompt: 'p' }, [
      { ...outcome(a1, 'succeeded', 'x'), batchId: 'b1', latencyMs: 2000, inputTokens: 40, outputTokens: 100 },
      { ...outcome(a2, 'succeeded', 'y'), batchId: 'b1', latencyMs: 2000, inputTokens: 40, outputTokens: 100 },
      { ...outcome(b1, 'succeeded', 'z'), batchId: 'b2', latencyMs: 4000, inputTokens: 60, outputTokens: 300 },
    ]);
    // A newer run of another endpoint and prompt, with a cached chunk and a failed one that must not count.
    await writeRun(root, '20261121-100000-bbbb', { ...meta({ id: 'e2' }), prompt: 'q' }, [
      { ...outcome(a1, 'succeeded', 'x'), batchId: 'b1', latencyMs: 10, outputTokens: 1 },
      { ...outcome(a2, 'succeeded', 'y'), batchId: 'cache', latencyMs: 0, inputTokens: 0, outputTokens: 0, attempts: 0, cached: true },
      { ...outcome(b1, 'failed'), batchId: 'b9', latencyMs: 9000 },
    ]);
    await fs.mkdir(path.join(root, 'not-a-run'));
  });
  afterEach(() => fs.rm(root, { recursive: true, force: true }));

  it('reads the newest run folders, one request per batch id, leaving out cached, failed and unreadable ones', async () => {
    const runs = await readRecentRuns(root);
    assert.deepStrictEqual(runs.map((r) => [r.runId, r.modelId, r.prompt]), [['20261121-100000-bbbb', 'e2', 'q'], ['20261120-100000-aaaa', 'e1', 'p']]);
    assert.deepStrictEqual(runs[0].requests, [{ latencyMs: 10, inputTokens: 3, outputTokens: 1, chunks: 1, chunkTokens: 5 }]);
    assert.deepStrictEqual(runs[1].requests, [
      { latencyMs: 2000, inputTokens: 80, outputTokens: 200, chunks: 2, chunkTokens: 10 },
      { latencyMs: 4000, inputTokens: 60, outputTokens: 300, chunks: 1, chunkTokens: 5 },
    ]);
    assert.deepStrictEqual(await readRecentRuns(path.join(root, 'missing')), []);
  });

  it('takes latency from the runs of the same endpoint and says so; the defaults, said so, otherwise', async () => {
    const runs = await readRecentRuns(root);
    // e1: median of 2 s and 4 s = 3 s; median output of 200 and 300 = 250; 250 / (3 - 0.5) = 100 tokens/s.
    const e1 = latencyOf(runs, 'e1');
    assert.strictEqual(e1.latency.measured, true);
    assert.strictEqual(e1.latency.medianSecondsPerRequest, 3);
    assert.strictEqual(e1.latency.outputTokensPerSecond, 100);
    assert.match(e1.source, /^2 requests of 1 recent run of e1: median 3 s per request; modelled as 0\.5 s to the first token \(assumed\), then 100 output tokens\/s$/);
    const none = latencyOf(runs, 'e3');
    assert.strictEqual(none.latency.measured, false);
    assert.match(none.source, /^no recent runs of e3: assumed 0\.5 s to the first token, then 50 output tokens\/s$/);
  });

  it('takes the output ratio from runs of the same prompt (this endpoint first) per chunk token, else the stated default', async () => {
    const runs = await readRecentRuns(root);
    // (200 + 300) output tokens / 15 chunk tokens.
    const same = outputRatioOf(runs, 'p', 'e1');
    assert.strictEqual(same.ratio, 500 / 15);
    assert.match(same.source, /^1 recent run of this prompt on e1: 33\.33 output tokens per chunk token$/);
    const other = outputRatioOf(runs, 'p', 'e2');
    assert.strictEqual(other.ratio, 500 / 15);
    assert.match(other.source, /on other endpoints/);
    const unknown = outputRatioOf(runs, 'never run', 'e1');
    assert.deepStrictEqual([unknown.ratio, unknown.measured], [1, false]);
    assert.match(unknown.source, /^no recent run of this prompt: assumed 1 output token per chunk token/);
  });
});
