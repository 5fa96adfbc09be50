import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as path from 'path';
import { Writable } from 'stream';
import { BatchTooLargeError, JOB_FILE, submitJob, type BatchLimits } from '../../../src/core/jobs/job';
import type { Plan } from '../../../src/core/plan/plan';
import { readRecords } from '../../../src/core/store/runStore';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { SourceFile } from '../../../src/core/plan/types';
import { submitPlan } from '../../../src/cli/commands/submit';
import { resultOf as anthropicResult } from '../../../src/providers/batch/anthropicBatch';
import { AnthropicBatchApi } from '../../../src/providers/batch/anthropicBatch';
import { createBatchApi } from '../../../src/providers/batch/batchApi';
import { OpenAIBatchApi, stateOf as openaiState } from '../../../src/providers/batch/openaiBatch';
import { BatchServer } from '../../support/batchServer';
import { JOB_PARAMETERS as parameters, JOB_PROMPT as PROMPT, planJob } from '../../support/batchJobFixtures';
import { useServer } from '../../support/localServer';
import { treeOf, useWorkspace } from '../../support/tempWorkspace';

const tokenizer = getTokenizer();
const KEY = 'sk-limits-SECRET-0123456789';
// Multi-byte text: the size limit is in bytes of UTF-8, not in characters.
const files: SourceFile[] = [
  { path: 'a.ts', text: 'export const café = "東京";\n'.repeat(40) },
  { path: 'b.md', text: '# Naïve title\n\nSome prose — here.\n'.repeat(4) },
];

const planOf = (): Plan => planJob(files);

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  return { stream: new Writable({ write: (c: Buffer, _e, cb) => ((text += c.toString()), cb()) }), text: () => text };
}

for (const provider of ['openai', 'anthropic'] as const) {
  describe(`batch job limits (${provider})`, function () {
    this.timeout(20_000);
    const server = new BatchServer();
    let base = '';
    let ws = '';
    useServer(server, (url) => (base = url));
    useWorkspace('bp-limits-', treeOf(files), (dir) => (ws = dir));

    const api = (limits?: Partial<BatchLimits>) => createBatchApi({ id: 'ep', provider, baseUrl: provider === 'openai' ? `${base}/v1` : base, model: 'm-1' }, KEY, { limits });
    const submit = (dir: string, limits?: Partial<BatchLimits>) => submitJob(planOf(), { root: ws, dir, prompt: PROMPT, modelInfo: { id: 'ep', provider }, tokenizer, parameters, api: api(limits), endpointId: 'ep', chunksPerBatchName: '--chunks-per-batch' });
    /** Bytes the provider received as the job: OpenAI's input file, Anthropic's create body. */
    const sentBytes = (): number => (provider === 'openai' ? Buffer.byteLength([...server.files.values()][0], 'utf8') : server.calls.find((c) => c.method === 'POST' && c.url === '/v1/messages/batches')!.size);

    it('documents the providers\' limits as the defaults', () => {
      assert.deepStrictEqual(api().limits, provider === 'openai' ? { maxRequests: 50_000, maxBytes: 200_000_000 } : { maxRequests: 100_000, maxBytes: 256_000_000 });
    });

    it('refuses too many requests before reading, uploading or writing anything, saying what to change', async () => {
      const plan = planOf();
      const dir = path.join(ws, 'run');
      const limit = plan.batches.length - 1;
      await assert.rejects(submit(dir, { maxRequests: limit }), (e: unknown) => {
        assert.ok(BatchTooLargeError.isTooLarge(e), String(e));
        assert.strictEqual(e.kind, 'config');
        assert.deepStrictEqual([e.measure, e.actual, e.limit], ['requests', plan.batches.length, limit]);
        assert.match(e.message, new RegExp(`${plan.batches.length} requests, over its limit of ${limit} per job`));
        assert.match(e.message, /Nothing was sent and no run folder was written/);
        assert.match(e.message, new RegExp(`Raise --chunks-per-batch \\(chunks per request, now 2\\) to at least ${Math.ceil(plan.totals.chunks / limit)}`));
        assert.match(e.message, /select fewer files, or submit the files as 2 or more separate jobs/);
        return true;
      });
      assert.deepStrictEqual(server.calls, [], 'nothing uploaded');
      await assert.rejects(fs.access(dir), 'no run folder');
    });

    it('measures the size exactly as it is sent: one byte over the limit is refused, the exact size is accepted', async () => {
      const first = await submit(path.join(ws, 'measure'));
      assert.ok(first.job);
      const size = sentBytes();
      const calls = server.calls.length;
      const dir = path.join(ws, 'over');
      await assert.rejects(submit(dir, { maxBytes: size - 1 }), (e: unknown) => {
        assert.ok(BatchTooLargeError.isTooLarge(e));
        assert.deepStrictEqual([e.measure, e.actual, e.limit], ['bytes', size, size - 1]);
        assert.match(e.message, new RegExp(`would be ${size.toLocaleString('en-US')} bytes, over its limit of ${(size - 1).toLocaleString('en-US')} bytes per job`));
        assert.match(e.message, /Select fewer files, or submit the files as 2 or more separate jobs/);
        return true;
      });
      assert.strictEqual(server.calls.length, calls, 'nothing uploaded');
      await assert.rejects(fs.access(dir), 'no run folder');
      const exact = await submit(path.join(ws, 'exact'), { maxBytes: size });
      assert.ok(exact.job, 'a job of exactly the limit is sent');
    });

    it('batch-prompt submit prints the refusal and exits 1, leaving no run folder', async () => {
      const dir = path.join(ws, 'cli-run');
      const out = sink();
      const err = sink();
      const code = await submitPlan(planOf(), { dir, prompt: PROMPT, endpoint: { id: 'ep', provider, model: 'm-1' }, api: api({ maxRequests: 1 }), tokenizer, parameters }, { stdout: out.stream, stderr: err.stream, env: {}, cwd: ws });
      assert.strictEqual(code, 1);
      assert.match(err.text(), /^batch-prompt: The batch job is too large for (OpenAI's Batch API|Anthropic's Message Batches): \d+ requests, over its limit of 1 per job\..*--chunks-per-batch/);
      assert.strictEqual(out.text(), '');
      assert.deepStrictEqual(server.calls, []);
      await assert.rejects(fs.access(dir));
    });

    it('a reply that echoes the key never puts it in an error message', async () => {
      // A proxy that answers 200 without an id, echoing the request's credentials.
      server.override = (c) => (c.method === 'POST' ? { status: 200, body: { echoed: String(c.headers.authorization ?? c.headers['x-api-key']) } } : undefined);
      const dir = path.join(ws, 'echo');
      const { job, summary } = await submit(dir);
      assert.strictEqual(job, undefined);
      const records = await readRecords(dir);
      assert.ok(records.length > 0 && records.every((r) => r.error?.kind === 'bad-reply'));
      for (const r of records) assert.ok(!r.error!.message.includes(KEY) && r.error!.message.includes('***'), r.error!.message);
      assert.ok(!JSON.stringify(summary).includes(KEY));
    });
  });
}

