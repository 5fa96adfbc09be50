// Several endpoints in one run through the real commands: the model picker's "Several endpoints…", the
// per-endpoint limits of batchPrompt.models, the records and report, and Resume Run on every endpoint.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { RunMeta, RunSummary } from '../../src/core/store/runStore';
import { BAD_KEY, failingAfter, slow } from '../support/endpointScripts';
import { ModelServer } from '../support/modelServer';
import { activateExtension, runOnFiles } from './support/extension';
import { spyMessages, stubQuickPick } from './support/messages';
import { resetSettings, setSettings } from './support/settings';
import { removeTree, RunFolder, writeTree } from './support/workspace';

const PROMPT = 'Upper-case every chunk.';
const CORPUS: Record<string, string> = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}.txt`, `line of file ${i}\n`]));

describe('Several endpoints in one run (extension host, local model servers)', function () {
  const one = new ModelServer();
  const two = new ModelServer();
  let urls: string[] = [];

  before(async () => {
    await activateExtension();
    writeTree('endpoints-corpus', CORPUS);
    urls = [await one.start(), await two.start()];
  });
  after(async () => {
    removeTree('endpoints-corpus');
    await one.stop();
    await two.stop();
  });
  beforeEach(async () => {
    one.reset();
    two.reset();
    await setSettings('batchPrompt', {
      models: [
        { id: 'one', provider: 'openai', baseUrl: urls[0], model: 'm', maxConcurrency: 1 },
        { id: 'two', provider: 'openai', baseUrl: urls[1], model: 'm', maxConcurrency: 2 },
      ],
      chunksPerBatch: 1,
      confirmAbove: 100000,
      useCache: false,
      dropEndpointAfterFailures: 2,
      dropEndpointAfterWaitSeconds: 7,
    });
  });
  afterEach(() => resetSettings('batchPrompt'));

  it('"Several endpoints…" in the picker spreads the run; a refused key drops that endpoint; records and report say who served what', async () => {
    one.script = slow(20);
    two.script = failingAfter(2, BAD_KEY, 20);
    const answers = [
      (items: vscode.QuickPickItem[]) => items.find((i) => i.label.includes('Several endpoints')),
      (items: vscode.QuickPickItem[]) => items.filter((i) => i.label === 'one' || i.label === 'two'),
    ];
    const pick = stubQuickPick((items, n) => answers[n]?.(items));
    const messages = spyMessages();
    let summary: RunSummary | undefined;
    try {
      summary = await runOnFiles({ glob: 'endpoints-corpus/**', prompt: PROMPT });
    } finally {
      pick.restore();
      messages.restore();
    }
    assert.ok(summary, 'the run resolves with its summary');
    assert.strictEqual(summary.status, 'succeeded', JSON.stringify(summary));
    assert.strictEqual(pick.asked.length, 2, 'a model, then the endpoints');
    assert.deepStrictEqual(pick.asked[1].map((i) => i.label), ['one', 'two']);
    assert.deepStrictEqual(summary.endpoints!.map((e) => [e.id, e.requests, e.dropped?.kind]), [['one', one.requests.length, undefined], ['two', two.requests.length, 'auth']]);
    assert.ok(one.peakInFlight <= 1 && two.peakInFlight <= 2, 'each endpoint within its own maxConcurrency');
    const run = RunFolder.of(summary);
    const meta = JSON.parse(run.read('run.json')) as RunMeta;
    assert.deepStrictEqual(meta.endpoints!.map((e) => [e.id, e.baseUrl, e.maxConcurrency]), [['one', urls[0], 1], ['two', urls[1], 2]]);
    assert.strictEqual(meta.model.id, 'one', 'the first endpoint is the primary');
    assert.deepStrictEqual([meta.parameters.dropAfterFailures, meta.parameters.dropAfterRetryAfterMs], [2, 7000], 'the drop thresholds come from the settings');
    const served = new Set(run.records().map((r) => r.endpoint));
    assert.deepStrictEqual([...served].sort(), ['one', 'two']);
    const report = run.read('report.md');
    assert.ok(report.includes('## Endpoints') && /\| two \|.*\*\*dropped\*\*: auth/.test(report), report);
    assert.match(report, /^> Endpoint two \(auth: .*\) left the run; the others took its batches\.$/m);
    // The user is told once, without a modal, while the run goes on; and again in the end-of-run notification.
    const drops = messages.shown.filter((m) => m.message.includes('left the run'));
    assert.strictEqual(drops.length, 2, JSON.stringify(messages.shown));
    assert.deepStrictEqual([drops[0].kind, drops[0].modal, drops[0].items], ['warning', false, ['Show Log']]);
    assert.match(drops[0].message, /^Batch Prompt: endpoint two left the run: auth: .+\. Its batches go to one\.$/);
    assert.match(drops[1].message, /^Batch Prompt: 12 of 12 chunks succeeded .* Endpoint two \(auth: .*\) left the run; the others took its batches\.$/);
    assert.deepStrictEqual(drops[1].items, ['Open Results']);
  });

  it('Resume Run goes on with every endpoint of the run', async () => {
    one.script = slow(10);
    two.script = slow(10);
    const first = await runOnFiles({ glob: 'endpoints-corpus/**', prompt: PROMPT, modelId: 'one+two' });
    assert.strictEqual(first?.status, 'succeeded');
    const run = RunFolder.of(first);
    // As if the window closed after 4 chunks.
    const lines = run.read('run.jsonl').trimEnd().split('\n');
    const lost = lines.slice(4).map((l) => JSON.parse(l) as { chunkId: string; path: string });
    fs.writeFileSync(path.join(run.dir, 'run.jsonl'), `${lines.slice(0, 4).join('\n')}\n`);
    fs.rmSync(path.join(run.dir, 'summary.json'));
    for (const r of lost) {
      fs.rmSync(path.join(run.dir, 'chunks', `${r.chunkId}.out`));
      fs.rmSync(path.join(run.dir, 'outputs', ...r.path.split('/')), { force: true });
    }
    one.reset();
    two.reset();
    one.script = slow(30);
    two.script = slow(30);
    const summary = await vscode.commands.executeCommand<RunSummary | undefined>('batchPrompt.resumeRun', vscode.Uri.file(run.dir));
    assert.strictEqual(summary?.status, 'succeeded');
    assert.deepStrictEqual([...one.sentChunkIds(), ...two.sentChunkIds()].sort(), lost.map((r) => r.chunkId).sort(), 'only the unfinished chunks are sent');
    assert.ok(one.requests.length > 0 && two.requests.length > 0, `both endpoints served the resume (${one.requests.length}/${two.requests.length})`);
  });
});
