// Incremental re-runs through the CLI: after editing one file of a hundred, only its chunks are sent;
// the others come from the result cache, marked as such in run.jsonl, with the same outputs.
import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { RunRecord, RunSummary } from '../../../src/core/store/runStore';
import { defaultOutput, ModelServer } from '../../support/modelServer';
import { runCli, testCacheHome } from '../../support/cli';

const KEY = 'sk-cache-SECRET-0123456789';
const cli = (args: string[], cwd: string) => runCli(args, cwd, { OPENAI_API_KEY: KEY });

async function tree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const n of (await fs.readdir(dir, { recursive: true })).map(String).sort()) {
    const p = path.join(dir, n);
    if ((await fs.stat(p)).isFile()) out.set(n.split(path.sep).join('/'), await fs.readFile(p, 'utf8'));
  }
  return out;
}

async function records(dir: string): Promise<RunRecord[]> {
  return (await fs.readFile(path.join(dir, 'run.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as RunRecord);
}

describe('result cache: incremental re-runs (CLI, local model server)', function () {
  this.timeout(60_000);
  const server = new ModelServer();
  let baseUrl = '';
  let ws = '';
  const FILES = 100;
  const name = (i: number) => `src/m${String(i).padStart(3, '0')}.txt`;
  const run = (out: string, ...extra: string[]) => cli(['run', '--prompt', 'Upper-case it.', '--base-url', baseUrl, '--model', 'm', '--out', out, '--chunk-tokens', '48', '--overlap', '0', '--chunks-per-batch', '4', ...extra, 'src'], ws);

  before(async () => {
    baseUrl = await server.start();
    ws = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-cache-cli-'));
    for (let i = 0; i < FILES; i++) {
      await fs.mkdir(path.join(ws, 'src'), { recursive: true });
      await fs.writeFile(path.join(ws, name(i)), `module ${i}\n${'some words here '.repeat(1 + (i % 7))}\nend ${i}\n`);
    }
  });
  after(async () => {
    await server.stop();
    await fs.rm(ws, { recursive: true, force: true });
    await fs.rm(testCacheHome(ws), { recursive: true, force: true });
  });

  it('sends only the chunks of the edited file; the rest come from the cache with identical outputs', async () => {
    const first = await run('runs/1');
    assert.strictEqual(first.code, 0, first.stderr);
    const sentFirst = server.sentChunkIds().length;
    assert.ok(sentFirst >= FILES, `${sentFirst} chunks sent`);
    const outputs1 = await tree(path.join(ws, 'runs/1/outputs'));
    assert.ok((await records(path.join(ws, 'runs/1'))).every((r) => !r.cached), 'nothing cached on the first run');

    // Unchanged: nothing is sent.
    server.requests.length = 0;
    const same = await run('runs/2');
    assert.strictEqual(same.code, 0, same.stderr);
    assert.strictEqual(server.requests.length, 0, 'an unchanged re-run sends nothing');
    assert.match(same.stdout, new RegExp(`${sentFirst} succeeded \\(${sentFirst} from the cache\\)`));
    assert.deepStrictEqual(await tree(path.join(ws, 'runs/2/outputs')), outputs1);

    // One file edited: only its chunks go out.
    const edited = name(42);
    const text = `module 42, edited\n${'other words there '.repeat(9)}\nend\n`;
    await fs.writeFile(path.join(ws, edited), text);
    server.requests.length = 0;
    const third = await run('runs/3');
    assert.strictEqual(third.code, 0, third.stderr);
    const sent = server.requests.flatMap((q) => q.chunks).sort((a, b) => Number(a.id.split('.')[1]) - Number(b.id.split('.')[1]));
    assert.ok(sent.length > 0);
    assert.deepStrictEqual([...new Set(sent.map((c) => c.path))], [edited], 'only the edited file is sent');
    assert.strictEqual(sent.map((c) => c.text).join(''), text, "all of the edited file's chunks, once");

    const recs = await records(path.join(ws, 'runs/3'));
    for (const r of recs) {
      assert.strictEqual(r.status, 'succeeded');
      if (r.path === edited) {
        assert.ok(!r.cached, `${r.chunkId} was sent`);
      } else {
        assert.strictEqual(r.cached, true, `${r.chunkId} is marked cached`);
        assert.deepStrictEqual([r.inputTokens, r.outputTokens, r.attempts], [0, 0, 0]);
      }
    }
    const summary = JSON.parse(await fs.readFile(path.join(ws, 'runs/3/summary.json'), 'utf8')) as RunSummary;
    assert.strictEqual(summary.cached, recs.filter((r) => r.cached).length);
    const outputs3 = await tree(path.join(ws, 'runs/3/outputs'));
    for (const [p, out] of outputs1) {
      if (p === `${edited}.md`) continue;
      assert.strictEqual(outputs3.get(p), out, `${p}: the cached output equals the first run's`);
    }
    for (const c of sent) assert.ok(outputs3.get(`${edited}.md`)!.includes(defaultOutput(c)), `${c.id} in the new output`);

    // Where the cache is (the user's cache folder, never the working folder), and what it holds.
    await assert.rejects(fs.access(path.join(ws, '.batch-prompt/cache')), 'nothing is cached under the working folder');
    const cache = await tree(path.join(testCacheHome(ws), 'batch-prompt', 'results'));
    assert.strictEqual(cache.get('.gitignore')?.trim().split('\n').pop(), '*');
    const entries = [...cache.keys()].filter((k) => k.endsWith('.json'));
    assert.strictEqual(entries.length, sentFirst + sent.length);
    for (const [k, body] of cache) {
      assert.ok(!k.includes('.tmp-'), k);
      assert.ok(!body.includes(KEY) && !body.includes('Upper-case it.'), `${k} holds neither the key nor the prompt`);
    }
  });

  it('answers a repository ships in .batch-prompt/cache are never taken: a run asks the model for every chunk', async () => {
    // The attacker builds a cache for this very prompt and model, then rewrites every answer.
    const shipped = await run('runs/shipped', '--cache-dir', '.batch-prompt/cache');
    assert.strictEqual(shipped.code, 0, shipped.stderr);
    const shippedEntries = [...(await tree(path.join(ws, '.batch-prompt/cache'))).keys()].filter((k) => k.endsWith('.json'));
    assert.ok(shippedEntries.length > 0, 'the shipped cache holds answers for this run');
    for (const k of shippedEntries) {
      const file = path.join(ws, '.batch-prompt/cache', k);
      await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace(/OUT\[/g, 'EVIL['));
    }
    await fs.rm(testCacheHome(ws), { recursive: true, force: true });
    server.requests.length = 0;
    const r = await run('runs/after-clone');
    assert.strictEqual(r.code, 0, r.stderr);
    const recs = await records(path.join(ws, 'runs/after-clone'));
    assert.ok(recs.every((x) => !x.cached), 'no chunk is taken from the shipped cache');
    assert.strictEqual(server.requests.flatMap((q) => q.chunks).length, recs.length, 'every chunk was sent');
    for (const [p, out] of await tree(path.join(ws, 'runs/after-clone/outputs'))) assert.ok(!out.includes('EVIL['), `${p} holds a shipped answer`);
  });

  it('--no-cache sends every chunk and records none as cached', async () => {
    server.requests.length = 0;
    const r = await cli(['run', '--prompt', 'Upper-case it.', '--base-url', baseUrl, '--model', 'm', '--out', 'runs/nocache', '--chunk-tokens', '48', '--overlap', '0', '--no-cache', 'src/m00*.txt'], ws);
    assert.strictEqual(r.code, 0, r.stderr);
    const recs = await records(path.join(ws, 'runs/nocache'));
    assert.strictEqual(server.sentChunkIds().length, recs.length);
    assert.strictEqual(new Set(recs.map((x) => x.path)).size, 10);
    assert.ok(recs.every((x) => !x.cached));
  });

  it('a change of prompt or model misses the cache', async () => {
    server.requests.length = 0;
    const r = await cli(['run', '--prompt', 'Another prompt.', '--base-url', baseUrl, '--model', 'm', '--out', 'runs/other', '--chunk-tokens', '48', '--overlap', '0', 'src/m001.txt'], ws);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.ok(server.requests.length > 0);
    server.requests.length = 0;
    const m = await cli(['run', '--prompt', 'Upper-case it.', '--base-url', baseUrl, '--model', 'm2', '--out', 'runs/other-model', '--chunk-tokens', '48', '--overlap', '0', 'src/m001.txt'], ws);
    assert.strictEqual(m.code, 0, m.stderr);
    assert.ok(server.requests.length > 0);
  });
});
