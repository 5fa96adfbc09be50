// The Runs view (#18): a succeeded, a failed, a canceled and a cached run listed newest first with their
// status and model; Open Report; Delete Run asks first. The Unfinished Chunks view with 452 canceled
// one-chunk files stays collapsed. Add Model… end to end against the local server (its /v1/models list),
// then a run on the model just added.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { ChunkOutcome } from '../../src/core/execute/events';
import type { ChunkRef } from '../../src/core/plan/types';
import { RunStore, type RunMeta } from '../../src/core/store/runStore';
import { removeRuns, RUNS_DIR, useModelServer, workspaceDir, writeUserSettings } from './support/scenario';
import { useWorkbench } from './support/workbench';

const ref = (p: string, i: number): ChunkRef => ({ id: `${i}.1`, path: p, index: 0, start: 0, end: 10, startLine: 1, endLine: 1, overlap: 0, tokens: 5 });

function meta(runId: string, createdAt: string, files: ChunkRef[]): RunMeta {
  return {
    runId,
    createdAt,
    root: workspaceDir(),
    prompt: 'Summarize this file in one sentence.',
    model: { id: 'local', provider: 'openai', model: 'ui-test-model' },
    encoding: 'o200k_base',
    protocolVersion: 1,
    parameters: {},
    files: files.map((c) => ({ path: c.path, hash: '', chunks: [c] })),
  };
}

function outcome(chunk: ChunkRef, status: ChunkOutcome['status'], cached = false): ChunkOutcome {
  return {
    chunk,
    status,
    ...(status === 'succeeded' ? { output: `OUT ${chunk.path}` } : {}),
    ...(status === 'failed' ? { error: { kind: 'transient', message: 'The endpoint failed (HTTP 500): upstream overloaded' } } : {}),
    ...(status === 'canceled' ? { error: { kind: 'canceled', message: 'Canceled' } } : {}),
    ...(cached ? { cached: true } : {}),
    attempts: status === 'canceled' || cached ? 0 : 1,
    batchId: 'b',
    inputTokens: cached ? 0 : 50,
    outputTokens: cached ? 0 : 10,
    latencyMs: 5,
  };
}

/** A finished run folder written as the run service writes it (RunStore), each chunk with `statuses[i]`. */
async function makeRun(runId: string, createdAt: string, statuses: (ChunkOutcome['status'] | 'cached')[]): Promise<void> {
  const chunks = statuses.map((_, i) => ref(`gen/file-${String(i).padStart(3, '0')}.txt`, i));
  const store = await RunStore.create(path.join(workspaceDir(), RUNS_DIR, runId), meta(runId, createdAt, chunks));
  for (const [i, s] of statuses.entries()) await store.record(outcome(chunks[i], s === 'cached' ? 'succeeded' : s, s === 'cached'));
  const sent = statuses.filter((s) => s !== 'cached' && s !== 'canceled').length;
  await store.finish({ succeeded: 0, failed: 0, canceled: 0, requests: sent, inputTokens: sent * 50, outputTokens: sent * 10, durationMs: 1500 });
}

