// One measured run in a fresh process: `node out/bench/memoryChild.js BASE_URL OUT_DIR CWD INPUT…`.
// Plans and runs the CLI's path over INPUT (relative to CWD) and prints peak RSS and heap as JSON.
import { subscribe } from 'diagnostics_channel';
import { main } from '../src/cli/main';

const [baseUrl, outDir, cwd, ...inputs] = process.argv.slice(2);
let peakRss = 0;
let peakHeap = 0;
let peakLive = 0;
// Where RSS goes besides this thread's heap: buffers outside the heap (undici's, file reads), and what
// is left (worker threads' heaps, code, the allocator's free pages), at the RSS peak.
let atPeak = { external: 0, arrayBuffers: 0, heapTotal: 0 };
const sample = () => {
  const m = process.memoryUsage();
  if (m.rss > peakRss) atPeak = { external: m.external, arrayBuffers: m.arrayBuffers, heapTotal: m.heapTotal };
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
};
// Peak heap includes garbage not yet collected; the live heap (after a full GC, every 250 ms) is what
// the run actually holds. Needs --expose-gc.
const gc = (globalThis as { gc?: () => void }).gc;
const live = () => {
  if (!gc) return;
  gc();
  peakLive = Math.max(peakLive, process.memoryUsage().heapUsed);
};
// The first request leaving (undici's own channel): time to first request, from the command's start.
let firstRequest: number | undefined;
subscribe('undici:request:create', () => (firstRequest ??= performance.now()));
const timer = setInterval(sample, 10);
const liveTimer = setInterval(live, 250);
const sink = { write: () => true } as unknown as NodeJS.WritableStream;
const mode = process.env.BENCH_MODE === 'plan' ? 'plan' : 'run';
const args = mode === 'plan' ? ['plan', '--no-gitignore', '--max-file-kb', '16384', ...inputs] : ['run', '--prompt', 'Explain.', '--base-url', baseUrl, '--model', 'bench', '--out', outDir, '--concurrency', process.env.BENCH_CONCURRENCY ?? '16', '--no-gitignore', '--max-file-kb', '16384', '--no-cache', ...inputs];
const t0 = performance.now();
void main(args, { stdout: sink, stderr: sink, env: {}, cwd }).then((code) => {
  sample();
  clearInterval(timer);
  clearInterval(liveTimer);
  process.stdout.write(`${JSON.stringify({ code, peakRss, peakHeap, peakLive, atPeak, seconds: (performance.now() - t0) / 1000, firstRequestSeconds: firstRequest === undefined ? undefined : (firstRequest - t0) / 1000 })}\n`);
});