describe('OpenAI batch creation failing after the upload', function () {
  this.timeout(20_000);
  const server = new BatchServer();
  let base = '';
  let ws = '';
  useServer(server, (url) => (base = url));
  useWorkspace('bp-cleanup-', treeOf(files), (dir) => (ws = dir));
  const api = () => new OpenAIBatchApi({ baseUrl: `${base}/v1`, model: 'm', apiKey: KEY });
  const failCreate = (status: number, message: string) => (c: { method: string; url: string }) => (c.method === 'POST' && c.url === '/v1/batches' ? { status, body: { error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error', code: null } } } : undefined);

  it('deletes the uploaded input file, and the run records the creation error', async () => {
    server.override = failCreate(500, 'The server had an error while processing your request.');
    const dir = path.join(ws, 'run');
    const { job, summary } = await submitJob(planOf(), { root: ws, dir, prompt: PROMPT, modelInfo: { id: 'ep' }, tokenizer, parameters, api: api(), endpointId: 'ep' });
    assert.strictEqual(job, undefined);
    assert.strictEqual(summary?.failed, planOf().totals.chunks);
    const upload = server.calls.findIndex((c) => c.method === 'POST' && c.url === '/v1/files');
    const del = server.calls.findIndex((c) => c.method === 'DELETE' && /^\/v1\/files\/file-\d+$/.test(c.url));
    assert.ok(upload >= 0 && del > upload, server.calls.map((c) => `${c.method} ${c.url}`).join(', '));
    assert.strictEqual(server.calls[del].headers.authorization, `Bearer ${KEY}`);
    assert.strictEqual(server.files.size, 0, 'no file left at the provider');
    const records = await readRecords(dir);
    assert.ok(records.every((r) => r.error?.kind === 'transient' && /server had an error/.test(r.error.message) && !/could not be deleted/.test(r.error.message)));
    await assert.rejects(fs.access(path.join(dir, JOB_FILE)));
  });

  it('batch-prompt submit says why no job was created', async () => {
    server.override = failCreate(400, 'Model m is not available for batch.');
    const dir = path.join(ws, 'cli-run');
    const out = sink();
    const err = sink();
    const code = await submitPlan(planOf(), { dir, prompt: PROMPT, endpoint: { id: 'ep', provider: 'openai', model: 'm' }, api: api(), tokenizer, parameters }, { stdout: out.stream, stderr: err.stream, env: {}, cwd: ws });
    assert.strictEqual(code, 1);
    assert.strictEqual(err.text(), 'batch-prompt: no batch job was created: The endpoint refused the request (HTTP 400): Model m is not available for batch.\n');
    assert.match(out.text(), /Run folder: /);
  });

  it('a failed delete is mentioned, but the original error is what rejects', async () => {
    const create = failCreate(400, 'Model m is not available for batch.');
    server.override = (c) => create(c) ?? (c.method === 'DELETE' ? { status: 500, body: { error: { message: 'try later', type: 'server_error' } } } : undefined);
    await assert.rejects(api().submit(api().encode([{ customId: 'b1', messages: [{ role: 'user', content: 'x' }] }])), (e: Error & { kind?: string }) => {
      assert.strictEqual(e.kind, 'invalid-request', 'the creation error, not the delete error');
      assert.match(e.message, /not available for batch/);
      assert.match(e.message, /The uploaded input file file-\d+ could not be deleted \(HTTP 500\); delete it from the account's files\./);
      assert.ok(!e.message.includes(KEY));
      return true;
    });
    assert.ok(server.calls.some((c) => c.method === 'DELETE'));
  });

  it('a creation reply without a batch id also deletes the file', async () => {
    server.override = (c) => (c.method === 'POST' && c.url === '/v1/batches' ? { status: 200, body: { object: 'batch' } } : undefined);
    await assert.rejects(api().submit(api().encode([{ customId: 'b1', messages: [{ role: 'user', content: 'x' }] }])), (e: Error & { kind?: string }) => e.kind === 'bad-reply');
    assert.strictEqual(server.files.size, 0);
  });

  it('a 404 whose body echoes the key at the excerpt\'s edge leaks no part of it', async () => {
    // The key starts at character 190 of the body: cutting the excerpt at 200 before redacting would keep its first 10 characters.
    server.override = (c) => (c.method === 'POST' && c.url === '/v1/files' ? { status: 404, body: `${'x'.repeat(190)}${KEY}` } : undefined);
    await assert.rejects(api().submit(api().encode([{ customId: 'b1', messages: [{ role: 'user', content: 'x' }] }])), (e: Error & { kind?: string }) => {
      assert.strictEqual(e.kind, 'config');
      assert.ok(!e.message.includes(KEY.slice(0, 8)), e.message);
      return true;
    });
  });

  it('an upload that fails deletes nothing (there is no file)', async () => {
    server.override = (c) => (c.method === 'POST' && c.url === '/v1/files' ? { status: 500, body: { error: { message: 'upload failed', type: 'server_error' } } } : undefined);
    await assert.rejects(api().submit(api().encode([{ customId: 'b1', messages: [{ role: 'user', content: 'x' }] }])), (e: Error & { kind?: string }) => e.kind === 'transient');
    assert.ok(!server.calls.some((c) => c.method === 'DELETE'));
  });
});

describe('batch job states: documented shapes', () => {
  it('an ended OpenAI job (expired, cancelled) has nothing processing, whatever its counts leave over', () => {
    assert.deepStrictEqual(openaiState({ status: 'expired', request_counts: { total: 10, completed: 3, failed: 1 } }).counts, { total: 10, succeeded: 3, failed: 1, processing: 0 });
    assert.strictEqual(openaiState({ status: 'cancelled', request_counts: { total: 4, completed: 1, failed: 0 } }).counts.processing, 0);
    assert.strictEqual(openaiState({ status: 'cancelling', request_counts: { total: 4, completed: 1, failed: 0 } }).counts.processing, 3);
    const nulls = openaiState({ status: 'in_progress', output_file_id: null, error_file_id: null, request_counts: null });
    assert.strictEqual(nulls.outputFileId, undefined);
    assert.strictEqual(nulls.errorFileId, undefined);
  });

  it('an Anthropic errored result with a key in its message keeps it out', () => {
    const r = anthropicResult({ custom_id: 'b', result: { type: 'errored', error: { type: 'error', error: { type: 'authentication_error', message: `invalid x-api-key ${KEY}` } } } }, [KEY]);
    assert.ok(r && !r.ok && !r.error.message.includes(KEY));
  });

  it('Anthropic encodes one create body whose size is the bytes sent', () => {
    const api = new AnthropicBatchApi({ model: 'c', apiKey: KEY });
    const encoded = api.encode([{ customId: 'a', messages: [{ role: 'system', content: 'é' }, { role: 'user', content: '東京' }] }, { customId: 'b', messages: [{ role: 'user', content: 'x' }] }]);
    const body = encoded.parts.join('');
    assert.strictEqual(encoded.bytes, Buffer.byteLength(body, 'utf8'));
    const parsed = JSON.parse(body) as { requests: { custom_id: string; params: { system?: string } }[] };
    assert.deepStrictEqual(parsed.requests.map((q) => q.custom_id), ['a', 'b']);
    assert.strictEqual(parsed.requests[0].params.system, 'é');
  });
});
