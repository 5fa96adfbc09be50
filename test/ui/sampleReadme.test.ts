// Scenario (#18): the sample's README (sample/README.md, "Things to try") followed as a new user would,
// on a copy of sample/ made the way `npm start` makes it (scripts/sampleWorkspace.js: the sample's
// files plus the generated src/generated/inventory.ts) and with `npm start -- --sample-model`'s fake
// model (scripts/sampleModel.js, served in this process), one test per step, checking what the README
// says happens:
//  1. right-click `src` → Run Prompt on Selection… → "Explain a file";
//  2. Run Prompt on Files… on `**/*.{ts,py,go}` → "Find bugs": the planted bugs in the Problems panel
//     through the notification's Show Problems; Clear Findings removes them;
//  3. the same files → "Add doc comments": nothing written; Review Proposed Edits opens the Refactor
//     Preview with a checkbox per file (discarded here); Open Diff of a Proposed Edit… shows one file;
//  4. Estimate Run… on `**/*`: files, chunks, requests and tokens, nothing sent;
//  5. src/generated/inventory.ts open → the editor title's Run button → one file, several chunks;
//  6. the end-of-run notification's Open Results opens the run's report; the Batch Prompt view lists
//     the runs.
import * as assert from 'assert';
import * as fs from 'fs';
import type { Server } from 'http';
import * as path from 'path';
import { chunksOf, PLANTED_FINDINGS, sampleEndpoint, startSampleModel } from '../../scripts/sampleModel.js';
import { copySampleWorkspace, sampleContents } from '../../scripts/sampleWorkspace.js';
import { RUNS_DIR, until, workspaceDir, writeUserSettings } from './support/scenario';
import type { Locator } from 'playwright-core';
import { useWorkbench, type Workbench } from './support/workbench';

const LARGE_FILE = 'src/generated/inventory.ts';
const CODE_FILES = ['scripts/report.py', 'server/health.go', 'src/pricing.ts', LARGE_FILE];

/** The repository's sample/ folder. */
const sampleDir = () => path.join(process.env.BATCH_PROMPT_ROOT || process.cwd(), 'sample');
/** The copy this scenario opens: beside the tier's workspace, in the tier's run folder. */
const copyDir = () => path.join(path.dirname(workspaceDir()), 'sample');

/** Run folders of the sample copy, oldest first (their names start with the date and time). */
function runFolders(): string[] {
  const dir = path.join(copyDir(), RUNS_DIR);
  return fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(dir, e.name)).sort() : [];
}

