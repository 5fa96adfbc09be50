// Scenario 18: what progress says at its edges (#18). A server answering HTTP 500 (with Retry-After)
// a few times: the notification and the status bar say "retrying N requests (HTTP 500), next in N s",
// not a count that sits still. Then Cancel on a run of 300 files: from the click to the result they
// say "canceling…", never the counts of the chunks being marked canceled ("300/300" with a spinner).
// Everything the notification and the status bar show is recorded by a MutationObserver in the page,
// so the assertions cover each text drawn, not a sample; time bounds are hang guards only.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { filesUnder, localModels, MODEL, removeRuns, until, useModelServer, workspaceDir, writeUserSettings } from './support/scenario';
import { useWorkbench } from './support/workbench';

const HANG_GUARD_MS = 30_000;
const MANY = 'progress-many';
const MANY_FILES = 300;

describe('Progress during retries and after Cancel (UI)', () => {
  const local = useModelServer();
  /** Requests up to this number (the server's count) fail with HTTP 500; none by default. */
  let failUpTo = 0;
  /** Requests after this number hang until the client closes them. */
  let hangAfter = Number.POSITIVE_INFINITY;
  const workbench = useWorkbench('18-progress', {
    prepare: () => {
      removeRuns();
      const dir = path.join(workspaceDir(), MANY);
      fs.mkdirSync(dir, { recursive: true });
      for (let i = 0; i < MANY_FILES; i++) fs.writeFileSync(path.join(dir, `f${String(i).padStart(3, '0')}.txt`), `file ${i}\n`);
      local.server().script = (req) => {
        if (req.n <= failUpTo) return { kind: 'status', status: 500, headers: { 'retry-after': '4' }, body: { error: { message: 'upstream overloaded', type: 'server_error', code: null } } };
        if (req.n > hangAfter) return { kind: 'hang' };
        return { kind: 'ok' };
      };
      writeUserSettings({
        'batchPrompt.models': localModels(local.url()),
        'batchPrompt.chunksPerBatch': 1,
        'batchPrompt.maxConcurrency': 1,
        'batchPrompt.maxRetries': 3,
        'batchPrompt.confirmAbove': 100000,
        'batchPrompt.useCache': false,
        'batchPrompt.stream': 'never',
      });
    },
  });
  after(() => fs.rmSync(path.join(workspaceDir(), MANY), { recursive: true, force: true }));

  /** Starts recording every text the progress notifications and the Batch Prompt status-bar item show. */
  async function recordTexts(): Promise<() => Promise<string[]>> {
    const wb = workbench();
    await wb.page.evaluate(`(() => {
      const seen = (window.__bpSeen = []);
      const record = () => {
        const texts = [...document.querySelectorAll('.notifications-toasts .notification-toast, #workbench\\\\.parts\\\\.statusbar .statusbar-item')]
          .map((e) => (e.textContent || '').replace(/\\s+/g, ' ').trim())
          .filter((t) => /Batch Prompt|chunks|canceling|planning/.test(t));
        for (const t of texts) if (seen[seen.length - 1] !== t && !seen.includes(t)) seen.push(t);
      };
      record();
      window.__bpObserver?.disconnect();
      window.__bpObserver = new MutationObserver(record);
      window.__bpObserver.observe(document.body, { subtree: true, childList: true, characterData: true });
    })()`);
    return async () => (await wb.page.evaluate('window.__bpSeen.slice()')) as string[];
  }

  it('says "retrying N requests (HTTP 500), next in N s" while requests wait on their backoff', async () => {
    const wb = workbench();
    const files = filesUnder('docs');
    failUpTo = 2;
    await wb.runOnFiles('docs/**');
    await wb.pickQuickItem('Summarize each file in one sentence');
    await wb.waitForQuickInput('Batch Prompt: choose a model');
    await wb.pickQuickItem(new RegExp(`^${MODEL.id}$`));

    const retrying = await wb.waitForNotification(/retrying \d+ requests? \(HTTP 500\), next in \d+ s/, HANG_GUARD_MS);
    const bar = wb.statusBarItem(/Batch Prompt \d+\/\d+ · retrying \d+ \(HTTP 500\)/);
    await bar.waitFor({ state: 'visible', timeout: HANG_GUARD_MS });
    await wb.screenshot('retrying-http-500');
    assert.match((await retrying.innerText()).replace(/\s+/g, ' '), /\d+\/\d+ chunks · retrying \d+ requests? \(HTTP 500\), next in \d+ s/);

    await wb.waitForNotification(`${files.length} of ${files.length} chunks succeeded`, HANG_GUARD_MS);
    await wb.screenshot('retries-succeeded');
  });

  it('after Cancel says "canceling…" until the result, never the counts of the chunks being canceled', async () => {
    const wb = workbench();
    const server = local.server();
    const start = server.requests.length;
    // Two answers, then every request hangs until the run is canceled.
    hangAfter = start + 2;
    await wb.runOnFiles(`${MANY}/**`);
    await wb.pickQuickItem('Summarize each file in one sentence');
    await wb.waitForQuickInput('Batch Prompt: choose a model');
    await wb.pickQuickItem(new RegExp(`^${MODEL.id}$`));

    await until(() => server.requests.length === start + 3, HANG_GUARD_MS, 'the third request (which hangs)');
    // It sends as it plans (#17): the total is the chunks planned so far ("planning… 38 files so far · 2/38 chunks").
    const progress = wb.notification(/ 2\/\d+ chunks/);
    await progress.waitFor({ state: 'visible', timeout: HANG_GUARD_MS });
    const seen = await recordTexts();
    await progress.hover();
    const cancel = progress.locator('.notification-list-item-buttons-container .monaco-button', { hasText: 'Cancel' });
    await cancel.waitFor({ state: 'visible' });
    await cancel.click();
    // A picture of the moment after the click, when it is still winding down (taken only if it is).
    await wb
      .statusBarItem('canceling…')
      .waitFor({ state: 'visible', timeout: 2_000 })
      .then(() => wb.screenshot('canceling'))
      .catch(() => undefined);
    // It sends as it plans: canceled before its plan was complete, what was planned is counted and the
    // rest is said to be left for a resume (whether the planner got to the end first is a race).
    const result = await wb.waitForNotification(/2 of \d+ chunks succeeded, \d+ canceled/, HANG_GUARD_MS);
    const text = (await result.innerText()).replace(/\s+/g, ' ');
    const planned = Number(/2 of (\d+) chunks/.exec(text)![1]);
    assert.ok(planned <= MANY_FILES, text);
    if (planned < MANY_FILES) assert.match(text, new RegExp(`; planning stopped after ${planned} files: a resume plans and sends the rest`));
    else assert.ok(!/planning stopped/.test(text), text);
    await wb.statusBarItem(`Batch Prompt: ${planned - 2} canceled`).waitFor({ state: 'visible', timeout: HANG_GUARD_MS });
    await wb.screenshot('canceled-result');

    const texts = await seen();
    const drawn = JSON.stringify(texts, null, 1);
    assert.ok(texts.some((t) => /canceling…/.test(t)), `"canceling…" was shown: ${drawn}`);
    const counts = texts.flatMap((t) => [...t.matchAll(/(\d+)\/\d+/g)].map((m) => Number(m[1])));
    assert.ok(counts.every((n) => n <= 2), `no count beyond the two answered chunks after Cancel: ${drawn}`);
    assert.ok(!texts.some((t) => new RegExp(`${planned}/${planned}`).test(t)), drawn);
  });
});
