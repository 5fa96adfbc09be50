// Planning benchmark (#17): plan throughput in one thread and in the worker pool (1, 2, 4 workers),
// the plan cache (nothing changed, one file edited), the event loop's longest block while the pool
// plans, the in-thread threshold, and base64's cost per MB beside the corpus's. Figures only.
import { spawnSync } from 'child_process';
import { promises as fs, mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ChunkPool, defaultPoolSize } from '../src/core/plan/chunkPool';
import { DEFAULT_CHUNK_OPTIONS } from '../src/core/plan/chunker';
import { chunkText } from '../src/core/plan/fileChunks';
import { DEFAULT_PACK_OPTIONS } from '../src/core/plan/packer';
import { ParallelPlanner, IN_THREAD_CHARS } from '../src/core/plan/parallelPlan';
import { createPlan, Planner, type Plan, type PlanOptions } from '../src/core/plan/plan';
import { PlanCache } from '../src/core/plan/planCache';
import { createTokenizer } from '../src/core/plan/tokenizer';
import type { SourceFile } from '../src/core/plan/types';
import { pathologicalCorpus, realCorpus } from './corpus';
import { table } from './util';

const MB = 2 ** 20;

function options(): PlanOptions {
  // A fresh tokenizer (empty memo) per measurement, like a fresh process.
  return { prompt: 'Review this code.', tokenizer: createTokenizer(), chunk: DEFAULT_CHUNK_OPTIONS, pack: DEFAULT_PACK_OPTIONS };
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const t = performance.now();
  const value = await run();
  return { value, seconds: (performance.now() - t) / 1000 };
}

/** Plans `paths` read from disk (async, one at a time, as the CLI does) through a ParallelPlanner. */
async function planFromDisk(paths: readonly string[], names: readonly string[], services: ConstructorParameters<typeof ParallelPlanner>[1], edit?: { index: number; text: string }): Promise<ParallelPlanner & { plan?: Plan }> {
  const planner = new ParallelPlanner(options(), services) as ParallelPlanner & { plan?: Plan };
  for (let i = 0; i < paths.length; i++) {
    const text = edit?.index === i ? edit.text : await fs.readFile(paths[i], 'utf8');
    await planner.add({ path: names[i], text });
  }
  planner.plan = await planner.finish();
  return planner;
}

