// Scenario 1: F1 → "Batch Prompt: Run Prompt on Files…" → glob (with its live count) → prompt → model
// (a local server configured in user settings) → confirmation → the progress notification shows
// counts → "Open Results" opens the report.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { extensionLog, filesUnder, localModels, MODEL, onlyRunFolder, removeRuns, until, useModelServer, writeUserSettings } from './support/scenario';
import { useWorkbench } from './support/workbench';

const PROMPT = 'Upper-case every line of this file.';

describe('Run Prompt on Files… from the command palette (UI)', () => {
  const local = useModelServer();
  /** Replies after the first wait until the test has seen the progress part way through (no race with a fast run). */
  let seenPartWay: () => void = () => {};
  const workbench = useWorkbench('1-run-on-files', {
    prepare: () => {
      removeRuns();
      // One chunk per request, one request at a time: the first is answered at once, the others once the
      // test has seen a count part way through. confirmAbove 1: the confirmation is part of the scenario.
      const held = new Promise<void>((go) => (seenPartWay = go));
      local.server().script = (r) => (r.n === 1 ? { kind: 'ok' } : { kind: 'ok', after: held });
      // chunkTokens of this scenario's own: no plan cached by another scenario serves it (the files are chunked here).
      writeUserSettings({ 'batchPrompt.models': localModels(local.url()), 'batchPrompt.chunksPerBatch': 1, 'batchPrompt.maxConcurrency': 1, 'batchPrompt.confirmAbove': 1, 'batchPrompt.chunkTokens': 8191 });
    },
  });

  it('asks for files, prompt and model, shows progress with counts, and opens the report', async () => {
    const wb = workbench();
    const server = local.server();
    const expected = filesUnder('src');

    await wb.runCommand('Batch Prompt: Run Prompt on Files…');
    const glob = await wb.waitForQuickInput('Batch Prompt: run on files');
    await glob.fill('src/**');
    // The live count of matching files.
    await wb.quickInputMessage.filter({ hasText: `Enter: run on ${expected.length} files` }).waitFor({ state: 'visible' });
    await wb.screenshot('glob-with-count');
    await glob.press('Enter');

    await wb.waitForQuickInput('Batch Prompt: choose a prompt');
    await wb.screenshot('prompt-pick');
    await wb.pickQuickItem('Type a prompt…');
    const promptBox = await wb.waitForQuickInput('Batch Prompt: prompt');
    await promptBox.fill(PROMPT);
    await wb.screenshot('prompt-typed');
    await promptBox.press('Enter');

    await wb.waitForQuickInput('Batch Prompt: choose a model');
    await wb.screenshot('model-pick');
    await wb.pickQuickItem(new RegExp(`^${MODEL.id}$`));

    const dialog = wb.dialog('Batch Prompt: send');
    await dialog.waitFor({ state: 'visible' });
    assert.match(await dialog.innerText(), new RegExp(`send ${expected.length} chunks of ${expected.length} files to ${MODEL.id} in ${expected.length} requests`));
    await wb.screenshot('confirm');
    await dialog.locator('.dialog-buttons .monaco-button', { hasText: `Send ${expected.length} Requests` }).click();

    // The progress notification, with counts part way through.
    const progress = wb.notification(new RegExp(`Batch Prompt.*[1-9]\\d*/${expected.length} chunks`));
    await progress.waitFor({ state: 'visible', timeout: 15000 });
    await wb.screenshot('progress');
    seenPartWay();

    const done = await wb.waitForNotification(`${expected.length} of ${expected.length} chunks succeeded`, 30000);
    await wb.screenshot('finished');
    // The server saw exactly the files of the glob, with the prompt, on the chosen model.
    assert.deepStrictEqual([...new Set(server.requests.flatMap((r) => r.chunks.map((c) => c.path)))].sort(), expected);
    assert.ok(server.requests.every((r) => r.body.model === MODEL.model), 'every request went to the chosen model');
    assert.ok(server.requests.every((r) => r.body.messages?.some((m) => m.content.includes(PROMPT))), 'every request carries the prompt');

    await wb.clickNotificationButton(done, 'Open Results');
    // The report opens in the Markdown preview.
    const tab = wb.page.locator('.tabs-container .tab', { hasText: 'report.md' }).first();
    await tab.waitFor({ state: 'visible', timeout: 15000 });
    const run = onlyRunFolder();
    const report = fs.readFileSync(path.join(run, 'report.md'), 'utf8');
    assert.ok(report.startsWith(`# Batch Prompt run ${path.basename(run)}`), report.slice(0, 200));
    const preview = wb.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    await preview.locator('h1', { hasText: `Batch Prompt run ${path.basename(run)}` }).waitFor({ state: 'visible', timeout: 15000 });
    await wb.screenshot('report');
    // Planned in the packaged extension's worker threads (its bundled worker entry ships in the .vsix):
    // a fresh extension host has not loaded the encoding, so every file is chunked in the pool.
    const planned = new RegExp(`Planning: ${expected.length} files planned: ${expected.length} chunked in worker threads \\(pool of \\d+\\), 0 in this thread`);
    await until(() => planned.test(extensionLog()), 15000, `the log line "${planned.source}"`).catch(() => assert.match(extensionLog(), planned));
  });
});
