// "Estimate Run…" through the real command, against a local model server: the document shows the
// estimate, and counts the chunks a run left in the result cache.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { ModelServer } from '../support/modelServer';
import { activateExtension, runOnFiles } from './support/extension';
import { resetSettings, useLocalEndpoint } from './support/settings';
import { removeTree, workspaceRoot, writeTree } from './support/workspace';

const PROMPT = 'Summarise every chunk.';
const CORPUS: Record<string, string> = {
  'a.txt': 'alpha\n',
  'b.txt': 'beta\nbeta\n',
  'c.txt': 'gamma\n',
};

/** Runs "Estimate Run…" with every question answered; the text of the document it opens. */
async function estimate(): Promise<string> {
  await vscode.commands.executeCommand('batchPrompt.estimateRun', { glob: 'estimate-corpus/**', prompt: PROMPT, modelId: 'local' });
  const text = vscode.window.activeTextEditor?.document.getText() ?? '';
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  return text;
}

describe('Estimate Run (extension host, local model server)', function () {
  let server: ModelServer;

  before(async () => {
    await activateExtension();
    writeTree('estimate-corpus', CORPUS);
  });
  after(() => removeTree('estimate-corpus'));

  beforeEach(async () => {
    server = new ModelServer();
    const baseUrl = await server.start();
    await useLocalEndpoint(baseUrl, { useCache: true, requestsPerMinute: 30, models: [{ id: 'local', provider: 'openai', baseUrl, model: 'm', inputCostPerMTok: 2, outputCostPerMTok: 8 }] });
    await vscode.commands.executeCommand('batchPrompt.clearCache');
  });
  afterEach(async () => {
    await vscode.commands.executeCommand('batchPrompt.clearCache');
    await resetSettings('batchPrompt');
    await server.stop();
  });

  it('shows requests, tokens, cost, cached chunks, latency, time and batch versus stream; a run fills the cache', async () => {
    const before = await estimate();
    assert.match(before, /## Estimate/);
    assert.match(before, /\| Cached \| 0 of 3 chunks \(not sent again\) \|/);
    assert.match(before, /\| Cost \| \$0\.\d+ \(input \$0\.\d+, output \$0\.\d+\) \|/);
    assert.match(before, /\| Time \| about [\d.]+ s .*set by /);
    assert.match(before, /## Batch or stream/);
    assert.match(before, /\*\*Recommendation:\*\* .+\(batchPrompt\.chunksPerBatch \d+\), concurrency \d+ \(batchPrompt\.maxConcurrency \d+\)/);
    assert.strictEqual(server.requests.length, 0, 'an estimate calls no model');

    const summary = await runOnFiles({ glob: 'estimate-corpus/**', prompt: PROMPT, modelId: 'local' });
    assert.strictEqual(summary?.status, 'succeeded');
    const after = await estimate();
    assert.match(after, /\| Cached \| 3 of 3 chunks \(not sent again\) \|/);
    assert.match(after, /\| Latency \| \d+ requests? of \d+ recent runs? of local: median [\d.]+ s per request/);
    assert.match(after, /\| Output tokens \| about 0 \(\d+ recent runs? of this prompt on local: /);

    fs.appendFileSync(path.join(workspaceRoot(), 'estimate-corpus', 'b.txt'), 'edited\n');
    assert.match(await estimate(), /\| Cached \| 2 of 3 chunks \(not sent again\) \|/);
  });
});
