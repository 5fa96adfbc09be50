// One planning measurement in a fresh process (see planning.ts): the corpus read from disk as the
// editor reads it (collectFiles, one file at a time) and planned through the pool with the editor's
// settings, with the event loop's delay recorded; with a plan cache, planned again warm. Prints one JSON line.
//   node planningChild.js <corpus folder> <paths.json> editor|load|preload <maxFileBytes> [cache]
//   node planningChild.js <corpus folder> <paths.json> idle <ms>
import { mkdtempSync, promises as fs, realpathSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { monitorEventLoopDelay } from 'perf_hooks';
import { collectFiles } from '../src/core/input/files';
import { ChunkPool } from '../src/core/plan/chunkPool';
import { DEFAULT_CHUNK_OPTIONS } from '../src/core/plan/chunker';
import { DEFAULT_PACK_OPTIONS } from '../src/core/plan/packer';
import { EDITOR_PLAN_SETTINGS, ParallelPlanner, type PlanServices } from '../src/core/plan/parallelPlan';
import { PlanCache } from '../src/core/plan/planCache';
import { getTokenizer, isEncodingLoaded } from '../src/core/plan/tokenizer';

export interface Delay {
  maxMs: number;
  p99Ms: number;
  seconds: number;
}

export interface ChildResult {
  cold: Delay & { counts: ParallelPlanner['counts']; files: number; chunks: number; countedInThread: number };
  warm?: Delay & { counts: ParallelPlanner['counts'] };
  loadMs: number;
  /** Whether this thread had loaded the encoding by the end. */
  loaded: boolean;
}

async function measured<T>(run: () => Promise<T>): Promise<Delay & { value: T }> {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  // A first turn of the loop: the monitor measures from its first tick, so a block at once would go unseen.
  await new Promise((r) => setTimeout(r, 20));
  const t0 = performance.now();
  const value = await run();
  const seconds = (performance.now() - t0) / 1000;
  h.disable();
  return { maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6, seconds, value };
}

async function main(): Promise<void> {
  const [root, listFile, mode, arg, cacheArg] = process.argv.slice(2);
  if (mode === 'idle') {
    // The control: the same kind of process doing nothing, to tell a blocked thread from a machine busy elsewhere.
    const idle = await measured(() => new Promise((r) => setTimeout(r, Number(arg))));
    console.log(JSON.stringify({ maxMs: idle.maxMs, p99Ms: idle.p99Ms, seconds: idle.seconds }));
    return;
  }
  // Real paths: the corpus may sit behind a linked node_modules, which collectFiles refuses as outside its root.
  const cwd = realpathSync(root);
  const inputs = (JSON.parse(await fs.readFile(listFile, 'utf8')) as string[]).map((p) => path.relative(cwd, realpathSync(p)));
  let loadMs = 0;
  if (mode === 'preload') {
    const t = performance.now();
    getTokenizer().count('x');
    loadMs = performance.now() - t;
  }
  // `load`: the editor's settings before #17's event-loop work (the thread loads the encoding to pack).
  const settings: PlanServices = mode === 'load' ? { inThreadChars: EDITOR_PLAN_SETTINGS.inThreadChars, encodingInThread: 'load' } : EDITOR_PLAN_SETTINGS;
  const pool = new ChunkPool();
  const cacheDir = cacheArg === 'cache' ? mkdtempSync(path.join(os.tmpdir(), 'bp-bench-evloop-')) : undefined;
  const plan = () => measured(async () => {
    const planner = new ParallelPlanner(
      { prompt: 'Review this code.', tokenizer: getTokenizer(), chunk: DEFAULT_CHUNK_OPTIONS, pack: DEFAULT_PACK_OPTIONS },
      { pool, ...settings, ...(cacheDir ? { cache: new PlanCache(cacheDir) } : {}) },
    );
    const known = planner.known;
    await collectFiles(inputs, { cwd, maxFileBytes: Number(arg), respectGitignore: false, ...(known ? { known } : {}), onFile: (f) => planner.add(f) });
    return { planner, plan: await planner.finish() };
  });
  try {
    const cold = await plan();
    const warm = cacheDir ? await plan() : undefined;
    const result: ChildResult = {
      cold: { maxMs: cold.maxMs, p99Ms: cold.p99Ms, seconds: cold.seconds, counts: cold.value.planner.counts, files: cold.value.plan.totals.files, chunks: cold.value.plan.totals.chunks, countedInThread: cold.value.planner.countedInThread },
      ...(warm ? { warm: { maxMs: warm.maxMs, p99Ms: warm.p99Ms, seconds: warm.seconds, counts: warm.value.planner.counts } } : {}),
      loadMs,
      loaded: isEncodingLoaded(getTokenizer()),
    };
    console.log(JSON.stringify(result));
  } finally {
    await pool.close();
    if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
