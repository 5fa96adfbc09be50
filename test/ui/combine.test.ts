// Scenario 11: one answer for a run (#16). F1 → "Run Prompt on Files…" over three notes → then F1 →
// "Combine Results…" → the run picked → "Type a combining prompt…" → typed → the local server answers
// the combine request with the ids of the inputs it was given → answer.md opens beside the report.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { groupIdOf, idsInAnswer, listedIds } from '../support/reduceModel';
import type { ServedRequest } from '../support/modelServer';
import { localModels, MODEL, onlyRunFolder, removeRuns, useModelServer, workspaceDir, writeUserSettings } from './support/scenario';
import { useWorkbench } from './support/workbench';

const FOLDER = 'combine-ui';
const FILES: Record<string, string> = {
  'billing.md': 'Invoices are made monthly by the billing job.\n',
  'auth.md': 'Logins go through the auth service, which issues tokens.\n',
  'search.md': 'Search indexes every invoice and every user.\n',
};

function userOf(req: ServedRequest): string {
  return (req.body.messages ?? []).filter((m) => m.role === 'user').map((m) => m.content).join('\n');
}

describe('Combine Results… (UI)', () => {
  const local = useModelServer();
  const workbench = useWorkbench('11-combine', {
    prepare: () => {
      removeRuns();
      fs.rmSync(path.join(workspaceDir(), FOLDER), { recursive: true, force: true });
      fs.mkdirSync(path.join(workspaceDir(), FOLDER), { recursive: true });
      for (const [name, text] of Object.entries(FILES)) fs.writeFileSync(path.join(workspaceDir(), FOLDER, name), text);
      local.server().script = (r) => {
        const content = userOf(r);
        const id = groupIdOf(content);
        return id ? { kind: 'ok', reply: `<result id="${id}">\n# How the notes fit together\n\nBilling, auth and search, each from its own note.\n\nids: ${listedIds(content).join(' ')}\n</result>` } : undefined;
      };
      writeUserSettings({ 'batchPrompt.models': localModels(local.url()), 'batchPrompt.confirmAbove': 100000, 'batchPrompt.stream': 'never' });
    },
  });
  after(() => fs.rmSync(path.join(workspaceDir(), FOLDER), { recursive: true, force: true }));

  it('runs a prompt, then combines its results into answer.md, opened beside the report', async function () {
    // Two commands, each with its pickers: above the default bound, still a hang guard.
    this.timeout(180_000);
    const wb = workbench();
    await wb.runOnFiles(`${FOLDER}/**`);
    await wb.pickQuickItem('Type a prompt…');
    const promptBox = await wb.waitForQuickInput('Batch Prompt: prompt');
    await promptBox.fill('Say in one line what this note is about.');
    await promptBox.press('Enter');
    await wb.waitForQuickInput('Batch Prompt: choose a model');
    await wb.pickQuickItem(new RegExp(`^${MODEL.id}$`));
    await wb.waitForNotification('3 of 3 chunks succeeded', 30000);
    const run = onlyRunFolder();

    await wb.runCommand('Batch Prompt: Combine Results…');
    await wb.waitForQuickInput('Batch Prompt: combine the results of which run?');
    await wb.screenshot('combine-pick-run');
    await wb.pickQuickItem(path.basename(run));
    await wb.waitForQuickInput('Batch Prompt: combine the results with which prompt?');
    await wb.screenshot('combine-pick-prompt');
    await wb.pickQuickItem('Type a combining prompt…');
    const box = await wb.waitForQuickInput('Batch Prompt: combining prompt');
    await box.fill('How do billing, auth and search fit together?');
    await wb.screenshot('combine-prompt-typed');
    await box.press('Enter');

    await wb.waitForNotification('combined answer of', 30000);
    // The answer in a text editor beside the report's preview.
    await wb.page.locator('.tabs-container .tab.active', { hasText: /^answer\.md/ }).first().waitFor({ state: 'visible', timeout: 15000 });
    await wb.page.locator('.tabs-container .tab.active', { hasText: /Preview.*report\.md/ }).first().waitFor({ state: 'visible', timeout: 15000 });
    await wb.page.locator('.monaco-editor .view-lines', { hasText: 'How the notes fit together' }).first().waitFor({ state: 'visible', timeout: 15000 });
    // The report's preview, drawn: its "Combined answer" section links the answer.
    await wb.markdownPreview.locator('a', { hasText: 'answer.md' }).first().waitFor({ state: 'visible', timeout: 15000 });
    await wb.screenshot('combine-answer-beside-report');
    assert.deepStrictEqual(idsInAnswer(fs.readFileSync(path.join(run, 'answer.md'), 'utf8')).sort(), ['F1', 'F2', 'F3']);
    assert.strictEqual(local.server().requests.filter((r) => groupIdOf(userOf(r))).length, 1, 'one combine request');
    assert.match(fs.readFileSync(path.join(run, 'report.md'), 'utf8'), /Combined answer: \[answer\.md\]/);
  });
});
