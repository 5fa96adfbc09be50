// Peak memory of a plan and of a run as the corpus grows: each measurement in a fresh process.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CORPUS_ROOTS } from './corpus';
import { startServerProcess, table } from './util';

function du(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += fs.statSync(path.join(e.parentPath, e.name)).size;
  }
  return n;
}

export async function runMemoryBench(): Promise<void> {
  const modules = path.resolve(__dirname, '../../node_modules');
  const roots = CORPUS_ROOTS.filter((r) => fs.existsSync(path.join(modules, r)));
  // Growing corpora: the first root, then more roots, then all of them.
  const sets = [roots.slice(1), roots.slice(0, 1), roots];
  const server = await startServerProcess(0);
  const rows: (string | number)[][] = [['corpus', 'MB', 'plan RSS', 'plan heap', 'plan live heap', 'run RSS', 'run heap', 'run live heap', 'run heap total / external at RSS peak', 'first request s', 'run seconds']];
  try {
    for (const set of sets) {
      const mb = set.reduce((n, r) => n + du(path.join(modules, r)), 0) / 1048576;
      const measure = (mode: 'plan' | 'run') => {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-bench-'));
        try {
          const r = spawnSync(process.execPath, ['--expose-gc', path.join(__dirname, 'memoryChild.js'), server.url, path.join(out, 'run'), modules, ...set], { env: { ...process.env, BENCH_MODE: mode }, encoding: 'utf8', maxBuffer: 1 << 20 });
          return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { peakRss: number; peakHeap: number; peakLive: number; atPeak?: { heapTotal: number; external: number }; seconds: number; firstRequestSeconds?: number; code: number };
        } finally {
          fs.rmSync(out, { recursive: true, force: true });
        }
      };
      const p = measure('plan');
      const r = measure('run');
      const label = set.length === roots.length ? 'all roots' : set.join('+').slice(0, 40);
      const mib = (n: number) => (n / 1048576).toFixed(0);
      rows.push([label, mb.toFixed(1), mib(p.peakRss), mib(p.peakHeap), mib(p.peakLive), mib(r.peakRss), mib(r.peakHeap), mib(r.peakLive), r.atPeak ? `${mib(r.atPeak.heapTotal)} / ${mib(r.atPeak.external)}` : '-', r.firstRequestSeconds === undefined ? '-' : r.firstRequestSeconds.toFixed(2), `${r.seconds.toFixed(1)} (exit ${r.code})`]);
    }
  } finally {
    server.stop();
  }
  console.log(`\n## Memory (MiB, peaks): plan and run over growing corpora, files up to 16 MiB included (fresh process each; local server answers at once; run at concurrency ${process.env.BENCH_CONCURRENCY ?? 16})`);
  console.log('heap = heapUsed with garbage; live heap = heapUsed right after a full GC (sampled every 250 ms); RSS beyond heap total + external: code (the tokenizer alone ~70 MB), the allocator, worker threads');
  console.log(table(rows));
  console.log('baselines (branch memory before its changes, 2026-12-04, load 2.4-6.5 on 2 cores): run RSS 363 / 913 / 529 MiB, run live heap 82 / 349 / 118 MiB, first request 0.80 / 6.44 / 1.41 s for 16.3 / 23.2 / 39.5 MB at concurrency 16 (#17, 2026-12-03: 218 / 575 / 418 MiB at concurrency 8); targets: run RSS <= 300 MiB at concurrency 16, first request <= 1.5 s');
}
