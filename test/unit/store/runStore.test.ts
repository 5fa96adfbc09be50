import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
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
});
