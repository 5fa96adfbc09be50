import * as assert from 'assert';
import { spawnSync } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createPlan } from '../../../src/core/plan/plan';
import { ResultCache, resultKey, type ResultKeyParts } from '../../../src/core/store/resultCache';
import { TOUCH_AFTER_MS } from '../../../src/core/store/entryFolder';
import { runPlan } from '../../../src/core/session/run';
import { readRecords } from '../../../src/core/store/runStore';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import { OpenAICompatibleModel } from '../../../src/providers/openaiCompatible';
import { ModelServer } from '../../support/modelServer';

const base: ResultKeyParts = {
  prompt: 'Summarise.',
  model: { id: 'openai-main', provider: 'openai', baseUrl: 'https://api.example/v1', model: 'gpt-x' },
  generation: { maxOutputTokens: 1000 },
  path: 'src/a.ts',
  text: 'export const a = 1;\n',
};

/** A process id that no process has any more. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

async function files(dir: string): Promise<string[]> {
  return (await fs.readdir(dir, { recursive: true })).map(String).sort();
}

describe('result cache', () => {
  let dir = '';
  beforeEach(async () => (dir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'bp-cache-')), 'cache')));
  afterEach(() => fs.rm(path.dirname(dir), { recursive: true, force: true }));

  it('keys on prompt, model, generation parameters, path and text, and nothing else', () => {
    const k = resultKey(base);
    assert.match(k, /^[0-9a-f]{64}$/);
    assert.strictEqual(resultKey({ ...base, model: { ...base.model } }), k, 'deterministic');
    const variants: ResultKeyParts[] = [
      { ...base, prompt: 'Summarise!' },
      { ...base, model: { ...base.model, id: 'other' } },
      { ...base, model: { ...base.model, baseUrl: 'https://other.example/v1' } },
      { ...base, model: { ...base.model, model: 'gpt-y' } },
      { ...base, model: { ...base.model, provider: 'azure' } },
      { ...base, generation: { maxOutputTokens: 2000 } },
      { ...base, generation: { maxOutputTokens: 1000, temperature: 0.5 } },
      { ...base, path: 'src/b.ts' },
      { ...base, text: 'export const a = 2;\n' },
    ];
    const keys = new Set([k, ...variants.map(resultKey)]);
    assert.strictEqual(keys.size, variants.length + 1, 'every part changes the key');
  });

  it('stores and returns outputs atomically; the entry holds the output only, never the prompt or the text', async () => {
    const cache = new ResultCache(dir);
    const key = resultKey(base);
    assert.strictEqual(await cache.get(key), undefined);
    await cache.put(key, 'OUTPUT ✓\n');
    assert.strictEqual(await cache.get(key), 'OUTPUT ✓\n');
    const all = await files(dir);
    assert.ok(!all.some((f) => f.includes('.tmp-')), all.join(','));
    assert.ok(all.includes('.gitignore'), 'kept out of git and of file selections');
    const entry = await fs.readFile(path.join(dir, key.slice(0, 2), `${key}.json`), 'utf8');
    assert.ok(!entry.includes(base.prompt) && !entry.includes(base.text), entry);
    await fs.writeFile(path.join(dir, key.slice(0, 2), `${key}.json`), '{"v":1,"key":"x","output":"forged"}');
    assert.strictEqual(await cache.get(key), undefined, 'an entry for another key is a miss');
  });

  it('evicts the least recently used entries beyond the entry bound; a hit counts as a use', async () => {
    const cache = new ResultCache(dir, { maxEntries: 3 });
    const keys = ['a', 'b', 'c', 'd', 'e'].map((t) => resultKey({ ...base, text: t }));
    for (const [i, k] of keys.entries()) {
      await cache.put(k, `out ${i}`);
      const t = new Date(Date.UTC(2025, 0, 1, 0, i));
      await fs.utimes(path.join(dir, k.slice(0, 2), `${k}.json`), t, t);
    }
    assert.strictEqual(await cache.get(keys[0]), 'out 0'); // now the most recently used
    const r = await cache.prune();
    assert.deepStrictEqual(r, { entries: 3, bytes: r.bytes, evicted: 2 });
    assert.deepStrictEqual(await Promise.all(keys.map((k) => cache.get(k))), ['out 0', undefined, undefined, 'out 3', 'out 4']);
  });

  it("a hit refreshes the entry's time at most once an hour, so a re-run of a warm cache writes nothing; peek never", async () => {
    const cache = new ResultCache(dir);
    const key = resultKey({ ...base, text: 'hourly' });
    await cache.put(key, 'out');
    const file = path.join(dir, key.slice(0, 2), `${key}.json`);
    const at = async (t: number) => {
      await fs.utimes(file, new Date(t), new Date(t));
      return Math.round((await fs.stat(file)).mtimeMs);
    };
    const recent = await at(Date.now() - 10 * 60_000);
    assert.strictEqual(await cache.get(key), 'out');
    assert.strictEqual(Math.round((await fs.stat(file)).mtimeMs), recent, 'used 10 minutes ago: not touched');
    const old = await at(Date.now() - TOUCH_AFTER_MS - 60_000);
    assert.strictEqual(await cache.peek(key), 'out');
    assert.strictEqual(Math.round((await fs.stat(file)).mtimeMs), old, 'a peek is no use');
    assert.strictEqual(await cache.get(key), 'out');
    assert.ok((await fs.stat(file)).mtimeMs > old + TOUCH_AFTER_MS, 'used over an hour ago: touched');
    const ahead = await at(Date.now() + 24 * TOUCH_AFTER_MS);
    await cache.get(key);
    assert.ok((await fs.stat(file)).mtimeMs < ahead, 'a time ahead of the clock is set right');
  });

  it('an entry larger than the bound, or a FIFO in its place, is a miss, read no further', async () => {
    const cache = new ResultCache(dir, { maxBytes: 1000 });
    const big = resultKey({ ...base, text: 'big' });
    await cache.put(big, 'x'.repeat(2000));
    assert.strictEqual(await cache.peek(big), undefined, 'over the bound: not read');
    assert.strictEqual(await cache.get(big), undefined);
    assert.strictEqual(await new ResultCache(dir).get(big), 'x'.repeat(2000), 'within a larger bound: read');
    const fifo = resultKey({ ...base, text: 'fifo' });
    const file = path.join(dir, fifo.slice(0, 2), `${fifo}.json`);
    await fs.mkdir(path.dirname(file), { recursive: true });
    assert.strictEqual(spawnSync('mkfifo', [file]).status, 0);
    assert.strictEqual(await cache.get(fifo), undefined, 'a FIFO neither hangs nor answers');
    assert.strictEqual(await cache.peek(fifo), undefined);
  });

  it('keeps its size under the byte bound', async () => {
    const cache = new ResultCache(dir, { maxBytes: 3000 });
    for (let i = 0; i < 10; i++) {
      const k = resultKey({ ...base, text: String(i) });
      await cache.put(k, 'x'.repeat(900));
      const t = new Date(Date.UTC(2025, 0, 1, 0, i));
      await fs.utimes(path.join(dir, k.slice(0, 2), `${k}.json`), t, t);
    }
    await cache.prune();
    const s = await cache.stats();
    assert.ok(s.bytes <= 3000 && s.entries >= 2, JSON.stringify(s));
    assert.strictEqual(await cache.get(resultKey({ ...base, text: '9' })), 'x'.repeat(900), 'the newest stays');
  });

  it('prune removes the temporary files of dead writers only; clear removes everything', async () => {
    const cache = new ResultCache(dir);
    const key = resultKey(base);
    await cache.put(key, 'x');
    const shard = path.join(dir, key.slice(0, 2));
    await fs.writeFile(path.join(shard, `${key}.json.tmp-${deadPid()}-1`), 'half');
    await fs.writeFile(path.join(shard, `${key}.json.tmp-${process.pid}-999`), 'in progress');
    await cache.prune();
    const left = await files(shard);
    assert.deepStrictEqual(left, [`${key}.json`, `${key}.json.tmp-${process.pid}-999`]);
    assert.strictEqual(await cache.clear(), 1);
    await assert.rejects(fs.access(dir));
    assert.strictEqual(await cache.get(key), undefined);
  });
});

describe('result cache in runs', function () {
  this.timeout(20_000);
  const server = new ModelServer();
  const tokenizer = getTokenizer();
  let baseUrl = '';
  let ws = '';
  before(async () => (baseUrl = await server.start()));
  after(() => server.stop());
  beforeEach(async () => (ws = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-cache-run-'))));
  afterEach(() => fs.rm(ws, { recursive: true, force: true }));

  it('a run stores each success, stays within the bound, and a second run sends only what was evicted', async () => {
    const files = Array.from({ length: 6 }, (_, i) => ({ path: `f${i}.txt`, text: `file ${i}\n`.repeat(3) }));
    for (const f of files) await fs.writeFile(path.join(ws, f.path), f.text);
    const plan = createPlan(files, { prompt: 'P', tokenizer, chunk: { chunkTokens: 256, overlapTokens: 0 }, pack: { chunksPerBatch: 2, maxBatchTokens: 32768 } });
    const model = new OpenAICompatibleModel({ baseUrl, model: 'm' });
    const cache = new ResultCache(path.join(ws, 'cache'), { maxEntries: 4 });
    const parameters = { maxConcurrency: 1, maxRetries: 0, requestTimeoutMs: 10_000, chunkTokens: 256, overlapTokens: 0, chunksPerBatch: 2, maxBatchTokens: 32768 };
    const run = (name: string) => runPlan(plan, { root: ws, dir: path.join(ws, 'runs', name), prompt: 'P', model, modelInfo: { id: 'm', provider: 'openai', baseUrl, model: 'm' }, tokenizer, parameters, cache });
    await run('1');
    assert.strictEqual(server.sentChunkIds().length, 6);
    assert.strictEqual((await cache.stats()).entries, 4, 'pruned to the bound after the run');
    server.requests.length = 0;
    const second = await run('2');
    assert.strictEqual(second.summary.status, 'succeeded');
    assert.strictEqual(second.summary.cached, 4);
    assert.strictEqual(server.sentChunkIds().length, 2, 'only the evicted results are sent again');
    assert.strictEqual(server.requests.length, 1, 'packed again: the two chunks go in one request');
    const recs = await readRecords(path.join(ws, 'runs/2'));
    assert.strictEqual(recs.filter((r) => r.cached).length, 4);
  });
});
