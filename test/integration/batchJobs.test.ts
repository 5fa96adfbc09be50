// "Submit as Batch Job…" through the real commands, against a local fake of the OpenAI Batch API:
// submit, polling stopped and taken up again (as after a window reload), results collected into the
// run folder, failures in the Failed Chunks view; Cancel Batch Job; a model without a batch service.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { JobRecord } from '../../src/core/jobs/job';
import { BatchServer } from '../support/batchServer';
import { activateExtension, extensionApi, until } from './support/extension';
import { spyMessages } from './support/messages';
import { resetSettings, setSettings } from './support/settings';
import { removeTree, RUNS_DIR, runFolders, workspaceRoot, writeTree } from './support/workspace';

const PROMPT = 'Upper-case every chunk.';
const CORPUS: Record<string, string> = {
  'a.txt': 'alpha\n',
  'b.txt': 'beta\nbeta\n',
  'c.txt': 'gamma\n',
};

function submit(args: { glob: string; prompt: string; modelId: string }): Thenable<JobRecord | undefined> {
  return vscode.commands.executeCommand<JobRecord | undefined>('batchPrompt.submitBatchJob', args);
}

function runDir(job: JobRecord): string {
  const root = path.join(workspaceRoot(), RUNS_DIR);
  const dir = fs.readdirSync(root).map((n) => path.join(root, n)).find((d) => fs.existsSync(path.join(d, 'job.json')) && (JSON.parse(fs.readFileSync(path.join(d, 'job.json'), 'utf8')) as JobRecord).jobId === job.jobId);
  assert.ok(dir, `the run folder of ${job.jobId}`);
  return dir;
}

