import * as assert from 'assert';
import * as path from 'path';
import { JOB_FILE, type JobRecord } from '../../../src/core/jobs/job';
import { modelInfoOf, parameterOverrides, resendRefusal, runParameters, tokenizerOf, type RunSettings } from '../../../src/core/session/prepare';
import { useWorkspace, writeFiles } from '../../support/tempWorkspace';

const SETTINGS: RunSettings = { maxConcurrency: 4, maxRetries: 3, requestTimeoutSeconds: 120, chunkTokens: 2000, overlapTokens: 100, chunksPerBatch: 8, maxBatchTokens: 32768 };

describe('core/session prepare: the rules both front ends share', () => {
  describe('runParameters', () => {
    it('turns seconds into milliseconds and keeps the sizes', () => {
      assert.deepStrictEqual(runParameters({ ...SETTINGS, requestsPerMinute: 60, tokensPerMinute: 90_000, dropAfterFailures: 2, dropAfterWaitSeconds: 30 }), {
        maxConcurrency: 4,
        maxRetries: 3,
        requestTimeoutMs: 120_000,
        requestsPerMinute: 60,
        tokensPerMinute: 90_000,
        chunkTokens: 2000,
        overlapTokens: 100,
        chunksPerBatch: 8,
        maxBatchTokens: 32768,
        dropAfterFailures: 2,
        dropAfterRetryAfterMs: 30_000,
      });
    });

    it('reads a rate of 0 as no limit, and leaves the drop thresholds to the executor when not given', () => {
      const p = runParameters({ ...SETTINGS, requestsPerMinute: 0, tokensPerMinute: 0 });
      assert.deepStrictEqual([p.requestsPerMinute, p.tokensPerMinute, p.dropAfterFailures, p.dropAfterRetryAfterMs], [undefined, undefined, undefined, undefined]);
      // run.json records no empty key.
      assert.deepStrictEqual(Object.keys(JSON.parse(JSON.stringify(p))).sort(), ['chunkTokens', 'chunksPerBatch', 'maxBatchTokens', 'maxConcurrency', 'maxRetries', 'overlapTokens', 'requestTimeoutMs']);
    });
  });

  describe('parameterOverrides', () => {
    it('overrides only what is given, in milliseconds', () => {
      assert.deepStrictEqual(parameterOverrides({}), {});
      assert.deepStrictEqual(parameterOverrides({ maxConcurrency: 1, requestTimeoutSeconds: 5, dropAfterWaitSeconds: 2 }), { maxConcurrency: 1, requestTimeoutMs: 5000, dropAfterRetryAfterMs: 2000 });
    });

    it('keeps the recorded rate when the rate given is 0', () => {
      assert.deepStrictEqual(parameterOverrides({ requestsPerMinute: 0, tokensPerMinute: 10 }), { tokensPerMinute: 10 });
    });
  });

  describe('modelInfoOf', () => {
    it("names the endpoint without its headers or key, and without the keys it does not set", () => {
      const endpoint = { id: 'ep', provider: 'azure', model: 'gpt', baseUrl: 'https://r.openai.azure.com', apiVersion: '2024-10-21', headers: { 'x-secret': 'v' }, apiKey: 'sk-1' };
      assert.deepStrictEqual(modelInfoOf(endpoint), { id: 'ep', provider: 'azure', model: 'gpt', baseUrl: 'https://r.openai.azure.com', apiVersion: '2024-10-21' });
      assert.deepStrictEqual(modelInfoOf({ id: 'lm', provider: 'vscode-lm', model: undefined, baseUrl: '' }), { id: 'lm', provider: 'vscode-lm' });
      assert.deepStrictEqual(modelInfoOf({ id: 'x', provider: 'openai', model: 'm', contextWindow: 8000, maxOutputTokens: 500 }), { id: 'x', provider: 'openai', model: 'm', contextWindow: 8000, maxOutputTokens: 500 });
    });
  });

  describe('tokenizerOf', () => {
    it("is the run folder's encoding, o200k_base when it names another or none", () => {
      assert.strictEqual(tokenizerOf({ encoding: 'cl100k_base' }).encoding, 'cl100k_base');
      assert.strictEqual(tokenizerOf({ encoding: 'o200k_base' }).encoding, 'o200k_base');
      assert.strictEqual(tokenizerOf({ encoding: 'p50k_base' }).encoding, 'o200k_base');
    });
  });

  describe('resendRefusal', () => {
    let dir = '';
    useWorkspace('bp-session-', {}, (d) => (dir = d));
    const job = (collectedAt?: string): JobRecord => ({
      version: 1,
      provider: 'openai',
      endpointId: 'ep',
      jobId: 'batch_1',
      submittedAt: '2026-01-01T00:00:00.000Z',
      requests: [{ customId: 'b1', batchId: 'b1', chunkIds: ['c1'] }],
      state: { providerStatus: 'in_progress', ended: false, counts: { total: 1, succeeded: 0, failed: 0, processing: 1 } },
      ...(collectedAt ? { collectedAt } : {}),
    });

    it('lets an ordinary run folder be sent again', async () => {
      assert.strictEqual(await resendRefusal(dir), undefined);
    });

    it('refuses a folder whose batch job is not collected yet, naming the job', async () => {
      await writeFiles(dir, { [JOB_FILE]: JSON.stringify(job()) });
      const refusal = await resendRefusal(dir);
      assert.strictEqual(refusal?.refused, 'uncollected-job');
      assert.strictEqual(refusal.job.jobId, 'batch_1');
    });

    it('lets a collected job be resumed (its failed chunks are sent as an ordinary run)', async () => {
      await writeFiles(dir, { [JOB_FILE]: JSON.stringify(job('2026-01-02T00:00:00.000Z')) });
      assert.strictEqual(await resendRefusal(path.resolve(dir)), undefined);
    });
  });
});
