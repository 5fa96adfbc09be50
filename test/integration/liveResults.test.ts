// A small run streams its replies into the live results document (setting batchPrompt.stream), which
// fills in while the reply arrives; the run folder gets the same outputs as without streaming.
import * as assert from 'assert';
import * as vscode from 'vscode';
import { defaultOutput, ModelServer } from '../support/modelServer';
import { activateExtension, HANG_GUARD_MS, runOnFiles, settlesWithin, until } from './support/extension';
import { resetSettings, useLocalEndpoint } from './support/settings';
import { removeTree, RunFolder, writeTree } from './support/workspace';

const LIVE_SCHEME = 'batch-prompt-live';

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

  beforeEach(async () => {
    server = new ModelServer();
    baseUrl = await server.start();
  });

  afterEach(async () => {
    await resetSettings('batchPrompt');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await server.stop();
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
    await until(() => (liveText() ?? '').includes('· succeeded'), HANG_GUARD_MS, 'the live document to show the outcome');
    assert.ok(liveText()!.includes(expected), liveText());
    assert.match(liveText()!, /1 of 1 chunks done · run finished/);
    assert.strictEqual(RunFolder.of(summary).output('live/one.txt').trimEnd(), expected.trimEnd());
  });

  it('with batchPrompt.stream never, nothing is streamed and no live document opens', async () => {
    await useLocalEndpoint(baseUrl, { stream: 'never' });
    const summary = await settlesWithin(runOnFiles({ glob: 'live/**', prompt: 'Upper-case it.', modelId: 'local' }), HANG_GUARD_MS, 'the run');
    assert.strictEqual(summary?.status, 'succeeded');
    assert.strictEqual(server.requests[0].body.stream, false);
    assert.ok(!liveDocs().some((d) => d.uri.path.includes(summary!.runId)), 'no live document for this run');
  });
});
