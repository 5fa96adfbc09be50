// One planning measurement in a fresh process (see planning.ts): the corpus read from disk and planned
// through the pool as the editor does, with the event loop's delay recorded. Prints one JSON line.
import { promises as fs } from 'fs';
import * as path from 'path';
import { monitorEventLoopDelay } from 'perf_hooks';
import { ChunkPool } from '../src/core/plan/chunkPool';
import { DEFAULT_CHUNK_OPTIONS } from '../src/core/plan/chunker';
import { DEFAULT_PACK_OPTIONS } from '../src/core/plan/packer';
import { ParallelPlanner } from '../src/core/plan/parallelPlan';
import { getTokenizer } from '../src/core/plan/tokenizer';

async function main(): Promise<void> {
  const [listFile, preload, inThread] = process.argv.slice(2);
  const paths = JSON.parse(await fs.readFile(listFile, 'utf8')) as string[];
  const h = monitorEventLoopDelay({ resolution: 5 });
  let loadMs = 0;
  if (preload === 'preload') {
    const t = performance.now();
    getTokenizer().count('x');
    loadMs = performance.now() - t;
  }
  h.enable();
  const t0 = performance.now();
  if (preload === 'idle') {
    // The control: the same process doing nothing, to tell a blocked thread from a machine that is busy elsewhere.
    await new Promise((r) => setTimeout(r, Number(inThread)));
    h.disable();
    console.log(JSON.stringify({ maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6, seconds: (performance.now() - t0) / 1000, loadMs: 0, counts: { pooled: 0, inThread: 0 } }));
    return;
  }
  const pool = new ChunkPool();
  const planner = new ParallelPlanner({ prompt: 'Review this code.', tokenizer: getTokenizer(), chunk: DEFAULT_CHUNK_OPTIONS, pack: DEFAULT_PACK_OPTIONS }, { pool, inThreadChars: Number(inThread) });
  for (const p of paths) await planner.add({ path: path.basename(p), text: await fs.readFile(p, 'utf8') });
  const plan = await planner.finish();
  const seconds = (performance.now() - t0) / 1000;
  h.disable();
  await pool.close();
  console.log(JSON.stringify({ maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6, seconds, loadMs, chunks: plan.totals.chunks, counts: planner.counts, workers: pool.size }));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
