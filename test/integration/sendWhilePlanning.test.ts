// #17 "Sending starts at once", in the editor: Run Prompt on Files… sends while the files are planned.
// Under batchPrompt.confirmAbove the first request leaves before the plan is complete; a larger run sends
// fewer than confirmAbove requests while planning and asks once the plan is complete. Proved by the
// order of events (what the server saw, what run.json said, when the question came), never by time.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { RunSummary } from '../../src/core/store/runStore';
import { ModelServer } from '../support/modelServer';
import { activateExtension, HANG_GUARD_MS, runOnFiles, settlesWithin, until } from './support/extension';
import { spyMessages } from './support/messages';
import { resetSettings, useLocalEndpoint, useModelServerEachTest } from './support/settings';
import { removeTree, RunFolder, runFolders, RUNS_DIR, workspaceRoot, writeTree } from './support/workspace';

/** A run folder's path, from its name. */
const runDir = (name: string) => path.join(workspaceRoot(), RUNS_DIR, name);

/** One-chunk files, one request each (chunksPerBatch 1). */
function corpus(n: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${String(i).padStart(3, '0')}.txt`, `file ${i}\n`]));
}

describe('Sending while planning (extension host, #17)', function () {
  let server: ModelServer;
  let baseUrl: string;

  before(async () => {
    await activateExtension();
  });

  after(async () => {
    await resetSettings();
    removeTree('early');
  });

  useModelServerEachTest((s, url) => {
    server = s;
    baseUrl = url;
  });
  afterEach(() => removeTree('early'));

  it('under confirmAbove, the first request leaves while the plan is not complete (run.json still says planning)', async () => {
    // 150 files: with one request held, the bounded feed (32 batches) stops the planner well before the end.
    writeTree('early', corpus(150));
    await useLocalEndpoint(baseUrl, { chunksPerBatch: 1, maxConcurrency: 1, stream: 'never' });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let n = 0;
    server.script = () => (++n === 1 ? { kind: 'ok', after: held } : undefined);
    const before = new Set(runFolders());
    const run = runOnFiles({ glob: 'early/**', prompt: 'Upper-case it.', modelId: 'local' });
    let summary: RunSummary | undefined;
    try {
      await until(() => server.requests.length >= 1, HANG_GUARD_MS, 'the first request');
      const dir = runFolders().find((d) => !before.has(d));
      assert.ok(dir, 'the run folder exists once the first file is planned');
      const meta = JSON.parse(fs.readFileSync(path.join(runDir(dir), 'run.json'), 'utf8')) as { planning?: unknown; files: unknown[] };
      assert.ok(meta.planning, 'run.json says the run is still planned while its first request is out');
    } finally {
      release();
      summary = await settlesWithin(run, HANG_GUARD_MS, 'the run to end');
    }
    assert.strictEqual(summary?.status, 'succeeded');
    assert.strictEqual(summary?.succeeded, 150);
    assert.strictEqual(server.requests.length, 150);
    const dir = runFolders().find((d) => !before.has(d))!;
    assert.strictEqual(JSON.parse(fs.readFileSync(path.join(runDir(dir), 'run.json'), 'utf8')).planning, undefined, 'the plan is complete in run.json at the end');
  });

  it('a run of confirmAbove requests or more: fewer go out while planning, the question comes with the whole plan, declined sends no more', async () => {
    writeTree('early', corpus(6));
    await useLocalEndpoint(baseUrl, { chunksPerBatch: 1, maxConcurrency: 1, confirmAbove: 3, stream: 'never' });
    let sentWhenAsked = -1;
    const spy = spyMessages((m) => {
      if (!m.modal) return undefined;
      sentWhenAsked = server.requests.length;
      return ''; // closes the question: declined
    });
    const before = new Set(runFolders());
    let summary: RunSummary | undefined;
    try {
      summary = await settlesWithin(runOnFiles({ glob: 'early/**', prompt: 'Upper-case it.', modelId: 'local' }), HANG_GUARD_MS, 'the run to end');
    } finally {
      spy.restore();
    }
    const question = spy.shown.find((m) => m.modal);
    assert.ok(question, 'the run asked');
    assert.match(question.message, /send 6 chunks of 6 files .* in 6 requests\?/);
    // The first two batches (fewer than confirmAbove) may leave before or while the question is up; no other.
    assert.ok(sentWhenAsked >= 0 && server.requests.length <= 2, `at most confirmAbove − 1 = 2 requests without an answer, saw ${server.requests.length}`);
    assert.deepStrictEqual([...new Set(server.requests.flatMap((r) => r.chunks.map((c) => c.path)))].sort(), ['early/f000.txt', 'early/f001.txt'].slice(0, server.requests.length), 'only the first batches went out');
    const dir = runFolders().find((d) => !before.has(d));
    if (server.requests.length === 0) {
      assert.strictEqual(dir, undefined, 'declined before anything was sent: no run folder is left');
      assert.strictEqual(summary, undefined);
      return;
    }
    assert.ok(dir && summary);
    assert.strictEqual(summary.succeeded, server.requests.length);
    assert.strictEqual(summary.canceled, 6 - server.requests.length);
    const records = new RunFolder(runDir(dir)).records().filter((r) => r.status === 'canceled');
    assert.ok(records.length > 0 && records.every((r) => /not confirmed/.test(r.error?.message ?? '')), 'the rest says it was not confirmed');
  });

  it('confirmAbove 0 (ask before every run): nothing leaves before the answer; declined leaves no run folder', async () => {
    writeTree('early', corpus(3));
    await useLocalEndpoint(baseUrl, { chunksPerBatch: 1, confirmAbove: 0, stream: 'never' });
    let sentWhenAsked = -1;
    const spy = spyMessages((m) => (m.modal ? ((sentWhenAsked = server.requests.length), '') : undefined));
    const before = new Set(runFolders());
    try {
      const summary = await settlesWithin(runOnFiles({ glob: 'early/**', prompt: 'Upper-case it.', modelId: 'local' }), HANG_GUARD_MS, 'the run to end');
      assert.strictEqual(summary, undefined);
    } finally {
      spy.restore();
    }
    assert.strictEqual(sentWhenAsked, 0);
    assert.strictEqual(server.requests.length, 0);
    assert.deepStrictEqual(runFolders().filter((d) => !before.has(d)), []);
  });
});
