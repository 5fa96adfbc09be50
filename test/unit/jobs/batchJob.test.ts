import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { collectJob, watchJob } from '../../../src/core/jobs/collect';
import { cancelJob, JOB_FILE, pendingJob, readJob, refreshJob, submitJob, type BatchApi } from '../../../src/core/jobs/job';
import type { Plan } from '../../../src/core/plan/plan';
import { buildMessages } from '../../../src/core/plan/protocol';
import { retryChunks } from '../../../src/core/session/run';
import { unfinishedRuns } from '../../../src/core/store/runFolders';
import { readRecords, type RunSummary } from '../../../src/core/store/runStore';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { Chunk, SourceFile } from '../../../src/core/plan/types';
import { AnthropicBatchApi } from '../../../src/providers/batch/anthropicBatch';
import { createBatchApi } from '../../../src/providers/batch/batchApi';
import { OpenAIBatchApi } from '../../../src/providers/batch/openaiBatch';
import { OpenAICompatibleModel } from '../../../src/providers/openaiCompatible';
import { BatchServer } from '../../support/batchServer';
import { JOB_PARAMETERS as parameters, JOB_PROMPT as PROMPT, planJob } from '../../support/batchJobFixtures';
import { useServer } from '../../support/localServer';
import { ModelServer } from '../../support/modelServer';
import { listTree } from '../../support/runFolder';
import { treeOf, useWorkspace } from '../../support/tempWorkspace';

const tokenizer = getTokenizer();
const KEY = 'sk-batch-SECRET-0123456789';
const files: SourceFile[] = [
  { path: 'a.ts', text: 'export const a = 1;\n'.repeat(60) },
  { path: 'b.md', text: '# Title\n\nSome prose here.\n'.repeat(4) },
];

const planOf = (): Plan => planJob(files);

