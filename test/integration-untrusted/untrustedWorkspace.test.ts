// Issue #12 in a real, untrusted workspace: code-server started with workspace trust on (its workspace,
// copied from test/fixtures/untrusted-workspace, is never trusted in the fresh profile), whose
// .vscode/settings.json tries to widen what is read and sent. The user's values (here the defaults,
// plus the user's own endpoint) must apply.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { RunMeta, RunSummary } from '../../src/core/store/runStore';
import { ModelServer } from '../support/modelServer';
import { activateExtension, runOnFiles } from '../integration/support/extension';
import { spyMessages } from '../integration/support/messages';
import { resetSettings, setSettings } from '../integration/support/settings';
import { removeTree, RunFolder, workspaceRoot, writeTree } from '../integration/support/workspace';

const PROMPT = 'Upper-case every chunk.';

describe('Untrusted workspace: its settings cannot widen what is read or sent (extension host, issue #12)', function () {
  const server = new ModelServer();
  let baseUrl = '';

  before(async () => {
    await activateExtension();
    baseUrl = await server.start();
    // The user's own settings: their endpoint, one chunk per request; everything else at its default.
    await setSettings('batchPrompt', { models: [{ id: 'local', provider: 'openai', baseUrl, model: 'm' }], chunksPerBatch: 1 });
    // Over the default maxFileSizeKB (1024), under the workspace's 102400.
    writeTree('big', { 'big.txt': `${'x'.repeat(79)}\n`.repeat(16 * 1024) });
  });
  after(async () => {
    removeTree('big');
    await resetSettings('batchPrompt');
    await server.stop();
  });

  it('the workspace is untrusted; its restricted settings are set but read as the user\'s values, the others as the workspace\'s', () => {
    assert.strictEqual(vscode.workspace.isTrusted, false, 'code-server opened the workspace in restricted mode');
    const config = vscode.workspace.getConfiguration('batchPrompt');
    const shipped = fs.readFileSync(path.join(workspaceRoot(), '.vscode', 'settings.json'), 'utf8');
    assert.match(shipped, /"batchPrompt\.respectGitignore": false/, 'the workspace ships the hostile settings');
    assert.strictEqual(config.get('overlapTokens'), 0, "the workspace's settings.json is read: a setting that is not restricted keeps its workspace value");
    // VS Code hides restricted workspace values in an untrusted workspace, from inspect() too.
    assert.strictEqual(config.inspect('respectGitignore')?.workspaceValue, undefined);
    assert.strictEqual(config.get('respectGitignore'), true);
    assert.strictEqual(config.get('confirmAbove'), 10);
    assert.strictEqual(config.get('maxFileSizeKB'), 1024);
    assert.strictEqual(config.get('useCache'), true);
    assert.strictEqual(config.get('defaultInclude'), '**/*');
    assert.strictEqual(config.get('allowParallelRuns'), false);
    assert.strictEqual(config.get('dropEndpointAfterFailures'), 3);
    assert.strictEqual(config.get('outputDirectory'), '.batch-prompt/runs');
    assert.deepStrictEqual((config.get('models') as { baseUrl: string }[]).map((m) => m.baseUrl), [baseUrl]);
  });

  it("a run sends no .gitignored .env and no file over the user's size limit, asks before the user's threshold, and a repeat comes from the cache", async () => {
    const messages = spyMessages((m) => (m.modal ? m.items.find((i) => i.startsWith('Send ')) : undefined));
    let first: RunSummary | undefined;
    let second: RunSummary | undefined;
    try {
      first = await runOnFiles({ glob: '**/*', prompt: PROMPT, modelId: 'local' });
      assert.ok(first?.status === 'succeeded', JSON.stringify(first));
      const sent = server.requests.length;
      second = await runOnFiles({ glob: '**/*', prompt: PROMPT, modelId: 'local' });
      assert.ok(second, 'the second run ran');
      assert.strictEqual(server.requests.length, sent, 'the repeated run sent nothing: the result cache (user value) is on');
      assert.ok((second.cached ?? 0) > 0);
    } finally {
      messages.restore();
    }
    const run = RunFolder.of(first);
    assert.ok(run.dir.startsWith(path.join(workspaceRoot(), '.batch-prompt', 'runs')), `the run folder is the user's output folder: ${run.dir}`);
    assert.ok(!fs.existsSync(path.join(workspaceRoot(), '..', 'outside-the-workspace')));
    const planned = (JSON.parse(run.read('run.json')) as RunMeta).files.map((f) => f.path);
    assert.ok(planned.includes('files/f01.txt'), planned.join(', '));
    assert.ok(!planned.includes('.env'), 'the .gitignored .env was not read');
    assert.ok(!planned.includes('big/big.txt'), 'the file over 1024 KB was not read');
    const bodies = server.requests.map((r) => JSON.stringify(r.body)).join('\n');
    assert.ok(!bodies.includes('must-not-be-sent'), 'the .env text reached no request');
    assert.ok(!bodies.includes('x'.repeat(79)), 'nor the big file');
    const confirm = messages.shown.filter((m) => m.modal && /send \d+ chunks/.test(m.message));
    assert.strictEqual(confirm.length, 2, `each run of more than 10 requests asked first (saw ${JSON.stringify(messages.shown)})`);
  });
});
