import * as assert from 'assert';
import { spawnSync } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ChunkOutcome } from '../../../src/core/execute/events';
import { LOCK_FILE, readRecords, RunLockedError, RunStore } from '../../../src/core/store/runStore';
import type { ChunkRef } from '../../../src/core/plan/types';
import { a1, a2, b1, meta as sharedMeta } from '../../support/runFixtures';

const meta = () => sharedMeta({ id: 'm', provider: 'openai', baseUrl: 'http://127.0.0.1:1/v1', model: 'm' });

function ok(chunk: ChunkRef, output: string): ChunkOutcome {
  return { chunk, status: 'succeeded', output, attempts: 1, batchId: 'b1', inputTokens: 3, outputTokens: 2, latencyMs: 7 };
}

const done = { succeeded: 0, failed: 0, canceled: 0, requests: 0, inputTokens: 0, outputTokens: 0, durationMs: 0 };

function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

describe('RunStore recovery after a crash', () => {
  let dir = '';
  beforeEach(async () => (dir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'bp-recover-')), 'run')));
  afterEach(() => fs.rm(path.dirname(dir), { recursive: true, force: true }));

  /** A run folder as a `kill -9` leaves it: created, some records, the lock of a dead process. */
  async function crashed(write: (store: RunStore) => Promise<void>): Promise<void> {
    const store = await RunStore.create(dir, meta());
    await write(store);
    await fs.writeFile(path.join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid(), hostname: os.hostname(), at: '' }));
  }

  it('holds a lock while a process writes the folder; refuses a second writer; takes over a dead one', async () => {
    const store = await RunStore.create(dir, meta());
    await assert.rejects(RunStore.openForUpdate(dir), (e) => RunLockedError.is(e) && (e as RunLockedError).pid === process.pid);
    await store.finish(done);
    await assert.rejects(fs.access(path.join(dir, LOCK_FILE)), 'released by finish');
    await fs.writeFile(path.join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid(), hostname: os.hostname(), at: '' }));
    const again = await RunStore.openForUpdate(dir);
    assert.strictEqual(JSON.parse(await fs.readFile(path.join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
    await again.release();
  });

  it('cuts a torn last journal line off, so the next record stays whole and every line parses', async () => {
    await crashed(async (s) => {
      await s.record(ok(a1, 'first'));
      await fs.appendFile(path.join(dir, 'run.jsonl'), '{"chunkId":"1.2","sta');
    });
    const store = await RunStore.openForUpdate(dir);
    await store.record(ok(a2, 'second'));
    await store.finish(done);
    const lines = (await fs.readFile(path.join(dir, 'run.jsonl'), 'utf8')).split('\n');
    assert.strictEqual(lines.pop(), '');
    assert.deepStrictEqual(lines.map((l) => JSON.parse(l) as { chunkId: string; status: string }).map((r) => `${r.chunkId}:${r.status}`), ['1.1:succeeded', '1.2:succeeded']);
    assert.strictEqual(await fs.readFile(store.outputPath('src/a.ts'), 'utf8'), 'first\nsecond');
  });

  it('keeps a whole last record that only lacks its newline', async () => {
    await crashed(async (s) => {
      await s.record(ok(a1, 'first'));
      await fs.writeFile(path.join(dir, 'chunks', '1.2.out'), 'second');
      const line = JSON.stringify({ chunkId: '1.2', path: 'src/a.ts', status: 'succeeded', attempts: 1 });
      await fs.appendFile(path.join(dir, 'run.jsonl'), line);
    });
    const store = await RunStore.openForUpdate(dir);
    await store.record(ok(b1, 'B'));
    await store.finish(done);
    assert.deepStrictEqual((await readRecords(dir)).map((r) => `${r.chunkId}:${r.status}:${r.recovered ?? false}`), ['1.1:succeeded:false', '1.2:succeeded:false', '2.1:succeeded:false']);
  });

  it('adopts a chunk output written just before the crash, and sends again a success whose output is missing', async () => {
    await crashed(async (s) => {
      await s.record(ok(a1, 'first'));
      await s.record(ok(b1, 'B'));
    });
    // Crash between the chunk output and its journal line:
    await fs.writeFile(path.join(dir, 'chunks', '1.2.out'), 'second');
    // A journal line whose output is gone (a lost disk write, a hand-deleted file):
    await fs.rm(path.join(dir, 'chunks', '2.1.out'));
    const store = await RunStore.openForUpdate(dir);
    assert.deepStrictEqual(store.unfinishedChunks().map((c) => c.id), ['2.1']);
    const adopted = (await readRecords(dir)).filter((r) => r.chunkId === '1.2');
    assert.deepStrictEqual(adopted.map((r) => [r.status, r.recovered, r.attempts]), [['succeeded', true, 0]]);
    assert.strictEqual(await fs.readFile(store.outputPath('src/a.ts'), 'utf8'), 'first\nsecond', 'the file whose chunks all ended is written');
    await store.release();
  });

  it('rewrites a missing or stale output, and removes temporary files', async () => {
    await crashed(async (s) => {
      await s.record(ok(a1, 'first'));
      await s.record({ ...ok(a2, ''), status: 'failed', output: undefined, error: { kind: 'transient', message: 'HTTP 500' } });
      await s.record(ok(b1, 'B'));
    });
    // The retry's success was journaled, then the process died before the output was rewritten.
    await fs.writeFile(path.join(dir, 'chunks', '1.2.out'), 'second');
    await fs.appendFile(path.join(dir, 'run.jsonl'), `${JSON.stringify({ chunkId: '1.2', path: 'src/a.ts', status: 'succeeded', attempts: 2 })}\n`);
    await fs.rm(path.join(dir, 'outputs', 'b.md.md'));
    await fs.writeFile(path.join(dir, 'outputs', 'b.md.md.tmp-123-4'), 'B (half');
    await fs.writeFile(path.join(dir, 'chunks', '2.1.out.tmp-123-5'), '');
    const store = await RunStore.openForUpdate(dir);
    assert.strictEqual(await fs.readFile(store.outputPath('src/a.ts'), 'utf8'), 'first\nsecond');
    await assert.rejects(fs.access(store.outputPath('src/a.ts', 'incomplete')), 'the stale incomplete form is gone');
    assert.strictEqual(await fs.readFile(store.outputPath('b.md'), 'utf8'), 'B');
    const left = (await fs.readdir(dir, { recursive: true })).map(String);
    assert.ok(!left.some((f) => f.includes('.tmp-')), left.join(','));
    const summary = await store.finish(done);
    assert.strictEqual(summary.status, 'succeeded');
  });
});
