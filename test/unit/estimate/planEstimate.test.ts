import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chunkResultKey, findCachedChunks } from '../../../src/core/store/cachedChunks';
import { renderEstimateMarkdown } from '../../../src/core/estimate/estimateRender';
import { requestOverhead } from '../../../src/core/plan/packer';
import { createPlan, FileChunkSource, type FileReader } from '../../../src/core/plan/plan';
import { buildEstimate, estimatePlan, outputTokensOf } from '../../../src/core/estimate/planEstimate';
import { ResultCache } from '../../../src/core/store/resultCache';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { SourceFile } from '../../../src/core/plan/types';
import { ref } from '../../support/runFixtures';

const tokenizer = getTokenizer();
const prompt = 'Summarise each chunk in one line.';
const files: SourceFile[] = [
  { path: 'a.ts', text: 'export const alpha = 1;\n'.repeat(40) },
  { path: 'b.ts', text: 'let beta = 2;\n'.repeat(10) },
  { path: 'c.md', text: '# Gamma\n\nSome prose here.\n' },
];
const pack = { chunksPerBatch: 2, maxBatchTokens: 32768 };
const model = { id: 'e1', provider: 'openai', model: 'm', baseUrl: 'http://127.0.0.1:1/v1' };
const reader: FileReader = async (p) => files.find((f) => f.path === p)!.text;

function plan() {
  return createPlan(files, { prompt, tokenizer, chunk: { chunkTokens: 64, overlapTokens: 0 }, pack });
}

