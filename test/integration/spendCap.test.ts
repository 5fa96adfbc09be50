// The spend cap setting (#17) through the real run command, against a local model server: the run stops
// handing out requests at batchPrompt.maxTokensPerRun, the chunks left are canceled with reason budget,
// and the end-of-run notification says the cap was reached and at what spend.
import * as assert from 'assert';
import { ModelServer } from '../support/modelServer';
import { activateExtension, HANG_GUARD_MS, runOnFiles, until } from './support/extension';
import { spyMessages } from './support/messages';
import { resetSettings, setSettings, useModelServerEachTest } from './support/settings';
import { removeTree, RunFolder, writeTree } from './support/workspace';

describe('Spend cap (extension host, local model server)', function () {
  let server: ModelServer;
  let baseUrl: string;

  before(async () => {
    await activateExtension();
    writeTree('capped', Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`f${i}.txt`, `file number ${i}\n`])));
  });

  after(async () => {
    await resetSettings();
    removeTree('capped');
  });

  useModelServerEachTest((s, url) => {
    server = s;
    baseUrl = url;
  });

  it('batchPrompt.maxTokensPerRun: the run stops at the cap, the rest canceled (budget), and the notification says the spend', async () => {
    await setSettings('batchPrompt', {
      models: [{ id: 'local', provider: 'openai', baseUrl, model: 'm', maxOutputTokens: 200 }],
      confirmAbove: 100000,
      useCache: false,
      chunksPerBatch: 1,
      maxConcurrency: 2,
      maxTokensPerRun: 900,
    });
    const messages = spyMessages();
    let summary;
    try {
      summary = await runOnFiles({ glob: 'capped/**', prompt: 'Upper-case it.', modelId: 'local' });
      assert.ok(summary, 'the run resolves with its summary');
      await until(() => messages.shown.some((m) => /chunks succeeded/.test(m.message)), HANG_GUARD_MS, 'the end-of-run notification');
    } finally {
      messages.restore();
    }
    assert.ok(summary.budget?.reached, JSON.stringify(summary.budget));
    assert.ok(summary.budget.spent.tokens <= 900);
    assert.ok(summary.succeeded > 0 && summary.canceled > 0, `${summary.succeeded} succeeded, ${summary.canceled} canceled`);
    assert.ok(server.requests.every((r) => r.body.max_tokens === 200));
    const canceled = RunFolder.of(summary).records().filter((r) => r.status === 'canceled');
    assert.strictEqual(canceled.length, summary.canceled);
    assert.ok(canceled.every((r) => r.error?.kind === 'budget'));
    const note = messages.shown.find((m) => /chunks succeeded/.test(m.message))!;
    assert.match(note.message, new RegExp(`Spend cap reached at ${summary.budget.spent.tokens.toLocaleString('en-US')} of 900 tokens: ${summary.canceled} chunks? not sent \\(canceled, reason budget\\)`));
  });
});
