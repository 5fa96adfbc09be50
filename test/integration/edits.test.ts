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
import { resetSettings, setSettings, useLocalEndpoint } from './support/settings';
import { removeTree, RunFolder, workspaceRoot, writeTree } from './support/workspace';

const FOLDER = 'edit-run';
const FILES: Record<string, string> = {
  'a.ts': 'export function add(a: number, b: number) {\n  return a + b;\n}\n\nexport function sub(a: number, b: number) {\n  return a - b;\n}\n',
  'b.ts': 'const x = 1;\r\nexport function twice(n: number) {\r\n  return n * 2;\r\n}\r\n',
  'c.ts': 'export const c = 3;\n',
};
const uriOf = (name: string) => vscode.Uri.file(path.join(workspaceRoot(), FOLDER, name));
const onDisk = (name: string) => fs.readFileSync(uriOf(name).fsPath, 'utf8');

/** Runs "Review Proposed Edits" and presses the Refactor Preview's own Apply (nothing ticked) once it is up. */
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
    // VS Code for the web saves after a delay by default; the desktop's default (off) keeps a review's documents dirty.
    await setSettings('files', { autoSave: 'off' });
  });
  beforeEach(() => {
    server.script = (req) => ({ kind: 'ok', reply: editReply(req) });
    writeTree(FOLDER, FILES);
  });
  afterEach(revertAll);
  after(async () => {
    await resetSettings();
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

  it('an edit run writes proposals only; its review is one WorkspaceEdit of confirmed replaces, which VS Code applies only as ticked; accepted, the documents hold every change, left dirty, nothing on disk', async () => {
    const run = await editRun();
    assert.strictEqual((JSON.parse(run.read('run.json')) as { output?: { kind: string } }).output?.kind, 'edit');
    for (const [name, text] of Object.entries(FILES)) assert.strictEqual(onDisk(name), text, `${name} untouched by the run`);
    assert.strictEqual(run.read(`proposed/${FOLDER}/a.ts.proposed`), addDocComments(FILES['a.ts']));

    // What the command hands to VS Code: one replace per hunk (a.ts has two, b.ts one; c.ts is unchanged), each needing confirmation.
    const plan = await (await extensionApi()).edits.buildReview(vscode.Uri.file(run.dir));
    assert.ok(plan);
    assert.deepStrictEqual(plan.offered.map((o) => [o.path, o.hunks]), [[`${FOLDER}/a.ts`, 2], [`${FOLDER}/b.ts`, 1]]);
    assert.deepStrictEqual(plan.edit.entries().map(([uri, edits]) => [path.basename(uri.fsPath), edits.length]), [['a.ts', 2], ['b.ts', 1]]);
    assert.deepStrictEqual(
      plan.changes.map((c) => [c.metadata.needsConfirmation, c.metadata.label, c.metadata.description]),
      [
        [true, `Batch Prompt ${plan.runId}: proposed edits`, `${FOLDER}/a.ts: 1 line added before line 1`],
        [true, `Batch Prompt ${plan.runId}: proposed edits`, `${FOLDER}/a.ts: 1 line added before line 5`],
        [true, `Batch Prompt ${plan.runId}: proposed edits`, `${FOLDER}/b.ts: 1 line added before line 2`],
      ],
    );

    // Every change ticked (what the user does in the preview; the extension host cannot click it): the same replaces applied.
    const ticked = new vscode.WorkspaceEdit();
    for (const c of plan.changes) ticked.replace(c.uri, c.range, c.newText);
    assert.ok(await vscode.workspace.applyEdit(ticked));
    for (const name of ['a.ts', 'b.ts']) {
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === uriOf(name).fsPath);
      assert.ok(doc, `${name} is open`);
      assert.ok(doc.isDirty, `${name} is left dirty for the user to save`);
      assert.strictEqual(doc.getText(), run.read(`proposed/${FOLDER}/${name}.proposed`), `${name} holds the proposal`);
      assert.strictEqual(onDisk(name), FILES[name], `${name} not written to disk`);
    }
  });

  it('a file changed since the run, or whose open document has unsaved changes, is not offered, and is listed with why', async () => {
    const run = await editRun();
    fs.writeFileSync(uriOf('a.ts').fsPath, `// by hand\n${FILES['a.ts']}`);
    const b = await vscode.workspace.openTextDocument(uriOf('b.ts'));
    const unsaved = new vscode.WorkspaceEdit();
    unsaved.insert(b.uri, new vscode.Position(0, 0), '// typing\r\n');
    assert.ok(await vscode.workspace.applyEdit(unsaved));
    const spy = spyMessages();
    let outcome: ReviewOutcome | undefined;
    try {
      outcome = await vscode.commands.executeCommand<ReviewOutcome | undefined>('batchPrompt.reviewEdits', vscode.Uri.file(run.dir));
    } finally {
      spy.restore();
    }
    assert.deepStrictEqual(outcome?.offered, []);
    assert.deepStrictEqual(outcome?.notOffered, [
      { path: `${FOLDER}/a.ts`, reason: 'changed since the run: re-run it' },
      { path: `${FOLDER}/b.ts`, reason: 'its open document differs from the file (unsaved changes): save or revert it, then review again' },
    ]);
    assert.strictEqual(outcome?.applied, false);
    const warning = spy.shown.find((m) => m.kind === 'warning' && m.message.includes('2 files of'));
    assert.ok(warning?.message.includes(`${FOLDER}/a.ts (changed since the run: re-run it)`), spy.shown.map((m) => m.message).join('\n'));
    assert.strictEqual(onDisk('a.ts'), `// by hand\n${FILES['a.ts']}`);
    assert.strictEqual(b.getText(), `// typing\r\n${FILES['b.ts']}`);
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
    assert.strictEqual(input.modified.fsPath, path.join(run.dir, 'proposed', FOLDER, 'b.ts.proposed'));
  });

  it('the picker\'s "Type a rewrite prompt (edit files)…" item makes an edit run', async () => {
    const pick = stubQuickPick((items) => items.find((i) => i.label.includes('Type a rewrite prompt (edit files)…')));
    const input = stubInputBox('Add a doc comment to every exported function.');
    try {
      const summary = await runOnFiles({ glob: `${FOLDER}/a.ts`, modelId: 'local' });
      assert.ok(summary);
      const run = RunFolder.of(summary);
      assert.strictEqual((JSON.parse(run.read('run.json')) as { output?: { kind: string } }).output?.kind, 'edit');
      assert.strictEqual(run.read(`proposed/${FOLDER}/a.ts.proposed`), addDocComments(FILES['a.ts']));
    } finally {
      pick.restore();
      input.restore();
    }
  });

  // Last: the Refactor Preview session it opens is the workbench's, not the test's.
  it('through the command, the Refactor Preview opens with every change unticked: its Apply, pressed as it is, changes nothing', async () => {
    const run = await editRun();
    const outcome = await reviewAndAccept(run.dir);
    assert.deepStrictEqual(outcome && [outcome.applied, outcome.offered], [false, [`${FOLDER}/a.ts`, `${FOLDER}/b.ts`]]);
    assert.ok(!vscode.workspace.textDocuments.some((d) => d.isDirty && d.uri.fsPath.includes(`${path.sep}${FOLDER}${path.sep}`)), 'no document changed');
    for (const [name, text] of Object.entries(FILES)) assert.strictEqual(onDisk(name), text);
  });
});
