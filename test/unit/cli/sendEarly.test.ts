// #17 "sending starts at once": the CLI's run sends while it plans. Planning is made observable by the
// CLI's test hook `beforePlanningFile` (awaited before each file is planned): the planner is held at
// the corpus's last file until the fake server has seen a request. Every proof is an order of events
// (the server's log, the hook), never a time; the time bounds are hang guards.
import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as path from 'path';
import { PassThrough } from 'stream';
import { main } from '../../../src/cli/main';
import type { RunMeta, RunSummary } from '../../../src/core/store/runStore';
import { testCliEnv } from '../../support/cli';
import { useServer } from '../../support/localServer';
import { ModelServer } from '../../support/modelServer';
import { useWorkspace } from '../../support/tempWorkspace';

const KEY = 'sk-sendearly-abcdef123456';
const LAST = 'src/z-last.txt';
const PATHS = ['src/f0.txt', 'src/f1.txt', 'src/f2.txt', 'src/f3.txt', LAST];

/** Five files, each several chunks at --chunk-tokens 40. */
const WORKSPACE: Record<string, string> = {};
for (const [i, p] of PATHS.entries()) WORKSPACE[p] = Array.from({ length: 12 }, (_, j) => `line ${j} of file ${i}: ${'word '.repeat(6)}`).join('\n') + '\n';

/** Rejects after `ms` unless `p` settles first: a guard against a hang, never a time assertion. */
function guard<T>(p: Promise<T>, why: string, ms = 40_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(why)), ms)))]).finally(() => clearTimeout(timer));
}

