// A cloned repository ships a run folder crafted to write outside itself: `run.json`, `run.jsonl` and
// `job.json` holding "..", absolute, drive-letter and backslash paths, or a folder linked to elsewhere.
// Resume, retry and collect, through the core functions, must refuse it whole before any request or
// write: the whole temp tree above the run folder is byte for byte the same afterwards, the error
// names the file and the entry, and the local servers standing for the endpoint record no request.
import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { collectJob, watchJob } from '../../../src/core/jobs/collect';
import { JOB_FILE, submitJob, type BatchApi, type JobRecord } from '../../../src/core/jobs/job';
import { createPlan } from '../../../src/core/plan/plan';
import { UnsafePathError, UntrustedRootError } from '../../../src/core/store/pathGuard';
import { resumeRun, retryChunks, runPlan, type RunParameters } from '../../../src/core/session/run';
import { RUN_FILE, RECORDS_FILE, type RunMeta } from '../../../src/core/store/runStore';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { SourceFile } from '../../../src/core/plan/types';
import { createBatchApi } from '../../../src/providers/batch/batchApi';
import { OpenAICompatibleModel } from '../../../src/providers/openaiCompatible';
import { BatchServer } from '../../support/batchServer';
import { JOB_PARAMETERS, JOB_PROMPT, planJob } from '../../support/batchJobFixtures';
import { useServer } from '../../support/localServer';
import { ModelServer } from '../../support/modelServer';

const tokenizer = getTokenizer();
const KEY = 'sk-hostile-SECRET-0123456789';
const parameters: RunParameters = { maxConcurrency: 2, maxRetries: 0, requestTimeoutMs: 10_000, chunkTokens: 120, overlapTokens: 0, chunksPerBatch: 2, maxBatchTokens: 32768 };
const files: SourceFile[] = [
  { path: 'a.txt', text: 'alpha line\n'.repeat(60) },
  { path: 'b.txt', text: 'beta line\n'.repeat(8) },
];

/** Every entry under `dir` (relative, sorted): a link as `-> target`, a file with its bytes, a folder as `/`. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (rel: string): Promise<void> => {
    for (const e of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      const abs = path.join(dir, child);
      if (e.isSymbolicLink()) out.set(child, `-> ${await fs.readlink(abs)}`);
      else if (e.isDirectory()) {
        out.set(child, '/');
        await walk(child);
      } else out.set(child, (await fs.readFile(abs)).toString('base64'));
    }
  };
  await walk('');
  return out;
}

async function editJson<T>(file: string, edit: (v: T) => void): Promise<void> {
  const v = JSON.parse(await fs.readFile(file, 'utf8')) as T;
  edit(v);
  await fs.writeFile(file, JSON.stringify(v, null, 2));
}

/** Hostile spellings of a path, each with the words its refusal must hold. */
const HOSTILE_PATHS = (top: string): [string, RegExp][] => [
  ['../../../../outside.txt', /".." segment/],
  ['a/../../../../../outside.txt', /".." segment/],
  [path.join(top, 'outside.txt').split(path.sep).join('/'), /absolute/],
  ['C:\\Users\\u\\outside.txt', /backslash|drive letter/],
  ['C:outside.txt', /drive letter/],
  ['..\\..\\..\\outside.txt', /backslash/],
  ['\\\\server\\share\\outside.txt', /backslash/],
];

