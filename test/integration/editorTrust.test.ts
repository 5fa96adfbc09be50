// Issue #12 in the real extension host: a run folder, a job file or an id reused at another origin never
// chooses where a key or a request goes. A second local server stands for the attacker's URL and must
// see zero requests; each refusal names what was refused and offers the way forward.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { JobRecord } from '../../src/core/jobs/job';
import type { RunSummary } from '../../src/core/store/runStore';
import { AnthropicServer } from '../support/anthropicServer';
import { BatchServer } from '../support/batchServer';
import { ModelServer } from '../support/modelServer';
import { activateExtension, extensionApi, runOnFiles, settlesWithin, until } from './support/extension';
import { spyMessages, stubInputBox, stubQuickPick } from './support/messages';
import { resetSettings, setSettings, useLocalEndpoint } from './support/settings';
import { removeTree, RunFolder, RUNS_DIR, workspaceRoot, writeTree } from './support/workspace';

const PROMPT = 'Upper-case every chunk.';
const CORPUS: Record<string, string> = { 'a.txt': 'alpha\n', 'b.txt': 'beta\nbeta\n', 'c.txt': 'gamma\n' };
const CHOOSE_MODEL = 'Choose a Model…';

/** Every file under `dir` with its bytes (base64), by relative path: what a refusal must leave as it was. */
function snapshotTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of fs.readdirSync(dir, { recursive: true }).map(String).sort()) {
    const abs = path.join(dir, rel);
    const st = fs.lstatSync(abs);
    out[rel] = st.isFile() ? fs.readFileSync(abs).toString('base64') : st.isSymbolicLink() ? `-> ${fs.readlinkSync(abs)}` : '/';
  }
  return out;
}

function originOf(url: string): string {
  return new URL(url).origin;
}

/** Makes a finished run look interrupted after its first chunk, as a window reload leaves it (see resume.test.ts). */
function interrupt(run: RunFolder): void {
  const lines = run.read('run.jsonl').trimEnd().split('\n');
  fs.writeFileSync(path.join(run.dir, 'run.jsonl'), `${lines[0]}\n`);
  fs.rmSync(path.join(run.dir, 'summary.json'));
  fs.rmSync(path.join(run.dir, 'report.md'), { force: true });
  for (const r of lines.slice(1).map((l) => JSON.parse(l) as { chunkId: string; path: string })) {
    fs.rmSync(path.join(run.dir, 'chunks', `${r.chunkId}.out`), { force: true });
    fs.rmSync(path.join(run.dir, 'outputs', ...r.path.split('/')), { force: true });
  }
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  fs.writeFileSync(path.join(run.dir, 'run.lock'), JSON.stringify({ pid: dead, hostname: os.hostname(), at: '' }));
}

/** Rewrites run.json as a cloned repository would: the same endpoint id, the attacker's URL and key variable. */
function pointAt(run: RunFolder, attackerUrl: string): void {
  const file = path.join(run.dir, 'run.json');
  const meta = JSON.parse(fs.readFileSync(file, 'utf8')) as { model: Record<string, unknown> };
  meta.model = { ...meta.model, baseUrl: attackerUrl, apiKeyEnv: 'HOME' };
  fs.writeFileSync(file, JSON.stringify(meta, null, 2));
}

