// The Runs view (#18) in the real extension host: runs against a local OpenAI-compatible server listed
// newest first with their status; a run folder written outside the window appears (file watcher);
// Open Report; Delete Run asks first (modal) and removes only that folder. Add Model… end to end (the
// server's model list, no key for a loopback server, one test request, the entry in the user
// settings, then a run with it). Invalid model entries reported once per change; Set API Key does
// not ask a keyless endpoint.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { RUNS_LISTED, type RunEntry } from '../../src/vscode/runs/runsModel';
import { ModelServer } from '../support/modelServer';
import { extensionApi, runOnFiles, until } from './support/extension';
import { spyMessages, stubQuickPick } from './support/messages';
import { resetSettings, setSettings } from './support/settings';
import { removeTree, RUNS_DIR, workspaceRoot, writeTree } from './support/workspace';

const FIXTURE = `bp-runsview-${process.pid}`;
const MODEL_ID = 'runs-test';

/** Answers each `window.showInputBox` by its title (the value typed, or the prefilled value for `true`). */
function stubInputs(answers: Record<string, string | true>): { asked: vscode.InputBoxOptions[]; restore(): void } {
  const win = vscode.window as unknown as { showInputBox: (o?: vscode.InputBoxOptions) => Thenable<string | undefined> };
  const original = win.showInputBox;
  const asked: vscode.InputBoxOptions[] = [];
  win.showInputBox = async (o?: vscode.InputBoxOptions) => {
    asked.push(o ?? {});
    const key = Object.keys(answers).find((k) => o?.title?.includes(k));
    const a = key === undefined ? undefined : answers[key];
    const value = a === true ? o?.value : a;
    if (value !== undefined && o?.validateInput) assert.strictEqual(await o.validateInput(value), undefined, `"${value}" is accepted by ${o.title}`);
    return value;
  };
  return { asked, restore: () => (win.showInputBox = original) };
}

/** Resolves once the view, refreshing on its own, lists the run `id` (20 s at most). */
async function listedSoon(api: Awaited<ReturnType<typeof extensionApi>>['runsView'], id: string, what: string): Promise<void> {
  let seen = false;
  const sub = api.provider.onDidChangeTreeData(() => void api.provider.getChildren().then((r) => (seen ||= r.some((x) => x.id === id))));
  try {
    await until(() => seen, 20_000, what);
  } finally {
    sub.dispose();
  }
}