describe('hostile run folder (resume, retry, collect refuse before any request or write)', function () {
  this.timeout(90_000);
  const server = new ModelServer();
  let baseUrl = '';
  let top = '';
  let ws = '';
  /** The run's files may be read from the test's workspace only. */
  const roots = () => ({ allowed: [ws], hint: 'resume from the workspace' });
  useServer(server, (url) => (baseUrl = url));

  beforeEach(async () => {
    // `top` stands for the user's home: the workspace and the run folder are inside it.
    top = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-hostile-'));
    ws = path.join(top, 'ws');
    for (const f of files) {
      await fs.mkdir(ws, { recursive: true });
      await fs.writeFile(path.join(ws, f.path), f.text);
    }
    await fs.writeFile(path.join(top, '.bashrc'), 'echo hello\n');
  });
  afterEach(() => fs.rm(top, { recursive: true, force: true }));

  /** A run whose chunks of b.txt failed, so that a resume or retry has something to send. */
  async function partialRun(): Promise<{ dir: string; model: OpenAICompatibleModel }> {
    const plan = createPlan(files, { prompt: 'Upper.', tokenizer, chunk: { chunkTokens: 120, overlapTokens: 0 }, pack: { chunksPerBatch: 2, maxBatchTokens: 32768 } });
    const model = new OpenAICompatibleModel({ baseUrl, model: 'm' });
    server.script = (r) => (r.chunks.some((c) => c.path === 'b.txt') ? { kind: 'status', status: 500 } : undefined);
    const dir = path.join(ws, '.batch-prompt', 'runs', 'x');
    const { summary } = await runPlan(plan, { root: ws, dir, prompt: 'Upper.', model, modelInfo: { id: 'm' }, tokenizer, parameters });
    assert.strictEqual(summary.status, 'partial');
    server.script = () => undefined;
    server.requests.length = 0;
    return { dir, model };
  }

  /** Runs `attempt` on a tampered folder: it must reject naming `file` and `entry`, with nothing sent and nothing changed. */
  async function refused(attempt: () => Promise<unknown>, file: string, entry: RegExp, why?: RegExp): Promise<void> {
    const before = await snapshot(top);
    await assert.rejects(attempt(), (e: Error) => {
      assert.ok(UnsafePathError.is(e), `an UnsafePathError, not ${e.name}: ${e.message}`);
      assert.strictEqual(e.file, file, e.message);
      assert.match(e.entry, entry, e.message);
      assert.ok(e.message.startsWith(`${file}: ${e.entry} `), e.message);
      if (why) assert.match(e.message, why);
      assert.ok(!e.message.includes(KEY));
      return true;
    });
    assert.strictEqual(server.requests.length, 0, 'no request was sent');
    assert.deepStrictEqual(await snapshot(top), before, 'nothing was written, inside the run folder or out of it');
  }

  it('control: the untampered folder is retried, sending its failed chunks (the server counts)', async () => {
    const { dir, model } = await partialRun();
    const { summary } = await retryChunks(dir, { roots: roots(), model, tokenizer });
    assert.strictEqual(summary.status, 'succeeded');
    assert.ok(server.requests.length > 0);
  });

  it('run.json files[].path: "..", absolute, drive-letter, UNC and backslash paths are refused by resume and retry', async () => {
    const { dir, model } = await partialRun();
    const pristine = await fs.readFile(path.join(dir, RUN_FILE), 'utf8');
    for (const [hostile, why] of HOSTILE_PATHS(top)) {
      // The failed file (b.txt, index 1) is the one a resume would write: its chunks follow its path.
      await fs.writeFile(path.join(dir, RUN_FILE), pristine);
      await editJson<RunMeta>(path.join(dir, RUN_FILE), (m) => {
        m.files[1].path = hostile;
        m.files[1].chunks = m.files[1].chunks.map((c) => ({ ...c, path: hostile }));
      });
      await refused(() => resumeRun(dir, { roots: roots(), model, tokenizer }), 'run.json', /^files\[1\]\.path$/, why);
      await refused(() => retryChunks(dir, { roots: roots(), model, tokenizer }), 'run.json', /^files\[1\]\.path$/, why);
    }
    assert.strictEqual(await fs.readFile(path.join(top, '.bashrc'), 'utf8'), 'echo hello\n');
  });

  it('run.json root naming a folder outside the allowed ones (the user\'s home) is refused: no file of it is read or sent', async () => {
    const { dir, model } = await partialRun();
    // The attacker's run.json reads b.txt from `top` (standing for ~): a secret file sits there.
    await fs.writeFile(path.join(top, 'b.txt'), 'SECRET-FROM-HOME\n');
    await editJson<RunMeta>(path.join(dir, RUN_FILE), (m) => {
      m.root = top;
    });
    const before = await snapshot(top);
    for (const attempt of [() => resumeRun(dir, { roots: roots(), model, tokenizer }), () => retryChunks(dir, { roots: roots(), model, tokenizer })]) {
      await assert.rejects(attempt(), (e: Error) => {
        assert.ok(UntrustedRootError.is(e), `an UntrustedRootError, not ${e.name}: ${e.message}`);
        assert.match(e.message, /^run\.json: root ".*" is not ".*", so its files are not read; nothing was written or sent\. resume from the workspace$/);
        return true;
      });
    }
    assert.strictEqual(server.requests.length, 0, 'no request was sent');
    assert.deepStrictEqual(await snapshot(top), before, 'nothing was written');
    // Without a policy or a confining reader, the core refuses to guess.
    await assert.rejects(resumeRun(dir, { model, tokenizer }), TypeError);
    // The same folder with its root put back to the workspace resumes (a link to it counts as it).
    await fs.symlink(ws, path.join(top, 'ws-link'), 'dir');
    await editJson<RunMeta>(path.join(dir, RUN_FILE), (m) => {
      m.root = path.join(top, 'ws-link');
    });
    const { summary } = await resumeRun(dir, { roots: roots(), model, tokenizer });
    assert.strictEqual(summary.status, 'succeeded');
    assert.ok(!server.requests.some((r) => JSON.stringify(r).includes('SECRET-FROM-HOME')));
  });

  it('run.json: a chunk id that would name a file elsewhere, or a chunk filed under another path, is refused', async () => {
    const { dir, model } = await partialRun();
    await editJson<RunMeta>(path.join(dir, RUN_FILE), (m) => {
      m.files[1].chunks[0] = { ...m.files[1].chunks[0], id: '../../../../.bashrc' };
    });
    await refused(() => resumeRun(dir, { roots: roots(), model, tokenizer }), 'run.json', /^files\[1\]\.chunks\[0\]\.id$/);
    await editJson<RunMeta>(path.join(dir, RUN_FILE), (m) => {
      m.files[1].chunks[0] = { ...m.files[1].chunks[0], id: '2.1', path: '../../../outside.txt' };
    });
    await refused(() => retryChunks(dir, { roots: roots(), model, tokenizer }), 'run.json', /^files\[1\]\.chunks\[0\]\.path$/);
  });

  it('run.jsonl: a record with a hostile path or chunk id is refused with its line number', async () => {
    const { dir, model } = await partialRun();
    const journal = await fs.readFile(path.join(dir, RECORDS_FILE), 'utf8');
    const lines = journal.trim().split('\n');
    for (const [field, value] of [
      ['path', '..\\..\\outside.txt'],
      ['path', '/etc/passwd'],
      ['chunkId', '../../../.bashrc'],
      ['path', 'C:x'],
    ] as const) {
      const bad = { ...(JSON.parse(lines[0]) as Record<string, unknown>), [field]: value };
      await fs.writeFile(path.join(dir, RECORDS_FILE), [...lines, JSON.stringify(bad)].join('\n') + '\n');
      await refused(() => resumeRun(dir, { roots: roots(), model, tokenizer }), 'run.jsonl', new RegExp(`^line ${lines.length + 1} ${field}$`));
    }
  });

  it('a folder inside the run folder linked to outside it (outputs/, chunks/, run.jsonl) is refused before anything is written', async () => {
    const { dir, model } = await partialRun();
    const elsewhere = path.join(top, 'elsewhere');
    await fs.mkdir(elsewhere);
    await fs.rm(path.join(dir, 'outputs'), { recursive: true });
    await fs.symlink(elsewhere, path.join(dir, 'outputs'), 'dir');
    await refused(() => resumeRun(dir, { roots: roots(), model, tokenizer }), 'run.json', /^files\[\d\]\.path$/, /through a link/);
    await fs.rm(path.join(dir, 'outputs'));
    await fs.rename(path.join(dir, 'chunks'), path.join(elsewhere, 'chunks'));
    await fs.symlink(path.join(elsewhere, 'chunks'), path.join(dir, 'chunks'), 'dir');
    await refused(() => retryChunks(dir, { roots: roots(), model, tokenizer }), 'run.json', /^files\[\d\]\.chunks\[\d+\]\.id$/, /through a link/);
    await fs.rm(path.join(dir, 'chunks'));
    await fs.rename(path.join(elsewhere, 'chunks'), path.join(dir, 'chunks'));
    await fs.rename(path.join(dir, RECORDS_FILE), path.join(top, 'journal'));
    await fs.symlink(path.join(top, '.bashrc'), path.join(dir, RECORDS_FILE), 'file');
    await refused(() => resumeRun(dir, { roots: roots(), model, tokenizer }), 'run.jsonl', /^run\.jsonl$/, /link that leads outside/);
    assert.strictEqual(await fs.readFile(path.join(top, '.bashrc'), 'utf8'), 'echo hello\n');
  });

  it('a names-only-start-with-dots file ("..notes.md") is no hostile path: it runs, resumes and is written inside', async () => {
    await fs.writeFile(path.join(ws, '..notes.md'), 'dots\n');
    const plan = createPlan([{ path: '..notes.md', text: 'dots\n' }], { prompt: 'Upper.', tokenizer, chunk: { chunkTokens: 120, overlapTokens: 0 }, pack: { chunksPerBatch: 2, maxBatchTokens: 32768 } });
    const model = new OpenAICompatibleModel({ baseUrl, model: 'm' });
    const dir = path.join(ws, '.batch-prompt', 'runs', 'dots');
    const { summary } = await runPlan(plan, { root: ws, dir, prompt: 'Upper.', model, modelInfo: { id: 'm' }, tokenizer, parameters });
    assert.strictEqual(summary.status, 'succeeded');
    assert.ok((await fs.readFile(path.join(dir, 'outputs', '..notes.md.md'), 'utf8')).length > 0);
    const resumed = await resumeRun(dir, { roots: roots(), model, tokenizer });
    assert.strictEqual(resumed.summary.status, 'succeeded');
  });

  describe('job.json (collect, watch)', () => {
    const batch = new BatchServer();
    let batchBase = '';
    useServer(batch, (url) => (batchBase = url));
    const jobFiles: SourceFile[] = files;
    const api = (): BatchApi => createBatchApi({ id: 'ep', provider: 'openai', baseUrl: `${batchBase}/v1`, model: 'm-1' }, KEY);

    async function submitted(): Promise<string> {
      const dir = path.join(ws, '.batch-prompt', 'runs', 'j');
      const { job } = await submitJob(planJob(jobFiles), { root: ws, dir, prompt: JOB_PROMPT, modelInfo: { id: 'ep', provider: 'openai', model: 'm-1' }, tokenizer, parameters: JOB_PARAMETERS, api: api(), endpointId: 'ep' });
      assert.ok(job);
      batch.calls.length = 0;
      return dir;
    }

    async function refusedCollect(dir: string, file: string, entry: RegExp): Promise<void> {
      const before = await snapshot(top);
      for (const attempt of [() => collectJob(dir, api()), () => watchJob(dir, async () => api(), { intervalMs: 1, sleep: async () => undefined })]) {
        await assert.rejects(attempt(), (e: Error) => UnsafePathError.is(e) && e.file === file && entry.test(e.entry) && e.message.startsWith(`${file}: `));
      }
      assert.deepStrictEqual(batch.calls.map((c) => `${c.method} ${c.url}`), [], 'no poll, no download');
      assert.deepStrictEqual(await snapshot(top), before, 'nothing was written');
    }

    it('control: an untampered job is collected (the server counts)', async () => {
      const dir = await submitted();
      const r = await collectJob(dir, api());
      assert.ok(r.status === 'pending' || r.status === 'collected');
      assert.ok(batch.calls.length > 0);
    });

    it('run.json paths of a job folder: collect and watch refuse before polling', async () => {
      const dir = await submitted();
      const pristine = await fs.readFile(path.join(dir, RUN_FILE), 'utf8');
      for (const [hostile] of HOSTILE_PATHS(top)) {
        await fs.writeFile(path.join(dir, RUN_FILE), pristine);
        await editJson<RunMeta>(path.join(dir, RUN_FILE), (m) => {
          m.files[0].path = hostile;
          m.files[0].chunks = m.files[0].chunks.map((c) => ({ ...c, path: hostile }));
        });
        await refusedCollect(dir, 'run.json', /^files\[0\]\.path$/);
      }
    });

    it('job.json chunk ids that would name files elsewhere: refused before polling', async () => {
      const dir = await submitted();
      await editJson<JobRecord>(path.join(dir, JOB_FILE), (j) => {
        j.requests[0].chunkIds[0] = '../../../.bashrc';
      });
      await refusedCollect(dir, 'job.json', /^requests\[0\]\.chunkIds\[0\]$/);
    });
  });
});