async function readJsonl(file: string): Promise<Record<string, unknown>[]> {
  return (await fs.readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('batch jobs', function () {
  this.timeout(20_000);
  const server = new BatchServer();
  let base = '';
  let ws = '';
  /** The run's files may be read from the test's workspace only. */
  const roots = () => ({ allowed: [ws], hint: 'resume from the workspace' });
  useServer(server, (url) => (base = url));
  useWorkspace('bp-job-', treeOf(files), (dir) => (ws = dir));

  for (const provider of ['openai', 'anthropic'] as const) {
    describe(`${provider}`, () => {
      const api = (): BatchApi => createBatchApi({ id: 'ep', provider, baseUrl: provider === 'openai' ? `${base}/v1` : base, model: 'm-1', maxOutputTokens: 777 }, KEY);

      async function submit(plan = planOf()) {
        const dir = path.join(ws, '.batch-prompt/runs/j1');
        const result = await submitJob(plan, { root: ws, dir, prompt: PROMPT, modelInfo: { id: 'ep', provider, model: 'm-1' }, tokenizer, parameters, api: api(), endpointId: 'ep', maxOutputTokens: 777 });
        return { dir, plan, ...result };
      }

      it('submits one request per plan batch: custom_id = batch id, messages from buildMessages, max_tokens', async () => {
        server.requiredKey = KEY;
        const { dir, plan, job } = await submit();
        assert.ok(job, 'a job was created');
        assert.ok(plan.batches.length >= 3, `several batches (${plan.batches.length})`);
        const [served] = [...server.jobs.values()];
        assert.deepStrictEqual(served.requests.map((r) => r.customId), plan.batches.map((b) => b.id));
        for (const [i, b] of plan.batches.entries()) {
          const chunks: Chunk[] = b.chunks.map((c) => ({ ...c, text: files.find((f) => f.path === c.path)!.text.slice(c.start, c.end) }));
          const messages = buildMessages(PROMPT, chunks, true);
          const body = served.requests[i].body;
          assert.strictEqual(body.model, 'm-1');
          assert.strictEqual(body.max_tokens, 777);
          if (provider === 'openai') {
            assert.deepStrictEqual(body.messages, messages);
          } else {
            assert.strictEqual(body.system, messages[0].content);
            assert.deepStrictEqual(body.messages, [messages[1]]);
          }
        }
        if (provider === 'openai') {
          const upload = server.calls.find((c) => c.url === '/v1/files')!;
          const form = upload.body as { purpose: string; lines: { custom_id: string; method: string; url: string }[] };
          assert.strictEqual(form.purpose, 'batch');
          assert.ok(form.lines.every((l) => l.method === 'POST' && l.url === '/v1/chat/completions'));
          assert.strictEqual(job.inputFileId, 'file-1');
        }
        const stored = await fs.readFile(path.join(dir, JOB_FILE), 'utf8');
        assert.ok(!stored.includes(KEY), 'job.json holds no key');
        const saved = (await readJob(dir))!;
        assert.strictEqual(saved.provider, provider);
        assert.strictEqual(saved.endpointId, 'ep');
        assert.strictEqual(saved.jobId, job.jobId);
        assert.deepStrictEqual(saved.requests.map((r) => r.chunkIds), plan.batches.map((b) => b.chunks.map((c) => c.id)));
        assert.ok(await pendingJob(dir), 'pending until collected');
        assert.deepStrictEqual(await unfinishedRuns(path.dirname(dir)), [], 'a pending job is not offered for resume (it would be sent twice)');
        await assert.rejects(fs.access(path.join(dir, 'run.lock')), 'the folder is not held while the job runs');
      });

      it('polls through running to ended, then maps every result back into the run folder', async () => {
        server.pollsBeforeEnd = 2;
        const { dir, plan } = await submit();
        const first = await refreshJob(dir, api());
        assert.strictEqual(first.state.ended, false);
        assert.strictEqual(first.state.counts.total, plan.batches.length);
        const pending = await collectJob(dir, api());
        assert.strictEqual(pending.status, 'pending', 'a running job is left alone');
        await assert.rejects(fs.access(path.join(dir, 'summary.json')));
        const done = await collectJob(dir, api());
        assert.strictEqual(done.status, 'collected');
        const summary = (done as { summary: RunSummary }).summary;
        assert.strictEqual(summary.status, 'succeeded');
        assert.strictEqual(summary.succeeded, plan.totals.chunks);
        assert.strictEqual(summary.requests, plan.batches.length);
        assert.strictEqual(summary.inputTokens, 100 * plan.batches.length, 'usage from the provider');
        const a = await fs.readFile(path.join(dir, 'outputs/a.ts.md'), 'utf8');
        for (const c of plan.files[0].chunks) assert.ok(a.includes(`OUT[${c.id}]`), `chunk ${c.id} in a.ts`);
        assert.ok(a.includes('EXPORT CONST A = 1;'));
        const records = await readJsonl(path.join(dir, 'run.jsonl'));
        assert.strictEqual(records.length, plan.totals.chunks);
        assert.ok(records.every((r) => r.status === 'succeeded'));
        assert.match(await fs.readFile(path.join(dir, 'report.md'), 'utf8'), /all chunks succeeded/);
        assert.ok((await readJob(dir))!.collectedAt);
        assert.strictEqual(await pendingJob(dir), undefined);
      });

      it('records partially failed requests and chunks missing from a reply as failed, with a typed reason, and retries them through the normal path', async () => {
        const plan = planOf();
        const [bad, cut] = [plan.batches[0].id, plan.batches[1].id];
        const dropped = plan.batches[1].chunks[1].id;
        server.script = (r) => (r.customId === bad ? { kind: 'error', status: 400, type: 'invalid_request_error', message: 'bad input here' } : r.customId === cut ? { kind: 'ok', drop: [dropped] } : undefined);
        const { dir } = await submit(plan);
        const result = await collectJob(dir, api());
        assert.strictEqual(result.status, 'pending');
        const done = await collectJob(dir, api());
        const summary = (done as { summary: RunSummary }).summary;
        assert.strictEqual(summary.status, 'partial');
        const records = await readRecords(dir);
        const byId = new Map(records.map((r) => [r.chunkId, r]));
        for (const c of plan.batches[0].chunks) {
          assert.strictEqual(byId.get(c.id)?.status, 'failed');
          assert.strictEqual(byId.get(c.id)?.error?.kind, 'invalid-request');
          assert.match(byId.get(c.id)!.error!.message, /bad input here/);
        }
        assert.strictEqual(byId.get(dropped)?.error?.kind, 'bad-reply');
        assert.strictEqual(byId.get(plan.batches[1].chunks[0].id)?.status, 'succeeded');
        assert.ok((await listTree(path.join(dir, 'outputs'))).includes('a.ts.incomplete.md'));
        assert.deepStrictEqual((await unfinishedRuns(path.dirname(dir))).map((r) => r.dir), [dir], 'once collected, its failures can be resumed');

        // The normal retry path sends exactly the failed chunks and completes the file.
        const model = new ModelServer();
        const url = await model.start();
        try {
          const retried = await retryChunks(dir, { roots: roots(), model: new OpenAICompatibleModel({ baseUrl: url, model: 'm' }), tokenizer });
          assert.deepStrictEqual(model.sentChunkIds().sort(), [...plan.batches[0].chunks.map((c) => c.id), dropped].sort());
          assert.strictEqual(retried.summary.status, 'succeeded');
          assert.ok((await listTree(path.join(dir, 'outputs'))).includes('a.ts.md'));
        } finally {
          await model.stop();
        }
      });

      it('maps an expired job: the requests done succeed, the others fail as expired', async () => {
        server.endAs = 'expired';
        server.processedBeforeEnd = 1;
        server.pollsBeforeEnd = 0;
        const { dir, plan } = await submit();
        const done = await collectJob(dir, api());
        assert.strictEqual(done.status, 'collected');
        const byId = new Map((await readRecords(dir)).map((r) => [r.chunkId, r]));
        for (const c of plan.batches[0].chunks) assert.strictEqual(byId.get(c.id)?.status, 'succeeded');
        for (const b of plan.batches.slice(1)) {
          for (const c of b.chunks) {
            assert.strictEqual(byId.get(c.id)?.status, 'failed');
            assert.strictEqual(byId.get(c.id)?.error?.kind, 'timeout');
            assert.match(byId.get(c.id)!.error!.message, /expired/);
          }
        }
      });

      it('cancels the provider job; requests not done end canceled', async () => {
        server.pollsBeforeEnd = 5;
        server.processedBeforeEnd = 1;
        const { dir, plan } = await submit();
        const job = await cancelJob(dir, api());
        assert.ok(job.cancelRequestedAt);
        assert.ok(server.calls.some((c) => c.method === 'POST' && /\/cancel$/.test(c.url)), 'the provider was asked to cancel');
        assert.match(job.state.providerStatus, /^cancel/);
        const done = await collectJob(dir, api());
        assert.strictEqual(done.status, 'collected');
        const summary = (done as { summary: RunSummary }).summary;
        const later = plan.batches.slice(1).reduce((n, b) => n + b.chunks.length, 0);
        assert.strictEqual(summary.canceled, later);
        assert.strictEqual(summary.succeeded, plan.batches[0].chunks.length);
      });

      it('collecting twice downloads nothing and writes nothing again', async () => {
        server.pollsBeforeEnd = 0;
        const { dir } = await submit();
        const first = await collectJob(dir, api());
        assert.strictEqual(first.status, 'collected');
        const before = await fs.readFile(path.join(dir, 'run.jsonl'), 'utf8');
        const files = await listTree(dir);
        const calls = server.calls.length;
        const second = await collectJob(dir, api());
        assert.strictEqual(second.status, 'already-collected');
        assert.deepStrictEqual((second as { summary: RunSummary }).summary, (first as { summary: RunSummary }).summary);
        assert.strictEqual(await fs.readFile(path.join(dir, 'run.jsonl'), 'utf8'), before, 'no duplicate records');
        assert.deepStrictEqual(await listTree(dir), files, 'no new files');
        assert.strictEqual(server.calls.length, calls, 'no request');
      });

      it('a collect interrupted after some records adds only the missing ones', async () => {
        server.pollsBeforeEnd = 0;
        const { dir, plan } = await submit();
        await collectJob(dir, api());
        // As if the process died before job.json said "collected": drop the mark and the last records.
        const job = (await readJob(dir))!;
        delete job.collectedAt;
        await fs.writeFile(path.join(dir, JOB_FILE), JSON.stringify(job));
        const lines = (await fs.readFile(path.join(dir, 'run.jsonl'), 'utf8')).trim().split('\n');
        await fs.writeFile(path.join(dir, 'run.jsonl'), `${lines.slice(0, 2).join('\n')}\n`);
        await fs.rm(path.join(dir, 'summary.json'));
        const again = await collectJob(dir, api());
        assert.strictEqual(again.status, 'collected');
        const records = await readRecords(dir);
        assert.strictEqual(records.length, plan.totals.chunks, 'each chunk recorded exactly once');
        assert.strictEqual(new Set(records.map((r) => r.chunkId)).size, plan.totals.chunks);
      });

      it('watchJob polls until the job ends, then collects; an abort stops polling without touching the job', async () => {
        server.pollsBeforeEnd = 3;
        const { dir, plan } = await submit();
        const seen: string[] = [];
        let keyReads = 0;
        const sleeps: number[] = [];
        const result = await watchJob(dir, async () => (keyReads++, api()), { intervalMs: 30_000, sleep: async (ms) => void sleeps.push(ms), onJob: (j) => seen.push(j.state.providerStatus) });
        assert.strictEqual(result?.status, 'collected');
        assert.strictEqual(seen.length, 4);
        assert.ok(seen.slice(0, 3).every((s) => s === 'in_progress'));
        assert.deepStrictEqual(sleeps, [30_000, 30_000, 30_000]);
        assert.strictEqual(keyReads, 4, 'the key is asked for at every poll');
        assert.strictEqual((result as { summary: RunSummary }).summary.succeeded, plan.totals.chunks);

        const ws2 = path.join(ws, '.batch-prompt/runs/j2');
        await submitJob(plan, { root: ws, dir: ws2, prompt: PROMPT, modelInfo: { id: 'ep', provider }, tokenizer, parameters, api: api(), endpointId: 'ep' });
        const controller = new AbortController();
        const stopped = await watchJob(ws2, async () => api(), { intervalMs: 1, signal: controller.signal, sleep: async () => controller.abort() });
        assert.strictEqual(stopped, undefined);
        assert.ok(await pendingJob(ws2), 'the job is still pending, to be resumed later');
      });

      it('watchJob waits while another process holds the folder (collecting the same job), then collects', async () => {
        server.pollsBeforeEnd = 0;
        const { dir, plan } = await submit();
        await fs.writeFile(path.join(dir, 'run.lock'), JSON.stringify({ pid: process.pid, hostname: os.hostname(), at: '' }));
        const errors: unknown[] = [];
        const result = await watchJob(dir, async () => api(), {
          intervalMs: 1,
          onPollError: (e) => errors.push(e),
          sleep: () => fs.rm(path.join(dir, 'run.lock')),
        });
        assert.strictEqual(errors.length, 1);
        assert.strictEqual(result?.status, 'collected');
        assert.strictEqual((await readRecords(dir)).length, plan.totals.chunks);
      });

      it('a bad key stops the watch with an auth error that does not hold the key', async () => {
        server.pollsBeforeEnd = 3;
        const { dir } = await submit();
        server.requiredKey = 'another-key-entirely';
        // The server's refusal echoes the key it was sent (batchServer.ts): the message carries the
        // server's words, with the key taken out.
        await assert.rejects(
          watchJob(dir, async () => api(), { intervalMs: 1, sleep: async () => undefined }),
          (e: Error & { kind?: string }) => {
            assert.strictEqual(e.kind, 'auth');
            assert.match(e.message, /Incorrect API key provided|invalid x-api-key/, 'the message quotes the server');
            assert.ok(!e.message.includes(KEY), `the message holds the key: ${e.message}`);
            return true;
          },
        );
      });
    });
  }

  describe('submit edge cases', () => {

    it('a file changed since planning fails its chunks at submit (source-changed) and is not sent', async () => {
      const plan = planOf();
      await fs.writeFile(path.join(ws, 'b.md'), 'changed');
      const dir = path.join(ws, 'run');
      const { job } = await submitJob(plan, { root: ws, dir, prompt: PROMPT, modelInfo: { id: 'ep' }, tokenizer, parameters, api: new AnthropicBatchApi({ baseUrl: base, model: 'm', apiKey: KEY }), endpointId: 'ep' });
      const bIds = plan.files[1].chunks.map((c) => c.id);
      assert.ok(job);
      assert.ok(!job.requests.some((r) => r.chunkIds.some((id) => bIds.includes(id))));
      const records = await readRecords(dir);
      assert.deepStrictEqual(records.map((r) => `${r.chunkId}:${r.error?.kind}`).sort(), bIds.map((id) => `${id}:source-changed`).sort());
      // Collect completes the run: b.md stays failed, a.ts succeeds.
      server.pollsBeforeEnd = 0;
      const done = await collectJob(dir, new AnthropicBatchApi({ baseUrl: base, model: 'm', apiKey: KEY }));
      assert.strictEqual((done as { summary: RunSummary }).summary.failed, bIds.length);
    });

    it('batch ids that are not valid custom ids are replaced, and mapped back', async () => {
      const plan = planOf();
      const renamed = { ...plan, batches: plan.batches.map((b, i) => ({ ...b, id: `batch ${i}/x` })) };
      const dir = path.join(ws, 'run');
      const api = new AnthropicBatchApi({ baseUrl: base, model: 'm', apiKey: KEY });
      const { job } = await submitJob(renamed, { root: ws, dir, prompt: PROMPT, modelInfo: { id: 'ep' }, tokenizer, parameters, api, endpointId: 'ep' });
      assert.ok(job!.requests.every((r) => /^[a-zA-Z0-9_-]{1,64}$/.test(r.customId)));
      server.pollsBeforeEnd = 0;
      const done = await collectJob(dir, api);
      assert.strictEqual((done as { summary: RunSummary }).summary.succeeded, plan.totals.chunks);
      assert.ok((await readRecords(dir)).every((r) => r.batchId.startsWith('batch ')));
    });

    it('a refused job (bad key) ends the run at submit: chunks canceled, fatal in the summary, no job.json', async () => {
      server.requiredKey = 'the-right-key-123';
      const dir = path.join(ws, 'run');
      const { job, summary } = await submitJob(planOf(), { root: ws, dir, prompt: PROMPT, modelInfo: { id: 'ep' }, tokenizer, parameters, api: new OpenAIBatchApi({ baseUrl: `${base}/v1`, model: 'm', apiKey: KEY }), endpointId: 'ep' });
      assert.strictEqual(job, undefined);
      assert.strictEqual(summary?.status, 'failed');
      assert.strictEqual(summary?.fatal?.kind, 'auth');
      assert.ok(!summary!.fatal!.message.includes(KEY));
      await assert.rejects(fs.access(path.join(dir, JOB_FILE)));
    });

    it('an OpenAI job that fails validation fails every chunk with the provider reason', async () => {
      server.endAs = 'failed';
      server.pollsBeforeEnd = 0;
      const dir = path.join(ws, 'run');
      const api = new OpenAIBatchApi({ baseUrl: `${base}/v1`, model: 'm', apiKey: KEY });
      await submitJob(planOf(), { root: ws, dir, prompt: PROMPT, modelInfo: { id: 'ep' }, tokenizer, parameters, api, endpointId: 'ep' });
      const done = await collectJob(dir, api);
      const records = await readRecords(dir);
      assert.strictEqual((done as { summary: RunSummary }).summary.succeeded, 0);
      assert.ok(records.every((r) => r.status === 'failed' && r.error?.kind === 'invalid-request' && /invalid_json_line/.test(r.error.message)));
    });

    it('refuses providers without a batch service, and a missing key, with a clear message', () => {
      assert.throws(() => createBatchApi({ id: 'o', provider: 'ollama', model: 'llama' }, undefined), /Ollama has no batch service/);
      assert.throws(() => createBatchApi({ id: 'az', provider: 'azure', baseUrl: 'https://x.openai.azure.com', model: 'd' }, 'k'), /Azure.*not supported/);
      assert.throws(() => createBatchApi({ id: 'c', provider: 'anthropic', model: 'claude' }, undefined), /needs an API key/);
    });
  });
});
