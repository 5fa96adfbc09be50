// Scenario 7: F1 → "Batch Prompt: Estimate Run…" → glob → prompt → model (a local server with prices in
// user settings) → the estimate document: requests, tokens, output estimate, cost in dollars, cached
// chunks, time, batch versus stream and a recommendation, with nothing sent. Then the same prompt runs,
// and a second estimate finds every chunk cached: nothing left to send.
import * as assert from 'assert';
import { filesUnder, localModels, MODEL, removeRuns, useModelServer, writeUserSettings } from './support/scenario';
import { useWorkbench, type Workbench } from './support/workbench';

/** A prompt no other scenario uses: the result cache (shared by the profile's windows) holds none of its answers. */
const PROMPT = 'List the headings of this document.';
const GLOB = 'docs/**';
const PRICES = { inputCostPerMTok: 3, outputCostPerMTok: 15 };

/** F1 → Estimate Run… → glob → prompt (typed, or the recent one) → model; the estimate opens in an editor. */
async function estimate(wb: Workbench, promptFrom: 'typed' | 'recent'): Promise<void> {
  // Monaco marks each editor with its document's URI: the estimate is a new read-only one of its own scheme.
  const editors = wb.page.locator('.editor-group-container.active [data-uri^="batch-prompt-estimate:"]');
  const before = await editorUris(wb);
  await wb.runCommand('Batch Prompt: Estimate Run…');
  const glob = await wb.waitForQuickInput('Batch Prompt: estimate files');
  await glob.fill(GLOB);
  // The live count of matching files, as for a run.
  await wb.quickInputMessage.filter({ hasText: `Enter: estimate ${filesUnder('docs').length} files` }).waitFor({ state: 'visible' });
  await glob.press('Enter');
  await choosePrompt(wb, promptFrom);
  await wb.waitForQuickInput('Batch Prompt: choose a model');
  await wb.pickQuickItem(new RegExp(`^${MODEL.id}$`));
  const deadline = Date.now() + 30000;
  for (;;) {
    const now = (await editors.evaluateAll((es) => es.map((e) => e.getAttribute('data-uri')))).filter((u) => u && !before.includes(u));
    if (now.length) return;
    if (Date.now() > deadline) throw new Error(`no new estimate document in the active editor group (documents before: ${JSON.stringify(before)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function editorUris(wb: Workbench): Promise<string[]> {
  return (await wb.page.locator('.editor-group-container [data-uri]').evaluateAll((es) => es.map((e) => e.getAttribute('data-uri') ?? ''))).filter(Boolean);
}

async function choosePrompt(wb: Workbench, from: 'typed' | 'recent'): Promise<void> {
  await wb.waitForQuickInput('Batch Prompt: choose a prompt');
  if (from === 'recent') return wb.pickQuickItem(PROMPT);
  await wb.pickQuickItem('Type a prompt…');
  const box = await wb.waitForQuickInput('Batch Prompt: prompt');
  await box.fill(PROMPT);
  await box.press('Enter');
}

/** The estimate document as the Markdown preview shows it, by table: label → value (or [streamed, packed]). */
async function readEstimate(wb: Workbench): Promise<{ plan: Map<string, string>; estimate: Map<string, string>; comparison: Map<string, string[]>; recommendation: string }> {
  const pairs = (rows: string[][]) => new Map(rows.map(([k, ...v]) => [k, v.join(' | ')]));
  const plan = pairs(await wb.previewTable('Batch Prompt estimate'));
  const estimate = pairs(await wb.previewTable('Estimate'));
  const comparison = new Map((await wb.previewTable('Batch or stream')).map(([k, ...v]) => [k, v]));
  const recommendation = (await wb.markdownPreview.locator('p', { hasText: 'Recommendation:' }).first().innerText()).replace(/\s+/g, ' ');
  return { plan, estimate, comparison, recommendation };
}

/** Opens the Markdown preview of the estimate document, after checking the document's first lines. */
async function previewEstimate(wb: Workbench): Promise<void> {
  const text = await wb.activeEditorText();
  assert.match(text, /# Batch Prompt estimate/);
  // The editor may wrap long lines (a live results document can share the window): compare words only.
  assert.ok(text.replace(/\s+/g, ' ').includes(`Prompt: ${PROMPT} · Model: ${MODEL.id}`), text);
  await wb.screenshot('estimate-document');
  await wb.runCommand('Markdown: Open Preview');
  await wb.markdownPreview.locator('h1', { hasText: 'Batch Prompt estimate' }).waitFor({ state: 'visible', timeout: 15000 });
}

function count(text: string | undefined, what: string): number {
  const m = /^([\d,]+)/.exec(text ?? '');
  assert.ok(m, `${what} starts with a number: ${text}`);
  return Number(m[1].replace(/,/g, ''));
}

describe('Estimate Run… from the command palette (UI)', () => {
  const local = useModelServer();
  const workbench = useWorkbench('7-estimate', {
    prepare: () => {
      removeRuns();
      writeUserSettings({
        'batchPrompt.models': localModels(local.url()).map((m) => (m.id === MODEL.id ? { ...m, ...PRICES } : m)),
        'batchPrompt.confirmAbove': 1000,
      });
    },
  });

  it('refuses a glob that matches no file before asking for a prompt', async () => {
    const wb = workbench();
    const before = await editorUris(wb);
    await wb.runCommand('Batch Prompt: Estimate Run…');
    const glob = await wb.waitForQuickInput('Batch Prompt: estimate files');
    await glob.fill('no-such-folder/**');
    await wb.quickInputMessage.filter({ hasText: '0 files match' }).filter({ hasText: 'type another glob' }).waitFor({ state: 'visible' });
    await wb.screenshot('glob-matches-nothing');
    // Enter does nothing with no file matching: the box stays, saying why (#18).
    await glob.press('Enter');
    await wb.quickInputMessage.filter({ hasText: '0 files match' }).waitFor({ state: 'visible' });
    await wb.screenshot('no-file-matches');
    assert.ok(!(await wb.quickInput.locator('.quick-input-title', { hasText: 'Batch Prompt: choose a prompt' }).isVisible()), 'no prompt is asked for');
    assert.deepStrictEqual(await editorUris(wb), before, 'no estimate document opens');
    await wb.page.keyboard.press('Escape');
  });

  it('shows requests, tokens, cost, cached chunks, time and batch versus stream; after a run every chunk is cached', async function () {
    // Two estimates, a run and two previews: give a loaded machine room.
    this.timeout(180000);
    const wb = workbench();
    const server = local.server();
    const files = filesUnder('docs');

    await estimate(wb, 'typed');
    await previewEstimate(wb);
    const first = await readEstimate(wb);
    await wb.screenshot('estimate-preview');

    assert.strictEqual(first.plan.get('Files'), String(files.length));
    const chunks = count(first.plan.get('Chunks'), 'Chunks');
    assert.ok(chunks >= files.length, `at least a chunk per file (${chunks})`);
    const requests = count(first.plan.get('Requests (batches)'), 'Requests (batches)');
    // What a run would send: every planned request, none cached yet.
    assert.strictEqual(first.estimate.get('Requests'), String(requests));
    const input = count(first.estimate.get('Input tokens'), 'Input tokens');
    assert.ok(input > 0);
    assert.match(first.estimate.get('Input tokens')!, /prompt and wrapping included/);
    assert.match(first.estimate.get('Output tokens')!, /^about [1-9][\d,]* \(/);
    // The endpoint's prices give a dollar figure: input tokens × $3 per million, plus the output's.
    const cost = /^\$(\d+\.\d+) \(input \$(\d+\.\d+), output \$(\d+\.\d+)\)$/.exec(first.estimate.get('Cost') ?? '');
    assert.ok(cost, `a cost in dollars: ${first.estimate.get('Cost')}`);
    assert.strictEqual(cost[2], (input * PRICES.inputCostPerMTok / 1e6).toFixed(4), 'input cost from the endpoint price');
    assert.ok(Number(cost[3]) > 0 && Number(cost[1]) > 0);
    assert.strictEqual(first.estimate.get('Cached'), `0 of ${chunks} chunks (not sent again)`);
    assert.match(first.estimate.get('Time')!, /^about .+ \(first result after .+ per request/);
    // Batch or stream: one chunk per request against packed requests, and a recommendation.
    assert.deepStrictEqual(first.comparison.get('Chunks per request')?.[0], '1');
    assert.deepStrictEqual(first.comparison.get('Requests')?.[0], String(chunks), 'streaming sends a request per chunk');
    assert.deepStrictEqual(first.comparison.get('Requests')?.[1], String(requests));
    assert.ok(first.comparison.has('Prompt tokens repeated') && first.comparison.has('Last result'), [...first.comparison.keys()].join(', '));
    assert.match(first.recommendation, /^Recommendation: (stream one chunk per request|pack \d+ chunks per request) \(batchPrompt\.chunksPerBatch \d+\), concurrency \d+ \(batchPrompt\.maxConcurrency \d+\): .+/);
    assert.strictEqual(server.requests.length, 0, 'an estimate sends nothing');

    // The same prompt runs on the same files.
    await wb.closeTab(/^Preview /);
    await wb.runCommand('Batch Prompt: Run Prompt on Files…');
    const glob = await wb.waitForQuickInput('Batch Prompt: run on files');
    await glob.fill(GLOB);
    await wb.quickInputMessage.filter({ hasText: `Enter: run on ${files.length} files` }).waitFor({ state: 'visible' });
    await glob.press('Enter');
    await choosePrompt(wb, 'recent');
    await wb.waitForQuickInput('Batch Prompt: choose a model');
    await wb.pickQuickItem(new RegExp(`^${MODEL.id}$`));
    await wb.waitForNotification(`${chunks} of ${chunks} chunks succeeded`, 30000);
    await wb.screenshot('run-finished');
    assert.strictEqual(server.requests.length, requests, 'the run sent the estimated requests');

    // Estimated again: every chunk is cached, nothing is left to send or pay for.
    await estimate(wb, 'recent');
    await previewEstimate(wb);
    const second = await readEstimate(wb);
    await wb.screenshot('estimate-after-run');
    assert.strictEqual(second.estimate.get('Cached'), `${chunks} of ${chunks} chunks (not sent again)`);
    assert.strictEqual(second.estimate.get('Requests'), `0 to send (${requests} planned, less the cached chunks)`);
    assert.strictEqual(second.estimate.get('Time'), 'nothing to send');
    assert.match(second.estimate.get('Cost')!, /^\$0\.0000 /);
    assert.strictEqual(server.requests.length, requests, 'the second estimate sent nothing either');
  });
});
