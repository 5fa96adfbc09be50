// Edit runs (#15) in the real extension host: an edit run against a local server answering each part
// rewritten, then "Review Proposed Edits" (one WorkspaceEdit whose replaces need confirmation, accepted
// through the Refactor Preview's own Apply command), the documents left dirty with the changes; a file
// changed since the run not offered; Open Diff; the picker's typed rewrite prompt.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { ReviewOutcome } from '../../src/vscode/edits/proposedEdits';
import { addDocComments, editReply } from '../support/editReplies';
import { ModelServer } from '../support/modelServer';
import { activateExtension, extensionApi, HANG_GUARD_MS, runOnFiles, settlesWithin } from './support/extension';
import { spyMessages, stubInputBox, stubQuickPick } from './support/messages';
import { resetSettings, useLocalEndpoint } from './support/settings';
import { removeTree, RunFolder, workspaceRoot, writeTree } from './support/workspace';

const FOLDER = 'edit-run';
const FILES: Record<string, string> = {
  'a.ts': 'export function add(a: number, b: number) {\n  return a + b;\n}\n\nexport function sub(a: number, b: number) {\n  return a - b;\n}\n',
  'b.ts': 'const x = 1;\r\nexport function twice(n: number) {\r\n  return n * 2;\r\n}\r\n',
  'c.ts': 'export const c = 3;\n',
};
const uriOf = (name: string) => vscode.Uri.file(path.join(workspaceRoot(), FOLDER, name));
const onDisk = (name: string) => fs.readFileSync(uriOf(name).fsPath, 'utf8');

/** Runs "Review Proposed Edits" and accepts the Refactor Preview with its own Apply command once it is up. */
async function reviewAndAccept(dir: string): Promise<ReviewOutcome | undefined> {
  let settled = false;
  const review = Promise.resolve(vscode.commands.executeCommand<ReviewOutcome | undefined>('batchPrompt.reviewEdits', vscode.Uri.file(dir))).finally(() => (settled = true));
  const deadline = Date.now() + HANG_GUARD_MS;
  // The preview opens asynchronously; its Apply does nothing until it is up, so it is asked again until the review resolves.
  while (!settled && Date.now() < deadline) {
    await vscode.commands.executeCommand('refactorPreview.apply').then(undefined, () => undefined);
    await new Promise((r) => setTimeout(r, 100));
  }
  return settlesWithin(review, 1000, 'the review');
}

async function revertAll(): Promise<void> {
  for (const name of Object.keys(FILES)) {
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === uriOf(name).fsPath);
    if (doc?.isDirty) {
      await vscode.window.showTextDocument(doc);
      await vscode.commands.executeCommand('workbench.action.files.revert');
    }
  }
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