describe('Runs view (extension host, local model server)', function () {
  this.timeout(120_000);
  let server: ModelServer;
  let baseUrl = '';
  const runsRoot = () => path.join(workspaceRoot(), RUNS_DIR);
  const made: string[] = [];
  let failedRunId = '';

  const rows = async (): Promise<RunEntry[]> => {
    const api = (await extensionApi()).runsView;
    await api.refreshed();
    return api.provider.getChildren();
  };

  before(async () => {
    server = new ModelServer();
    baseUrl = await server.start();
    server.script = (req) => (req.chunks.some((c) => c.path.endsWith('/bad.txt')) ? { kind: 'status', status: 500, body: { error: { message: 'down', type: 'server_error', code: null } } } : undefined);
    await setSettings('batchPrompt', { models: [{ id: MODEL_ID, provider: 'openai', baseUrl, model: 'm', inputCostPerMTok: 1000, outputCostPerMTok: 1000 }], confirmAbove: 100000, useCache: false, maxRetries: 0, chunksPerBatch: 1 });
    writeTree(FIXTURE, { 'good.txt': 'good\n', 'bad.txt': 'bad\n' });
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await resetSettings();
    await server?.stop();
    removeTree(FIXTURE);
    for (const id of made) fs.rmSync(path.join(runsRoot(), id), { recursive: true, force: true });
    await (await extensionApi()).failures.model.reload();
  });

  it('lists the runs newest first with status, model and cost; a failed run offers Retry Failed', async () => {
    const ok = await runOnFiles({ glob: `${FIXTURE}/good.txt`, prompt: 'Upper-case it.', modelId: MODEL_ID });
    const bad = await runOnFiles({ glob: `${FIXTURE}/bad.txt`, prompt: 'Upper-case it.', modelId: MODEL_ID });
    assert.ok(ok && bad);
    made.push(ok.runId, bad.runId);
    failedRunId = bad.runId;
    const list = await rows();
    const ids = list.map((r) => r.id);
    assert.ok(ids.indexOf(bad.runId) < ids.indexOf(ok.runId), `newest first: ${ids.join(', ')}`);
    const api = (await extensionApi()).runsView;
    const okItem = api.provider.getTreeItem(list.find((r) => r.id === ok.runId)!);
    const badItem = api.provider.getTreeItem(list.find((r) => r.id === bad.runId)!);
    assert.match(String(okItem.description), new RegExp(`^succeeded · ${MODEL_ID} · \\$\\d`), String(okItem.description));
    assert.match(String(badItem.description), new RegExp(`^1 failed · ${MODEL_ID}`));
    assert.match(String(okItem.contextValue), /\bfinished\b/);
    assert.doesNotMatch(String(okItem.contextValue), /\bunfinished\b/);
    assert.match(String(badItem.contextValue), /\bunfinished\b/, 'Retry Failed and Resume are offered');
    assert.strictEqual(okItem.command?.command, 'batchPrompt.runs.openReport');
  });

  it('a run folder written outside this window (the CLI) appears without a refresh', async () => {
    const api = (await extensionApi()).runsView;
    // As the user sees it: the view shown (a visible view also looks at the run folders every few seconds).
    await vscode.commands.executeCommand('batchPrompt.runs.focus');
    await until(() => api.view.visible, 15_000, 'the Runs view is shown');
    await api.refreshed();
    const [newest] = await api.provider.getChildren();
    const copy = `29990101-000000-${process.pid}`;
    made.push(copy);
    const before = (await api.provider.getChildren()).length;
    fs.cpSync(newest.dir, path.join(runsRoot(), copy), { recursive: true });
    // The view (a watcher, or its look at the folders' names), not this test, refreshes itself.
    await listedSoon(api, copy, 'the copied run folder is listed');
    // The newest runs are listed, at most RUNS_LISTED of them: the copy (dated far ahead) is the first.
    const after = await api.provider.getChildren();
    assert.strictEqual(after.length, Math.min(before + 1, RUNS_LISTED));
    assert.strictEqual(after[0].id, copy);
  });

  it('a runs folder that did not exist when the view began watching, made by the CLI with a run in it, is listed', async () => {
    const api = (await extensionApi()).runsView;
    await vscode.commands.executeCommand('batchPrompt.runs.focus');
    await until(() => api.view.visible, 15_000, 'the Runs view is shown');
    const [source] = await api.provider.getChildren();
    const folder = `.bp-runs-${process.pid}`;
    const copy = `29990202-000000-${process.pid}`;
    const changed = new Promise<void>((resolve) => {
      const sub = vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('batchPrompt.outputDirectory') && (sub.dispose(), resolve()));
    });
    await vscode.workspace.getConfiguration('batchPrompt').update('outputDirectory', folder, vscode.ConfigurationTarget.Workspace);
    await changed;
    try {
      await api.refreshed();
      assert.deepStrictEqual(await api.provider.getChildren(), [], 'no runs folder yet');
      fs.mkdirSync(path.join(workspaceRoot(), folder));
      fs.cpSync(source.dir, path.join(workspaceRoot(), folder, copy), { recursive: true });
      await listedSoon(api, copy, 'the run in the new runs folder is listed');
    } finally {
      await vscode.workspace.getConfiguration('batchPrompt').update('outputDirectory', undefined, vscode.ConfigurationTarget.Workspace);
      removeTree(folder);
    }
  });

  it('Open Report opens report.md; Delete Run asks first and removes only that folder', async () => {
    const list = await rows();
    const target = list.find((r) => r.state === 'succeeded')!;
    await vscode.commands.executeCommand('batchPrompt.runs.openReport', target);
    await until(() => vscode.window.tabGroups.all.some((g) => g.tabs.some((t) => t.label.includes('report.md'))), 15_000, 'the report is open');

    // Delete the failed run: its row and its unfinished chunks go.
    const doomed = list.find((r) => r.id === failedRunId)!;
    assert.strictEqual(doomed.state, 'failed');
    const failures = (await extensionApi()).failures.model;
    await failures.ensureLoaded();
    assert.ok(failures.runs().some((r) => r.id === doomed.id), 'its failed chunk is listed before');

    // Dismissed (no button): nothing deleted.
    let spy = spyMessages(() => '');
    try {
      assert.strictEqual(await vscode.commands.executeCommand('batchPrompt.runs.delete', doomed), false);
    } finally {
      spy.restore();
    }
    const question = spy.shown.find((m) => m.modal);
    assert.ok(question && question.message.includes(doomed.id), 'a modal question names the run');
    assert.ok(fs.existsSync(doomed.dir), 'still there after "no"');

    spy = spyMessages((m) => (m.modal ? 'Delete' : undefined));
    try {
      assert.strictEqual(await vscode.commands.executeCommand('batchPrompt.runs.delete', doomed), true);
    } finally {
      spy.restore();
    }
    assert.ok(!fs.existsSync(doomed.dir), 'the folder is gone');
    assert.ok(!(await rows()).some((r) => r.id === doomed.id), 'and its row');
    await failures.flush();
    assert.ok(!failures.runs().some((r) => r.id === doomed.id), 'and its unfinished chunks');
    assert.ok((await rows()).length >= 1, 'the other runs stay');
  });

  it('Delete Run refuses a folder that is not right under the runs folder', async () => {
    const outside = path.join(workspaceRoot(), FIXTURE);
    const spy = spyMessages((m) => (m.modal ? 'Delete' : undefined));
    try {
      const fake = { id: FIXTURE, dir: outside, state: 'succeeded' } as unknown as RunEntry;
      assert.strictEqual(await vscode.commands.executeCommand('batchPrompt.runs.delete', fake), false);
    } finally {
      spy.restore();
    }
    assert.ok(fs.existsSync(outside), 'nothing outside the runs folder is deleted');
  });
});

