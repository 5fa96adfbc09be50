import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { PlanEstimate } from '../../../src/core/estimate/planEstimate';
import type { RunRecord } from '../../../src/core/store/runStore';
import { runCli as cli } from '../../support/cli';
import { useServer } from '../../support/localServer';
import { ModelServer } from '../../support/modelServer';

interface PlanJson {
  totals: { chunks: number; requests: number };
  estimate: PlanEstimate;
}

describe('batch-prompt plan over several endpoints (CLI, local model servers)', function () {
  this.timeout(60_000);
  const one = new ModelServer();
  const two = new ModelServer();
  let url1 = '';
  let url2 = '';
  let ws = '';
  useServer(one, (url) => (url1 = url));
  useServer(two, (url) => (url2 = url));
  beforeEach(async () => {
    ws = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-plan-endpoints-'));
    await fs.mkdir(path.join(ws, 'src'));
    for (const n of ['a', 'b', 'c', 'd', 'e', 'f']) await fs.writeFile(path.join(ws, `src/${n}.txt`), `file ${n}\n`.repeat(4));
  });
  afterEach(() => fs.rm(ws, { recursive: true, force: true }));

  const specs = () => ['--endpoint', `openai:m@${url1},id=fast,concurrency=5`, '--endpoint', `openai:m@${url2},id=slow,concurrency=10,rpm=30`];
  const common = ['--prompt', 'Upper-case it.', '--chunks-per-batch', '1'];

  it('--endpoint twice: each endpoint\'s limits (its own, else the run\'s), rate, binding limit and latency, in --json and as text', async () => {
    const r = await cli(['plan', ...common, ...specs(), '--tpm', '90000', '--json', 'src'], ws);
    assert.strictEqual(r.code, 0, r.stderr);
    const { estimate: e, totals } = JSON.parse(r.stdout) as PlanJson;
    assert.strictEqual(totals.chunks, 6);
    assert.deepStrictEqual(e.endpoints!.map((p) => [p.id, p.limits]), [['fast', { concurrency: 5, tpm: 90000 }], ['slow', { concurrency: 10, rpm: 30, tpm: 90000 }]]);
    assert.deepStrictEqual(e.limits, { concurrency: 4, tpm: 90000 });
    // No recent run: both take the default latency, so both take the same seconds per request; slow's 30 RPM binds it.
    assert.deepStrictEqual(e.endpoints!.map((p) => [p.latency.measured, p.time.bound]), [[false, 'concurrency'], [false, 'rpm']]);
    assert.match(e.endpoints![0].latency.source, /^no recent runs of fast: assumed 0\.5 s/);
    assert.strictEqual(e.endpoints![1].time.requestsPerMinute, 30);
    // The run's rate is the sum; the shares add up to one.
    const sum = e.endpoints!.reduce((n, p) => n + p.time.requestsPerMinute, 0);
    assert.ok(Math.abs(e.time.requestsPerMinute - sum) < 1e-9, `${e.time.requestsPerMinute} vs ${sum}`);
    assert.ok(Math.abs(e.endpoints!.reduce((n, p) => n + p.time.share, 0) - 1) < 1e-9);
    assert.deepStrictEqual(e.recommendation.endpoints!.map((p) => p.id), ['fast', 'slow']);
    assert.strictEqual(one.requests.length + two.requests.length, 0, 'a plan calls no model');

    const text = await cli(['plan', ...common, ...specs(), 'src'], ws);
    assert.strictEqual(text.code, 0, text.stderr);
    assert.match(text.stdout, /\n {2}Latency +per endpoint, below\n/);
    assert.match(text.stdout, /\n {2}Time +about .+; 2 endpoints together [\d.]+ requests\/min, each set by its own limit as below\)\n/);
    assert.match(text.stdout, /\n {2}Endpoint fast +concurrency 5, no RPM budget, no TPM budget; [\d.]+ s per request, [\d.]+ requests\/min set by its concurrency \(5\), about \d+% of the requests; latency: no recent runs of fast: assumed/);
    assert.match(text.stdout, /\n {2}Endpoint slow +concurrency 10, 30 RPM, no TPM budget; [\d.]+ s per request, 30 requests\/min set by its RPM budget \(30\), about \d+% of the requests; latency: no recent runs of slow: assumed/);
    assert.match(text.stdout, /\nRecommendation: .+concurrency per endpoint fast \d+, slow \d+ \(concurrency=N in each --endpoint, or maxConcurrency in --config\)/);
  });

  it('after a run on both endpoints, each one\'s latency comes from the requests it served (its records in run.jsonl)', async () => {
    const run = await cli(['run', ...common, ...specs(), 'src'], ws);
    assert.strictEqual(run.code, 0, run.stderr);
    const runs = path.join(ws, '.batch-prompt', 'runs');
    const [dir] = (await fs.readdir(runs, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
    const records = (await fs.readFile(path.join(runs, dir, 'run.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as RunRecord);
    const served = (id: string) => new Set(records.filter((x) => x.endpoint === id).map((x) => x.batchId)).size;
    assert.strictEqual(served('fast') + served('slow'), 6);
    assert.strictEqual(served('fast'), one.requests.length);

    const { estimate: e } = JSON.parse((await cli(['plan', ...common, ...specs(), '--json', 'src'], ws)).stdout) as PlanJson;
    for (const p of e.endpoints!) {
      const n = served(p.id);
      if (n === 0) assert.match(p.latency.source, new RegExp(`^no recent runs of ${p.id}:`));
      else {
        assert.strictEqual(p.latency.measured, true);
        assert.match(p.latency.source, new RegExp(`^${n} requests? of 1 recent run of ${p.id}: median [\\d.]+ s per request; modelled as [\\d.]+ s to the first token \\(assumed\\)`));
      }
    }
  });

  it('--config with prices: the cost at the primary\'s prices and the range over the endpoints; a bad spec is refused', async () => {
    await fs.writeFile(
      path.join(ws, 'endpoints.json'),
      JSON.stringify({ endpoints: [
        { id: 'dear', provider: 'openai', model: 'm', baseUrl: url1, inputCostPerMTok: 4, outputCostPerMTok: 16 },
        { id: 'cheap', provider: 'openai', model: 'm', baseUrl: url2, inputCostPerMTok: 1, outputCostPerMTok: 4 },
        { id: 'free', provider: 'ollama', model: 'llama', baseUrl: url2 },
      ] }),
    );
    const r = await cli(['plan', ...common, '--config', 'endpoints.json', '--json', 'src'], ws);
    assert.strictEqual(r.code, 0, r.stderr);
    const e = (JSON.parse(r.stdout) as PlanJson).estimate;
    const t = e.toSend;
    assert.strictEqual(e.cost.dollars, (t.inputTokens * 4 + t.outputTokens * 16) / 1e6);
    assert.deepStrictEqual([e.cost.primary, e.cost.range!.maxEndpoint, e.cost.range!.minEndpoint, e.cost.unpriced], ['dear', 'dear', 'cheap', ['free']]);
    assert.strictEqual(e.cost.range!.min, (t.inputTokens * 1 + t.outputTokens * 4) / 1e6);
    const text = await cli(['plan', ...common, '--config', 'endpoints.json', 'src'], ws);
    assert.match(text.stdout, /\n {2}Cost +\$[\d.]+ \(input \$[\d.]+, output \$[\d.]+\) if every request went to the primary dear; from \$[\d.]+ \(all on cheap\) to \$[\d.]+ \(all on dear\) as the endpoints share the work; no prices for free\n/);

    const bad = await cli(['plan', ...common, '--endpoint', 'nowhere', 'src'], ws);
    assert.strictEqual(bad.code, 1);
    assert.match(bad.stderr, /--endpoint nowhere: write PROVIDER:MODEL/);
    assert.strictEqual(bad.stdout, '');
  });
});
