// Scenario 9: a findings run (#14). F1 → "Run Prompt on Files…" → the picker's "Type a prompt for
// findings (Problems panel)…" → a local server answering findings JSON → the end-of-run notification
// says the counts with "Show Problems" → the Problems panel lists the run's findings with source
// "Batch Prompt" → "Batch Prompt: Clear Findings" empties it.
import * as assert from 'assert';
import { findingsReply } from '../support/findingsReplies';
import { localModels, MODEL, removeRuns, useModelServer, writeUserSettings } from './support/scenario';
import { useWorkbench } from './support/workbench';

describe('Findings in the Problems panel (UI)', () => {
  const local = useModelServer();
  const workbench = useWorkbench('9-findings', {
    prepare: () => {
      removeRuns();
      // Every line holding "export" is a finding: src/util.ts:1 and src/lib/math.ts:1.
      local.server().script = (r) => findingsReply(r, 'export');
      writeUserSettings({ 'batchPrompt.models': localModels(local.url()), 'batchPrompt.confirmAbove': 100000 });
    },
  });

  it('shows the run\'s findings in the Problems panel through the notification\'s "Show Problems"', async () => {
    const wb = workbench();
    await wb.runOnFiles('src/**');
    await wb.pickQuickItem('Type a prompt for findings (Problems panel)…');
    await wb.screenshot('findings-prompt-item');
    const promptBox = await wb.waitForQuickInput('Batch Prompt: prompt for findings');
    await promptBox.fill('Report every exported symbol.');
    await wb.screenshot('findings-prompt-typed');
    await promptBox.press('Enter');
    await wb.waitForQuickInput('Batch Prompt: choose a model');
    await wb.pickQuickItem(new RegExp(`^${MODEL.id}$`));

    const done = await wb.waitForNotification('2 errors in 2 files', 30000);
    assert.match(await done.innerText(), /Show Problems/);
    await wb.screenshot('notification-show-problems');
    await wb.clickNotificationButton(done, 'Show Problems');

    const rows = wb.page.locator('.markers-panel .monaco-list-row');
    await rows.filter({ hasText: 'Planted bug on line 1.' }).first().waitFor({ state: 'visible', timeout: 15000 });
    const text = await wb.page.locator('.markers-panel').innerText();
    assert.match(text, /util\.ts/);
    assert.match(text, /math\.ts/);
    assert.match(text, /Batch Prompt/);
    assert.match(text, /planted-bug/);
    await wb.screenshot('problems-panel');

    await wb.runCommand('Batch Prompt: Clear Findings');
    await rows.filter({ hasText: 'Planted bug on line 1.' }).first().waitFor({ state: 'detached', timeout: 15000 });
    await wb.screenshot('findings-cleared');
  });
});