describe('CLI run sends while it plans (#17)', function () {
  this.timeout(120_000);
  const server = new ModelServer();
  let baseUrl = '';
  let ws = '';
  useServer(server, (url) => (baseUrl = url));
  useWorkspace('bp-sendearly-', WORKSPACE, (dir) => (ws = dir));
  beforeEach(() => server.reset());

  /** `batch-prompt ARGS` in this process, with the hook and a signal. */
  async function cli(args: string[], hooks: { beforePlanningFile?: (p: string) => Promise<void>; signal?: AbortSignal } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (d: Buffer) => (out += d.toString()));
    stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await main(args, { stdout, stderr, env: { ...testCliEnv(ws), OPENAI_API_KEY: KEY }, cwd: ws, ...hooks });
    return { code, stdout: out, stderr: err };
  }

  /** A promise resolved when request `n` arrives (the server script calls `arrived`). */
  function arrival(): { promise: Promise<void>; arrived: () => void } {
    let arrived!: () => void;
    const promise = new Promise<void>((resolve) => (arrived = resolve));
    return { promise, arrived };
  }

  // --no-cache: each test's chunks go to the server (the result cache would answer the second test's from the first's).
  const runArgs = (out: string) => ['run', '--prompt', 'Upper-case it.', '--base-url', baseUrl, '--model', 'm', '--out', out, '--chunk-tokens', '40', '--overlap', '0', '--chunks-per-batch', '1', '--concurrency', '1', '--no-cache', 'src'];

  it('sends the first request before the planner has read its last file, then finishes the plan and the run', async () => {
    const order: string[] = [];
    const first = arrival();
    server.script = (q) => {
      order.push(`request ${q.n}`);
      if (q.n === 1) first.arrived();
      return undefined;
    };
    const beforePlanningFile = async (p: string) => {
      if (p !== LAST) return;
      order.push('planner held at its last file');
      await guard(first.promise, 'no request was sent while planning was held at its last file: the run waits for the whole plan');
      order.push('last file planned');
    };
    const r = await cli(runArgs('o'), { beforePlanningFile });
    assert.strictEqual(r.code, 0, r.stderr);
    // The planner may also wait for the executor (the feed between them is bounded): request 1 can come
    // before the planner reaches its last file; either way it comes before that file is planned.
    assert.ok(order.indexOf('request 1') >= 0 && order.indexOf('request 1') < order.indexOf('last file planned'), order.join(', '));
    assert.ok(order.indexOf('planner held at its last file') < order.indexOf('last file planned'), order.join(', '));
    const meta = JSON.parse(await fs.readFile(path.join(ws, 'o/run.json'), 'utf8')) as RunMeta;
    assert.strictEqual(meta.planning, undefined, 'run.json is whole once the plan is complete');
    assert.deepStrictEqual(meta.files.map((f) => f.path), PATHS);
    await assert.rejects(fs.access(path.join(ws, 'o/plan.jsonl')), 'the plan journal is gone');
    const summary = JSON.parse(await fs.readFile(path.join(ws, 'o/summary.json'), 'utf8')) as RunSummary;
    assert.strictEqual(summary.status, 'succeeded');
    const chunks = meta.files.reduce((n, f) => n + f.chunks.length, 0);
    assert.strictEqual(summary.succeeded, chunks);
    assert.strictEqual(server.requests.length, chunks, 'each chunk sent once');
    assert.ok((await fs.readFile(path.join(ws, 'o/outputs', `${LAST}.md`), 'utf8')).startsWith('OUT[5.1]\nLINE 0 OF FILE 4'), 'the last file is sent once planned');
    assert.match(r.stderr, /planning… \d+ files? so far/, 'progress says planning while it plans');
  });

  it('canceled while it plans: the summary and the last lines say planning stopped, and how to go on', async () => {
    const stop = new AbortController();
    // Stopped as the third file is about to be planned: the files after it are never planned.
    const beforePlanningFile = async (p: string) => {
      if (p === PATHS[2]) stop.abort();
    };
    const stopped = await cli(runArgs('o'), { beforePlanningFile, signal: stop.signal });
    assert.strictEqual(stopped.code, 2, stopped.stderr);
    const summary = JSON.parse(await fs.readFile(path.join(ws, 'o/summary.json'), 'utf8')) as RunSummary;
    assert.ok(summary.planStopped && summary.planStopped.files < PATHS.length, `summary.json says the plan was not complete: ${JSON.stringify(summary.planStopped)}`);
    assert.strictEqual(summary.files.length, summary.planStopped.files);
    assert.ok(stopped.stdout.includes(`The run ended while it planned: planning stopped after ${summary.planStopped.files} file${summary.planStopped.files === 1 ? '' : 's'}: a resume plans and sends the rest (batch-prompt resume ${path.join(ws, 'o')}).`), stopped.stdout);
    server.reset();
    const r = await cli(['resume', 'o', '--base-url', baseUrl]);
    assert.strictEqual(r.code, 0, r.stderr);
    const resumed = JSON.parse(await fs.readFile(path.join(ws, 'o/summary.json'), 'utf8')) as RunSummary;
    assert.strictEqual(resumed.planStopped, undefined);
    assert.deepStrictEqual(resumed.files.map((f) => f.path), PATHS);
    assert.strictEqual(resumed.status, 'succeeded');
  });

  it('a kill during planning and sending leaves a folder whose resume plans the rest and never resends a success', async () => {
    // The first request is answered, the second held; at that moment the folder is copied as a kill -9
    // would leave it (the planner held before its last file), then the run is stopped.
    const second = arrival();
    server.script = (q) => {
      if (q.n === 2) second.arrived();
      return q.n >= 2 ? { kind: 'hang' } : undefined;
    };
    const stop = new AbortController();
    const crashed = path.join(ws, 'crashed');
    const beforePlanningFile = async (p: string) => {
      if (p !== LAST) return;
      await guard(second.promise, 'the second request never came while planning was held');
      await fs.cp(path.join(ws, 'o'), crashed, { recursive: true });
      // The killed process's lock (this process holds the original): a resume takes over a dead holder's lock.
      await fs.rm(path.join(crashed, 'run.lock'));
      stop.abort();
    };
    await cli(runArgs('o'), { beforePlanningFile, signal: stop.signal });
    const before = JSON.parse(await fs.readFile(path.join(crashed, 'run.json'), 'utf8')) as RunMeta;
    assert.ok(before.planning, 'killed while planning: run.json says so');
    assert.deepStrictEqual(before.files, [], 'run.json holds no file yet; they are in plan.jsonl');
    const journaled = (await fs.readFile(path.join(crashed, 'plan.jsonl'), 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { path: string }).path);
    assert.deepStrictEqual(journaled, PATHS.slice(0, 4), 'every file but the last was planned');
    const succeeded = (await fs.readFile(path.join(crashed, 'run.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { chunkId: string; status: string }).filter((r) => r.status === 'succeeded').map((r) => r.chunkId);
    assert.deepStrictEqual(succeeded, [server.requests[0].chunks[0].id], 'the first request succeeded before the kill');

    server.reset();
    const r = await cli(['resume', 'crashed', '--base-url', baseUrl]);
    assert.strictEqual(r.code, 0, r.stderr);
    const resent = server.sentChunkIds();
    assert.ok(!resent.includes(succeeded[0]), `a chunk that succeeded is not sent again (sent: ${resent.join(', ')})`);
    const meta = JSON.parse(await fs.readFile(path.join(crashed, 'run.json'), 'utf8')) as RunMeta;
    assert.strictEqual(meta.planning, undefined, 'the resume completed the plan');
    assert.deepStrictEqual(meta.files.map((f) => f.path), PATHS);
    await assert.rejects(fs.access(path.join(crashed, 'plan.jsonl')));
    const all = meta.files.flatMap((f) => f.chunks.map((c) => c.id));
    assert.deepStrictEqual([...resent].sort(), all.filter((id) => id !== succeeded[0]).sort(), 'every other chunk is sent exactly once');
    const summary = JSON.parse(await fs.readFile(path.join(crashed, 'summary.json'), 'utf8')) as RunSummary;
    assert.strictEqual(summary.status, 'succeeded');
    assert.strictEqual(summary.planStopped, undefined, 'the resume completed the plan');
    assert.strictEqual(summary.succeeded, all.length);
    assert.ok((await fs.readFile(path.join(crashed, 'outputs', `${LAST}.md`), 'utf8')).startsWith('OUT[5.1]\nLINE 0 OF FILE 4'), 'the last file is planned and sent by the resume');
  });
});
