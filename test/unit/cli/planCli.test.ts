import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as path from 'path';
import type { PlanEstimate } from '../../../src/core/estimate/planEstimate';
import { runCli as cli } from '../../support/cli';
import { useServer } from '../../support/localServer';
import { useWorkspace } from '../../support/tempWorkspace';
import { ModelServer } from '../../support/modelServer';

interface PlanJson {
  totals: { chunks: number; requests: number; inputTokens: number };
  files: { path: string; chunks: unknown[] }[];
  estimate: PlanEstimate;
}

describe('batch-prompt plan: the estimate (CLI, local model server)', function () {
  this.timeout(60_000);
  const server = new ModelServer();
  let baseUrl = '';
  let ws = '';
  useServer(server, (url) => (baseUrl = url));
  const files = { 'src/a.ts': 'export const a = 1;\n'.repeat(30), 'src/b.py': 'def b():\n    return "b"\n'.repeat(20), 'src/c.md': '# Title\n\nSome prose.\n'.repeat(8) };
  useWorkspace('bp-plan-estimate-', files, (dir) => (ws = dir));

  const common = () => ['--prompt', 'Upper-case it.', '--base-url', baseUrl, '--model', 'm', '--chunk-tokens', '48', '--overlap', '0', '--chunks-per-batch', '3'];
  const plan = async (...extra: string[]): Promise<PlanJson> => {
    const r = await cli(['plan', ...common(), '--json', ...extra, 'src'], ws);
    assert.strictEqual(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as PlanJson;
  };

  it('counts cached chunks after a run, and after an edit only the edited file\'s chunks are left to send', async () => {
    const before = await plan('--input-cost', '2', '--output-cost', '8', '--rpm', '30');
    const e0 = before.estimate;
    assert.deepStrictEqual(e0.cached, { chunks: 0 });
    assert.strictEqual(e0.toSend.requests, before.totals.requests);
    assert.strictEqual(e0.toSend.inputTokens, before.totals.inputTokens);
    assert.strictEqual(e0.cost.dollars, (e0.toSend.inputTokens * 2 + e0.toSend.outputTokens * 8) / 1e6);
    assert.deepStrictEqual([e0.latency.measured, e0.output.measured], [false, false]);
    assert.match(e0.latency.source, /^no recent runs of http:\/\/127\.0\.0\.1:\d+#m: assumed 0\.5 s/);
    assert.deepStrictEqual(e0.limits, { concurrency: 4, rpm: 30 });
    assert.strictEqual(e0.comparison.stream.requests, before.totals.chunks);
    assert.strictEqual(server.requests.length, 0, 'a plan calls no model');

    const run = await cli(['run', ...common(), 'src'], ws);
    assert.strictEqual(run.code, 0, run.stderr);
    const sent = server.requests.length;

    const same = (await plan()).estimate;
    assert.deepStrictEqual(same.cached, { chunks: before.totals.chunks });
    assert.deepStrictEqual([same.toSend.chunks, same.toSend.requests, same.time.seconds], [0, 0, 0]);
    // The run just made is a recent run of this endpoint and prompt.
    assert.strictEqual(same.latency.measured, true);
    assert.match(same.latency.source, new RegExp(`^${sent} requests of 1 recent run of http://127\\.0\\.0\\.1:\\d+#m: median [\\d.]+ s per request`));
    assert.strictEqual(same.output.measured, true);
    assert.match(same.output.source, /^1 recent run of this prompt on http:\/\/127\.0\.0\.1:\d+#m: [\d.]+ output tokens per chunk token$/);

    await fs.appendFile(path.join(ws, 'src/c.md'), 'One more line.\n');
    const edited = await plan();
    const cChunks = edited.files.find((f) => f.path === 'src/c.md')!.chunks.length;
    assert.deepStrictEqual(edited.estimate.cached, { chunks: edited.totals.chunks - cChunks });
    assert.strictEqual(edited.estimate.toSend.chunks, cChunks);
    assert.strictEqual(edited.estimate.comparison.stream.requests, cChunks);
    assert.strictEqual(server.requests.length, sent, 'plans call no model');

    // --no-cache: not looked up, said so.
    assert.deepStrictEqual((await plan('--no-cache')).estimate.cached, { unknown: '--no-cache' });
  });

  it('prints the estimate, the batch-or-stream comparison, the recommendation and the assumptions as text', async () => {
    const r = await cli(['plan', ...common(), '--input-cost', '2.5', '--output-cost', '10', '--rpm', '6', '--concurrency', '2', 'src'], ws);
    assert.strictEqual(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    const after = lines.slice(lines.indexOf('Estimate'));
    assert.ok(after.length > 1, r.stdout);
    assert.match(after[1], /^ {2}Requests {6,}\d+$/);
    assert.match(r.stdout, /\n {2}Cost +\$0\.\d+ \(input \$0\.\d+, output \$0\.\d+\)\n/);
    assert.match(r.stdout, /\n {2}Cached +0 of \d+ chunks \(not sent again\)\n/);
    assert.match(r.stdout, /\n {2}Output tokens +about \d+ \(no recent run of this prompt: assumed 1 output token per chunk token/);
    assert.match(r.stdout, /\n {2}Time +about .+ requests\/min, set by the RPM budget \(6\)\)\n/);
    assert.match(r.stdout, /\nBatch or stream \(the \d+ chunks to send\)\n {2}\s+streamed\s+packed\n {2}Chunks per request\s+1\s+3\n {2}Requests\s+\d+\s+\d+\n {2}Prompt tokens repeated/);
    assert.match(r.stdout, /\n {2}First result\s+[\d.]+ s\s+[\d.]+ s\n {2}Last result/);
    // Six one-chunk requests a minute bind: packing is recommended.
    assert.match(r.stdout, /\nRecommendation: pack 3 chunks per request \(--chunks-per-batch 3\), concurrency \d+ \(--concurrency \d+\): the RPM budget binds/);
    assert.match(r.stdout, /\nAssumptions:\n {2}- A request takes the time to its first token/);
  });

  it('refuses a price that is not a number, and names the option', async () => {
    const r = await cli(['plan', '--input-cost', 'cheap', 'src'], ws);
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /--input-cost must be dollars per million tokens \(a number of at least 0\), got "cheap"/);
    assert.strictEqual(r.stdout, '');
  });
});
