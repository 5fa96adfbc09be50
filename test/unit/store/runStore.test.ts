import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ensureRunsFolder, RUNS_GITIGNORE } from '../../../src/core/store/runFolders';
import { readRecords, RunStore } from '../../../src/core/store/runStore';
import { a1, a2, b1, meta, outcome } from '../../support/runFixtures';

describe('RunStore', () => {
  let dir = '';
  beforeEach(async () => (dir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'bp-store-')), 'run')));
  afterEach(() => fs.rm(path.dirname(dir), { recursive: true, force: true }));

  it('writes a file’s output only when all its chunks ended, joined in chunk order', async () => {
    const store = await RunStore.create(dir, meta());
    await store.record(outcome(a2, 'succeeded', 'second'));
    await assert.rejects(fs.access(store.outputPath('src/a.ts')), 'not written while a chunk is pending');
    await store.record(outcome(a1, 'succeeded', 'first'));
    assert.strictEqual(await fs.readFile(store.outputPath('src/a.ts'), 'utf8'), 'first\nsecond');
  });

  it('marks a file with a failed chunk incomplete, then completes it in place when a retry succeeds', async () => {
    const store = await RunStore.create(dir, meta());
    await store.record(outcome(b1, 'succeeded', 'B'));
    await store.record(outcome(a1, 'succeeded', 'first'));
    await store.record(outcome(a2, 'failed'));
    const partial = await fs.readFile(store.outputPath('src/a.ts', 'incomplete'), 'utf8');
    assert.strictEqual(partial, 'first\n<<<batch-prompt: chunk 1.2 (lines 3-4) failed: HTTP 500>>>');
    await assert.rejects(fs.access(store.outputPath('src/a.ts')));
    const s1 = await store.finish({ succeeded: 0, failed: 0, canceled: 0, requests: 2, inputTokens: 0, outputTokens: 0, durationMs: 1 });
    assert.strictEqual(s1.status, 'partial');
    assert.deepStrictEqual(s1.files.map((f) => [f.path, f.status]), [['src/a.ts', 'incomplete'], ['b.md', 'complete']]);
    assert.deepStrictEqual(store.unfinishedChunks().map((c) => c.id), ['1.2']);

    const reopened = await RunStore.open(dir);
    assert.deepStrictEqual(reopened.unfinishedChunks().map((c) => c.id), ['1.2'], 'statuses survive a reopen');
    await reopened.record(outcome(a2, 'succeeded', 'second'));
    assert.strictEqual(await fs.readFile(reopened.outputPath('src/a.ts'), 'utf8'), 'first\nsecond');
    await assert.rejects(fs.access(reopened.outputPath('src/a.ts', 'incomplete')), 'the stale incomplete form is removed');
    const s2 = await reopened.finish({ succeeded: 0, failed: 0, canceled: 0, requests: 1, inputTokens: 0, outputTokens: 0, durationMs: 1 });
    assert.strictEqual(s2.status, 'succeeded');
    assert.strictEqual(s2.succeeded, 3);
  });

  it('appends one run.jsonl line per outcome and tolerates a torn last line', async () => {
    const store = await RunStore.create(dir, meta());
    await Promise.all([store.record(outcome(a1, 'succeeded', 'x')), store.record(outcome(a2, 'canceled')), store.record(outcome(b1, 'failed'))]);
    await fs.appendFile(path.join(dir, 'run.jsonl'), '{"chunkId":"2.1","sta');
    const records = await readRecords(dir);
    assert.deepStrictEqual(records.map((r) => `${r.chunkId}:${r.status}`).sort(), ['1.1:succeeded', '1.2:canceled', '2.1:failed']);
    assert.deepStrictEqual(records.find((r) => r.chunkId === '2.1')!.error, { kind: 'transient', message: 'HTTP 500' });
  });

  it('refuses to write into a folder that already holds a run', async () => {
    await RunStore.create(dir, meta());
    await assert.rejects(RunStore.create(dir, meta()), /already holds a run/);
  });

  it('names outputs so that no language server takes them for source (#18): <path>.md, <path>.incomplete.md', async () => {
    const store = await RunStore.create(dir, meta());
    await store.record(outcome(b1, 'succeeded', 'B'));
    await store.record(outcome(a1, 'succeeded', 'first'));
    await store.record(outcome(a2, 'failed'));
    const summary = await store.finish({ succeeded: 0, failed: 0, canceled: 0, requests: 2, inputTokens: 0, outputTokens: 0, durationMs: 1 });
    assert.deepStrictEqual((await fs.readdir(path.join(dir, 'outputs', 'src'))).sort(), ['a.ts.incomplete.md']);
    assert.deepStrictEqual(await fs.readdir(path.join(dir, 'outputs')).then((n) => n.sort()), ['b.md.md', 'src']);
    assert.deepStrictEqual(summary.files.map((f) => f.output), ['outputs/src/a.ts.incomplete.md', 'outputs/b.md.md']);
  });

  it('fences an edit run\'s joined code in the source\'s language', async () => {
    const store = await RunStore.create(dir, { ...meta(), output: { kind: 'edit' } });
    await store.record(outcome(a1, 'succeeded', 'const a = 1;\n'));
    await store.record(outcome(a2, 'succeeded', 'const b = 2;\n'));
    assert.strictEqual(await fs.readFile(path.join(dir, 'outputs', 'src', 'a.ts.md'), 'utf8'), '```ts\nconst a = 1;\nconst b = 2;\n```\n');
  });

  it('resumes a folder written before #18: its outputs under the old names are rewritten under the new ones', async () => {
    const store = await RunStore.create(dir, meta());
    await store.record(outcome(b1, 'succeeded', 'B'));
    await store.record(outcome(a1, 'succeeded', 'first'));
    await store.record(outcome(a2, 'failed'));
    await store.finish({ succeeded: 0, failed: 0, canceled: 0, requests: 2, inputTokens: 0, outputTokens: 0, durationMs: 1 });
    // As the folder was before #18: the outputs under the sources' own names.
    await fs.rename(path.join(dir, 'outputs', 'b.md.md'), path.join(dir, 'outputs', 'b.md'));
    await fs.rename(path.join(dir, 'outputs', 'src', 'a.ts.incomplete.md'), path.join(dir, 'outputs', 'src', 'a.ts.incomplete'));
    const reopened = await RunStore.openForUpdate(dir);
    assert.deepStrictEqual((await fs.readdir(path.join(dir, 'outputs'))).sort(), ['b.md.md', 'src'], 'the complete one renamed');
    assert.deepStrictEqual(await fs.readdir(path.join(dir, 'outputs', 'src')), ['a.ts.incomplete.md']);
    await reopened.record(outcome(a2, 'succeeded', 'second'));
    await reopened.finish({ succeeded: 0, failed: 0, canceled: 0, requests: 1, inputTokens: 0, outputTokens: 0, durationMs: 1 });
    assert.deepStrictEqual(await fs.readdir(path.join(dir, 'outputs', 'src')), ['a.ts.md']);
    assert.strictEqual(await fs.readFile(path.join(dir, 'outputs', 'src', 'a.ts.md'), 'utf8'), 'first\nsecond');
  });

  it('a runs folder gets its own .gitignore (*), and one already there is kept', async () => {
    const runs = path.join(path.dirname(dir), 'runs');
    await ensureRunsFolder(runs);
    assert.strictEqual(await fs.readFile(path.join(runs, '.gitignore'), 'utf8'), RUNS_GITIGNORE);
    assert.ok(RUNS_GITIGNORE.split('\n').includes('*'));
    await fs.writeFile(path.join(runs, '.gitignore'), 'mine\n');
    await ensureRunsFolder(runs);
    assert.strictEqual(await fs.readFile(path.join(runs, '.gitignore'), 'utf8'), 'mine\n');
  });
});
