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
      // One chunk per request, two at a time, 1 s each: answers arrive in pairs, a few seconds of
      // visible progress.
      local.server().script = () => ({ kind: 'ok', delayMs: 1000 });
      writeUserSettings({ 'batchPrompt.models': localModels(local.url()), 'batchPrompt.chunksPerBatch': 1, 'batchPrompt.maxConcurrency': 2, 'batchPrompt.confirmAbove': 1000 });
    },
  });

  it('shows N/M while the run goes on, then the outcome', async () => {
    const wb = workbench();
    const expected = [...filesUnder('docs'), ...filesUnder('logs'), ...filesUnder('src')];

    await wb.runCommand('Batch Prompt: Run Prompt on Files…');
    const glob = await wb.waitForQuickInput('Batch Prompt: run on files');
    await glob.fill('{docs,logs,src}/**');
    await glob.press('Enter');
    await wb.waitForQuickInput('Batch Prompt: choose a prompt');
    await wb.pickQuickItem('Summarize each file in one sentence');
    await wb.waitForQuickInput('Batch Prompt: choose a model');
    await wb.pickQuickItem(new RegExp(`^${MODEL.id}$`));

    // Until the run ends, sample what the status bar and the progress notification show (one read of
    // the page for both, so that a pair of texts is of one moment).
    const total = expected.length;
    const outcome = wb.statusBarItem(`Batch Prompt: ${total} done`);
    const samples: { at: number; bar?: number; toast?: number }[] = [];
    const read = (): Promise<{ bar?: string; toast?: string }> =>
      wb.page.evaluate(`(() => {
        const texts = (sel) => [...document.querySelectorAll(sel)].map((e) => e.textContent || '');
        return {
          bar: texts('#workbench\\\\.parts\\\\.statusbar .statusbar-item').find((t) => /Batch Prompt \\d+\\/\\d+/.test(t)),
          toast: texts('.notifications-toasts .notification-toast').find((t) => /\\d+\\/\\d+ chunks/.test(t)),
        };
      })()`);
    const countIn = (text: string | undefined, re: RegExp) => {
      const m = text ? re.exec(text) : null;
      return m ? Number(m[1]) : undefined;
    };
    let pictured = false;
    const deadline = Date.now() + 30000;
    while (!(await outcome.isVisible())) {
      if (Date.now() > deadline) throw new Error(`the outcome did not show; saw ${JSON.stringify(samples)}`);
      const texts = await read();
      const sample = { at: Date.now(), bar: countIn(texts.bar, /Batch Prompt (\d+)\//), toast: countIn(texts.toast, /(\d+)\/\d+ chunks/) };
      samples.push(sample);
      if (!pictured && sample.bar && sample.bar < total) {
        // Part way: "Batch Prompt n/M", the spinner beside it.
        const item = wb.statusBarItem(/Batch Prompt \d+\/\d+/);
        assert.strictEqual(await item.locator('.codicon-sync.codicon-modifier-spin').count(), 1, 'a spinning icon');
        await wb.screenshot('status-bar-progress');
        pictured = true;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const seen = JSON.stringify(samples.map((s) => `${s.bar ?? '-'}|${s.toast ?? '-'}`));
    const bar = [...new Set(samples.flatMap((s) => (s.bar === undefined ? [] : [s.bar])))];
    assert.ok(pictured && bar.some((n) => n > 0 && n < total), `the status bar showed progress part way (status bar|notification: ${seen})`);
    assert.ok(bar.length >= 2, `the count moved during the run (${seen})`);
    assert.ok(bar.every((n, i) => i === 0 || n > bar[i - 1]), `the count only goes up (${seen})`);
    // Answers come two at a time (two requests in flight). Once the notification has shown a count for
    // 400 ms, the status bar shows it too: it may lag a moment behind a burst of answers, not more.
    let compared = 0;
    for (const s of samples) {
      if (s.toast === undefined || s.toast === total) continue;
      const since = samples.find((t) => t.toast === s.toast)!.at;
      if (s.at - since < 400) continue;
      compared++;
      assert.strictEqual(s.bar, s.toast, `the status bar shows ${s.toast}/${total} like the notification (status bar|notification: ${seen})`);
    }
    assert.ok(compared >= 2, `the notification showed counts for a while (${seen})`);
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