describe('A run folder never chooses an endpoint or a key (extension host, issue #12)', function () {
  let user: ModelServer;
  let attacker: ModelServer;
  let userUrl = '';
  let attackerUrl = '';

  before(async () => {
    await activateExtension();
    writeTree('trust-corpus', CORPUS);
  });
  after(() => removeTree('trust-corpus'));
  beforeEach(async () => {
    user = new ModelServer();
    attacker = new ModelServer();
    userUrl = await user.start();
    attackerUrl = await attacker.start();
    await useLocalEndpoint(userUrl);
  });
  afterEach(async () => {
    await resetSettings('batchPrompt');
    await user.stop();
    await attacker.stop();
  });

  async function hostileRun(): Promise<RunFolder> {
    const summary = await runOnFiles({ glob: 'trust-corpus/**', prompt: PROMPT, modelId: 'local' });
    assert.ok(summary?.status === 'succeeded', JSON.stringify(summary));
    const run = RunFolder.of(summary);
    interrupt(run);
    pointAt(run, attackerUrl);
    user.reset();
    return run;
  }

  it('Resume Run of a folder naming another origin is refused before any request, naming that origin; "Choose a Model…" goes on with the user\'s endpoint', async () => {
    const run = await hostileRun();
    const dir = vscode.Uri.file(run.dir);
    const refused = spyMessages();
    let summary: RunSummary | undefined;
    try {
      summary = await settlesWithin(vscode.commands.executeCommand<RunSummary | undefined>('batchPrompt.resumeRun', dir), 10_000, 'a refused resume');
    } finally {
      refused.restore();
    }
    assert.strictEqual(summary, undefined);
    assert.strictEqual(attacker.requests.length, 0, 'the attacker URL saw no request');
    assert.strictEqual(user.requests.length, 0, 'nothing was sent anywhere before the user chose');
    const error = refused.shown.find((m) => m.kind === 'error');
    assert.ok(error, `a refusal is shown (saw ${JSON.stringify(refused.shown)})`);
    assert.ok(error.message.includes(originOf(attackerUrl)), `it names the recorded origin: ${error.message}`);
    assert.match(error.message, /Nothing was sent/);
    assert.deepStrictEqual(error.items, [CHOOSE_MODEL]);
    assert.ok(!fs.existsSync(path.join(run.dir, 'summary.json')), 'the folder is left as it was');

    // The way forward: the user picks one of their own models and the run goes on there.
    const messages = spyMessages((m) => (m.items.includes(CHOOSE_MODEL) ? CHOOSE_MODEL : undefined));
    const picker = stubQuickPick((items) => items.find((i) => i.label === 'local'));
    try {
      await vscode.commands.executeCommand('batchPrompt.resumeRun', dir);
      await until(() => fs.existsSync(path.join(run.dir, 'summary.json')), 15_000, 'the resumed run to finish');
    } finally {
      messages.restore();
      picker.restore();
    }
    assert.strictEqual(attacker.requests.length, 0, 'still no request to the attacker URL');
    assert.ok(user.requests.length > 0, "the chunks not done went to the user's endpoint");
    assert.strictEqual(run.summary().failed, 0);
  });

  it('Retry (Failed Chunks) of such a folder is refused the same way; nothing is sent', async () => {
    const run = await hostileRun();
    const messages = spyMessages();
    let summary: RunSummary | undefined;
    try {
      summary = await settlesWithin(vscode.commands.executeCommand<RunSummary | undefined>('batchPrompt.retry', { kind: 'run', run: { dir: run.dir, id: path.basename(run.dir), files: [] } }), 10_000, 'a refused retry');
    } finally {
      messages.restore();
    }
    assert.strictEqual(summary, undefined);
    assert.strictEqual(attacker.requests.length + user.requests.length, 0, 'no request reached any server');
    const error = messages.shown.find((m) => m.kind === 'error');
    assert.ok(error?.message.includes(originOf(attackerUrl)), `the refusal names the recorded origin (saw ${JSON.stringify(messages.shown)})`);
    assert.ok(error?.items.includes(CHOOSE_MODEL));
  });

  it('a run.json whose paths lead outside the run folder (.., absolute, backslash) is refused by Resume Run and Retry: nothing written anywhere, nothing sent', async () => {
    const summary = await runOnFiles({ glob: 'trust-corpus/**', prompt: PROMPT, modelId: 'local' });
    assert.ok(summary?.status === 'succeeded', JSON.stringify(summary));
    const run = RunFolder.of(summary);
    interrupt(run);
    const pristine = fs.readFileSync(path.join(run.dir, 'run.json'), 'utf8');
    // The parent of the workspace stands for the user's home: a write through the hole would land there.
    const home = path.dirname(workspaceRoot());
    const canary = `escape-${process.pid}.txt`;
    const before = snapshotTree(workspaceRoot());
    for (const hostile of [`../../../../../${canary}`, path.join(home, canary).split(path.sep).join('/'), `..\\..\\..\\..\\..\\${canary}`]) {
      const meta = JSON.parse(pristine) as { files: { path: string; chunks: { path: string }[] }[] };
      meta.files[1].path = hostile;
      meta.files[1].chunks = meta.files[1].chunks.map((c) => ({ ...c, path: hostile }));
      fs.writeFileSync(path.join(run.dir, 'run.json'), JSON.stringify(meta, null, 2));
      const snap = snapshotTree(workspaceRoot());
      user.reset();
      for (const [label, command] of [
        ['resume', () => vscode.commands.executeCommand<RunSummary | undefined>('batchPrompt.resumeRun', vscode.Uri.file(run.dir))],
        ['retry', () => vscode.commands.executeCommand<RunSummary | undefined>('batchPrompt.retry', { kind: 'run', run: { dir: run.dir, id: path.basename(run.dir), files: [] } })],
      ] as const) {
        const messages = spyMessages();
        let result: RunSummary | undefined;
        try {
          result = await settlesWithin(command(), 10_000, `a refused ${label}`);
        } finally {
          messages.restore();
        }
        assert.strictEqual(result, undefined, `${label} of ${hostile}`);
        const error = messages.shown.find((m) => m.kind === 'error');
        assert.ok(error, `${label} of ${hostile}: a refusal is shown (saw ${JSON.stringify(messages.shown)})`);
        assert.match(error.message, /run\.json: files\[1\]\.path .*nothing was written or sent/, `${label}: it names the file and the entry`);
        assert.strictEqual(user.requests.length + attacker.requests.length, 0, `${label} of ${hostile}: nothing was sent`);
        assert.deepStrictEqual(snapshotTree(workspaceRoot()), snap, `${label} of ${hostile}: nothing changed in the workspace`);
      }
      assert.ok(!fs.existsSync(path.join(home, canary)) && !fs.existsSync(path.join(path.dirname(home), canary)), 'no file appeared outside the workspace');
    }
    fs.writeFileSync(path.join(run.dir, 'run.json'), pristine);
    assert.deepStrictEqual(snapshotTree(workspaceRoot()), before);
  });

  it("the user's own folder resumes as before, on the user's endpoint", async () => {
    const summary = await runOnFiles({ glob: 'trust-corpus/**', prompt: PROMPT, modelId: 'local' });
    assert.ok(summary);
    const run = RunFolder.of(summary);
    interrupt(run);
    user.reset();
    const resumed = await vscode.commands.executeCommand<RunSummary | undefined>('batchPrompt.resumeRun', vscode.Uri.file(run.dir));
    assert.strictEqual(resumed?.status, 'succeeded');
    assert.ok(user.requests.length > 0);
    assert.strictEqual(attacker.requests.length, 0);
  });
});

