import * as assert from 'assert';
import { costOf, formatCost, renderReport } from '../../../src/core/store/report';
import type { RunMeta, RunRecord, RunSummary } from '../../../src/core/store/runStore';

const meta: RunMeta = { runId: 'r9', createdAt: '', root: '/w', prompt: 'Summarise | briefly', model: { id: 'gpt', model: 'gpt-4o' }, encoding: 'o200k_base', protocolVersion: 1, parameters: {}, files: [{ path: 'a b.ts', hash: '', chunks: [] }, { path: 'c.ts', hash: '', chunks: [] }] };
const summary: RunSummary = {
  runId: 'r9', status: 'partial', succeeded: 2, failed: 1, canceled: 0, requests: 3, inputTokens: 2_000_000, outputTokens: 500_000, durationMs: 65_000, finishedAt: '',
  files: [{ path: 'a b.ts', status: 'complete', output: 'outputs/a b.ts' }, { path: 'c.ts', status: 'incomplete', output: 'outputs/c.ts.incomplete' }],
};
const rec = (chunkId: string, path: string, status: RunRecord['status'], input: number): RunRecord => ({ chunkId, path, start: 0, end: 1, startLine: 3, endLine: 9, tokens: 1, status, attempts: 1, inputTokens: input, outputTokens: 1, latencyMs: 1, batchId: `b-${path}`, at: '', ...(status === 'succeeded' ? {} : { error: { kind: 'rate-limited', message: 'slow down' } }) });

describe('run report', () => {
  it('links every file output, marks incomplete files, and lists chunks that did not succeed', () => {
    const md = renderReport(meta, summary, [rec('1.1', 'a b.ts', 'failed', 5), rec('1.1', 'a b.ts', 'succeeded', 7), rec('2.1', 'c.ts', 'failed', 0)], { inputCostPerMTok: 2.5, outputCostPerMTok: 10 });
    assert.match(md, /\| \[a b\.ts\]\(outputs\/a%20b\.ts\) \| complete \| 7 \| 1 \|/);
    assert.match(md, /\| \[c\.ts\]\(outputs\/c\.ts\.incomplete\) \| \*\*incomplete\*\* \|/);
    assert.match(md, /\| c\.ts \| 3–9 \| failed \| rate-limited: slow down \|/);
    assert.ok(!/\| a b\.ts \| 3–9 \| failed/.test(md), 'a chunk retried successfully is not listed');
    assert.match(md, /Summarise \\\| briefly/);
    assert.match(md, /\| Cost \| \$10\.00 \|/);
    assert.match(md, /1m 5s/);
  });

  it('prices tokens only when the endpoint has prices', () => {
    assert.strictEqual(costOf(1e6, 0, {}), undefined);
    assert.strictEqual(costOf(1e6, 1e6, { inputCostPerMTok: 1, outputCostPerMTok: 4 }), 5);
    assert.match(formatCost(undefined), /n\/a/);
    assert.strictEqual(formatCost(0.001), '$0.0010');
  });
});
