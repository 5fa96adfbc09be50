import * as assert from 'assert';
import { spawnSync } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ResultCache, resultKey, type ResultKeyParts } from '../../src/core/resultCache';

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
