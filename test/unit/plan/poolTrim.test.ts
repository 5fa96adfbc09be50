// #17 "Memory": the CLI chunks in its own thread while its requests are behind, and ends the pool's idle
// workers then (`inThreadNow`, `ChunkPool.trim`): their heaps do not add up when they buy nothing.
import * as assert from 'assert';
import { ChunkPool } from '../../../src/core/plan/chunkPool';
import { chunkText } from '../../../src/core/plan/fileChunks';
import { ParallelPlanner } from '../../../src/core/plan/parallelPlan';
import { createPlan, Planner, type PlanOptions } from '../../../src/core/plan/plan';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { SourceFile } from '../../../src/core/plan/types';

const options: PlanOptions = { prompt: 'Explain.', tokenizer: getTokenizer(), chunk: { chunkTokens: 300, overlapTokens: 20 }, pack: { chunksPerBatch: 3, maxBatchTokens: 32768 } };
const files: SourceFile[] = Array.from({ length: 8 }, (_, i) => ({ path: `f${i}.ts`, text: `export const v${i} = ${i};\n`.repeat(200 + 50 * i) }));

describe('chunking in this thread while requests are behind (#17)', function () {
  this.timeout(60_000);

  it('trim ends the idle workers; the next task starts one again', async () => {
    const pool = new ChunkPool({ size: 2 });
    try {
      const params = new Planner(options).chunkParams;
      assert.deepStrictEqual(await pool.chunk(files[0].text, params), chunkText(files[0].text, params));
      assert.ok(pool.workers >= 1);
      pool.trim();
      assert.strictEqual(pool.workers, 0);
      assert.deepStrictEqual(await pool.chunk(files[1].text, params), chunkText(files[1].text, params));
      assert.strictEqual(pool.workers, 1);
    } finally {
      await pool.close();
    }
  });

  it('while inThreadNow says so, files are chunked here and idle workers end; the plan is the same', async () => {
    const pool = new ChunkPool({ size: 1 });
    try {
      const first = new ParallelPlanner(options, { pool, inThreadChars: 0, helpInThread: true, inThreadNow: () => false });
      await first.add(files[0]);
      await first.finish();
      assert.strictEqual(first.counts.pooled, 1, 'requests waiting for the plan: the pool chunks');
      assert.strictEqual(pool.workers, 1);
      const behind = new ParallelPlanner(options, { pool, inThreadChars: 0, helpInThread: true, inThreadNow: () => true });
      for (const f of files) await behind.add(f);
      const plan = await behind.finish();
      assert.deepStrictEqual(behind.counts, { cached: 0, inThread: files.length, pooled: 0 }, 'requests behind: nothing went to the pool');
      assert.strictEqual(pool.workers, 0, 'the idle worker was ended');
      assert.deepStrictEqual(plan, createPlan(files, options));
    } finally {
      await pool.close();
    }
  });
});