describe('Keys bound to their endpoint (extension host, issue #12)', function () {
  const KEY = 'sk-ant-bound-0123456789';
  let own: AnthropicServer;
  let other: AnthropicServer;
  let ownUrl = '';
  let otherUrl = '';

  before(async () => {
    await activateExtension();
    writeTree('keys-corpus', { 'k.txt': 'kappa\n' });
  });
  after(() => removeTree('keys-corpus'));
  beforeEach(async () => {
    own = new AnthropicServer();
    other = new AnthropicServer();
    ownUrl = await own.start();
    otherUrl = await other.start();
  });
  afterEach(async () => {
    await setSettings('batchPrompt', { models: [{ id: 'claude', provider: 'anthropic', baseUrl: ownUrl, model: 'claude-test' }] });
    await vscode.commands.executeCommand('batchPrompt.clearApiKey', 'claude');
    await resetSettings('batchPrompt');
    await own.stop();
    await other.stop();
  });

  it('the same id at another origin does not receive the stored key, and its prompt names that origin', async () => {
    await setSettings('batchPrompt', { models: [{ id: 'claude', provider: 'anthropic', baseUrl: ownUrl, model: 'claude-test' }], confirmAbove: 100000, useCache: false });
    const input = stubInputBox(KEY);
    try {
      assert.strictEqual(await vscode.commands.executeCommand('batchPrompt.setApiKey', 'claude'), true);
    } finally {
      input.restore();
    }
    assert.ok(input.asked[0].title?.includes(originOf(ownUrl)), `the key box names the origin: ${input.asked[0].title}`);

    // The entry with that id now points elsewhere (as a trusted workspace's settings could make it).
    await setSettings('batchPrompt', { models: [{ id: 'claude', provider: 'anthropic', baseUrl: otherUrl, model: 'claude-test' }] });
    const messages = spyMessages();
    let summary: RunSummary | undefined;
    try {
      summary = await settlesWithin(runOnFiles({ glob: 'keys-corpus/**', prompt: PROMPT, modelId: 'claude' }), 10_000, 'a run without a key');
    } finally {
      messages.restore();
    }
    assert.strictEqual(summary, undefined, 'the run does not start');
    assert.strictEqual(other.requests.length, 0, 'the other origin saw no request');
    const error = messages.shown.find((m) => m.kind === 'error');
    assert.ok(error?.message.includes(originOf(otherUrl)), `the message names the other origin (saw ${JSON.stringify(messages.shown)})`);
    const asked = stubInputBox(undefined);
    try {
      assert.strictEqual(await vscode.commands.executeCommand('batchPrompt.setApiKey', 'claude'), false);
    } finally {
      asked.restore();
    }
    assert.ok(asked.asked[0].title?.includes(originOf(otherUrl)) && asked.asked[0].prompt?.includes(originOf(otherUrl)), `it asks for its own key, naming ${originOf(otherUrl)}`);

    // Back at its own origin, the stored key works as before.
    await setSettings('batchPrompt', { models: [{ id: 'claude', provider: 'anthropic', baseUrl: ownUrl, model: 'claude-test' }] });
    const ok = await runOnFiles({ glob: 'keys-corpus/**', prompt: PROMPT, modelId: 'claude' });
    assert.strictEqual(ok?.status, 'succeeded');
    assert.ok(own.requests.length > 0 && own.requests.every((r) => r.headers['x-api-key'] === KEY));
    assert.strictEqual(other.requests.length, 0);
  });
});

