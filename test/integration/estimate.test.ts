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
async function estimate(modelId = 'local'): Promise<string> {
  await vscode.commands.executeCommand('batchPrompt.estimateRun', { glob: 'estimate-corpus/**', prompt: PROMPT, modelId });
  const doc = vscode.window.activeTextEditor?.document;
  // A read-only document: closing it asks nothing, and no window brings it back as unsaved work.
  assert.strictEqual(doc?.uri.scheme, 'batch-prompt-estimate');
  assert.strictEqual(doc?.languageId, 'markdown');
  assert.strictEqual(doc?.isDirty, false);
  const text = doc?.getText() ?? '';
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  return text;
}

describe('Estimate Run (extension host, local model server)', function () {
  let server: ModelServer;
  let baseUrl = '';

  before(async () => {
    await activateExtension();
    writeTree('estimate-corpus', CORPUS);
  });
  after(() => removeTree('estimate-corpus'));

  beforeEach(async () => {
    server = new ModelServer();
    baseUrl = await server.start();
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

  it('over several endpoints ("local+second"): a line per endpoint with its own limits and latency, the cost at the primary\'s prices with the range', async () => {
    await useLocalEndpoint(baseUrl, {
      requestsPerMinute: 30,
      models: [
        { id: 'local', provider: 'openai', baseUrl, model: 'm', maxConcurrency: 2, inputCostPerMTok: 2, outputCostPerMTok: 8 },
        { id: 'second', provider: 'openai', baseUrl, model: 'm2', maxConcurrency: 6, requestsPerMinute: 600, inputCostPerMTok: 1, outputCostPerMTok: 4 },
      ],
    });
    const text = await estimate('local+second');
    assert.match(text, /\| Latency \| per endpoint, below \|/);
    // local may have a recent run (the test above runs on it): its own; second has none.
    assert.match(text, /\| Endpoint local \| concurrency 2, 30 RPM, no TPM budget; .+ set by its RPM budget \(30\), .+; latency: (no recent runs of local: assumed|\d+ requests? of \d+ recent runs? of local: )/);
    assert.match(text, /\| Endpoint second \| concurrency 6, 600 RPM, no TPM budget; .+; latency: no recent runs of second: assumed/);
    assert.match(text, /\| Cost \| \S+ \(input \S+, output \S+\) if every request went to the primary local; from \S+ \(all on second\) to \S+ \(all on local\) as the endpoints share the work \|/);
    assert.match(text, /concurrency per endpoint local \d+, second \d+ \(maxConcurrency of each endpoint in batchPrompt\.models\)/);
    assert.strictEqual(server.requests.length, 0, 'an estimate calls no model');
  });
});
