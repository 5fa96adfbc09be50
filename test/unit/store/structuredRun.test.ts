import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as path from 'path';
import { createPlan } from '../../../src/core/plan/plan';
import { resumeRun, runPlan, type RunParameters } from '../../../src/core/session/run';
import { readRecords, readRunMeta } from '../../../src/core/store/runStore';
import { ResultCache } from '../../../src/core/store/resultCache';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { SourceFile } from '../../../src/core/plan/types';
import { decodeEntries, type OutputSpec } from '../../../src/core/output/spec';
import { ScriptedModel, taggedReply } from '../../support/scriptedModel';
import { treeOf, useWorkspace } from '../../support/tempWorkspace';

const tokenizer = getTokenizer();
const parameters: RunParameters = { maxConcurrency: 1, maxRetries: 1, requestTimeoutMs: 10_000, chunkTokens: 200, overlapTokens: 20, chunksPerBatch: 2, maxBatchTokens: 32768 };
const FINDINGS: OutputSpec = { kind: 'findings' };

describe('structured runs in a run folder (#14)', function () {
  this.timeout(20_000);
  let ws = '';
  const files: SourceFile[] = [
    { path: 'a.ts', text: Array.from({ length: 90 }, (_, i) => `export const a${i} = ${i};`).join('\n') + '\n' },
    { path: 'b.ts', text: 'export const b = 2;\n'.repeat(5) },
  ];
  useWorkspace('bp-structured-', treeOf(files), (dir) => (ws = dir));
  const roots = () => ({ allowed: [ws], hint: 'resume from the workspace' });

  function plan(output: OutputSpec) {
    return createPlan(files, { prompt: 'Find bugs.', tokenizer, chunk: { chunkTokens: 200, overlapTokens: 20 }, pack: { chunksPerBatch: 2, maxBatchTokens: 32768 }, output });
  }

  it('records the kind in run.json, each chunk as entries, and an invalid answer in invalid/<chunk>.txt; a resume checks with the recorded kind', async () => {
    const p = plan(FINDINGS);
    assert.ok(p.files[0].chunks.length >= 3, 'a.ts has several chunks');
    let broken = true;
    const model = new ScriptedModel((_r, _n, chunks) =>
      taggedReply(chunks, (c) => JSON.stringify({ findings: [{ line: c.id === '1.2' && broken ? 9999 : c.startLine, severity: 'error', message: `bug in ${c.id}` }] })),
    );
    const dir = path.join(ws, '.batch-prompt/runs/s1');
    const { summary } = await runPlan(p, { root: ws, dir, prompt: 'Find bugs.', model, modelInfo: { id: 'm' }, tokenizer, parameters, output: FINDINGS });
    assert.strictEqual(summary.failed, 1);
    const meta = await readRunMeta(dir);
    assert.deepStrictEqual(meta.output, FINDINGS);
    const records = await readRecords(dir);
    const bad = records.find((r) => r.chunkId === '1.2')!;
    assert.strictEqual(bad.error?.kind, 'invalid-output');
    assert.match(await fs.readFile(path.join(dir, 'invalid/1.2.txt'), 'utf8'), /"line":9999/);
    const ok = records.find((r) => r.chunkId === '1.1')!;
    const entries = decodeEntries(await fs.readFile(path.join(dir, 'chunks/1.1.out'), 'utf8'));
    assert.deepStrictEqual(entries, [{ startLine: ok.startLine, endLine: ok.endLine, value: { findings: [{ line: ok.startLine, severity: 'error', message: 'bug in 1.1' }] } }]);

    broken = false;
    model.requests.length = 0;
    const resumed = await resumeRun(dir, { roots: roots(), model, tokenizer });
    assert.strictEqual(resumed.summary.status, 'succeeded');
    assert.deepStrictEqual(model.sentIds(), ['1.2'], 'only the invalid chunk is sent again');
    assert.match(model.requests[0].messages[1].content, /\n +\d+\texport const a/, 'with numbered lines: the resume answers in the recorded kind');
    await assert.rejects(fs.access(path.join(dir, 'invalid/1.2.txt')), 'the invalid reply is gone once the chunk succeeded');
  });

  it('the result cache keeps kinds apart: a text result is never a findings answer', async () => {
    const cache = new ResultCache(path.join(ws, '.cache'));
    const textModel = new ScriptedModel((_r, _n, chunks) => taggedReply(chunks, () => 'plain words'));
    await runPlan(plan({ kind: 'text' }), { root: ws, dir: path.join(ws, 'runs/t'), prompt: 'Find bugs.', model: textModel, modelInfo: { id: 'm' }, tokenizer, parameters, cache });
    const findingsModel = new ScriptedModel((_r, _n, chunks) => taggedReply(chunks, () => '{"findings": []}'));
    const p = plan(FINDINGS);
    const first = await runPlan(p, { root: ws, dir: path.join(ws, 'runs/f1'), prompt: 'Find bugs.', model: findingsModel, modelInfo: { id: 'm' }, tokenizer, parameters, cache, output: FINDINGS });
    assert.strictEqual(first.summary.cached ?? 0, 0, 'no text result is taken for a findings run');
    assert.strictEqual(first.summary.succeeded, p.totals.chunks);
    findingsModel.requests.length = 0;
    const second = await runPlan(p, { root: ws, dir: path.join(ws, 'runs/f2'), prompt: 'Find bugs.', model: findingsModel, modelInfo: { id: 'm' }, tokenizer, parameters, cache, output: FINDINGS });
    assert.strictEqual(second.summary.cached, p.totals.chunks, 'the same findings run is served from the cache');
    assert.strictEqual(findingsModel.requests.length, 0);
    const other: OutputSpec = { kind: 'json', schema: { type: 'object' } };
    const jsonModel = new ScriptedModel((_r, _n, chunks) => taggedReply(chunks, () => '{}'));
    const third = await runPlan(plan(other), { root: ws, dir: path.join(ws, 'runs/j1'), prompt: 'Find bugs.', model: jsonModel, modelInfo: { id: 'm' }, tokenizer, parameters, cache, output: other });
    assert.strictEqual(third.summary.cached ?? 0, 0, 'another kind or schema misses');
  });
});