/** Files under `dir`, relative to it with forward slashes, sorted. */
function filesIn(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** The sample model's requests: the chunks each one carried (path and lines). */
interface SentRequest {
  paths: string[];
}

describe('The sample README, step by step (UI)', () => {
  let server: Server | undefined;
  let baseUrl = '';
  const sent: SentRequest[] = [];
  let lastToast: Locator | undefined;
  const sentPaths = (from = 0) => [...new Set(sent.slice(from).flatMap((r) => r.paths))].sort();

  before(async () => {
    ({ server, baseUrl } = await startSampleModel());
    // Beside the model's own handler: what each chat request sent (the handler answers it).
    server.on('request', (req) => {
      if (req.method !== 'POST') return;
      let raw = '';
      req.on('data', (d: string | Buffer) => (raw += String(d)));
      req.on('end', () => {
        try {
          sent.push({ paths: chunksOf((JSON.parse(raw) as { messages?: unknown }).messages).map((c) => c.path) });
        } catch {
          sent.push({ paths: [] });
        }
      });
    });
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  const workbench = useWorkbench('18-sample-readme', {
    prepare: () => {
      const written = copySampleWorkspace(sampleDir(), copyDir());
      assert.ok(written.includes(LARGE_FILE), `the generated module is in the copy: ${written.join(', ')}`);
      // What `npm start -- --sample-model` writes into the profile: the sample model's endpoint, nothing else.
      writeUserSettings({ 'batchPrompt.models': [sampleEndpoint(baseUrl)] });
    },
    folder: copyDir,
  });

  /**
   * Picks the quick pick's row `label`, filtered to it, with the mouse out of the way first: the
   * tooltip of a row hovered by the previous pick would cover the row to click.
   */
  async function pick(wb: Workbench, label: string): Promise<void> {
    await wb.page.mouse.move(640, 780);
    await wb.pickQuickItem(label, label);
  }

  /** Clears the notifications of earlier steps, so that the next one read is this step's. */
  async function clearNotifications(wb: Workbench): Promise<void> {
    await wb.runCommand('Notifications: Clear All Notifications');
    await wb.page.locator('.notifications-toasts .notification-toast').first().waitFor({ state: 'detached', timeout: 10000 });
  }

  /** Waits for a run's end-of-run notification (a new run folder first): returns it and its text. */
  async function runEnded(wb: Workbench, runs: number, text: RegExp): Promise<{ toast: Locator; said: string }> {
    await until(() => runFolders().length === runs, 60000, `run folder ${runs}`);
    const toast = await wb.waitForNotification(text, 60000);
    return { toast, said: (await toast.innerText()).replace(/\s+/g, ' ') };
  }

  it('1. right-click src → Run Prompt on Selection… → "Explain a file": every file under src sent, a canned answer each', async function () {
    this.timeout(180000);
    const wb = workbench();
    const runs = runFolders().length;
    const src = wb.explorerRow('src');
    await src.waitFor({ state: 'visible' });
    await wb.contextMenu(src, 'Run Prompt on Selection…');
    await wb.waitForQuickInput('Batch Prompt: choose a prompt');
    await wb.screenshot('1-prompt-picker');
    // The sample's prompt files, offered by name; one model configured: no model picker.
    await pick(wb, 'Explain a file');
    const { said } = await runEnded(wb, runs + 1, /chunks succeeded/);
    // The answers in the run's live document ("<prompt> · <run id>"), beside the editor.
    const live = wb.page.locator('.tabs-container .tab', { hasText: new RegExp(`^\\s*Explain a file · ${path.basename(runFolders()[runs])}`) }).first();
    await live.waitFor({ state: 'visible', timeout: 15000 });
    await wb.screenshot('1-explained');
    const chunks = /(\d+) of (\d+) chunks succeeded/.exec(said);
    assert.ok(chunks && chunks[1] === chunks[2], said);
    assert.deepStrictEqual(sentPaths(), ['src/generated/inventory.ts', 'src/pricing.ts'], 'the files under src, nothing else');
    const run = runFolders()[runs];
    const outputs = filesIn(path.join(run, 'outputs'));
    assert.deepStrictEqual(outputs, ['src/generated/inventory.ts.md', 'src/pricing.ts.md']);
    assert.match(fs.readFileSync(path.join(run, 'outputs', 'src/pricing.ts.md'), 'utf8'), /canned answer from npm start's sample model/);
    // The runs folder's own .gitignore.
    assert.match(fs.readFileSync(path.join(copyDir(), RUNS_DIR, '.gitignore'), 'utf8'), /^\*$/m);
  });

  it('2. Run Prompt on Files… on **/*.{ts,py,go} → "Find bugs": the planted bugs in the Problems panel; Clear Findings removes them', async function () {
    this.timeout(180000);
    const wb = workbench();
    await clearNotifications(wb);
    const before = sent.length;
    const runs = runFolders().length;
    await wb.runOnFiles('**/*.{ts,py,go}');
    await pick(wb, 'Find bugs');
    const { toast, said } = await runEnded(wb, runs + 1, /Show Problems/);
    await wb.screenshot('2-findings-notification');
    assert.deepStrictEqual(sentPaths(before), CODE_FILES.slice().sort(), 'the code files, nothing else');
    const planted = Object.values(PLANTED_FINDINGS).flat();
    assert.match(said, /in 3 files/, said);
    await wb.clickNotificationButton(toast, 'Show Problems');

    const panel = wb.page.locator('.markers-panel');
    const rows = panel.locator('.monaco-list-row');
    for (const f of planted) await rows.filter({ hasText: f.message.slice(0, 40) }).first().waitFor({ state: 'visible', timeout: 15000 });
    const text = await panel.innerText();
    for (const file of ['pricing.ts', 'report.py', 'health.go']) assert.match(text, new RegExp(file.replace('.', '\\.')));
    assert.doesNotMatch(text, /inventory\.ts/, 'no finding in the generated module');
    await wb.screenshot('2-problems-panel');

    await wb.runCommand('Batch Prompt: Clear Findings');
    for (const f of planted) await rows.filter({ hasText: f.message.slice(0, 40) }).first().waitFor({ state: 'detached', timeout: 15000 });
    await wb.screenshot('2-findings-cleared');
  });

  it('3. the same files → "Add doc comments": nothing written; Review Proposed Edits opens the Refactor Preview; Open Diff shows a file', async function () {
    this.timeout(180000);
    const wb = workbench();
    const page = wb.page;
    await clearNotifications(wb);
    const runs = runFolders().length;
    await wb.runOnFiles('**/*.{ts,py,go}');
    await pick(wb, 'Add doc comments');
    const { toast, said } = await runEnded(wb, runs + 1, /Review Proposed Edits/);
    await wb.screenshot('3-edits-notification');
    // The sample model comments the exported functions of the three small files (the generated module has its comments).
    assert.match(said, /3 files with proposed edits \(nothing written yet\)/, said);
    const original = sampleContents(sampleDir());
    for (const file of CODE_FILES) assert.ok(fs.readFileSync(path.join(copyDir(), file)).equals(original[file]), `${file}: nothing written`);
    // The proposals: proposed/<file>.proposed in the run folder.
    assert.deepStrictEqual(filesIn(path.join(runFolders()[runs], 'proposed')), ['scripts/report.py.proposed', 'server/health.go.proposed', 'src/pricing.ts.proposed']);

    await wb.clickNotificationButton(toast, 'Review Proposed Edits');
    const panel = page.locator('.bulk-edit-panel');
    const rows = panel.locator('.monaco-list-row');
    const fileRow = (name: string) => rows.filter({ hasText: name }).filter({ hasNot: page.locator('.textedit') }).first();
    // The files, each with a checkbox: the first two in view, the third once the tree is scrolled
    // (it draws only the rows in view).
    for (const name of ['report.py', 'health.go']) {
      await fileRow(name).waitFor({ state: 'visible', timeout: 30000 });
      assert.strictEqual(await fileRow(name).locator('.edit-checkbox').count(), 1, `${name} has a checkbox`);
    }
    await wb.screenshot('3-refactor-preview');
    await fileRow('report.py').hover();
    await page.mouse.wheel(0, 1000);
    await fileRow('pricing.ts').waitFor({ state: 'visible', timeout: 15000 });
    assert.strictEqual(await fileRow('pricing.ts').locator('.edit-checkbox').count(), 1, 'pricing.ts has a checkbox');
    // And a checkbox per change under them.
    const changes = rows.filter({ has: page.locator('.textedit') }).filter({ hasText: /canned doc comment/ });
    assert.ok(await changes.count(), 'the changes are listed under the files');
    assert.strictEqual(await changes.first().locator('.edit-checkbox').count(), 1, 'a change has a checkbox');
    await wb.screenshot('3-refactor-preview-scrolled');
    // Discarded: this scenario leaves the files as they are, and no unsaved document behind.
    await panel.locator('.monaco-button', { hasText: /^Discard$/ }).first().click();
    await panel.waitFor({ state: 'hidden', timeout: 15000 });
    await wb.waitForUnsavedFiles(0);
    for (const file of CODE_FILES) assert.ok(fs.readFileSync(path.join(copyDir(), file)).equals(original[file]), `${file}: still untouched`);

    await wb.runCommand('Batch Prompt: Open Diff of a Proposed Edit…');
    await wb.waitForQuickInput('Batch Prompt: open the diff of a proposed file');
    await pick(wb, 'src/pricing.ts');
    await page.locator('.monaco-diff-editor').first().waitFor({ state: 'visible', timeout: 15000 });
    await page.locator('.tabs-container .tab.active', { hasText: /pricing\.ts ↔ proposed/ }).first().waitFor({ state: 'visible' });
    // The proposal drawn (the diff is left open: closed while it still loads, the command fails).
    await page.locator('.monaco-diff-editor .view-lines', { hasText: 'canned doc comment' }).first().waitFor({ state: 'visible', timeout: 30000 });
    await wb.screenshot('3-open-diff');
  });

  it('4. Estimate Run… on **/*: files, chunks, requests and tokens, nothing sent', async function () {
    this.timeout(180000);
    const wb = workbench();
    await clearNotifications(wb);
    const before = sent.length;
    const runs = runFolders().length;
    await wb.runCommand('Batch Prompt: Estimate Run…');
    const glob = await wb.waitForQuickInput('Batch Prompt: estimate files');
    await glob.fill('**/*');
    // Every file of the copy but the runs folder's.
    const files = Object.keys(sampleContents(sampleDir())).length;
    await wb.quickInputMessage.filter({ hasText: `Enter: estimate ${files} files` }).waitFor({ state: 'visible', timeout: 15000 });
    await wb.screenshot('4-estimate-glob');
    await glob.press('Enter');
    await wb.waitForQuickInput('Batch Prompt: choose a prompt');
    await pick(wb, 'Explain a file');
    const estimate = wb.page.locator('.editor-group-container.active [data-uri^="batch-prompt-estimate:"]');
    await estimate.first().waitFor({ state: 'visible', timeout: 30000 });
    const text = (await wb.activeEditorText()).replace(/\s+/g, ' ');
    await wb.screenshot('4-estimate');
    assert.match(text, /# Batch Prompt estimate/);
    assert.match(text, new RegExp(`\\| Files \\| ${files} \\|`), text);
    assert.match(text, /\| Chunks \| \d+ /, text);
    assert.match(text, /\| Requests \(batches\) \| \d+ \|/, text);
    assert.match(text, /\| Input tokens \| [\d,]+ /, text);
    assert.strictEqual(sent.length, before, 'an estimate sends nothing');
    assert.strictEqual(runFolders().length, runs, 'and starts no run');
  });

  it('5. src/generated/inventory.ts open → the Run button in the editor title: one file, several chunks', async function () {
    this.timeout(180000);
    const wb = workbench();
    await clearNotifications(wb);
    const runs = runFolders().length;
    // Opened as a user would: Quick Open (Ctrl+P) and its name.
    await wb.page.keyboard.press('Escape');
    await wb.page.keyboard.press('Control+P');
    const quick = wb.quickInput.locator('input.input');
    await quick.waitFor({ state: 'visible' });
    await quick.fill('inventory.ts');
    const found = wb.quickInput.locator('.quick-input-list .monaco-list-row', { hasText: 'inventory.ts' });
    await found.first().waitFor({ state: 'visible' });
    await wb.quickInput.locator('.quick-input-progress').waitFor({ state: 'hidden' }).catch(() => undefined);
    await wb.screenshot('5-quick-open');
    // One file: the runs' outputs (inventory.ts.md) stay out of Quick Open.
    assert.strictEqual(await found.count(), 1, (await found.allInnerTexts()).join(' | '));
    await quick.press('Enter');
    await wb.page.locator('.tabs-container .tab.active', { hasText: 'inventory.ts' }).first().waitFor({ state: 'visible', timeout: 15000 });
    // The button itself, in the editor title's own actions (group navigation), not in its "…" menu.
    const actions = wb.page.locator('.editor-group-container.active .editor-actions .action-label');
    const button = actions.and(wb.page.locator('[aria-label*="Run Prompt on This File"]')).first();
    await button.waitFor({ state: 'visible', timeout: 30000 }).catch(async (e: unknown) => {
      const labels = await actions.evaluateAll((ls) => ls.map((l) => `${l.getAttribute('aria-label')} (${l.className})`));
      throw new Error(`no Run button among the editor title's actions: ${JSON.stringify(labels)} (${String(e)})`);
    });
    assert.match((await button.getAttribute('class')) ?? '', /codicon-play/, 'a ▷ (play) icon');
    await wb.screenshot('5-editor-title-run-button');
    await button.click();
    await wb.waitForQuickInput('Batch Prompt: choose a prompt');
    // The chunks step 1 sent with this prompt come from the cache.
    await pick(wb, 'Explain a file');
    const { toast, said } = await runEnded(wb, runs + 1, /chunks succeeded/);
    // Kept up (hovered) for step 6.
    await toast.hover();
    lastToast = toast;
    await wb.screenshot('5-one-file-several-chunks');
    const chunks = /(\d+) of (\d+) chunks succeeded/.exec(said);
    assert.ok(chunks && chunks[1] === chunks[2] && Number(chunks[1]) >= 2, `several chunks: ${said}`);
    assert.match(said, new RegExp(`${chunks[1]} from the cache`), 'step 1 sent them already');
    const run = runFolders()[runs];
    assert.deepStrictEqual(filesIn(path.join(run, 'outputs')), [`${LARGE_FILE}.md`], 'one file');
  });

  it('6. the notification says how the run went; Open Results opens its report; the Batch Prompt view lists the runs', async function () {
    this.timeout(180000);
    const wb = workbench();
    const run = runFolders()[runFolders().length - 1];
    assert.ok(lastToast, 'step 5 ended with a notification');
    await wb.clickNotificationButton(lastToast, 'Open Results');
    await wb.page.locator('.tabs-container .tab', { hasText: 'report.md' }).first().waitFor({ state: 'visible', timeout: 30000 });
    await wb.markdownPreview.locator('h1', { hasText: `Batch Prompt run ${path.basename(run)}` }).waitFor({ state: 'visible', timeout: 30000 });
    await wb.screenshot('6-report');

    await wb.openActivity('Batch Prompt');
    const rows = wb.viewRows('Runs');
    await rows.nth(3).waitFor({ state: 'visible', timeout: 30000 });
    const texts = (await rows.allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    assert.strictEqual(texts.length, 4, texts.join('\n'));
    for (const t of texts) assert.match(t, /(succeeded|cached) · /, t);
    // Newest first: step 5's run (all from the cache) on top.
    assert.match(texts[0], /cached · /, texts[0]);
    // With their actions, and the Unfinished Chunks view below.
    await rows.first().hover();
    await rows.first().locator('.actions .action-label[aria-label="Open Report"], .actions .action-label[title="Open Report"]').first().waitFor({ state: 'visible' });
    await wb.page.locator('#workbench\\.parts\\.sidebar .pane-header', { hasText: /Unfinished Chunks/i }).first().waitFor({ state: 'visible' });
    await wb.screenshot('6-batch-prompt-view');
  });
});
