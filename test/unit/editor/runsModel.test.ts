import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ChunkOutcome } from '../../../src/core/execute/events';
import type { ChunkRef } from '../../../src/core/plan/types';
import { RunStore, type RunMeta } from '../../../src/core/store/runStore';
import { isRunFolderOf, readRuns, summarizeRun } from '../../../src/vscode/runs/runsModel';

const ref = (id: string, p: string, index: number): ChunkRef => ({ id, path: p, index, start: index * 10, end: index * 10 + 10, startLine: index + 1, endLine: index + 1, overlap: 0, tokens: 5 });
const a1 = ref('1.1', 'a.ts', 0);
const a2 = ref('1.2', 'a.ts', 1);
const b1 = ref('2.1', 'b.md', 0);

function meta(runId: string, createdAt: string, output?: RunMeta['output']): RunMeta {
  return {
    runId,
    createdAt,
    root: '/ws',
    prompt: '# Summarise\nEach file.',
    model: { id: 'local', provider: 'openai', model: 'm' },
    encoding: 'o200k_base',
    protocolVersion: 1,
    parameters: {},
    ...(output ? { output } : {}),
    files: [
      { path: 'a.ts', hash: '', chunks: [a1, a2] },
      { path: 'b.md', hash: '', chunks: [b1] },
    ],
  };
}

function outcome(chunk: ChunkRef, status: ChunkOutcome['status']): ChunkOutcome {
  return {
    chunk,
    status,
    ...(status === 'succeeded' ? { output: 'out' } : {}),
    ...(status === 'failed' ? { error: { kind: 'transient', message: 'HTTP 500' } } : {}),
    ...(status === 'canceled' ? { error: { kind: 'canceled', message: 'Canceled' } } : {}),
    attempts: 1,
    batchId: 'b',
    inputTokens: 100,
    outputTokens: 10,
    latencyMs: 1,
  };
}

describe('Runs view: a run status in a few words', () => {
  const summary = (s: object) => ({ succeeded: 0, failed: 0, canceled: 0, ...s });
  it('running with its counts, from the live progress', () => {
    assert.deepStrictEqual(summarizeRun(undefined, 600, { done: 12, total: 600 }).status, 'running · 12/600');
  });
  it('succeeded, n failed, canceled, cached', () => {
    assert.strictEqual(summarizeRun(summary({ succeeded: 6, status: 'succeeded' }), 6).status, 'succeeded');
    assert.strictEqual(summarizeRun(summary({ succeeded: 3, failed: 2, canceled: 1, status: 'partial' }), 6).status, '2 failed, 1 canceled');
    assert.strictEqual(summarizeRun(summary({ succeeded: 3, canceled: 3, status: 'canceled' }), 6).state, 'canceled');
    assert.strictEqual(summarizeRun(summary({ succeeded: 3, canceled: 3, status: 'canceled' }), 6).status, '3 canceled');
    assert.deepStrictEqual(summarizeRun(summary({ succeeded: 6, cached: 6, status: 'succeeded' }), 6), { state: 'cached', status: 'cached', counts: { total: 6, succeeded: 6, failed: 0, canceled: 0, cached: 6 } });
    assert.strictEqual(summarizeRun(summary({ succeeded: 6, cached: 2, status: 'succeeded' }), 6).status, 'succeeded · 2 from cache');
  });
  it('interrupted (no summary) with what was recorded', () => {
    assert.strictEqual(summarizeRun(undefined, 10, undefined, { succeeded: 4, failed: 0, canceled: 0, cached: 0 }).status, 'interrupted · 4/10 done');
  });
  it('untrusted summary values: negative or non-numbers count as 0', () => {
    assert.deepStrictEqual(summarizeRun({ succeeded: -5, failed: 'x' as unknown as number, canceled: 2.7, status: 'canceled' }, 3).counts, { total: 2, succeeded: 0, failed: 0, canceled: 2, cached: 0 });
  });
});

