import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { collectFiles } from '../../../src/core/input/files';
import { createPlan, FileChunkSource, Planner } from '../../../src/core/plan/plan';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { SourceFile } from '../../../src/core/plan/types';

const tokenizer = getTokenizer();
const files: SourceFile[] = [
  { path: 'a.ts', text: 'const a = 1;\n'.repeat(1200) },
  { path: 'empty.ts', text: '' },
  { path: 'b.ts', text: 'let b = 2;\n'.repeat(50) },
];

describe('plan', () => {
  it('chunks, packs and totals without keeping chunk texts', () => {
    const plan = createPlan(files, { prompt: 'Explain.', tokenizer, chunk: { chunkTokens: 500, overlapTokens: 20 }, pack: { chunksPerBatch: 4, maxBatchTokens: 32768 } });
    assert.deepStrictEqual(plan.files.map((f) => f.path), ['a.ts', 'b.ts']);
    assert.deepStrictEqual(plan.empty, ['empty.ts']);
    assert.strictEqual(plan.totals.chunks, plan.files.reduce((n, f) => n + f.chunks.length, 0));
    assert.strictEqual(plan.totals.chunks, plan.batches.reduce((n, b) => n + b.chunks.length, 0));
    assert.ok(plan.files[0].chunks.length > 5);
    for (const f of plan.files) for (const c of f.chunks) assert.ok(!('text' in c), 'plans hold ranges, not text');
    assert.ok(plan.totals.inputTokens > plan.totals.chunkTokens, 'request tokens include the prompt and wrapping');
  });

  it('lowers the chunk budget when a small context window could not hold a full chunk', () => {
    const plan = createPlan(files, { prompt: 'Explain.', tokenizer, chunk: { chunkTokens: 8192, overlapTokens: 100 }, pack: { chunksPerBatch: 4, maxBatchTokens: 32768, contextWindow: 2048, maxOutputTokens: 1024 } });
    assert.ok(plan.chunkTokens < 1024, `chunkTokens ${plan.chunkTokens}`);
    for (const b of plan.batches) assert.ok(b.tokens <= 1024, `${b.id}: ${b.tokens}`);
  });

  it('streams files from disk into the planner one at a time', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-plan-'));
    try {
      await fs.writeFile(path.join(dir, 'a.ts'), files[0].text);
      await fs.writeFile(path.join(dir, 'b.ts'), files[2].text);
      const planner = new Planner({ prompt: 'x', tokenizer, chunk: { chunkTokens: 500, overlapTokens: 20 }, pack: { chunksPerBatch: 4, maxBatchTokens: 32768 } });
      const seen: string[] = [];
      const result = await collectFiles(['.'], { cwd: dir, onFile: (f) => (seen.push(f.path), planner.add(f as SourceFile)) });
      assert.deepStrictEqual(result.files, [], 'streamed files are not kept');
      assert.deepStrictEqual(seen, ['a.ts', 'b.ts']);
      const plan = planner.finish();
      const source = new FileChunkSource(dir, plan.files);
      const texts = await Promise.all(plan.files[0].chunks.map((c) => source.text(c)));
      assert.strictEqual(texts[0] + texts.slice(1).map((t, i) => t.slice(plan.files[0].chunks[i + 1].overlap)).join(''), files[0].text);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses chunk text from a file that changed or vanished since planning', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-plan-'));
    try {
      await fs.writeFile(path.join(dir, 'a.ts'), files[0].text);
      await fs.writeFile(path.join(dir, 'b.ts'), files[2].text);
      const plan = createPlan([files[0], files[2]], { prompt: 'x', tokenizer, chunk: { chunkTokens: 500, overlapTokens: 0 }, pack: { chunksPerBatch: 4, maxBatchTokens: 32768 } });
      await fs.writeFile(path.join(dir, 'a.ts'), files[0].text + 'edited\n');
      await fs.rm(path.join(dir, 'b.ts'));
      const source = new FileChunkSource(dir, plan.files);
      await assert.rejects(source.text(plan.files[0].chunks[0]), (e: Error & { kind?: string }) => e.kind === 'source-changed' && /a\.ts changed/.test(e.message));
      await assert.rejects(source.text(plan.files[1].chunks[0]), (e: Error & { kind?: string }) => e.kind === 'source-changed' && /b\.ts was deleted/.test(e.message));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
