// A small run streams its replies into the live results document (setting batchPrompt.stream), which
// fills in while the reply arrives; the run folder gets the same outputs as without streaming.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { RunSummary } from '../../src/core/store/runStore';
import { defaultOutput, ModelServer } from '../support/modelServer';
import { activateExtension, HANG_GUARD_MS, runOnFiles, settlesWithin, until } from './support/extension';
import { resetSettings, useLocalEndpoint, useModelServerEachTest } from './support/settings';
import { removeTree, RunFolder, writeTree } from './support/workspace';
import { spyMessages } from './support/messages';

const LIVE_SCHEME = 'batch-prompt-live';

/** The tabs of live results documents open now (one per window). */
function liveTabs(): vscode.Uri[] {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs).flatMap((t) => (t.input instanceof vscode.TabInputText && t.input.uri.scheme === LIVE_SCHEME ? [t.input.uri] : []));
}

/** Live results documents open now. */
function liveDocs(): vscode.TextDocument[] {
  return vscode.workspace.textDocuments.filter((d) => d.uri.scheme === LIVE_SCHEME);
}

describe('Live results (extension host, streamed replies)', function () {
  let server: ModelServer;
  let baseUrl: string;

  before(async () => {
    await activateExtension();
    writeTree('live', { 'one.txt': 'first line\nsecond line\n' });
  });

  after(async () => {
    await resetSettings();
    removeTree('live');
  });

  useModelServerEachTest((s, url) => {
    server = s;
    baseUrl = url;
  });
  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('fills the live document in as the tokens arrive, then shows the recorded output; the run folder has it too', async () => {
    await useLocalEndpoint(baseUrl, { stream: 'auto' });
    let release!: () => void;
    const resume = new Promise<void>((r) => (release = r));
    // Half the reply, then a pause until the test has seen it in the document.
    server.script = () => ({ kind: 'ok', stream: { pauseAfter: 8, resume } });
    const earlier = new Set(liveDocs().map((d) => d.uri.toString()));
    const liveText = () => liveDocs().find((d) => !earlier.has(d.uri.toString()))?.getText();
    const run = runOnFiles({ glob: 'live/**', prompt: 'Upper-case it.', modelId: 'local' });
    try {
      await until(() => (liveText() ?? '').includes('OUT[1.1]'), HANG_GUARD_MS, 'the live document to show part of the reply');
      const partial = liveText()!;
      assert.match(partial, /live\/one\.txt · lines 1–2 · streaming…/);
      assert.ok(!partial.includes('SECOND LINE'), 'only part of the reply has arrived');
      assert.ok(server.requests[0].body.stream === true);
    } finally {
      release();
    }
    const summary = await settlesWithin(run, HANG_GUARD_MS, 'the run');
    assert.ok(summary && summary.status === 'succeeded', JSON.stringify(summary));
    const expected = defaultOutput({ id: '1.1', path: 'live/one.txt', lines: '', text: 'first line\nsecond line\n' });
    // The entry is drawn at its chunk's end, the header's "run finished" at the run's end: wait for both.
    await until(() => (liveText() ?? '').includes('· succeeded') && /1 of 1 chunks done · run finished/.test(liveText() ?? ''), HANG_GUARD_MS, 'the live document to show the outcome and the end of the run');
    assert.ok(liveText()!.includes(expected), liveText());
    assert.strictEqual(RunFolder.of(summary).output('live/one.txt').trimEnd(), expected.trimEnd());
  });

  it('with batchPrompt.stream never, nothing is streamed and no live document opens', async () => {
    await useLocalEndpoint(baseUrl, { stream: 'never' });
    const summary = await settlesWithin(runOnFiles({ glob: 'live/**', prompt: 'Upper-case it.', modelId: 'local' }), HANG_GUARD_MS, 'the run');
    assert.strictEqual(summary?.status, 'succeeded');
    assert.strictEqual(server.requests[0].body.stream, false);
    assert.ok(!liveDocs().some((d) => d.uri.path.includes(summary!.runId)), 'no live document for this run');
  });

  it('one live document per window: the next run takes its place, named after the run; a retry streams into it and says its own scope', async () => {
    await useLocalEndpoint(baseUrl, { stream: 'auto', maxRetries: 0 });
    const spy = spyMessages();
    try {
      const first = await settlesWithin(runOnFiles({ glob: 'live/**', prompt: 'Upper-case it.', modelId: 'local' }), HANG_GUARD_MS, 'the first run');
      assert.strictEqual(first?.status, 'succeeded');
      await until(() => liveTabs().length === 1 && liveTabs()[0].path.includes(first.runId), HANG_GUARD_MS, "the first run's live tab");
      assert.match(decodeURIComponent(liveTabs()[0].path), new RegExp(`/${first.runId}/.+ · ${first.runId}\\.md$`), 'the tab is named after the run');

      server.script = () => ({ kind: 'status', status: 500, body: { error: { message: 'upstream overloaded', type: 'server_error', code: null } } });
      const second = await settlesWithin(runOnFiles({ glob: 'live/**', prompt: 'Upper-case it.', modelId: 'local' }), HANG_GUARD_MS, 'the second run');
      assert.strictEqual(second?.failed, 1);
      await until(() => liveTabs().length === 1 && liveTabs()[0].path.includes(second.runId), HANG_GUARD_MS, "the second run's live tab in place of the first's");
      const uri = liveTabs()[0];
      const text = () => vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString())?.getText() ?? '';
      await until(() => /live\/one\.txt · lines 1–2 · failed/.test(text()), HANG_GUARD_MS, 'the failed entry');
      await until(() => spy.shown.some((m) => m.message.includes('0 of 1 chunks succeeded, 1 failed')), HANG_GUARD_MS, "the second run's notification");

      server.script = () => undefined;
      const retried = await settlesWithin(
        Promise.resolve(vscode.commands.executeCommand<RunSummary | undefined>('batchPrompt.retry', { kind: 'chunk', chunk: { dir: RunFolder.of(second).dir, chunkId: '1.1' } })),
        HANG_GUARD_MS,
        'the retry',
      );
      assert.strictEqual(retried?.status, 'succeeded');
      assert.deepStrictEqual([retried.pass?.kind, retried.pass?.chunks, retried.pass?.succeeded], ['retry', 1, 1], 'the retry counts its own scope');
      await until(() => /live\/one\.txt · lines 1–2 · succeeded/.test(text()), HANG_GUARD_MS, 'the retry to replace the failed entry');
      // The entry is drawn at its chunk's end, the header's "finished" at the run's end: two redraws, maybe apart.
      await until(() => /retry finished/.test(text()), HANG_GUARD_MS, "the header to say the retry finished");
      assert.deepStrictEqual(liveTabs().map(String), [uri.toString()], 'still the one document, the run\'s own');
      assert.ok(!text().includes('upstream overloaded'), text());
      assert.match(text(), /live\/one\.txt · lines 1–2 · succeeded/);
      await until(() => spy.shown.some((m) => m.message.includes('retried 1 chunk: succeeded')), HANG_GUARD_MS, "the retry's notification");
      const note = spy.shown.find((m) => m.message.includes('retried 1 chunk'))!.message;
      assert.match(note, /^Batch Prompt: retried 1 chunk: succeeded \(.+\); the run now has 1 of 1 chunks succeeded\.$/);
    } finally {
      spy.restore();
    }
  });

  it('a run answered from the cache says so in its notification, with no duration', async () => {
    await useLocalEndpoint(baseUrl, { stream: 'never', useCache: true });
    await vscode.commands.executeCommand('batchPrompt.clearCache');
    const spy = spyMessages();
    try {
      await settlesWithin(runOnFiles({ glob: 'live/**', prompt: 'Cache me.', modelId: 'local' }), HANG_GUARD_MS, 'the first run');
      const sent = server.requests.length;
      const again = await settlesWithin(runOnFiles({ glob: 'live/**', prompt: 'Cache me.', modelId: 'local' }), HANG_GUARD_MS, 'the cached run');
      assert.strictEqual(server.requests.length, sent, 'nothing sent');
      assert.strictEqual(again?.cached, 1);
      await until(() => spy.shown.some((m) => m.message.includes('from the cache')), HANG_GUARD_MS, "the cached run's notification");
      assert.strictEqual(spy.shown.find((m) => m.message.includes('from the cache'))!.message, 'Batch Prompt: 1 of 1 chunks succeeded, 1 from the cache.');
      assert.match(RunFolder.of(again).read('report.md'), /\| Requests \| 0 \(every answer came from the cache\) \|/);
    } finally {
      spy.restore();
      await vscode.commands.executeCommand('batchPrompt.clearCache');
    }
  });
});
