// Scenario 8: F1 → "Batch Prompt: Submit as Batch Job…" → glob → prompt → model (a local fake of the
// OpenAI Batch API) → "batch job submitted" → the status-bar item counts the job's requests as the
// provider reports them ("Check Now" from its menu polls at once) → the job ends, its results are
// collected into the run folder with the usual notification → "Open Results" shows the report → the
// request the provider refused is in the Failed Chunks view with its reason.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { JobRecord } from '../../src/core/jobs/job';
import { filesUnder, onlyRunFolder, removeRuns, useBatchServer, workspaceDir, writeUserSettings } from './support/scenario';
import { useWorkbench, type Workbench } from './support/workbench';

const PROMPT = 'Translate this document into plain English.';
const GLOB = 'docs/**';
/** The provider refuses this file's request (a 400 line in the job's error file). */
const REFUSED = 'docs/guide/faq.md';
const REASON = 'The request was refused for this test.';
const BATCH_MODEL = { id: 'local-batch', model: 'ui-batch-model' };

/** Opens the batch-job status item's menu and picks "Check Now"; `before` runs once the menu shows. */
async function checkNow(wb: Workbench, before?: () => void): Promise<void> {
  await wb.statusBarItem(/Batch job/).click();
  await wb.waitForQuickInput('Batch Prompt: batch jobs');
  await wb.screenshot('batch-job-actions');
  before?.();
  await wb.pickQuickItem('Check Now');
}

