// Scenario 5: Cancel on the progress notification mid-run → the run stops: the request in flight is
// aborted and nothing more is sent → the canceled chunks are listed in the Failed Chunks view → Retry
// (on the run row) sends them and completes the outputs. Asserted by the order of events (the server's
// log), never by how long the stop took; time bounds are hang guards only.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { filesUnder, localModels, MODEL, onlyRunFolder, removeRuns, until, useModelServer, writeUserSettings } from './support/scenario';
import { useWorkbench } from './support/workbench';

/** Bound of a wait for an event: reached only by a hang. */
const HANG_GUARD_MS = 30_000;

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

  it('stops on Cancel: nothing is sent after it; the canceled chunks are listed and can be retried', async () => {
    const wb = workbench();
    const server = local.server();
    const files = [...filesUnder('docs'), ...filesUnder('src')];
    const total = files.length;

    await wb.runOnFiles('{docs,src}/**');
    await wb.pickQuickItem('Summarize each file in one sentence');
    await wb.waitForQuickInput('Batch Prompt: choose a model');
    await wb.pickQuickItem(new RegExp(`^${MODEL.id}$`));

    await until(() => server.requests.length === 3, HANG_GUARD_MS, 'the third request (which hangs)');
    const progress = wb.notification(`2/${total} chunks`);
    await progress.waitFor({ state: 'visible', timeout: HANG_GUARD_MS });
    await wb.screenshot('running');

    // Cancel on the notification; the run ends (its summary notification).
    await progress.hover();
    const cancel = progress.locator('.notification-list-item-buttons-container .monaco-button', { hasText: 'Cancel' });
    await cancel.waitFor({ state: 'visible' });
    const sentBeforeCancel = server.requests.length;
    assert.strictEqual(sentBeforeCancel, 3);
    assert.ok(!server.requests[2].closedByClient, 'the third request is in flight when Cancel is clicked');
    await cancel.click();
    const done = wb.notification(new RegExp(`2 of ${total} chunks succeeded, ${total - 2} canceled`));
    await done.waitFor({ state: 'attached', timeout: HANG_GUARD_MS });
    // The cancel stopped the request in flight (the server never answers it: only the client closes it).
    await until(() => server.requests[2].closedByClient === true, HANG_GUARD_MS, 'the request in flight to be aborted');
    await wb.waitForNotification(`${total - 2} canceled`);
    await wb.screenshot('canceled');
    // The status bar tells the outcome (canceled chunks only: no "0 failed").
    const outcome = wb.statusBarItem(/Batch Prompt: /);
    await outcome.waitFor({ state: 'visible', timeout: HANG_GUARD_MS });
    assert.strictEqual((await outcome.innerText()).trim(), `Batch Prompt: ${total - 2} canceled`);

    const run = onlyRunFolder();
    const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8')) as { status: string; canceled: number; succeeded: number };
    assert.strictEqual(summary.status, 'canceled');
    assert.strictEqual(summary.canceled, total - 2);

    // The canceled chunks in the Failed Chunks view.
    await wb.clickNotificationButton(done, 'Show Failures');
    const chunkRows = wb.viewRows('Unfinished Chunks').filter({ hasText: /lines? \d+(–\d+)?/ });
    await chunkRows.nth(total - 3).waitFor({ state: 'visible', timeout: HANG_GUARD_MS });
    assert.strictEqual(await chunkRows.count(), total - 2, 'one row per canceled chunk');
    for (const text of await chunkRows.allInnerTexts()) assert.match(text.replace(/\s+/g, ' '), /lines? \d+(–\d+)?\s*canceled/);
    const runRow = wb.viewRows('Unfinished Chunks').first();
    assert.match((await runRow.innerText()).replace(/\s+/g, ' '), new RegExp(`${total - 2} canceled · ${MODEL.id}`));
    await wb.screenshot('canceled-chunks-listed');

    // Nothing reached the server between the cancel and the retry (the view, the outcome and the
    // summary all came in between).
    assert.strictEqual(server.requests.length, sentBeforeCancel, 'no request after the cancel');

    // Retry the whole run; the server answers now.
    hang = false;
    const before = server.requests.length;
    await wb.clickInlineAction(runRow, 'Retry');
    // The run's summary counts all its chunks again.
    await wb.waitForNotification(`${total} of ${total} chunks succeeded`, HANG_GUARD_MS);
    assert.strictEqual(server.requests.length - before, total - 2, 'the retry sent the canceled chunks (one per request)');
    await wb.page.locator('#workbench\\.parts\\.sidebar .welcome-view-content', { hasText: 'No unfinished chunks' }).waitFor({ state: 'visible', timeout: HANG_GUARD_MS });
    await wb.screenshot('view-empty-after-retry');
    for (const f of files) {
      assert.ok(fs.existsSync(`${path.join(run, 'outputs', ...f.split('/'))}.md`), `${f}: complete output`);
      assert.ok(!fs.existsSync(`${path.join(run, 'outputs', ...f.split('/'))}.incomplete.md`), `${f}: no incomplete output`);
    }
  });
});