describe('Batch jobs (extension host, local batch server)', function () {
  const server = new BatchServer();
  let base = '';

  before(async () => {
    await activateExtension();
    writeTree('jobs-corpus', CORPUS);
    base = await server.start();
  });
  after(async () => {
    removeTree('jobs-corpus');
    await server.stop();
  });
  beforeEach(async () => {
    server.reset();
    await setSettings('batchPrompt', {
      models: [
        { id: 'local-batch', provider: 'openai', baseUrl: `${base}/v1`, model: 'm' },
        { id: 'local-ollama', provider: 'ollama', baseUrl: 'http://127.0.0.1:9', model: 'llama' },
      ],
      confirmAbove: 100000,
      useCache: false,
      chunksPerBatch: 1,
    });
  });
  afterEach(async () => {
    (await extensionApi()).batchJobs.stopPolling();
    await resetSettings('batchPrompt');
  });

  it('submits, keeps polling after a reload, collects into the run folder, and lists failed requests in Failed Chunks', async () => {
    const api = await extensionApi();
    server.pollsBeforeEnd = 1_000_000;
    server.script = (r) => (r.chunks.some((c) => c.path === 'jobs-corpus/c.txt') ? { kind: 'error', status: 400, type: 'invalid_request_error', message: 'refused for the test' } : undefined);
    const job = await submit({ glob: 'jobs-corpus/**', prompt: PROMPT, modelId: 'local-batch' });
    assert.ok(job, 'a job was submitted');
    assert.strictEqual(job.requests.length, 3);
    const dir = runDir(job);
    assert.deepStrictEqual(api.batchJobs.jobs().map((j) => j.job.jobId), [job.jobId], 'polled in the background');
    await until(() => server.calls.some((c) => c.method === 'GET' && c.url === `/v1/batches/${job.jobId}`), 10_000, 'a first poll');

    // The window goes away: polling stops, the job goes on at the provider and ends meanwhile.
    api.batchJobs.stopPolling();
    assert.deepStrictEqual(api.batchJobs.jobs(), []);
    assert.ok(!fs.existsSync(path.join(dir, 'summary.json')));
    server.pollsBeforeEnd = 0;

    // Activation takes up again every uncollected job this profile submitted (recorded in its global state).
    assert.strictEqual(await api.batchJobs.resumePolling(), 1);
    await until(() => fs.existsSync(path.join(dir, 'summary.json')) && (JSON.parse(fs.readFileSync(path.join(dir, 'job.json'), 'utf8')) as JobRecord).collectedAt !== undefined, 15_000, 'the job collected');
    assert.strictEqual(fs.readFileSync(path.join(dir, 'outputs/jobs-corpus/b.txt.md'), 'utf8').includes('BETA\nBETA'), true);
    assert.ok(fs.existsSync(path.join(dir, 'outputs/jobs-corpus/c.txt.incomplete.md')));
    await api.failures.model.ensureLoaded();
    await until(() => api.failures.model.runs().some((r) => r.dir === dir), 10_000, 'the failure listed');
    const run = api.failures.model.runs().find((r) => r.dir === dir)!;
    assert.deepStrictEqual(run.files.map((f) => f.path), ['jobs-corpus/c.txt']);
    assert.strictEqual(run.files[0].chunks[0].error?.kind, 'invalid-request');
  });

  it('Cancel Batch Job cancels the provider job; what did not run ends canceled', async () => {
    server.pollsBeforeEnd = 1_000_000;
    const job = await submit({ glob: 'jobs-corpus/**', prompt: PROMPT, modelId: 'local-batch' });
    assert.ok(job);
    const dir = runDir(job);
    const canceled = await vscode.commands.executeCommand<JobRecord | undefined>('batchPrompt.cancelBatchJob', vscode.Uri.file(dir));
    assert.ok(canceled?.cancelRequestedAt);
    assert.ok(server.calls.some((c) => c.method === 'POST' && c.url === `/v1/batches/${job.jobId}/cancel`));
    await until(() => fs.existsSync(path.join(dir, 'summary.json')), 15_000, 'the canceled job collected');
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as { canceled: number; succeeded: number };
    assert.deepStrictEqual([summary.succeeded, summary.canceled], [0, 3]);
  });

  it('refuses a job over the provider\'s limits with what to change, before anything is uploaded or written', async () => {
    const api = await extensionApi();
    const before = runFolders().length;
    api.batchJobs.limits = { maxRequests: 2 };
    const spy = spyMessages();
    let job: JobRecord | undefined;
    try {
      job = await submit({ glob: 'jobs-corpus/**', prompt: PROMPT, modelId: 'local-batch' });
    } finally {
      spy.restore();
      api.batchJobs.limits = undefined;
    }
    assert.strictEqual(job, undefined);
    const shown = spy.shown.find((m) => m.kind === 'error');
    assert.ok(shown, JSON.stringify(spy.shown));
    assert.match(shown.message, /too large for OpenAI's Batch API: 3 requests, over its limit of 2 per job\. Nothing was sent/);
    assert.match(shown.message, /Raise batchPrompt\.chunksPerBatch \(chunks per request, now 1\) to at least 2/);
    assert.deepStrictEqual(shown.items, ['Open Settings']);
    assert.strictEqual(server.calls.length, 0, 'nothing uploaded');
    const after = runFolders().length;
    assert.strictEqual(after, before, 'no run folder');
  });

  it('Run Last Prompt Again after a batch job submits the same job again (not an ordinary run)', async () => {
    server.pollsBeforeEnd = 1_000_000;
    const first = await submit({ glob: 'jobs-corpus/**', prompt: PROMPT, modelId: 'local-batch' });
    assert.ok(first);
    const again = await vscode.commands.executeCommand<JobRecord | undefined>('batchPrompt.runLast');
    assert.ok(again?.jobId, 'a job record, as Submit as Batch Job returns');
    assert.notStrictEqual(again.jobId, first.jobId);
    assert.strictEqual(server.jobs.size, 2, 'a second provider job');
    assert.deepStrictEqual(again.requests.map((r) => r.chunkIds), first.requests.map((r) => r.chunkIds), 'the same files');
    const [, second] = [...server.jobs.values()];
    assert.ok(second.requests[0].body.messages?.some((m) => m.content.includes(PROMPT)), 'the same prompt');
    assert.ok(!server.calls.some((c) => c.url.endsWith('/chat/completions')), 'no ordinary request sent');
  });

  it('refuses a model without a batch service before anything is planned or written', async () => {
    const before = runFolders().length;
    const spy = spyMessages();
    let job: JobRecord | undefined;
    try {
      job = await submit({ glob: 'jobs-corpus/**', prompt: PROMPT, modelId: 'local-ollama' });
    } finally {
      spy.restore();
    }
    assert.strictEqual(job, undefined);
    assert.ok(spy.shown.some((m) => m.kind === 'error' && /Ollama has no batch service/.test(m.message)), JSON.stringify(spy.shown));
    const after = runFolders().length;
    assert.strictEqual(after, before);
    assert.strictEqual(server.calls.length, 0);
  });
});