describe('Edit runs: Review Proposed Edits and Open Diff (extension host)', function () {
  let server: ModelServer;
  before(async () => {
    await activateExtension();
    server = new ModelServer();
    await useLocalEndpoint(await server.start(), { chunksPerBatch: 2 });
  });
  beforeEach(() => {
    server.script = (req) => ({ kind: 'ok', reply: editReply(req) });
    writeTree(FOLDER, FILES);
  });
  afterEach(revertAll);
  after(async () => {
    await resetSettings('batchPrompt');
    await server.stop();
    removeTree(FOLDER);
  });

  async function editRun(): Promise<RunFolder> {
    const spy = spyMessages();
    try {
      const summary = await runOnFiles({ glob: `${FOLDER}/**`, prompt: 'Add a doc comment to every exported function.', modelId: 'local', output: 'edit' });
      assert.ok(summary && summary.status === 'succeeded', JSON.stringify(summary));
      const done = spy.shown.find((m) => m.message.startsWith('Batch Prompt: 2 files with proposed edits (nothing written yet).'));
      assert.ok(done, spy.shown.map((m) => m.message).join('\n'));
      assert.ok(done.items.includes('Review Proposed Edits'), done.items.join(', '));
      return RunFolder.of(summary);
    } finally {
      spy.restore();
    }
  }

  it('an edit run writes proposals only; accepting the review puts every change in the documents, left dirty, and writes nothing to disk', async () => {
    const run = await editRun();
    assert.strictEqual((JSON.parse(run.read('run.json')) as { output?: { kind: string } }).output?.kind, 'edit');
    for (const [name, text] of Object.entries(FILES)) assert.strictEqual(onDisk(name), text, `${name} untouched by the run`);
    assert.strictEqual(run.read(`proposed/${FOLDER}/a.ts`), addDocComments(FILES['a.ts']));

    // What the command hands to VS Code: one replace per hunk (a.ts has two, b.ts one; c.ts is unchanged).
    const plan = await (await extensionApi()).edits.buildReview(vscode.Uri.file(run.dir));
    assert.ok(plan);
    assert.deepStrictEqual(plan.offered.map((o) => [o.path, o.hunks]), [[`${FOLDER}/a.ts`, 2], [`${FOLDER}/b.ts`, 1]]);
    assert.deepStrictEqual(plan.edit.entries().map(([uri, edits]) => [path.basename(uri.fsPath), edits.length]), [['a.ts', 2], ['b.ts', 1]]);

    const outcome = await reviewAndAccept(run.dir);
    assert.ok(outcome?.applied, JSON.stringify(outcome));
    for (const name of ['a.ts', 'b.ts']) {
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === uriOf(name).fsPath);
      assert.ok(doc, `${name} is open`);
      assert.ok(doc.isDirty, `${name} is left dirty for the user to save`);
      assert.strictEqual(doc.getText(), run.read(`proposed/${FOLDER}/${name}`), `${name} holds the proposal`);
      assert.strictEqual(onDisk(name), FILES[name], `${name} not written to disk`);
    }
    assert.strictEqual(onDisk('b.ts'), FILES['b.ts']);
  });

  it('a file changed since the run is not offered and is listed "changed since the run: re-run it"; the others are', async () => {
    const run = await editRun();
    fs.writeFileSync(uriOf('a.ts').fsPath, `// by hand\n${FILES['a.ts']}`);
    const spy = spyMessages();
    let outcome: ReviewOutcome | undefined;
    try {
      outcome = await reviewAndAccept(run.dir);
    } finally {
      spy.restore();
    }
    assert.deepStrictEqual(outcome?.offered, [`${FOLDER}/b.ts`]);
    assert.deepStrictEqual(outcome?.notOffered, [{ path: `${FOLDER}/a.ts`, reason: 'changed since the run: re-run it' }]);
    assert.ok(spy.shown.some((m) => m.kind === 'warning' && m.message.includes(`${FOLDER}/a.ts (changed since the run: re-run it)`)), spy.shown.map((m) => m.message).join('\n'));
    const a = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === uriOf('a.ts').fsPath);
    assert.ok(!a?.isDirty, 'a.ts not touched');
    assert.strictEqual(onDisk('a.ts'), `// by hand\n${FILES['a.ts']}`);
  });

  it('the newest edit run is found from the run folders (as after a reload), and Open Diff shows a file against its proposal', async () => {
    const run = await editRun();
    const api = await extensionApi();
    assert.strictEqual((await api.edits.newestEditRun())?.fsPath, run.dir);
    const pick = stubQuickPick((items) => items.find((i) => i.label === `${FOLDER}/b.ts`));
    try {
      assert.strictEqual(await vscode.commands.executeCommand('batchPrompt.openEditDiff'), true);
      assert.deepStrictEqual(pick.asked[0].map((i) => i.label), [`${FOLDER}/a.ts`, `${FOLDER}/b.ts`]);
    } finally {
      pick.restore();
    }
    const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    assert.ok(input instanceof vscode.TabInputTextDiff, 'a diff editor is active');
    assert.strictEqual(input.original.fsPath, uriOf('b.ts').fsPath);
    assert.strictEqual(input.modified.fsPath, path.join(run.dir, 'proposed', FOLDER, 'b.ts'));
  });

  it('the picker\'s "Type a rewrite prompt (edit files)…" item makes an edit run', async () => {
    const pick = stubQuickPick((items) => items.find((i) => i.label.includes('Type a rewrite prompt (edit files)…')));
    const input = stubInputBox('Add a doc comment to every exported function.');
    try {
      const summary = await runOnFiles({ glob: `${FOLDER}/a.ts`, modelId: 'local' });
      assert.ok(summary);
      const run = RunFolder.of(summary);
      assert.strictEqual((JSON.parse(run.read('run.json')) as { output?: { kind: string } }).output?.kind, 'edit');
      assert.strictEqual(run.read(`proposed/${FOLDER}/a.ts`), addDocComments(FILES['a.ts']));
    } finally {
      pick.restore();
      input.restore();
    }
  });
});