describe('Add Model… (extension host, local model server)', function () {
  this.timeout(120_000);
  let server: ModelServer;
  let baseUrl = '';

  before(async () => {
    server = new ModelServer();
    baseUrl = await server.start();
    await setSettings('batchPrompt', { models: [], confirmAbove: 100000, useCache: false });
    writeTree(FIXTURE, { 'a.txt': 'alpha\n' });
  });
  after(async () => {
    await resetSettings();
    await server?.stop();
    removeTree(FIXTURE);
  });

  it('picks the model from the server\'s list, asks no key for a loopback server, tests it, writes the user setting; a run uses it', async () => {
    const picks = stubQuickPick((items, n) => (n === 0 ? items.find((i) => i.label === 'OpenAI-compatible server') : items.find((i) => i.label === 'ui-other-model')));
    const inputs = stubInputs({ 'base URL': baseUrl, 'name of the entry': true });
    let added: { entry: { id: string }; tested: boolean; keyStored: boolean } | undefined;
    try {
      added = await vscode.commands.executeCommand('batchPrompt.addModel');
    } finally {
      picks.restore();
      inputs.restore();
    }
    assert.ok(added, 'the entry was added');
    assert.deepStrictEqual(picks.asked[1].map((i) => i.label).slice(0, 2), ['ui-other-model', 'ui-test-model'], "the server's own list is offered");
    assert.strictEqual(server.listRequests.length, 1, 'GET /v1/models once');
    assert.ok(!inputs.asked.some((o) => o.password), 'no key asked for a server on this machine');
    assert.strictEqual(added.tested, true);
    assert.strictEqual(server.requests.length, 1, 'one test request');
    assert.strictEqual(server.requests[0].body.model, 'ui-other-model');
    const user = vscode.workspace.getConfiguration('batchPrompt').inspect<unknown[]>('models')?.globalValue;
    assert.deepStrictEqual(user, [{ id: 'ui-other-model', provider: 'openai', model: 'ui-other-model', baseUrl }]);

    const summary = await runOnFiles({ glob: `${FIXTURE}/a.txt`, prompt: 'Upper-case it.', modelId: 'ui-other-model' });
    assert.strictEqual(summary?.status, 'succeeded');
    assert.strictEqual(server.requests[server.requests.length - 1].body.model, 'ui-other-model');
    if (summary) fs.rmSync(path.join(workspaceRoot(), RUNS_DIR, summary.runId), { recursive: true, force: true });
  });

  it('reports an invalid entry once per change of the setting, with its real problem and Open Settings', async () => {
    const spy = spyMessages((m) => (m.message.includes('batchPrompt.models') ? '' : undefined));
    try {
      await setSettings('batchPrompt', { models: [{ provider: 'openai', model: 'gpt-4o' }] });
      await until(() => spy.shown.some((m) => m.message.includes('missing id')), 10_000, 'the invalid entry is reported');
      // Other settings change, the settings are read many times: no second report.
      await setSettings('batchPrompt', { confirmAbove: 99999 });
      const reports = spy.shown.filter((m) => m.message.includes('batchPrompt.models'));
      assert.strictEqual(reports.length, 1, reports.map((m) => m.message).join('\n'));
      assert.match(reports[0].message, /batchPrompt\.models\[0\] \(openai · gpt-4o\): missing id/);
      assert.deepStrictEqual(reports[0].items, ['Open Settings']);
    } finally {
      spy.restore();
    }
  });

  it('Set API Key does not ask a key for a loopback endpoint that needs none, unless told to', async () => {
    await setSettings('batchPrompt', { models: [{ id: 'loop', provider: 'openai', baseUrl, model: 'm' }] });
    const inputs = stubInputs({});
    const spy = spyMessages((m) => (m.message.includes('needs no API key') ? '' : undefined));
    try {
      assert.strictEqual(await vscode.commands.executeCommand('batchPrompt.setApiKey', 'loop'), false);
    } finally {
      spy.restore();
      inputs.restore();
    }
    assert.ok(spy.shown.some((m) => m.message.includes('"loop"') && m.items.includes('Set a Key Anyway')), 'it says so, and offers to set one anyway');
    assert.strictEqual(inputs.asked.length, 0, 'no key box');
  });
});