describe('estimate: plan estimate and cached chunks', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-estimate-'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('counts the chunks whose result is cached, by the key a run stores under, without refreshing the entries', async () => {
    const p = plan();
    const a = p.files.find((f) => f.path === 'a.ts')!;
    assert.ok(a.chunks.length >= 2, 'a.ts has several chunks');
    const cache = new ResultCache(path.join(dir, 'cache'));
    const source = new FileChunkSource(reader, p.files);
    for (const c of a.chunks) await cache.put(chunkResultKey({ prompt, model }, c, await source.text(c)), `out ${c.id}`);
    // An entry for another prompt or another reply limit is not this run's.
    const b = p.files.find((f) => f.path === 'b.ts')!.chunks[0];
    await cache.put(chunkResultKey({ prompt: 'other', model }, b, await source.text(b)), 'x');
    await cache.put(chunkResultKey({ prompt, model, maxOutputTokens: 10 }, b, await source.text(b)), 'x');
    const old = new Date('2020-01-01T00:00:00Z');
    const entryFiles = (await fs.readdir(cache.dir, { recursive: true })).map(String).filter((f) => f.endsWith('.json'));
    for (const f of entryFiles) await fs.utimes(path.join(cache.dir, f), old, old);

    const hits = await findCachedChunks(p.files.flatMap((f) => f.chunks), source, cache, { prompt, model });
    assert.deepStrictEqual([...hits].sort(), a.chunks.map((c) => c.id).sort());
    for (const f of entryFiles) assert.strictEqual((await fs.stat(path.join(cache.dir, f))).mtimeMs, old.getTime(), `${f} untouched`);
    // A file that cannot be read is not cached.
    const gone = await findCachedChunks(a.chunks, new FileChunkSource(async () => Promise.reject(Object.assign(new Error('gone'), { code: 'ENOENT' })), p.files), cache, { prompt, model });
    assert.strictEqual(gone.size, 0);
  });

  it('estimates what a run would send: the chunks not cached, repacked, their tokens, output, cost and both modes', async () => {
    const p = plan();
    const a = p.files.find((f) => f.path === 'a.ts')!;
    const cache = new ResultCache(path.join(dir, 'cache'));
    const source = new FileChunkSource(reader, p.files);
    for (const c of a.chunks) await cache.put(chunkResultKey({ prompt, model }, c, await source.text(c)), 'o');
    const e = await estimatePlan(p, {
      prompt,
      tokenizer,
      pack,
      limits: { concurrency: 4, rpm: 30 },
      prices: { inputCostPerMTok: 2, outputCostPerMTok: 8 },
      runsRoot: path.join(dir, 'no-runs'),
      read: reader,
      model,
      cache,
    });
    const left = p.totals.chunks - a.chunks.length;
    assert.deepStrictEqual(e.cached, { chunks: a.chunks.length });
    assert.strictEqual(e.toSend.chunks, left);
    // One chunk per streamed request; two per packed request (all chunks are small).
    assert.strictEqual(e.comparison.stream.requests, left);
    assert.strictEqual(e.comparison.packed.requests, Math.ceil(left / 2));
    assert.strictEqual(e.toSend.requests, Math.ceil(left / 2));
    assert.strictEqual(e.planned.requests, p.totals.requests);
    // The prompt, instructions and framing, repeated per request.
    assert.strictEqual(e.comparison.stream.repeatedPromptTokens, requestOverhead(prompt, tokenizer, 1) * left);
    assert.strictEqual(e.comparison.packed.repeatedPromptTokens, requestOverhead(prompt, tokenizer, 2) * Math.ceil(left / 2));
    // No recent run: 1 output token per chunk token, all of the chunks' tokens.
    const chunkTokens = p.files.filter((f) => f.path !== 'a.ts').reduce((n, f) => n + f.tokens, 0);
    assert.strictEqual(e.toSend.outputTokens, chunkTokens);
    assert.strictEqual(e.output.measured, false);
    assert.strictEqual(e.latency.measured, false);
    assert.strictEqual(e.cost.dollars, (e.toSend.inputTokens * 2 + e.toSend.outputTokens * 8) / 1e6);
    assert.strictEqual(e.time.seconds, e.comparison.packed.lastResultSeconds);

    const md = renderEstimateMarkdown(e);
    assert.match(md, new RegExp(`\\| Cached \\| ${a.chunks.length} of ${p.totals.chunks} chunks \\(not sent again\\) \\|`));
    assert.match(md, new RegExp(`\\| Requests \\| ${e.toSend.requests} to send \\(${p.totals.requests} planned, less the cached chunks\\) \\|`));
    assert.match(md, /\| Output tokens \| about \d+ \(no recent run of this prompt: assumed 1 output token per chunk token/);
    assert.match(md, /\| Latency \| no recent runs of e1: assumed 0\.5 s to the first token, then 50 output tokens\/s \|/);
    assert.match(md, /\| Cost \| \$0\.\d+ \(input \$0\.\d+, output \$0\.\d+\) \|/);
    assert.match(md, /\| Time \| about [\d.]+ s \(first result after [\d.]+ s; [\d.]+ s per request, [\d.]+ requests\/min, set by (concurrency 4|the RPM budget \(30\))\) \|/);
    assert.match(md, new RegExp(`\\| Requests \\| ${left} \\| ${Math.ceil(left / 2)} \\|`));
    assert.match(md, /\| Prompt tokens repeated \| [\d,]+ \(\d+ × \d+\) \| [\d,]+ \(\d+ × \d+\) \|/);
    assert.match(md, /\*\*Recommendation:\*\* (stream one chunk per request|pack 2 chunks per request) \(batchPrompt\.chunksPerBatch [12]\), concurrency \d+ \(batchPrompt\.maxConcurrency \d+\): .+; concurrency: .+\./);
    assert.match(md, /### Assumptions\n\n- A request takes the time to its first token/);
  });

  it('without a model or a prompt the cache is not looked up, and the estimate says why', async () => {
    const p = plan();
    const e = await estimatePlan(p, { prompt: '', tokenizer, pack, limits: { concurrency: 4 }, prices: {}, read: reader, cache: new ResultCache(path.join(dir, 'cache')) });
    assert.deepStrictEqual(e.cached, { unknown: 'no prompt' });
    assert.strictEqual(e.toSend.chunks, p.totals.chunks);
    assert.match(e.cost.text, /n\/a/);
    assert.match(renderEstimateMarkdown(e), /\| Cached \| unknown \(no prompt\) \|/);
    const off = await estimatePlan(p, { prompt, tokenizer, pack, limits: { concurrency: 4 }, prices: {}, read: reader, model, cacheNote: 'the cache is off (batchPrompt.useCache)' });
    assert.deepStrictEqual(off.cached, { unknown: 'the cache is off (batchPrompt.useCache)' });
  });

  it('compares packing at the default size when the configuration sends one chunk per request', () => {
    const p = createPlan(files, { prompt, tokenizer, chunk: { chunkTokens: 64, overlapTokens: 0 }, pack: { chunksPerBatch: 1, maxBatchTokens: 32768 } });
    const e = buildEstimate({ plan: p, prompt, tokenizer, pack: { chunksPerBatch: 1, maxBatchTokens: 32768 }, limits: { concurrency: 2 }, prices: {}, latency: { latency: { ttftSeconds: 0.5, outputTokensPerSecond: 50, measured: false }, source: 's' }, output: { ratio: 1, measured: false, source: 'o' } });
    assert.strictEqual(e.comparison.stream.chunksPerBatch, 1);
    assert.strictEqual(e.comparison.packed.chunksPerBatch, 4);
    assert.strictEqual(e.toSend.requests, p.totals.chunks, 'the run itself is the one-chunk mode');
  });

  it('caps each request\'s output at the reply limit', () => {
    // Chunks of 5 tokens: batches of 10 and 5 chunk tokens at 0.5 → 5 and 2.5 (rounds to 3); capped at 4 → 4 + 3.
    const batches = [
      { id: 'b1', tokens: 0, chunks: [ref('1.1', 'a', 1), ref('1.2', 'a', 3)] },
      { id: 'b2', tokens: 0, chunks: [ref('2.1', 'b', 1)] },
    ];
    assert.strictEqual(outputTokensOf(batches, 0.5), 5 + 3);
    assert.strictEqual(outputTokensOf(batches, 0.5, 4), 4 + 3);
  });
});
