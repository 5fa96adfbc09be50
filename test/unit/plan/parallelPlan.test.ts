// Planning in worker threads and the plan cache (#17): the plan is the in-thread plan, chunk for chunk.
import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ChunkPool, sharedText, textOfShared } from '../../../src/core/plan/chunkPool';
import { chunkText, refsOf } from '../../../src/core/plan/fileChunks';
import { IN_THREAD_CHARS, ParallelPlanner } from '../../../src/core/plan/parallelPlan';
import { createPlan, hashText, hashTextAsync, Planner, type Plan, type PlanOptions } from '../../../src/core/plan/plan';
import { entryProblem, PlanCache, planKey } from '../../../src/core/plan/planCache';
import { createTokenizer, getTokenizer, isEncodingLoaded, loadEncoding, type Tokenizer } from '../../../src/core/plan/tokenizer';
import type { SourceFile } from '../../../src/core/plan/types';
import { runCli, testCacheHome } from '../../support/cli';
import { estimatePlan } from '../../../src/core/estimate/planEstimate';
import { estimatePlanReduce } from '../../../src/core/reduce/estimate';
import { countedOffThread } from '../../../src/core/plan/offThreadCounts';
import { corpusSample, generatedFiles } from '../../support/editCorpus';
import { rng } from '../../support/random';

const tokenizer = getTokenizer();

/**
 * A smaller corpus than the bench's (which is 34 MB): a deterministic sample of the same real source,
 * the generated shapes of the edit tests, and long lines without whitespace (base64, minified code).
 */
function corpus(): SourceFile[] {
  const r = rng(7);
  const bytes = Buffer.alloc(60_000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256);
  return [
    ...corpusSample(40),
    ...generatedFiles(),
    { path: 'gen/base64.txt', text: bytes.toString('base64') },
    { path: 'gen/minified.js', text: 'function a(b){return b&&b.c?b.c(1):0}'.repeat(2000) },
  ];
}

const KINDS: { name: string; output?: PlanOptions['output'] }[] = [
  { name: 'text' },
  { name: 'findings', output: { kind: 'findings' } },
  { name: 'edit', output: { kind: 'edit' } },
];

function optionsOf(output?: PlanOptions['output']): PlanOptions {
  return { prompt: 'Review.', tokenizer, chunk: { chunkTokens: 400, overlapTokens: 40 }, pack: { chunksPerBatch: 3, maxBatchTokens: 4096 }, ...(output ? { output } : {}) };
}

async function parallelPlan(files: readonly SourceFile[], options: PlanOptions, services: ConstructorParameters<typeof ParallelPlanner>[1]): Promise<{ plan: Plan; planner: ParallelPlanner }> {
  const planner = new ParallelPlanner(options, services);
  for (const f of files) await planner.add(f);
  return { plan: await planner.finish(), planner };
}

