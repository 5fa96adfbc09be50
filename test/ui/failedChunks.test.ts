// Scenario 4: the server fails the chunks of one file → the Failed Chunks view lists them with their
// reasons → the server recovers → inline Retry → the view empties and the file's output is complete
// on disk.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { localModels, MODEL, onlyRunFolder, removeRuns, useModelServer, writeUserSettings } from './support/scenario';
import { useWorkbench } from './support/workbench';

const BAD = 'logs/bad.txt';
const GOOD = 'logs/good.txt';

describe('Failed Chunks view and inline Retry (UI)', () => {
  const local = useModelServer();
  let failing = true;
  const workbench = useWorkbench('4-failed-chunks', {
    prepare: () => {
      removeRuns();
      local.server().script = (req) =>
        failing && req.chunks.some((c) => c.path === BAD)
          ? { kind: 'status', status: 500, body: { error: { message: 'upstream overloaded', type: 'server_error', code: null } } }
          : undefined;
      // Small chunks, one per request, no retries: bad.txt (60 lines) fails as several chunks at once.
      writeUserSettings({
        'batchPrompt.models': localModels(local.url()),
        'batchPrompt.chunkTokens': 256,
        'batchPrompt.overlapTokens': 0,
        'batchPrompt.chunksPerBatch': 1,
        'batchPrompt.maxRetries': 0,
        'batchPrompt.confirmAbove': 1000,
      });
    },
  });

  it('lists the failed chunks with reasons; Retry after the server recovers empties the view and completes the output', async () => {
    const wb = workbench();
    const server = local.server();

    await wb.runOnFiles('logs/**');
    await wb.pickQuickItem('Summarize each file in one sentence');
    await wb.waitForQuickInput('Batch Prompt: choose a model');
    await wb.pickQuickItem(new RegExp(`^${MODEL.id}$`));

    const badChunks = () => [...new Set(server.requests.flatMap((r) => r.chunks.filter((c) => c.path === BAD).map((c) => c.id)))];
    const done = await wb.waitForNotification(/chunks succeeded, \d+ failed/, 30000);
    const failed = badChunks().length;
    assert.ok(failed >= 3, `bad.txt is several chunks (${failed})`);
    assert.match(await done.innerText(), new RegExp(`1 of ${failed + 1} chunks succeeded, ${failed} failed`));
    await wb.screenshot('finished-with-failures');

    const run = onlyRunFolder();
    const output = (p: string, incomplete = false) => `${path.join(run, 'outputs', ...p.split('/'))}${incomplete ? '.incomplete' : ''}.md`;
    assert.ok(fs.existsSync(output(BAD, true)), 'bad.txt has an incomplete output');
    assert.ok(!fs.existsSync(output(BAD)), 'and no complete one');
    assert.ok(fs.existsSync(output(GOOD)), 'good.txt is complete');

    // "Show Failures" opens the view: run → reason → file → one row per failed chunk, with the reason.
    await wb.clickNotificationButton(done, 'Show Failures');
    const unfinished = wb.viewRows('Unfinished Chunks');
    const chunkRows = unfinished.filter({ hasText: /lines \d+–\d+/ });
    await chunkRows.nth(failed - 1).waitFor({ state: 'visible', timeout: 15000 });
    assert.strictEqual(await chunkRows.count(), failed, 'one row per failed chunk');
    for (const text of await chunkRows.allInnerTexts()) assert.match(text.replace(/\s+/g, ' '), /lines \d+–\d+\s*server error/);
    const fileRow = wb.viewRows('Unfinished Chunks').filter({ hasText: BAD }).first();
    assert.match((await fileRow.innerText()).replace(/\s+/g, ' '), new RegExp(`${BAD}\\s*${failed} chunks`));
    assert.strictEqual(await wb.viewRows('Unfinished Chunks').filter({ hasText: GOOD }).count(), 0, 'the file that succeeded is not listed');
    const runRow = wb.viewRows('Unfinished Chunks').first();
    // A short label (the time), then the counts and the model; the reason row groups the chunks.
    assert.match((await runRow.innerText()).replace(/\s+/g, ' '), new RegExp(`${failed} failed · ${MODEL.id}`));
    assert.match((await unfinished.filter({ hasText: /^\s*server error/ }).first().innerText()).replace(/\s+/g, ' '), new RegExp(`server error\\s*${failed} chunks in 1 file`));
    await wb.screenshot('failed-chunks-view');

    // The full reason in a chunk's tooltip.
    await chunkRows.first().hover();
    await wb.page.locator('.monaco-hover, .workbench-hover', { hasText: 'HTTP 500' }).filter({ hasText: 'upstream overloaded' }).first().waitFor({ state: 'visible', timeout: 10000 });
    await wb.screenshot('failed-chunk-reason');

    // The server recovers; Retry on the file row sends its chunks again.
    failing = false;
    const before = server.requests.length;
    await wb.clickInlineAction(fileRow, 'Retry');
    // The run's summary counts all its chunks again.
    await wb.waitForNotification(`${failed + 1} of ${failed + 1} chunks succeeded`, 30000);
    assert.deepStrictEqual(
      server.requests.slice(before).flatMap((r) => r.chunks.map((c) => c.id)).sort(),
      badChunks().sort(),
      'the retry sent exactly the failed chunks',
    );
    await wb.page.locator('#workbench\\.parts\\.sidebar .welcome-view-content', { hasText: 'No unfinished chunks' }).waitFor({ state: 'visible', timeout: 15000 });
    assert.strictEqual(await chunkRows.count(), 0, 'the view is empty');
    await wb.screenshot('view-empty-after-retry');

    // On disk: the output is complete, in place, with every chunk's answer.
    assert.ok(fs.existsSync(output(BAD)), 'bad.txt now has its complete output');
    assert.ok(!fs.existsSync(output(BAD, true)), 'the incomplete one is gone');
    const text = fs.readFileSync(output(BAD), 'utf8');
    assert.ok(!text.includes('<<<batch-prompt:'), 'no chunk is marked missing');
    for (const id of badChunks()) assert.ok(text.includes(`OUT[${id}]`), `the answer of chunk ${id}`);
    const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8')) as { failed: number; succeeded: number };
    assert.strictEqual(summary.failed, 0);
    assert.strictEqual(summary.succeeded, failed + 1);
  });
});
