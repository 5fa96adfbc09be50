// Scenario 3: the status-bar item "Batch Prompt N/M" counts up during a run and shows the outcome
// after it; clicking it offers the run's actions.
import * as assert from 'assert';
import { filesUnder, localModels, MODEL, removeRuns, useModelServer, writeUserSettings } from './support/scenario';
import { useWorkbench } from './support/workbench';

describe('Status bar during and after a run (UI)', () => {
  const local = useModelServer();
  const workbench = useWorkbench('3-status-bar', {
    prepare: () => {
      removeRuns();
      // One chunk per request, one at a time, 600 ms each: a few seconds of visible progress.
      local.server().script = () => ({ kind: 'ok', delayMs: 600 });
      writeUserSettings({ 'batchPrompt.models': localModels(local.url()), 'batchPrompt.chunksPerBatch': 1, 'batchPrompt.maxConcurrency': 1, 'batchPrompt.confirmAbove': 1000 });
    },
  });

  it('shows N/M while the run goes on, then the outcome', async () => {
    const wb = workbench();
    const expected = [...filesUnder('docs'), ...filesUnder('src')];

    await wb.runCommand('Batch Prompt: Run Prompt on Files…');
    const glob = await wb.waitForQuickInput('Batch Prompt: run on files');
    await glob.fill('{docs,src}/**');
    await glob.press('Enter');
    await wb.waitForQuickInput('Batch Prompt: choose a prompt');
    await wb.pickQuickItem('Summarize each file in one sentence');
    await wb.waitForQuickInput('Batch Prompt: choose a model');
    await wb.pickQuickItem(new RegExp(`^${MODEL.id}$`));

    // Part way: "Batch Prompt n/M" with 0 < n < M, the spinner beside it.
    const total = expected.length;
    const progress = wb.statusBarItem(new RegExp(`Batch Prompt [1-${Math.min(9, total - 1)}]/${total}(?!\\d)`));
    await progress.waitFor({ state: 'visible', timeout: 15000 });
    assert.strictEqual(await progress.locator('.codicon-sync.codicon-modifier-spin').count(), 1, 'a spinning icon');
    await wb.screenshot('status-bar-progress');
    const seen = new Set<string>();
    // Count up: record what the item shows until the run ends.
    const outcome = wb.statusBarItem(`Batch Prompt: ${total} done`);
    const deadline = Date.now() + 30000;
    while (!(await outcome.isVisible())) {
      if (Date.now() > deadline) throw new Error(`the outcome did not show; saw ${[...seen].join(' | ')}`);
      const text = await wb.statusBarItem(/Batch Prompt \d+\/\d+/).innerText({ timeout: 200 }).catch(() => undefined);
      if (text) seen.add(text.trim());
      await new Promise((r) => setTimeout(r, 100));
    }
    const counts = [...seen].map((t) => Number(/(\d+)\//.exec(t)?.[1]));
    assert.ok(counts.length >= 2, `the count moved during the run (saw ${[...seen].join(' | ')})`);
    assert.ok(counts.every((n, i) => i === 0 || n > counts[i - 1]), `the count only goes up (saw ${[...seen].join(' | ')})`);
    assert.strictEqual(await outcome.locator('.codicon-check').count(), 1, 'a check mark');
    await wb.screenshot('status-bar-outcome');

    // A click offers the results of the finished run.
    await outcome.click();
    await wb.waitForQuickInput('Batch Prompt');
    await wb.quickInput.locator('.quick-input-list .monaco-list-row', { hasText: 'Open Results' }).waitFor({ state: 'visible' });
    await wb.screenshot('status-bar-actions');
    await wb.page.keyboard.press('Escape');
  });
});
