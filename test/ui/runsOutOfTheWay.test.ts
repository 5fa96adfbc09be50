// Scenario (#18): the product's files stay out of the user's way. Two runs on `src` (typed as a folder
// name in the glob box, which says what Enter does) with the workspace's prompt file; then the prompt
// picker offers that prompt file once (no run's copy), Quick Open for `app.ts` lists one file (the
// outputs are `<path>.md` and `.batch-prompt` is in search.exclude), and with a run's output of
// src/app.ts open, the Problems panel shows nothing from the runs folder.
import * as assert from 'assert';
import { localModels, MODEL, removeRuns, runFolders, until, useModelServer, writeUserSettings } from './support/scenario';
import { useWorkbench, type Workbench } from './support/workbench';

const PROMPT_FILE = 'Summarize each file in one sentence';

describe('Run results stay out of the way (UI)', () => {
  const local = useModelServer();
  const workbench = useWorkbench('18-out-of-the-way', {
    prepare: () => {
      removeRuns();
      writeUserSettings({ 'batchPrompt.models': localModels(local.url()), 'batchPrompt.confirmAbove': 100000 });
    },
  });

  async function runOnSrc(wb: Workbench, n: number): Promise<void> {
    await wb.runCommand('Batch Prompt: Run Prompt on Files…');
    const glob = await wb.waitForQuickInput('Batch Prompt: run on files');
    await glob.fill('src');
    await wb.quickInputMessage.filter({ hasText: 'Enter: run on 3 files in src (src/**)' }).waitFor({ state: 'visible' });
    if (n === 1) await wb.screenshot('glob-box-folder');
    await glob.press('Enter');
    await wb.waitForQuickInput('Batch Prompt: choose a prompt');
    const rows = wb.quickInput.locator('.quick-input-list .monaco-list-row', { hasText: PROMPT_FILE });
    await rows.first().waitFor({ state: 'visible' });
    assert.strictEqual(await rows.count(), 1, `the prompt file is offered once (run ${n})`);
    if (n === 2) await wb.screenshot('prompt-picker-after-a-run');
    await wb.pickQuickItem(PROMPT_FILE);
    await wb.waitForQuickInput('Batch Prompt: choose a model');
    await wb.pickQuickItem(new RegExp(`^${MODEL.id}$`));
    await until(() => runFolders().length === n, 30000, `run ${n} folder`);
    await wb.waitForNotification(/3 of 3 chunks succeeded/, 30000);
  }

  it('after two runs: the prompt file offered once, Quick Open lists one app.ts, no problem from the outputs', async () => {
    const wb = workbench();
    await runOnSrc(wb, 1);
    await runOnSrc(wb, 2);

    // Quick Open: the outputs (app.ts.md, twice) are not listed.
    await wb.page.keyboard.press('Escape');
    await wb.page.keyboard.press('Control+P');
    const quick = wb.quickInput.locator('input.input');
    await quick.waitFor({ state: 'visible' });
    await quick.fill('app.ts');
    const rows = wb.quickInput.locator('.quick-input-list .monaco-list-row');
    await rows.filter({ hasText: 'app.ts' }).first().waitFor({ state: 'visible' });
    await wb.quickInput.locator('.quick-input-progress').waitFor({ state: 'hidden' }).catch(() => undefined);
    await wb.screenshot('quick-open-app-ts');
    const listed = (await rows.allInnerTexts()).filter((t) => t.includes('app.ts'));
    assert.strictEqual(listed.length, 1, listed.join(' | '));
    assert.ok(!listed[0].includes('.batch-prompt'), listed[0]);
    await wb.page.keyboard.press('Escape');

    // A run's output of src/app.ts, opened from the Explorer (which still shows the runs folder).
    const run = runFolders()[1];
    for (const name of ['.batch-prompt', 'runs', run, 'outputs', 'src']) {
      const row = wb.explorerRow(name);
      await row.waitFor({ state: 'visible' });
      // Waits for the row to open before the next name: "outputs / src" is one compact row, and a second
      // click on it before it opened would close it again.
      // ArrowRight on the focused row only ever opens it (a click toggles: a late redraw can make it close).
      if ((await row.getAttribute('aria-expanded')) !== 'true') await row.click();
      for (let i = 0; (await row.getAttribute('aria-expanded')) !== 'true'; i++) {
        if (i === 40) throw new Error(`${name} does not open in the Explorer`);
        await wb.page.keyboard.press('ArrowRight');
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    await wb.explorerRow('app.ts.md').click();
    await wb.page.locator('.tabs-container .tab.active', { hasText: 'app.ts.md' }).waitFor({ state: 'visible' });
    await wb.screenshot('output-opened');

    // The Problems count in the status bar (errors, warnings): nothing from the opened output.
    const problems = wb.page.locator('#workbench\\.parts\\.statusbar #status\\.problems');
    await problems.waitFor({ state: 'visible' });
    await wb.screenshot('problems-count');
    assert.match((await problems.innerText()).replace(/\s+/g, ' ').trim(), /^0 0$/, 'no error or warning');
  });
});