describe('Batch jobs polled only when this profile submitted them (extension host, issue #12)', function () {
  const server = new BatchServer();
  const attacker = new BatchServer();
  let base = '';
  let attackerBase = '';

  before(async () => {
    await activateExtension();
    writeTree('trust-jobs', CORPUS);
    base = await server.start();
    attackerBase = await attacker.start();
  });
  after(async () => {
    removeTree('trust-jobs');
    await server.stop();
    await attacker.stop();
  });
  beforeEach(async () => {
    server.reset();
    attacker.reset();
    await setSettings('batchPrompt', { models: [{ id: 'local-batch', provider: 'openai', baseUrl: `${base}/v1`, model: 'm' }], confirmAbove: 100000, useCache: false, chunksPerBatch: 1 });
  });
  afterEach(async () => {
    (await extensionApi()).batchJobs.stopPolling();
    await resetSettings('batchPrompt');
  });

  async function submitted(): Promise<{ job: JobRecord; dir: string }> {
    server.pollsBeforeEnd = 1_000_000;
    const root = path.join(workspaceRoot(), RUNS_DIR);
    const earlier = new Set(fs.existsSync(root) ? fs.readdirSync(root) : []);
    const job = await vscode.commands.executeCommand<JobRecord | undefined>('batchPrompt.submitBatchJob', { glob: 'trust-jobs/**', prompt: PROMPT, modelId: 'local-batch' });
    assert.ok(job, 'a job was submitted');
    // The new folder (job ids of the test servers repeat across suites).
    const dirs = fs.readdirSync(root).filter((n) => !earlier.has(n)).map((n) => path.join(root, n));
    assert.strictEqual(dirs.length, 1, dirs.join(', '));
    const dir = dirs[0];
    assert.strictEqual((JSON.parse(fs.readFileSync(path.join(dir, 'job.json'), 'utf8')) as JobRecord).jobId, job.jobId);
    (await extensionApi()).batchJobs.stopPolling();
    return { job, dir };
  }

  it('a job.json merely present in the workspace (naming a user endpoint id and a foreign URL) is never polled', async () => {
    const { dir } = await submitted();
    // A copy of the folder, as a repository would ship it, its run.json pointing at the attacker.
    const copy = path.join(path.dirname(dir), '20200101-000000-evil');
    fs.cpSync(dir, copy, { recursive: true });
    const job = JSON.parse(fs.readFileSync(path.join(copy, 'job.json'), 'utf8')) as JobRecord;
    fs.writeFileSync(path.join(copy, 'job.json'), JSON.stringify({ ...job, jobId: 'batch_shipped' }));
    pointAt(new RunFolder(copy), `${attackerBase}/v1`);
    const before = server.calls.length;
    const api = await extensionApi();
    try {
      await api.batchJobs.resumePolling();
      assert.ok(api.batchJobs.jobs().some((j) => j.dir.fsPath === dir), 'the job submitted from this profile is polled');
      assert.ok(!api.batchJobs.jobs().some((j) => j.dir.fsPath === copy), 'the shipped job is not');
      await until(() => server.calls.slice(before).some((c) => c.method === 'GET' && c.url.includes(job.jobId)), 10_000, 'a poll of the submitted job');
      assert.ok(!server.calls.some((c) => c.url.includes('batch_shipped')), 'the shipped job id is asked nowhere');
      assert.strictEqual(attacker.calls.length, 0, 'the attacker URL saw no request');
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  it("a submitted job whose job.json was altered is not polled; one whose endpoint left the user's settings is refused, naming its origin", async () => {
    const { job, dir } = await submitted();
    const api = await extensionApi();
    const file = path.join(dir, 'job.json');
    const original = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, JSON.stringify({ ...job, jobId: 'batch_swapped' }));
    // Jobs of earlier tests are recorded too and polled meanwhile: only this job's calls count.
    const before = server.calls.length;
    const callsOfThisJob = () => [...server.calls.slice(before), ...attacker.calls].filter((c) => c.url.includes(job.jobId) || c.url.includes('batch_swapped'));
    const polled = () => api.batchJobs.jobs().some((j) => j.dir.fsPath === dir);
    await api.batchJobs.resumePolling();
    assert.ok(!polled(), 'another job id: not polled');
    fs.writeFileSync(file, original);

    // The id now names another origin in the user's settings: the job is not collected from there.
    await setSettings('batchPrompt', { models: [{ id: 'local-batch', provider: 'openai', baseUrl: `${attackerBase}/v1`, model: 'm' }] });
    const messages = spyMessages();
    try {
      await api.batchJobs.resumePolling();
      await until(() => mine().length > 0, 10_000, 'the refusal');
    } finally {
      messages.restore();
    }
    function mine() {
      return messages.shown.filter((m) => m.kind === 'error' && m.message.includes(job.jobId));
    }
    const error = mine()[0];
    assert.ok(error.message.includes(originOf(base)), `it names the origin the job went to: ${error.message}`);
    assert.doesNotMatch(error.message, /Set API Key/);
    assert.deepStrictEqual(callsOfThisJob(), [], 'no request for this job anywhere');
    assert.strictEqual(attacker.calls.length, 0, 'the attacker URL saw no request at all');

    // Its own endpoint back: the job is collected, and forgotten once collected.
    await setSettings('batchPrompt', { models: [{ id: 'local-batch', provider: 'openai', baseUrl: `${base}/v1`, model: 'm' }] });
    server.pollsBeforeEnd = 0;
    await api.batchJobs.resumePolling();
    assert.ok(polled());
    await until(() => (JSON.parse(fs.readFileSync(file, 'utf8')) as JobRecord).collectedAt !== undefined, 15_000, 'the job collected');
    await until(() => !polled(), 5000, 'polling to end');
    await api.batchJobs.resumePolling();
    assert.ok(!polled(), 'a collected job is no longer recorded');
    assert.strictEqual(attacker.calls.length, 0);
  });
});