describe('planning in worker threads and the plan cache (#17)', function () {
  this.timeout(120_000);
  const files = corpus();
  let pool: ChunkPool;
  let dir: string;

  before(() => {
    pool = new ChunkPool({ size: 2 });
    assert.ok(pool.available, 'dist/planWorker.js is built (node esbuild.js)');
  });
  after(() => pool.close());
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-plancache-'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  for (const kind of KINDS) {
    it(`${kind.name}: the pool's plan and the cache's plan are the in-thread plan (ids, ranges, counts, batches)`, async () => {
      const options = optionsOf(kind.output);
      const expected = createPlan(files, options);
      assert.ok(expected.totals.chunks > files.length, 'files span several chunks');
      if (kind.name === 'edit') assert.ok(expected.skipped!.length > 0, 'the base64 line is over an edit budget');

      const cache = new PlanCache(dir);
      const pooled = await parallelPlan(files, options, { pool, cache, inThreadChars: 0 });
      assert.deepStrictEqual(pooled.plan, expected);
      assert.deepStrictEqual(pooled.planner.counts, { cached: 0, inThread: 0, pooled: files.length });

      const cached = await parallelPlan(files, options, { pool, cache: new PlanCache(dir), inThreadChars: 0 });
      assert.deepStrictEqual(cached.plan, expected);
      assert.deepStrictEqual(cached.planner.counts, { cached: files.length, inThread: 0, pooled: 0 });
    });
  }

  /** A tokenizer of its own whose encoding loads are counted (the shared one may be loaded by other tests). */
  function spyTokenizer(): { tokenizer: Tokenizer; loads: () => number } {
    let loads = 0;
    const tokenizer = createTokenizer('o200k_base', { loader: (e) => (loads++, loadEncoding(e)) });
    return { tokenizer, loads: () => loads };
  }

  for (const kind of KINDS) {
    it(`${kind.name}: with encodingInThread 'never' (the editor), this thread never loads the encoding; the plan is the in-thread plan, fresh and from the cache`, async () => {
      const expected = createPlan(files, optionsOf(kind.output));
      const spy = spyTokenizer();
      const options = { ...optionsOf(kind.output), tokenizer: spy.tokenizer };
      const cache = new PlanCache(dir);
      const pooled = await parallelPlan(files, options, { pool, cache, encodingInThread: 'never' });
      assert.deepStrictEqual(pooled.plan, expected);
      assert.deepStrictEqual(pooled.planner.counts, { cached: 0, inThread: 0, pooled: files.length }, 'small files too go to the pool');
      const cached = await parallelPlan(files, options, { pool, cache: new PlanCache(dir), encodingInThread: 'never' });
      assert.deepStrictEqual(cached.plan, expected);
      assert.deepStrictEqual(cached.planner.counts, { cached: files.length, inThread: 0, pooled: 0 });
      assert.strictEqual(pooled.planner.countedInThread + cached.planner.countedInThread, 0);
      assert.strictEqual(spy.loads(), 0, 'the encoding was loaded in this thread');
      assert.strictEqual(isEncodingLoaded(spy.tokenizer), false);
    });
  }

  it("with encodingInThread 'if-loaded', chunks small files in this thread only once the encoding is loaded here", async () => {
    const spy = spyTokenizer();
    const options = { ...optionsOf(), tokenizer: spy.tokenizer };
    const services = { pool, inThreadChars: Number.MAX_SAFE_INTEGER, encodingInThread: 'if-loaded' as const };
    const before = await parallelPlan(files.slice(0, 5), options, services);
    assert.deepStrictEqual(before.planner.counts, { cached: 0, inThread: 0, pooled: 5 });
    assert.strictEqual(spy.loads(), 0);
    spy.tokenizer.count('x');
    const after = await parallelPlan(files.slice(0, 5), options, services);
    assert.deepStrictEqual(after.planner.counts, { cached: 0, inThread: 5, pooled: 0 });
    assert.deepStrictEqual(after.plan, before.plan);
    assert.strictEqual(spy.loads(), 1);
  });

  it('Estimate Run…: counted off the thread (through the pool), the estimate and the reduce estimate are the in-thread ones, the encoding never loaded here', async () => {
    const output = { kind: 'findings' } as const;
    const plan = createPlan(files, optionsOf(output));
    const spy = spyTokenizer();
    const counted = <T>(compute: (t: Tokenizer) => T) => countedOffThread(spy.tokenizer.encoding, (texts, e) => pool.count(texts, e), compute);
    const base = { prompt: 'Review.', pack: { chunksPerBatch: 3, maxBatchTokens: 4096, output }, limits: { concurrency: 4 }, prices: { inputCostPerMTok: 1, outputCostPerMTok: 2 }, read: dir };
    const expected = await estimatePlan(plan, { ...base, tokenizer });
    assert.deepStrictEqual(await estimatePlan(plan, { ...base, tokenizer: spy.tokenizer, counted }), expected);
    const reduce = (t: Tokenizer) => estimatePlanReduce(plan, { prompt: 'Combine.', tokenizer: t, outputRatio: 0.3, maxBatchTokens: 4096 });
    assert.deepStrictEqual(await counted(reduce), reduce(tokenizer));
    assert.strictEqual(spy.loads(), 0, 'the encoding was loaded in this thread');
  });

  it('hashes a large text in slices to the same sha256, a surrogate pair straddling a slice edge included', async () => {
    const text = 'ab😀cd😀'.repeat(1000) + 'é\n'.repeat(500);
    for (const slice of [1, 2, 3, 7, 1024]) assert.strictEqual(await hashTextAsync(text, slice), hashText(text), `slices of ${slice}`);
    // In pieces (cut between characters, as decodePieces cuts): the hash of their concatenation.
    const pieces = [text.slice(0, 4), text.slice(4, 1001), text.slice(1001)];
    assert.strictEqual(pieces.join(''), text);
    for (const slice of [1, 5, 100_000]) assert.strictEqual(await hashTextAsync(pieces, slice), hashText(text), `pieces, slices of ${slice}`);
    assert.strictEqual(await hashTextAsync(''), hashText(''));
  });

  it('re-chunks only a file changed by one byte; its old entry is never used', async () => {
    const options = optionsOf();
    const cache = new PlanCache(dir);
    await parallelPlan(files, options, { pool, cache, inThreadChars: 0 });
    const k = 3;
    const old = files[k].text;
    const i = Math.floor(old.length / 2);
    const changed = files.map((f, j) => (j === k ? { path: f.path, text: old.slice(0, i) + (old[i] === 'x' ? 'y' : 'x') + old.slice(i + 1) } : f));
    assert.strictEqual(changed[k].text.length, old.length);
    const again = await parallelPlan(changed, options, { pool, cache: new PlanCache(dir), inThreadChars: 0 });
    assert.deepStrictEqual(again.planner.counts, { cached: files.length - 1, inThread: 0, pooled: 1 });
    assert.deepStrictEqual(again.plan, createPlan(changed, options));
  });

  it('keys by every chunk parameter and the output kind', () => {
    const base = new Planner(optionsOf()).chunkParams;
    const h = hashText('x');
    const keys = new Set([
      planKey(h, base),
      planKey(hashText('y'), base),
      planKey(h, { ...base, encoding: 'cl100k_base' }),
      planKey(h, { ...base, chunkTokens: base.chunkTokens + 1 }),
      planKey(h, { ...base, overlapTokens: base.overlapTokens + 1 }),
      planKey(h, { ...base, lineNumbers: true }),
      planKey(h, { ...base, edit: true }),
      planKey(h, { ...base, kind: 'json' }),
    ]);
    assert.strictEqual(keys.size, 8);
  });

  it('ignores a corrupt or forged entry and chunks the file again', async () => {
    const options = optionsOf();
    const params = new Planner(options).chunkParams;
    const file = files.find((f) => f.text.split('\n').length > 50 && chunkText(f.text, params).spans!.length > 14)!;
    const good = chunkText(file.text, params).spans!;
    const hash = hashText(file.text);
    const key = planKey(hash, params);
    const cache = new PlanCache(dir);
    const entryFile = cache.entryPath(key);
    const base = { v: 1, key, chars: file.text.length, spans: good };
    const shift = (field: number, by: number) => good.map((n, j) => (j === field ? n + by : n));
    const corrupt: [string, string][] = [
      ['not JSON', '{"v":1,'],
      ['null', 'null'],
      ['another key', JSON.stringify({ ...base, key: '0'.repeat(64) })],
      ['another length', JSON.stringify({ ...base, chars: file.text.length + 1 })],
      ['spans not an array', JSON.stringify({ ...base, spans: 'x' })],
      ['a fractional offset', JSON.stringify({ ...base, spans: good.map((n, j) => (j === 1 ? n + 0.5 : n)) })],
      ['a chunk past the end', JSON.stringify({ ...base, spans: [...good.slice(0, -7), good.at(-7)!, file.text.length + 5, ...good.slice(-5)] })],
      ['a gap between chunks', JSON.stringify({ ...base, spans: shift(1, -1) })],
      ['a wrong line range', JSON.stringify({ ...base, spans: shift(3, 1) })],
      ['a count over the budget', JSON.stringify({ ...base, spans: shift(6, 100_000) })],
      ['a count of zero', JSON.stringify({ ...base, spans: shift(6, -good[6]) })],
      ['a trailing context outside an edit run', JSON.stringify({ ...base, spans: shift(5, 1) })],
      ['a skip outside an edit run', JSON.stringify({ v: 1, key, chars: file.text.length, skipped: 'no' })],
      ['the last chunk dropped', JSON.stringify({ ...base, spans: good.slice(0, -7) })],
    ];
    const expected = createPlan([file], options);
    for (const [what, content] of corrupt) {
      await fs.mkdir(path.dirname(entryFile), { recursive: true });
      await fs.writeFile(entryFile, content);
      const reader = new PlanCache(dir);
      assert.strictEqual(await reader.get(file.text, hash, params), undefined, what);
      const again = await parallelPlan([file], options, { cache: new PlanCache(dir) });
      assert.deepStrictEqual(again.planner.counts, { cached: 0, inThread: 1, pooled: 0 }, what);
      assert.deepStrictEqual(again.plan, expected, what);
    }
    // The good entry is used, and it was re-written by the last plan.
    assert.deepStrictEqual(await new PlanCache(dir).get(file.text, hash, params), { spans: good });
    assert.strictEqual(entryProblem({ ...base }, key, file.text, params), undefined);
  });

  it('checks every line range of an entry, also where a chunk starts before the one it follows', () => {
    const params = new Planner(optionsOf()).chunkParams;
    const file = files.find((f) => f.text.split('\n').length > 50 && chunkText(f.text, params).spans!.length > 14)!;
    const good = chunkText(file.text, params).spans!;
    const key = planKey(hashText(file.text), params);
    const entry = (spans: number[]) => ({ v: 1, key, chars: file.text.length, spans });
    assert.strictEqual(entryProblem(entry(good), key, file.text, params), undefined);
    // Each chunk's start and end line, one at a time, off by one: refused (the last chunk's too).
    const last = good.length - 7;
    const middle = 7 * Math.floor(good.length / 14);
    assert.ok(middle > 7 && middle < last);
    for (const field of [2, 3, middle + 2, middle + 3, last + 2, last + 3]) {
      for (const by of [-1, 1]) {
        const spans = good.map((n, j) => (j === field ? n + by : n));
        assert.strictEqual(entryProblem(entry(spans), key, file.text, params), 'a wrong line range', `field ${field} ${by}`);
      }
    }
    // A third chunk overlapping the two before it starts before the second: its lines are still checked.
    const text = 'a\nb\nc\nd\n';
    const small = planKey(hashText(text), params);
    const third = (startLine: number, endLine: number) => ({ v: 1, key: small, chars: text.length, spans: [0, 2, 1, 1, 0, -1, 1, 2, 4, 2, 2, 0, -1, 1, 0, 8, startLine, endLine, 4, -1, 3] });
    assert.strictEqual(entryProblem(third(1, 4), small, text, params), undefined);
    assert.strictEqual(entryProblem(third(2, 4), small, text, params), 'a wrong line range');
    assert.strictEqual(entryProblem(third(1, 3), small, text, params), 'a wrong line range');
  });

  it('stays in this thread for small plans and with a tokenizer of its own', async () => {
    const options = optionsOf();
    const small = await parallelPlan(files, options, { pool, inThreadChars: Number.MAX_SAFE_INTEGER });
    assert.deepStrictEqual(small.planner.counts, { cached: 0, inThread: files.length, pooled: 0 });
    // A first file larger than the threshold goes to the pool (it would block this thread).
    const big = files.reduce((a, b) => (b.text.length > a.text.length ? b : a));
    const tiny = files.find((f) => f.text.length < 1000)!;
    const first = await parallelPlan([tiny, big], options, { pool, inThreadChars: big.text.length - 1 });
    assert.deepStrictEqual(first.planner.counts, { cached: 0, inThread: 1, pooled: 1 });
    const mine = createTokenizer();
    const own = await parallelPlan(files, { ...options, tokenizer: { encoding: mine.encoding, count: (t) => mine.count(t) } }, { pool, inThreadChars: 0 });
    assert.deepStrictEqual(own.planner.counts, { cached: 0, inThread: files.length, pooled: 0 });
    assert.deepStrictEqual(own.plan, createPlan(files, options));
  });

  it('with helpInThread (the CLI), this thread chunks while every worker is busy; the plan is the same', async () => {
    const options = optionsOf();
    const one = new ChunkPool({ size: 1 });
    const helped = await parallelPlan(files, options, { pool: one, inThreadChars: 0, helpInThread: true });
    await one.close();
    assert.ok(helped.planner.counts.pooled >= 1 && helped.planner.counts.inThread >= 1, JSON.stringify(helped.planner.counts));
    assert.deepStrictEqual(helped.plan, createPlan(files, options));
  });

  it('posts a large text through shared memory, unchanged (lone surrogates, pairs at slice edges)', async () => {
    const text = files.map((f) => f.text).join('\n') + '\ud800 x 😀 \udfff\n'.repeat(300);
    assert.strictEqual(textOfShared(await sharedText(text, 7)), text);
    const pieces = [text.slice(0, 10), text.slice(10, 5000), '', text.slice(5000)];
    assert.strictEqual(textOfShared(await sharedText(pieces, 7)), text);
    const shared = new ChunkPool({ size: 1, sharedTextChars: 1000 });
    const params = new Planner(optionsOf()).chunkParams;
    assert.deepStrictEqual(await shared.chunk(text, params), chunkText(text, params));
    assert.deepStrictEqual(await shared.chunk(text, params, pieces), chunkText(text, params));
    await shared.close();
    const big = files.filter((f) => f.text.length > 1000);
    assert.ok(big.length > 3);
    const sharedPool = new ChunkPool({ size: 1, sharedTextChars: 1000 });
    // Files given in pieces too (as collectFiles gives a large file): the same plan.
    const inPieces = files.map((f) => ({ ...f, pieces: [f.text.slice(0, f.text.length >> 1), f.text.slice(f.text.length >> 1)] }));
    const plan = await parallelPlan(inPieces, optionsOf(), { pool: sharedPool, encodingInThread: 'never' });
    await sharedPool.close();
    assert.deepStrictEqual(plan.plan, createPlan(files, optionsOf()));
  });

  it('rebuilds the refs of a chunking exactly', () => {
    const params = new Planner(optionsOf({ kind: 'edit' })).chunkParams;
    const f = files[0];
    const c = chunkText(f.text, params);
    assert.ok(c.spans && c.spans.length > 0);
    const refs = refsOf(c.spans, f.path, 4);
    assert.ok(refs.every((r) => r.id.startsWith('5.') && r.path === f.path && typeof r.trailing === 'number'));
  });

  it('ends its workers when idle, without holding the process', async () => {
    const idle = new ChunkPool({ size: 2, idleMs: 20 });
    const params = new Planner(optionsOf()).chunkParams;
    const results = await Promise.all(files.slice(0, 6).map((f) => idle.chunk(f.text, params)));
    assert.deepStrictEqual(results, files.slice(0, 6).map((f) => chunkText(f.text, params)));
    assert.ok(idle.started >= 1 && idle.started <= 2, `started ${idle.started}`);
    // Hang guard only: the pool ends its workers on its own.
    for (let i = 0; idle.workers > 0 && i < 1000; i++) await new Promise((r) => setTimeout(r, 10));
    assert.strictEqual(idle.workers, 0);
    // The next task starts a worker again.
    assert.deepStrictEqual(await idle.chunk(files[0].text, params), chunkText(files[0].text, params));
    await idle.close();
  });

  it('rejects a chunker error from a worker, and a dead worker fails only its tasks', async () => {
    const p = new ChunkPool({ size: 1 });
    const params = { ...new Planner(optionsOf()).chunkParams, chunkTokens: 1 };
    await assert.rejects(p.chunk('abc', params), /chunkTokens must be an integer/);
    await p.close();
    await assert.rejects(new ChunkPool({ workerFile: path.join(dir, 'missing.js'), size: 1 }).chunk('abc', params), /planning worker exited|Cannot find module/);
  });

  it('the CLI plans through the pool and the plan cache, and exits', async () => {
    const ws = path.join(dir, 'ws');
    let chars = 0;
    for (const f of files) {
      await fs.mkdir(path.join(ws, 'src', path.dirname(f.path)), { recursive: true });
      await fs.writeFile(path.join(ws, 'src', f.path), f.text);
      chars += f.text.length;
    }
    const filler = corpusSample(400).map((f) => f.text).join('\n').repeat(4);
    await fs.writeFile(path.join(ws, 'src', 'filler.ts'), filler);
    chars += filler.length;
    assert.ok(chars > IN_THREAD_CHARS, `more than a small plan: ${chars}`);
    const first = await runCli(['plan', '--prompt', 'Review.', '--chunk-tokens', '400', 'src'], ws);
    assert.strictEqual(first.code, 0, first.stderr);
    const entries = (await fs.readdir(path.join(testCacheHome(ws), 'batch-prompt', 'plans'), { recursive: true })).filter((n) => String(n).endsWith('.json'));
    assert.ok(entries.length >= files.length - 1, `${entries.length} entries`);
    const second = await runCli(['plan', '--prompt', 'Review.', '--chunk-tokens', '400', 'src'], ws);
    assert.strictEqual(second.code, 0, second.stderr);
    assert.strictEqual(second.stdout, first.stdout);
    await fs.rm(testCacheHome(ws), { recursive: true, force: true });
  });
});
