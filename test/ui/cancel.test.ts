// Scenario 5: Cancel on the progress notification mid-run → the run stops within a second, nothing
// more is sent → the canceled chunks are listed in the Failed Chunks view → Retry (on the run row)
// sends them and completes the outputs.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { filesUnder, localModels, MODEL, onlyRunFolder, removeRuns, until, useModelServer, writeUserSettings } from './support/scenario';
import { useWorkbench } from './support/workbench';

describe('Cancel from the progress notification (UI)', () => {
  const local = useModelServer();
  let hang = true;
  const workbench = useWorkbench('5-cancel', {
    prepare: () => {
      removeRuns();
      // Two answers, then every request hangs until the run is canceled.
      local.server().script = (req) => (hang && req.n > 2 ? { kind: 'hang' } : { kind: 'ok', delayMs: 200 });
      writeUserSettings({
        'batchPrompt.models': localModels(local.url()),
        'batchPrompt.chunksPerBatch': 1,
        'batchPrompt.maxConcurrency': 1,
        'batchPrompt.maxRetries': 0,
        'batchPrompt.confirmAbove': 1000,
      });
    },
  });

  it('stops within a second; the canceled chunks are listed and can be retried', async () => {
    const wb = workbench();
    const server = local.server();
    const files = [...filesUnder('docs'), ...filesUnder('src')];
    const total = files.length;

    await wb.runCommand('Batch Prompt: Run Prompt on Files…');
    const glob = await wb.waitForQuickInput('Batch Prompt: run on files');
    await glob.fill('{docs,src}/**');
    await glob.press('Enter');
    await wb.waitForQuickInput('Batch Prompt: choose a prompt');
    await wb.pickQuickItem('Summarize each file in one sentence');
    await wb.waitForQuickInput('Batch Prompt: choose a model');
    await wb.pickQuickItem(new RegExp(`^${MODEL.id}$`));

    await until(() => server.requests.length === 3, 15000, 'the third request (which hangs)');
    const progress = wb.notification(`2/${total} chunks`);
    await progress.waitFor({ state: 'visible', timeout: 10000 });
    await wb.screenshot('running');

    // Cancel on the notification; the run ends (its summary notification) within a second.
    await progress.hover();
    const cancel = progress.locator('.notification-list-item-buttons-container .monaco-button', { hasText: 'Cancel' });
    await cancel.waitFor({ state: 'visible' });
    const clicked = Date.now();
    await cancel.click();
    const done = wb.notification(new RegExp(`2 of ${total} chunks succeeded, ${total - 2} canceled`));
    await done.waitFor({ state: 'attached', timeout: 5000 });
    const stoppedMs = Date.now() - clicked;
    console.log(`      the run stopped ${stoppedMs} ms after Cancel was clicked`);
    assert.ok(stoppedMs < 1000, `the run stopped ${stoppedMs} ms after Cancel (at most 1000 ms)`);
    await wb.waitForNotification(`${total - 2} canceled`);
    await wb.screenshot('canceled');
    // The status bar tells the outcome (canceled chunks only: no "0 failed").
    const outcome = wb.statusBarItem(/Batch Prompt: /);
    await outcome.waitFor({ state: 'visible', timeout: 5000 });
    assert.strictEqual((await outcome.innerText()).trim(), `Batch Prompt: ${total - 2} canceled`);
    // Nothing is sent after the cancel.
    await new Promise((r) => setTimeout(r, 500));
    assert.strictEqual(server.requests.length, 3, 'no request after the cancel');

    const run = onlyRunFolder();
    const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8')) as { status: string; canceled: number; succeeded: number };
    assert.strictEqual(summary.status, 'canceled');
    assert.strictEqual(summary.canceled, total - 2);

    // The canceled chunks in the Failed Chunks view.
    await wb.clickNotificationButton(done, 'Show Failures');
    const chunkRows = wb.sideBarRows.filter({ hasText: /lines \d+–\d+/ });
    await chunkRows.nth(total - 3).waitFor({ state: 'visible', timeout: 15000 });
    assert.strictEqual(await chunkRows.count(), total - 2, 'one row per canceled chunk');
    for (const text of await chunkRows.allInnerTexts()) assert.match(text.replace(/\s+/g, ' '), /lines \d+–\d+\s*canceled/);
    const runRow = wb.sideBarRows.first();
    assert.match((await runRow.innerText()).replace(/\s+/g, ' '), new RegExp(`${MODEL.id} · ${total - 2} canceled`));
    await wb.screenshot('canceled-chunks-listed');

    // Retry the whole run; the server answers now.
    hang = false;
    const before = server.requests.length;
    await wb.clickInlineAction(runRow, 'Retry');
    // The run's summary counts all its chunks again.
    await wb.waitForNotification(`${total} of ${total} chunks succeeded`, 30000);
    assert.strictEqual(server.requests.length - before, total - 2, 'the retry sent the canceled chunks (one per request)');
    await wb.page.locator('#workbench\\.parts\\.sidebar .welcome-view-content', { hasText: 'No failed chunks' }).waitFor({ state: 'visible', timeout: 15000 });
    await wb.screenshot('view-empty-after-retry');
    for (const f of files) {
      assert.ok(fs.existsSync(path.join(run, 'outputs', ...f.split('/'))), `${f}: complete output`);
      assert.ok(!fs.existsSync(path.join(run, 'outputs', ...f.split('/')) + '.incomplete'), `${f}: no incomplete output`);
    }
  });
});