export async function runPlanningBench(): Promise<void> {
  const root = path.resolve(__dirname, '../..');
  const corpus = realCorpus(root);
  const files = corpus.files;
  const mb = corpus.bytes / MB;
  const paths = files.map((f) => path.join(root, 'node_modules', ...f.path.split('/')));
  const names = files.map((f) => f.path);
  console.log(`\n## Planning (#17): ${files.length} files, ${mb.toFixed(1)} MB; ${os.cpus().length} cores here, pool default ${defaultPoolSize()} worker(s); load average ${os.loadavg()[0].toFixed(1)} (wall times scale with it); one round each`);

  // Cold plans: files read from disk, chunked in one thread or in a fresh pool (worker start included).
  const oneThread = await timed(() => planFromDisk(paths, names, {}));
  const reference = oneThread.value.plan!;
  const rows: (string | number)[][] = [['plan, cold', 'seconds', 'MB/s', 'x one thread', 'same plan']];
  rows.push(['one thread (Planner)', oneThread.seconds.toFixed(2), (mb / oneThread.seconds).toFixed(1), '1.00', 'yes']);
  for (const size of [1, 2, 4]) {
    const pool = new ChunkPool({ size });
    const r = await timed(() => planFromDisk(paths, names, { pool, inThreadChars: 0 }));
    await pool.close();
    const same = JSON.stringify(r.value.plan) === JSON.stringify(reference);
    rows.push([`pool of ${size}`, r.seconds.toFixed(2), (mb / r.seconds).toFixed(1), (oneThread.seconds / r.seconds).toFixed(2), same ? 'yes' : 'NO']);
  }
  {
    const pool = new ChunkPool();
    const r = await timed(() => planFromDisk(paths, names, { pool, helpInThread: true }));
    await pool.close();
    const same = JSON.stringify(r.value.plan) === JSON.stringify(reference);
    rows.push([`CLI: pool of ${pool.size} + this thread`, r.seconds.toFixed(2), (mb / r.seconds).toFixed(1), (oneThread.seconds / r.seconds).toFixed(2), same ? 'yes' : 'NO']);
  }
  console.log(table(rows));
  console.log('baseline (issue #17): 5.9 s, 5.8 MB/s in one thread; target >= 1.7x one thread with 2 cores');

  // The plan cache: cold (filling it), nothing changed, one file edited.
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'bp-bench-plans-'));
  try {
    const pool = new ChunkPool();
    const cold = await timed(() => planFromDisk(paths, names, { pool, cache: new PlanCache(cacheDir) }));
    const warm = await timed(() => planFromDisk(paths, names, { pool, cache: new PlanCache(cacheDir) }));
    const k = Math.floor(files.length / 2);
    const text = files[k].text;
    const editedText = text.slice(0, text.length >> 1) + '\n// edited\n' + text.slice(text.length >> 1);
    const edited = await timed(() => planFromDisk(paths, names, { pool, cache: new PlanCache(cacheDir) }, { index: k, text: editedText }));
    await pool.close();
    // Reading and hashing alone: the floor of a warm plan.
    const hashOnly = await timed(async () => {
      const { createHash } = await import('crypto');
      for (const p of paths) createHash('sha256').update(await fs.readFile(p, 'utf8')).digest('hex');
    });
    const oneFile = await timed(async () => createPlan([{ path: names[k], text: editedText }], options()));
    const sameWarm = JSON.stringify(warm.value.plan) === JSON.stringify(reference);
    const c = (p: ParallelPlanner) => `${p.counts.cached} cached, ${p.counts.inThread + p.counts.pooled} chunked`;
    console.log(table([
      ['plan cache', 'seconds', 'x faster than cold', 'files', 'same plan'],
      ['cold, filling the cache (pool)', cold.seconds.toFixed(2), '1.0', c(cold.value), JSON.stringify(cold.value.plan) === JSON.stringify(reference) ? 'yes' : 'NO'],
      ['nothing changed', warm.seconds.toFixed(2), (cold.seconds / warm.seconds).toFixed(1), c(warm.value), sameWarm ? 'yes' : 'NO'],
      [`one file edited (${(editedText.length / 1024).toFixed(0)} KB)`, edited.seconds.toFixed(2), (cold.seconds / edited.seconds).toFixed(1), c(edited.value), '-'],
      ['(reading + sha256 of the corpus)', hashOnly.seconds.toFixed(2), '', '', ''],
      ['(that one file planned alone)', oneFile.seconds.toFixed(2), '', '', ''],
    ]));
    console.log('baseline (issue #17): every plan 5.9 s; targets: nothing changed >= 10x faster than cold; one file edited ~ hashing + that file');
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }

  // The event loop while the pool plans the corpus, as in the editor (64K chars in-thread at most), in a fresh process.
  const listFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'bp-bench-list-')), 'paths.json');
  writeFileSync(listFile, JSON.stringify(paths));
  const child = (preload: string, inThread: number) => {
    const r = spawnSync(process.execPath, [path.join(__dirname, 'planningChild.js'), listFile, preload, String(inThread)], { encoding: 'utf8', maxBuffer: 1 << 20 });
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { maxMs: number; p99Ms: number; seconds: number; loadMs: number; counts: { pooled: number; inThread: number } };
  };
  const loaded = child('preload', 64 * 1024);
  const fresh = child('fresh', 64 * 1024);
  const idle = child('idle', Math.round(Math.min(loaded.seconds, 30) * 1000));
  rmSync(path.dirname(listFile), { recursive: true, force: true });
  console.log(table([
    ['event loop while planning the corpus (pool, editor settings)', 'max delay ms', 'p99 ms', 'seconds', 'files in-thread / pooled'],
    [`encoding already loaded in the thread (load took ${loaded.loadMs.toFixed(0)} ms)`, loaded.maxMs.toFixed(0), loaded.p99Ms.toFixed(0), loaded.seconds.toFixed(2), `${loaded.counts.inThread} / ${loaded.counts.pooled}`],
    ['fresh process (the thread loads the encoding for packing)', fresh.maxMs.toFixed(0), fresh.p99Ms.toFixed(0), fresh.seconds.toFixed(2), `${fresh.counts.inThread} / ${fresh.counts.pooled}`],
    ['control: the same process idle (the machine\'s own delay)', idle.maxMs.toFixed(0), idle.p99Ms.toFixed(0), idle.seconds.toFixed(2), '-'],
  ]));
  console.log('baseline (issue #17): the whole plan on the thread (max delay = the longest file\'s chunking); target <= 50 ms');

  // The in-thread threshold: a fresh pool's first answer vs chunking in this thread.
  const small = files.filter((f) => f.text.length < 20_000).slice(0, 40);
  const params = new Planner(options()).chunkParams;
  const tok = createTokenizer();
  for (const f of small.slice(0, 5)) chunkText(f.text, params, tok); // encoding loaded
  const inThread = await timed(async () => {
    for (const f of small) chunkText(f.text, params, tok);
  });
  const smallChars = small.reduce((n, f) => n + f.text.length, 0);
  const pool = new ChunkPool({ size: 1 });
  const firstAnswer = await timed(() => pool.chunk('const a = 1;\n', params));
  await pool.close();
  const charsPerSecond = smallChars / inThread.seconds;
  console.log(`in-thread threshold: a fresh worker answers first after ${(firstAnswer.seconds * 1000).toFixed(0)} ms (start + encoding load); ` +
    `this thread chunks ${(charsPerSecond / MB).toFixed(1)} M chars/s warm, so below ~${((firstAnswer.seconds * charsPerSecond) / 1024).toFixed(0)} K chars a plan is faster in-thread ` +
    `(CLI uses ${IN_THREAD_CHARS / 1024} K; the editor 64 K, to keep each in-thread file well under 50 ms)`);

  // base64's cost per MB beside the corpus's (issue table: ~5x, 888 ms/MB).
  const b64 = pathologicalCorpus([]).find((f) => f.path.includes('base64'))!;
  const oneMb: SourceFile = { path: 'b64', text: b64.text.slice(0, MB) };
  const cpu = (run: () => void) => {
    const t = process.cpuUsage();
    run();
    const u = process.cpuUsage(t);
    return (u.user + u.system) / 1000;
  };
  const corpusMs = cpu(() => createPlan(files, options())) / mb;
  const b64Ms = cpu(() => createPlan([oneMb], options()));
  console.log(table([
    ['cost per MB (one thread, CPU ms)', 'ms/MB', 'x corpus'],
    ['corpus', corpusMs.toFixed(0), '1.0'],
    ['1 MB of base64, one line', b64Ms.toFixed(0), (b64Ms / corpusMs).toFixed(1)],
  ]));
  console.log('baseline (issue #17): ~5x (888 ms/MB); target <= 3x, or what bounds it');
}
