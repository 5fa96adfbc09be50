import * as assert from 'assert';
import { useServer } from '../../support/localServer';
import { promises as fs } from 'fs';
import * as path from 'path';
import { createPlan } from '../../../src/core/plan/plan';
import { retryChunks, runPlan, type RunParameters } from '../../../src/core/session/run';
import { readRecords } from '../../../src/core/store/runStore';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { SourceFile } from '../../../src/core/plan/types';
import { OpenAICompatibleModel } from '../../../src/providers/openaiCompatible';
import { ModelServer } from '../../support/modelServer';
import { treeOf, useWorkspace } from '../../support/tempWorkspace';

const tokenizer = getTokenizer();
const parameters: RunParameters = { maxConcurrency: 2, maxRetries: 0, requestTimeoutMs: 10_000, chunkTokens: 200, overlapTokens: 0, chunksPerBatch: 2, maxBatchTokens: 32768 };

describe('runs and retries', function () {
  this.timeout(20_000);
  const server = new ModelServer();
  let baseUrl = '';
  let ws = '';
  /** The run's files may be read from the test's workspace only. */
  const roots = () => ({ allowed: [ws], hint: 'resume from the workspace' });
  const files: SourceFile[] = [
    { path: 'a.ts', text: 'export const a = 1;\n'.repeat(120) },
    { path: 'b.ts', text: 'export const b = 2;\n'.repeat(10) },
  ];
  useServer(server, (url) => (baseUrl = url));
  useWorkspace('bp-run-', treeOf(files), (dir) => (ws = dir));

  async function failingRun() {
    const plan = createPlan(files, { prompt: 'Upper.', tokenizer, chunk: { chunkTokens: 200, overlapTokens: 0 }, pack: { chunksPerBatch: 2, maxBatchTokens: 32768 } });
    const model = new OpenAICompatibleModel({ baseUrl, model: 'm' });
    server.script = (r) => (r.chunks.some((c) => c.id === '1.2') ? { kind: 'status', status: 500 } : undefined);
    const dir = path.join(ws, '.batch-prompt/runs/r1');
    const { summary } = await runPlan(plan, { root: ws, dir, prompt: 'Upper.', model, modelInfo: { id: 'm' }, tokenizer, parameters });
    return { dir, model, summary, plan };
  }

  it('retries only the chunks that did not succeed and completes the file in place', async () => {
    const { dir, model, summary, plan } = await failingRun();
    assert.strictEqual(summary.status, 'partial');
    const failed = summary.files.find((f) => f.path === 'a.ts')!;
    assert.strictEqual(failed.status, 'incomplete');
    const failedIds = (await readRecords(dir)).filter((r) => r.status !== 'succeeded').map((r) => r.chunkId).sort();
    assert.ok(failedIds.includes('1.2'));

    server.script = () => undefined;
    server.requests.length = 0;
    const retried = await retryChunks(dir, { roots: roots(), model, tokenizer });
    assert.deepStrictEqual(server.sentChunkIds().sort(), failedIds, 'only the failed chunks are sent again');
    assert.strictEqual(retried.summary.status, 'succeeded');
    const out = await fs.readFile(path.join(dir, 'outputs/a.ts.md'), 'utf8');
    const chunkCount = plan.files[0].chunks.length;
    for (let i = 1; i <= chunkCount; i++) assert.ok(out.includes(`OUT[1.${i}]`), `chunk 1.${i} in the output`);
    await assert.rejects(fs.access(path.join(dir, 'outputs/a.ts.incomplete.md')));
  });

  it('fails a retry of a file edited since the run instead of mixing versions', async () => {
    const { dir, model } = await failingRun();
    await fs.appendFile(path.join(ws, 'a.ts'), '// edited\n');
    server.script = () => undefined;
    const retried = await retryChunks(dir, { roots: roots(), model, tokenizer, chunkIds: ['1.2'] });
    const r = (await readRecords(dir)).filter((x) => x.chunkId === '1.2').pop()!;
    assert.strictEqual(r.status, 'failed');
    assert.strictEqual(r.error!.kind, 'source-changed');
    assert.strictEqual(retried.summary.status, 'partial');
  });
});
