// Scenario 10: an edit run (#15). F1 → "Run Prompt on Files…" → the picker's "Type a rewrite prompt
// (edit files)…" → a local server answering each part with a doc comment added → the end-of-run
// notification's "Review Proposed Edits" → VS Code's Refactor Preview with a checkbox per file and per
// change (unticked: they need confirmation) → every change ticked, then one unticked → Apply → saved,
// the files hold every change but that one. Then "Open Diff of a Proposed Edit…" on a file.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { addDocComments, editReply } from '../support/editReplies';
import { localModels, MODEL, removeRuns, useModelServer, workspaceDir, writeUserSettings } from './support/scenario';
import { useWorkbench } from './support/workbench';

const FOLDER = 'edit-ui';
const FILES: Record<string, string> = {
  'shapes.ts': 'export function area(w: number, h: number) {\n  return w * h;\n}\n\nexport function perimeter(w: number, h: number) {\n  return 2 * (w + h);\n}\n',
  'greet.ts': 'export function hello(name: string) {\n  return `hello, ${name}`;\n}\n',
};
const file = (name: string) => path.join(workspaceDir(), FOLDER, name);

describe('Edit runs: the Refactor Preview and Open Diff (UI)', () => {
  const local = useModelServer();
  const workbench = useWorkbench('10-edits', {
    prepare: () => {
      removeRuns();
      fs.rmSync(path.join(workspaceDir(), FOLDER), { recursive: true, force: true });
      fs.mkdirSync(path.join(workspaceDir(), FOLDER), { recursive: true });
      for (const [name, text] of Object.entries(FILES)) fs.writeFileSync(file(name), text);
      local.server().script = (r) => ({ kind: 'ok', reply: editReply(r) });
      // The desktop's default: the applied changes stay unsaved until the user saves them.
      writeUserSettings({ 'batchPrompt.models': localModels(local.url()), 'batchPrompt.confirmAbove': 100000, 'files.autoSave': 'off' });
    },
  });
  after(() => fs.rmSync(path.join(workspaceDir(), FOLDER), { recursive: true, force: true }));

  it('reviews the proposals in the Refactor Preview: one change unticked, the others applied; then Open Diff', async () => {
    const wb = workbench();
    const page = wb.page;
    await wb.runCommand('Batch Prompt: Run Prompt on Files…');
    const glob = await wb.waitForQuickInput('Batch Prompt: run on files');
    await glob.fill(`${FOLDER}/**`);
    await glob.press('Enter');
    await wb.waitForQuickInput('Batch Prompt: choose a prompt');
    await wb.pickQuickItem('Type a rewrite prompt (edit files)…');
    await wb.screenshot('edit-prompt-item');
    const promptBox = await wb.waitForQuickInput('Batch Prompt: rewrite prompt');
    await promptBox.fill('Add a doc comment to every exported function.');
    await promptBox.press('Enter');
    await wb.waitForQuickInput('Batch Prompt: choose a model');
    await wb.pickQuickItem(new RegExp(`^${MODEL.id}$`));

    const done = await wb.waitForNotification('2 files with proposed edits', 30000);
    assert.match(await done.innerText(), /Review Proposed Edits/);
    await wb.screenshot('notification-review-edits');
    for (const [name, text] of Object.entries(FILES)) assert.strictEqual(fs.readFileSync(file(name), 'utf8'), text, `${name} untouched by the run`);
    // The run's live document (named after the run: "<prompt> · <run id>").
    await wb.closeTab(/· \d{8}-\d{6}-[0-9a-f]{4}/);
    await wb.clickNotificationButton(done, 'Review Proposed Edits');

    const panel = page.locator('.bulk-edit-panel');
    const rows = panel.locator('.monaco-list-row');
    const fileRow = (name: string) => rows.filter({ hasText: name }).filter({ hasNot: page.locator('.textedit') }).first();
    await fileRow('shapes.ts').waitFor({ state: 'visible', timeout: 30000 });
    await fileRow('greet.ts').waitFor({ state: 'visible' });
    await wb.screenshot('refactor-preview-unticked');
    // Every change starts unticked (it needs confirmation): each is ticked, then one unticked again.
    // (Ticking a file ticks its changes too, but the tree redraws their rows lazily: the rows are clicked one by one.)
    const change = (text: string) => rows.filter({ has: page.locator('.textedit') }).filter({ hasText: text }).first();
    for (const name of ['shapes.ts', 'greet.ts']) {
      assert.strictEqual(await fileRow(name).locator('.edit-checkbox').getAttribute('aria-checked'), 'false', `${name} unticked at first`);
    }
    // The preview shows each file expanded, its changes under it.
    const checked = (text: string) => change(text).locator('.edit-checkbox').getAttribute('aria-checked');
    for (const text of ['area', 'perimeter', 'hello']) {
      await change(text).waitFor({ state: 'visible' });
      assert.strictEqual(await checked(text), 'false', `${text} unticked at first`);
      await change(text).locator('.edit-checkbox').click();
      assert.strictEqual(await checked(text), 'true', `${text} ticked`);
    }
    await change('perimeter').locator('.edit-checkbox').click();
    assert.deepStrictEqual([await checked('area'), await checked('perimeter'), await checked('hello')], ['true', 'false', 'true']);
    await wb.screenshot('refactor-preview-one-change-unticked');
    await panel.locator('.monaco-button', { hasText: /^Apply$/ }).first().click();
    // Applied in the editor only: both documents become dirty (the Explorer's badge says 2) before anything is saved.
    await wb.waitForUnsavedFiles(2);
    await wb.screenshot('applied-unsaved');
    assert.strictEqual(fs.readFileSync(file('shapes.ts'), 'utf8'), FILES['shapes.ts'], 'not written before saving');
    await wb.saveAll();
    const all = addDocComments(FILES['shapes.ts']);
    const butPerimeter = all.replace('/** perimeter: documented by the model. */\n', '');
    assert.notStrictEqual(butPerimeter, all);
    const deadline = Date.now() + 15000;
    while (fs.readFileSync(file('shapes.ts'), 'utf8') !== butPerimeter && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.strictEqual(fs.readFileSync(file('shapes.ts'), 'utf8'), butPerimeter, 'every change of shapes.ts but the unticked one');
    assert.strictEqual(fs.readFileSync(file('greet.ts'), 'utf8'), addDocComments(FILES['greet.ts']));

    await wb.runCommand('Batch Prompt: Open Diff of a Proposed Edit…');
    await wb.waitForQuickInput('Batch Prompt: open the diff of a proposed file');
    await wb.screenshot('open-diff-pick');
    await wb.pickQuickItem(`${FOLDER}/shapes.ts`);
    await page.locator('.monaco-diff-editor').first().waitFor({ state: 'visible', timeout: 15000 });
    await page.locator('.tabs-container .tab.active', { hasText: /shapes\.ts ↔ proposed/ }).first().waitFor({ state: 'visible' });
    await wb.screenshot('open-diff');
  });
});