describe('Submit as Batch Job… from the command palette (UI)', () => {
  const batch = useBatchServer();
  const workbench = useWorkbench('8-batch-job', {
    prepare: () => {
      removeRuns();
      const server = batch.server();
      server.reset();
      // The job runs until the scenario lets it end.
      server.pollsBeforeEnd = 1_000_000;
      server.script = (r) => (r.chunks.some((c) => c.path === REFUSED) ? { kind: 'error', status: 400, type: 'invalid_request_error', message: REASON } : undefined);
      writeUserSettings({
        // A second model without a batch service: the model pick is offered, as to a user with several.
        'batchPrompt.models': [
          { ...BATCH_MODEL, provider: 'openai', baseUrl: `${batch.url()}/v1` },
          { id: 'local-ollama', provider: 'ollama', baseUrl: 'http://127.0.0.1:9', model: 'llama' },
        ],
        'batchPrompt.chunksPerBatch': 1,
        'batchPrompt.confirmAbove': 1000,
      });
    },
  });

  it('submits, shows the job in the status bar, collects the results with a notification and opens the report', async () => {
    const wb = workbench();
    const server = batch.server();
    const files = filesUnder('docs');

    await wb.runCommand('Batch Prompt: Submit as Batch Job…');
    const glob = await wb.waitForQuickInput('Batch Prompt: submit as a batch job');
    await glob.fill(GLOB);
    await wb.quickInputMessage.filter({ hasText: `Enter: submit ${files.length} files` }).waitFor({ state: 'visible' });
    await glob.press('Enter');
    await wb.waitForQuickInput('Batch Prompt: choose a prompt');
    await wb.pickQuickItem('Type a prompt…');
    const box = await wb.waitForQuickInput('Batch Prompt: prompt');
    await box.fill(PROMPT);
    await box.press('Enter');
    await wb.waitForQuickInput('Batch Prompt: choose a model');
    await wb.screenshot('model-pick');
    await wb.pickQuickItem(new RegExp(`^${BATCH_MODEL.id}$`));

    // One request per file (one small chunk each), uploaded as one job.
    const n = files.length;
    await wb.waitForNotification(`batch job submitted (${n} requests to ${BATCH_MODEL.id})`, 30000);
    await wb.screenshot('submitted');
    assert.strictEqual(server.jobs.size, 1, 'one job at the provider');
    const [job] = [...server.jobs.values()];
    assert.deepStrictEqual([...new Set(job.requests.flatMap((r) => r.chunks.map((c) => c.path)))].sort(), files);
    assert.ok(job.requests.every((r) => r.body.model === BATCH_MODEL.model), 'every request names the chosen model');
    assert.ok(job.requests.every((r) => r.body.messages?.some((m) => m.content.includes(PROMPT))), 'every request carries the prompt');

    // The run folder records the job; nothing is collected yet.
    const run = onlyRunFolder();
    const record = () => JSON.parse(fs.readFileSync(path.join(run, 'job.json'), 'utf8')) as JobRecord;
    assert.strictEqual(record().jobId, job.id);
    assert.ok(!fs.existsSync(path.join(run, 'summary.json')), 'no summary while the job runs');

    // The status item shows the job; it counts what the provider reports done.
    const item = wb.statusBarItem(/Batch job/);
    await wb.statusBarItem(`Batch job 0/${n}`).waitFor({ state: 'visible', timeout: 15000 });
    await wb.screenshot('status-running');
    await checkNow(wb, () => (server.runningCounts = { completed: 1, failed: 0 }));
    await wb.statusBarItem(`Batch job 1/${n}`).waitFor({ state: 'visible', timeout: 15000 });
    // Its tooltip names the run folder, the provider's job and its status.
    await wb.statusBarItem(`Batch job 1/${n}`).hover();
    const tip = wb.page.locator('.monaco-hover, .workbench-hover', { hasText: job.id }).first();
    await tip.waitFor({ state: 'visible', timeout: 10000 });
    assert.match((await tip.innerText()).replace(/\s+/g, ' '), new RegExp(`${path.basename(run)}: job ${job.id} at openai, in_progress, 1/${n} requests done`));
    await wb.screenshot('status-progress');

    // The provider ends the job; the next poll collects it.
    await checkNow(wb, () => (server.pollsBeforeEnd = 0));
    const done = await wb.waitForNotification(`${n - 1} of ${n} chunks succeeded, 1 failed`, 30000);
    await item.waitFor({ state: 'hidden', timeout: 15000 });
    await wb.screenshot('collected');
    assert.ok(server.calls.some((c) => c.method === 'GET' && c.url === `/v1/files/${job.outputFileId}/content`), 'the output file was downloaded');

    // On disk: the outputs of the files that succeeded, an incomplete one for the refused file, the summary.
    assert.ok(record().collectedAt, 'job.json records the collection');
    const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8')) as { succeeded: number; failed: number };
    assert.deepStrictEqual([summary.succeeded, summary.failed], [n - 1, 1]);
    const output = (p: string, incomplete = false) => `${path.join(run, 'outputs', ...p.split('/'))}${incomplete ? '.incomplete' : ''}.md`;
    for (const f of files.filter((f) => f !== REFUSED)) {
      const source = fs.readFileSync(path.join(workspaceDir(), ...f.split('/')), 'utf8');
      assert.ok(fs.readFileSync(output(f), 'utf8').includes(source.trim().toUpperCase().split('\n')[0]), `${f}: the model's answer`);
    }
    assert.ok(fs.existsSync(output(REFUSED, true)) && !fs.existsSync(output(REFUSED)), `${REFUSED} is incomplete`);

    await wb.clickNotificationButton(done, 'Open Results');
    await wb.page.locator('.tabs-container .tab', { hasText: 'report.md' }).first().waitFor({ state: 'visible', timeout: 15000 });
    await wb.markdownPreview.locator('h1', { hasText: `Batch Prompt run ${path.basename(run)}` }).waitFor({ state: 'visible', timeout: 15000 });
    await wb.screenshot('report');
  });

  it('lists the refused request in the Failed Chunks view with its reason', async () => {
    const wb = workbench();
    await wb.openActivity('Batch Prompt');
    const fileRow = wb.viewRows('Unfinished Chunks').filter({ hasText: REFUSED }).first();
    await fileRow.waitFor({ state: 'visible', timeout: 15000 });
    assert.match((await fileRow.innerText()).replace(/\s+/g, ' '), new RegExp(`${REFUSED}\\s*1 chunk\\b`));
    const chunkRows = wb.viewRows('Unfinished Chunks').filter({ hasText: /lines \d+–\d+/ });
    assert.strictEqual(await chunkRows.count(), 1, 'one failed chunk');
    assert.match((await chunkRows.first().innerText()).replace(/\s+/g, ' '), /lines \d+–\d+\s*request refused/);
    assert.strictEqual(await wb.viewRows('Unfinished Chunks').filter({ hasText: 'intro.md' }).count(), 0, 'files that succeeded are not listed');
    await wb.screenshot('failed-chunks-view');
    // The provider's message in the chunk's tooltip.
    await chunkRows.first().hover();
    await wb.page.locator('.monaco-hover, .workbench-hover', { hasText: REASON }).first().waitFor({ state: 'visible', timeout: 10000 });
    await wb.screenshot('failed-chunk-reason');
  });
});
