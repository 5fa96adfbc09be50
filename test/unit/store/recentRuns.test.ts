import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ChunkOutcome } from '../../../src/core/execute/events';
import { latencyOf, outputRatioOf, readRecentRuns } from '../../../src/core/store/recentRuns';
import { RunStore, type RunMeta } from '../../../src/core/store/runStore';
import { a1, a2, b1, meta, outcome } from '../../support/runFixtures';

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
    // One-endpoint runs record no endpoint per line: run.json's model id names it.
    assert.deepStrictEqual(runs[0].requests, [{ endpoint: 'e2', latencyMs: 10, inputTokens: 3, outputTokens: 1, chunks: 1, chunkTokens: 5 }]);
    assert.deepStrictEqual(runs[1].requests, [
      { endpoint: 'e1', latencyMs: 2000, inputTokens: 80, outputTokens: 200, chunks: 2, chunkTokens: 10 },
      { endpoint: 'e1', latencyMs: 4000, inputTokens: 60, outputTokens: 300, chunks: 1, chunkTokens: 5 },
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

  it('reads each endpoint\'s own requests from a several-endpoint run (its records name the endpoint), with the recorded time to first token', async () => {
    // A newest run on e1 and e3 (run.json's model is e1): e1 served b1 (a1 + a2) in 1 s, first token after
    // 200 ms; e3 served b2 (b1) in 6 s, first token after 1 500 ms. Both were streamed.
    const several = { ...meta({ id: 'e1' }), prompt: 'p', endpoints: [{ id: 'e1' }, { id: 'e3' }] };
    await writeRun(root, '20261122-100000-cccc', several, [
      { ...outcome(a1, 'succeeded', 'x'), batchId: 'b1', endpoint: 'e1', latencyMs: 1000, firstTokenMs: 200, inputTokens: 40, outputTokens: 80 },
      { ...outcome(a2, 'succeeded', 'y'), batchId: 'b1', endpoint: 'e1', latencyMs: 1000, firstTokenMs: 200, inputTokens: 40, outputTokens: 80 },
      { ...outcome(b1, 'succeeded', 'z'), batchId: 'b2', endpoint: 'e3', latencyMs: 6000, firstTokenMs: 1500, inputTokens: 60, outputTokens: 450 },
    ]);
    const records = (await fs.readFile(path.join(root, '20261122-100000-cccc', 'run.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { endpoint?: string; firstTokenMs?: number });
    assert.deepStrictEqual(records.map((r) => [r.endpoint, r.firstTokenMs]), [['e1', 200], ['e1', 200], ['e3', 1500]], 'run.jsonl carries endpoint and firstTokenMs');
    const runs = await readRecentRuns(root);
    assert.deepStrictEqual(runs[0].requests, [
      { endpoint: 'e1', latencyMs: 1000, firstTokenMs: 200, inputTokens: 80, outputTokens: 160, chunks: 2, chunkTokens: 10 },
      { endpoint: 'e3', latencyMs: 6000, firstTokenMs: 1500, inputTokens: 60, outputTokens: 450, chunks: 1, chunkTokens: 5 },
    ]);

    // e1: its request here (1 s, 160 out, first token 0.2 s) and the older run's two (2 s, 4 s; not streamed).
    // Median latency 2 s, median output 200; first token: the median of the one streamed request = 0.2 s;
    // rate = 200 / (2 - 0.2) = 111.1 tokens/s.
    const e1 = latencyOf(runs, 'e1');
    assert.deepStrictEqual([e1.latency.medianSecondsPerRequest, e1.latency.ttftSeconds, e1.latency.firstTokenSamples, e1.latency.samples], [2, 0.2, 1, { requests: 3, runs: 2 }]);
    assert.ok(Math.abs(e1.latency.outputTokensPerSecond - 200 / 1.8) < 1e-9, String(e1.latency.outputTokensPerSecond));
    assert.match(e1.source, /^3 requests of 2 recent runs of e1: median 2 s per request; modelled as 0\.2 s to the first token \(median of 1 streamed request\), then 111 output tokens\/s$/);
    // e3: only the request it served: 6 s, first token 1.5 s, 450 / 4.5 = 100 tokens/s.
    const e3 = latencyOf(runs, 'e3');
    assert.deepStrictEqual([e3.latency.medianSecondsPerRequest, e3.latency.ttftSeconds, e3.latency.outputTokensPerSecond, e3.latency.samples], [6, 1.5, 100, { requests: 1, runs: 1 }]);
    assert.match(e3.source, /^1 request of 1 recent run of e3: median 6 s per request; modelled as 1\.5 s to the first token \(median of 1 streamed request\)/);
    // e2 is unchanged: its run was not streamed, the first token stays assumed.
    assert.match(latencyOf(runs, 'e2').source, /to the first token \(assumed\)/);
    // The output ratio of prompt "p" on e3 comes from the run where e3 served, not only the primary's runs.
    assert.match(outputRatioOf(runs, 'p', 'e3').source, /^1 recent run of this prompt on e3: /);
  });
});
