// Scenario 3: the status-bar item "Batch Prompt N/M" counts up during a run and shows the outcome
// after it; clicking it offers the run's actions.
import * as assert from 'assert';
import { filesUnder, localModels, MODEL, removeRuns, useModelServer, writeUserSettings } from './support/scenario';
import { useWorkbench } from './support/workbench';

/** Bound of each wait below: reached only by a hang (the test asserts the order of events, not timing). */
const HANG_GUARD_MS = 30_000;

describe('Status bar during and after a run (UI)', () => {
  const local = useModelServer();
  /** Answers given so far: request n is answered once `released >= n` (the test gives them one by one). */
  let released = 0;
  let waiting: { n: number; go: () => void }[] = [];
  const answered = (n: number) => new Promise<void>((go) => (n <= released ? go() : waiting.push({ n, go })));
  const release = (n: number) => {
    released = n;
    for (const w of waiting.filter((x) => x.n <= n)) w.go();
    waiting = waiting.filter((x) => x.n > n);
  };
  const workbench = useWorkbench('3-status-bar', {
    prepare: () => {
      removeRuns();
      released = 0;
      waiting = [];
      // One chunk per request, two in flight; each reply waits until the test releases it.
      local.server().script = (r) => ({ kind: 'ok', after: answered(r.n) });
      writeUserSettings({ 'batchPrompt.models': localModels(local.url()), 'batchPrompt.chunksPerBatch': 1, 'batchPrompt.maxConcurrency': 2, 'batchPrompt.confirmAbove': 1000 });
    },
  });

  it('shows N/M while the run goes on, following the notification, then the outcome', async () => {
    const wb = workbench();
    const expected = [...filesUnder('docs'), ...filesUnder('logs'), ...filesUnder('src')];

    await wb.runOnFiles('{docs,logs,src}/**');
    await wb.pickQuickItem('Summarize each file in one sentence');
    await wb.waitForQuickInput('Batch Prompt: choose a model');
    await wb.pickQuickItem(new RegExp(`^${MODEL.id}$`));

    // What the status bar and the progress notification show, read in one go (a pair of one moment).
    const total = expected.length;
    assert.ok(total >= 3, `a run of several chunks (${total})`);
    const outcome = wb.statusBarItem(`Batch Prompt: ${total} done`);
    const samples: { released: number; bar?: number; toast?: number }[] = [];
    const seen = () => JSON.stringify(samples.map((s) => `${s.released}:${s.bar ?? '-'}|${s.toast ?? '-'}`));
    const countIn = (text: string | undefined, re: RegExp) => {
      const m = text ? re.exec(text) : null;
      return m ? Number(m[1]) : undefined;
    };
    const sample = async () => {
      const texts: { bar?: string; toast?: string } = await wb.page.evaluate(`(() => {
        const texts = (sel) => [...document.querySelectorAll(sel)].map((e) => e.textContent || '');
        return {
          bar: texts('#workbench\\\\.parts\\\\.statusbar .statusbar-item').find((t) => /Batch Prompt \\d+\\/\\d+/.test(t)),
          toast: texts('.notifications-toasts .notification-toast').find((t) => /\\d+\\/\\d+ chunks/.test(t)),
        };
      })()`);
      const s = { released, bar: countIn(texts.bar, /Batch Prompt (\d+)\//), toast: countIn(texts.toast, /(\d+)\/\d+ chunks/) };
      samples.push(s);
      // Order: no count runs ahead of the answers given.
      assert.ok((s.bar ?? 0) <= released && (s.toast ?? 0) <= released, `a count above the ${released} answers given (released:status bar|notification: ${seen()})`);
      return s;
    };
    const waitFor = async (what: string, ok: (s: { bar?: number; toast?: number }) => boolean) => {
      const deadline = Date.now() + HANG_GUARD_MS;
      while (!ok(await sample())) {
        if (Date.now() > deadline) throw new Error(`${what} did not happen; saw (released:status bar|notification) ${seen()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    // One answer at a time: the notification shows the new count, then the status bar follows it, before
    // the next answer is given.
    for (let c = 1; c < total; c++) {
      release(c);
      await waitFor(`the notification showing ${c}/${total}`, (s) => s.toast === c);
      await waitFor(`the status bar following the notification to ${c}/${total}`, (s) => s.bar === c);
      if (c === 1) {
        // Part way: "Batch Prompt n/M", the spinner beside it.
        const item = wb.statusBarItem(/Batch Prompt \d+\/\d+/);
        assert.strictEqual(await item.locator('.codicon-sync.codicon-modifier-spin').count(), 1, 'a spinning icon');
        await wb.screenshot('status-bar-progress');
      }
    }
    const bar = samples.flatMap((s) => (s.bar === undefined ? [] : [s.bar]));
    assert.ok(bar.every((n, i) => i === 0 || n >= bar[i - 1]), `the count only goes up (${seen()})`);
    release(total);
    await outcome.waitFor({ state: 'visible', timeout: HANG_GUARD_MS });
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