describe('Runs view, Unfinished Chunks collapsed, Add Model… (UI)', () => {
  const local = useModelServer();
  const workbench = useWorkbench('runs-view', {
    prepare: async () => {
      removeRuns();
      await makeRun('20260101-090000-big0', '2026-01-01T09:00:00.000Z', Array.from({ length: 452 }, () => 'canceled' as const));
      await makeRun('20260101-100000-succ', '2026-01-01T10:00:00.000Z', ['succeeded', 'succeeded']);
      await makeRun('20260101-100100-fail', '2026-01-01T10:01:00.000Z', ['succeeded', 'failed']);
      await makeRun('20260101-100200-canc', '2026-01-01T10:02:00.000Z', ['succeeded', 'canceled']);
      await makeRun('20260101-100300-cach', '2026-01-01T10:03:00.000Z', ['cached', 'cached']);
      // No model yet: Add Model… adds the first one.
      writeUserSettings({ 'batchPrompt.models': [], 'batchPrompt.confirmAbove': 100000, 'batchPrompt.useCache': false });
    },
  });

  it('lists the runs newest first with their status; Open Report; Delete Run asks first', async () => {
    const wb = workbench();
    await wb.openActivity('Batch Prompt');
    const runs = wb.viewRows('Runs');
    await runs.nth(4).waitFor({ state: 'visible', timeout: 30000 });
    const texts = (await runs.allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    assert.strictEqual(texts.length, 5, texts.join('\n'));
    assert.match(texts[0], /cached · local/);
    assert.match(texts[1], /1 canceled · local/);
    assert.match(texts[2], /1 failed · local/);
    assert.match(texts[3], /succeeded · local/);
    assert.match(texts[4], /452 canceled · local/);
    await wb.screenshot('runs-view');

    // Unfinished Chunks: run → reason → file; the 452 canceled files stay under one collapsed row.
    const unfinished = wb.viewRows('Unfinished Chunks');
    const bigReason = unfinished.filter({ hasText: /452 chunks in 452 files/ }).first();
    await bigReason.waitFor({ state: 'visible', timeout: 30000 });
    assert.match((await bigReason.innerText()).replace(/\s+/g, ' '), /canceled\s*452 chunks in 452 files/, 'canceled, not failed');
    assert.strictEqual(await bigReason.getAttribute('aria-expanded'), 'false', 'collapsed');
    const shown = await unfinished.count();
    assert.ok(shown < 60, `${shown} rows, not about 900`);
    assert.strictEqual(await unfinished.filter({ hasText: /gen\/file-1\d\d\.txt/ }).count(), 0, 'no file row of the big run');
    assert.strictEqual(await unfinished.filter({ hasText: /failed/ }).filter({ hasText: /canceled/ }).count(), 0, 'no row calls the canceled chunks failed');
    await wb.screenshot('unfinished-chunks-collapsed');

    // Open Report (inline) on the succeeded run.
    const succeeded = runs.filter({ hasText: /succeeded · local/ }).first();
    await wb.clickInlineAction(succeeded, 'Open Report');
    await wb.page.locator('.tabs-container .tab', { hasText: 'report.md' }).first().waitFor({ state: 'visible', timeout: 30000 });
    await wb.markdownPreview.locator('h1', { hasText: 'Batch Prompt run 20260101-100000-succ' }).waitFor({ state: 'visible', timeout: 30000 });
    await wb.screenshot('report-opened');

    // Delete Run on the failed run: a modal question first.
    const failed = runs.filter({ hasText: /1 failed · local/ }).first();
    await wb.contextMenu(failed, 'Delete Run');
    const dialog = wb.dialog('Delete run 20260101-100100-fail?');
    await dialog.waitFor({ state: 'visible', timeout: 15000 });
    await wb.screenshot('delete-asks-first');
    await dialog.locator('.monaco-button', { hasText: 'Delete' }).first().click();
    await runs.filter({ hasText: /1 failed · local/ }).first().waitFor({ state: 'detached', timeout: 15000 });
    assert.ok(!fs.existsSync(path.join(workspaceDir(), RUNS_DIR, '20260101-100100-fail')), 'the folder is gone');
    assert.ok(fs.existsSync(path.join(workspaceDir(), RUNS_DIR, '20260101-100000-succ')), 'the others stay');
    assert.strictEqual(await runs.count(), 4);
    await unfinished.filter({ hasText: /1 failed · local/ }).first().waitFor({ state: 'detached', timeout: 15000 });
    assert.strictEqual(await unfinished.filter({ hasText: 'server error' }).count(), 0, 'its unfinished chunks are gone too');
    await wb.screenshot('run-deleted');
  });

  it('Add Model…: the server\'s own list, no key for a local server, a test request, then a run on it', async function () {
    this.timeout(240_000);
    const wb = workbench();
    const server = local.server();
    await wb.runCommand('Batch Prompt: Add Model…');
    await wb.waitForQuickInput('Add Model (1/4): provider');
    await wb.screenshot('add-model-provider');
    await wb.pickQuickItem('OpenAI-compatible server');
    const url = await wb.waitForQuickInput('Add Model (2/4): base URL');
    assert.strictEqual(await url.inputValue(), 'http://127.0.0.1:1234/v1', 'the default prefilled');
    await url.fill(local.url());
    await url.press('Enter');
    await wb.waitForQuickInput('Add Model (3/4): model (2 on the server)', 30000);
    await wb.screenshot('add-model-server-list');
    assert.strictEqual(server.listRequests.length, 1, 'GET /v1/models');
    await wb.pickQuickItem(/^ui-other-model$/);
    const id = await wb.waitForQuickInput('Add Model: name of the entry');
    assert.strictEqual(await id.inputValue(), 'ui-other-model');
    await id.press('Enter');
    await wb.waitForNotification('added the model "ui-other-model"', 30000);
    await wb.screenshot('add-model-added');
    assert.strictEqual(server.requests.length, 1, 'one test request, and no key was asked');
    const settings = JSON.parse(fs.readFileSync(process.env.BATCH_PROMPT_UI_USER_SETTINGS!, 'utf8')) as Record<string, unknown>;
    assert.deepStrictEqual(settings['batchPrompt.models'], [{ id: 'ui-other-model', provider: 'openai', model: 'ui-other-model', baseUrl: local.url() }]);

    // A run on it (the only model: no picker).
    await wb.runOnFiles('docs/**');
    await wb.pickQuickItem('Summarize each file in one sentence');
    // The run's row in the Runs view says it ended.
    await wb.viewRows('Runs').filter({ hasText: /succeeded · ui-other-model/ }).first().waitFor({ state: 'visible', timeout: 120_000 });
    assert.ok(server.requests.length > 1 && server.requests.slice(1).every((r) => r.body.model === 'ui-other-model'), 'the run used the model added');
    await wb.screenshot('run-with-added-model');
  });
});