describe('Runs view: reading the run folders', () => {
  let root = '';
  beforeEach(async () => {
    root = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'bp-runs-')), 'runs');
    await fs.mkdir(root, { recursive: true });
  });
  afterEach(() => fs.rm(path.dirname(root), { recursive: true, force: true }));

  const exec = (s: object) => ({ succeeded: 0, failed: 0, canceled: 0, requests: 1, inputTokens: 1_000_000, outputTokens: 100_000, durationMs: 1200, ...s });

  it('lists runs newest first with status, model, cost and the actions that apply; skips folders that are not runs', async () => {
    const ok = await RunStore.create(path.join(root, '20260101-100000-aaaa'), meta('20260101-100000-aaaa', '2026-01-01T10:00:00.000Z'));
    for (const c of [a1, a2, b1]) await ok.record(outcome(c, 'succeeded'));
    await ok.finish(exec({ succeeded: 3 }));
    const bad = await RunStore.create(path.join(root, '20260102-100000-bbbb'), meta('20260102-100000-bbbb', '2026-01-02T10:00:00.000Z', { kind: 'edit' }));
    await bad.record(outcome(a1, 'failed'));
    await bad.record(outcome(a2, 'canceled'));
    await bad.record(outcome(b1, 'succeeded'));
    await bad.finish(exec({ succeeded: 1, failed: 1, canceled: 1 }));
    const interrupted = await RunStore.create(path.join(root, '20260103-100000-cccc'), meta('20260103-100000-cccc', '2026-01-03T10:00:00.000Z'));
    await interrupted.record(outcome(a1, 'succeeded'));
    await interrupted.release();
    await fs.mkdir(path.join(root, 'not-a-run'));
    await fs.writeFile(path.join(root, 'stray.txt'), 'x');

    const runs = await readRuns(root, { prices: (id) => (id === 'local' ? { inputCostPerMTok: 1, outputCostPerMTok: 10 } : undefined) });
    assert.deepStrictEqual(
      runs.map((r) => [r.id, r.state, r.status, r.modelId, r.unfinished, r.edit]),
      [
        ['20260103-100000-cccc', 'interrupted', 'interrupted · 1/3 done', 'local', 2, false],
        ['20260102-100000-bbbb', 'failed', '1 failed, 1 canceled', 'local', 2, true],
        ['20260101-100000-aaaa', 'succeeded', 'succeeded', 'local', 0, false],
      ],
    );
    assert.strictEqual(runs[2].cost, 2, '1M input at $1 + 100k output at $10');
    assert.strictEqual(runs[0].cost, undefined, 'no summary, no cost');
    assert.strictEqual(runs[2].promptLabel, 'Summarise');
  });

  it('shows a running run with its live counts instead of what is on disk', async () => {
    const dir = path.join(root, '20260101-100000-aaaa');
    const store = await RunStore.create(dir, meta('20260101-100000-aaaa', '2026-01-01T10:00:00.000Z'));
    const [r] = await readRuns(root, { live: (d) => (d === dir ? { done: 1, total: 3 } : undefined) });
    assert.strictEqual(r.status, 'running · 1/3');
    assert.strictEqual(r.unfinished, 0, 'nothing to retry while it runs');
    await store.release();
  });

  it('a hostile run.json (wrong types) is listed without throwing, its fields left out', async () => {
    const dir = path.join(root, '20260101-100000-evil');
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, 'run.json'), JSON.stringify({ runId: 5, createdAt: {}, prompt: ['x'], model: { id: 7 }, files: [{ chunks: 'nope' }, null] }));
    await fs.writeFile(path.join(dir, 'summary.json'), JSON.stringify({ succeeded: '9', failed: 1e400, status: 'succeeded' }));
    const [r] = await readRuns(root);
    assert.strictEqual(r.id, '20260101-100000-evil');
    assert.strictEqual(r.modelId, undefined);
    assert.strictEqual(r.createdAt, undefined);
    assert.strictEqual(r.promptLabel, undefined);
    assert.deepStrictEqual(r.counts, { total: 0, succeeded: 0, failed: 0, canceled: 0, cached: 0 });
  });

  it('Delete Run removes only a plainly named folder right under the runs folder', () => {
    assert.ok(isRunFolderOf('/ws/runs', '/ws/runs/20260101-100000-aaaa'));
    assert.ok(!isRunFolderOf('/ws/runs', '/ws/runs'));
    assert.ok(!isRunFolderOf('/ws/runs', '/ws/runs/a/b'));
    assert.ok(!isRunFolderOf('/ws/runs', '/ws/other/20260101'));
    assert.ok(!isRunFolderOf('/ws/runs', '/ws/runs/..'));
    assert.ok(!isRunFolderOf('/ws/runs', '/ws/runs/.hidden'));
  });
});
