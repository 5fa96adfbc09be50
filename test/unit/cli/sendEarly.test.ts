// #17 "sending starts at once": the CLI's run sends while it plans. Planning is made observable by a
// gate: the corpus's last file is a link to a FIFO, so the planner cannot read (and report) it before
// the test writes it. Every proof is an order of events (the server's log, the gate), never a time.
import * as assert from 'assert';
import { execFileSync, type ChildProcess } from 'child_process';
import { promises as fs } from 'fs';
import * as path from 'path';
import type { RunMeta, RunSummary } from '../../../src/core/store/runStore';
import { runCli } from '../../support/cli';
import { useServer } from '../../support/localServer';
import { ModelServer } from '../../support/modelServer';
import { useWorkspace } from '../../support/tempWorkspace';

const KEY = 'sk-sendearly-abcdef123456';
const GATED = 'src/z-last.txt';
const LAST_TEXT = 'the last file, read only once the gate opens\n'.repeat(3);

/** Four files planned before the gated one; each is several chunks at --chunk-tokens 40. */
const WORKSPACE: Record<string, string> = {};
for (let i = 0; i < 4; i++) WORKSPACE[`src/f${i}.txt`] = Array.from({ length: 12 }, (_, j) => `line ${j} of file ${i}: ${'word '.repeat(6)}`).join('\n') + '\n';

describe('CLI run sends while it plans (#17)', function () {
  this.timeout(60_000);
  const server = new ModelServer();
  let baseUrl = '';
  let ws = '';
  useServer(server, (url) => (baseUrl = url));
  useWorkspace('bp-sendearly-', WORKSPACE, (dir) => (ws = dir));

  /** Makes the last file of the corpus a link to a FIFO: reading it waits for `open()`. */
  async function gate(): Promise<{ fifo: string; open: () => Promise<void>; opened: () => boolean }> {
    await fs.mkdir(path.join(ws, 'gate'), { recursive: true });
    const fifo = path.join(ws, 'gate', 'fifo');
    execFileSync('mkfifo', [fifo]);
    await fs.symlink(path.join('..', 'gate', 'fifo'), path.join(ws, GATED));
    let was = false;
    return { fifo, opened: () => was, open: async () => ((was = true), await fs.writeFile(fifo, LAST_TEXT)) };
  }

  /** Resolves with the first request's number once `n` requests have arrived (a hang guard, not a time assertion). */
  function requestsArrived(n: number, child: () => ChildProcess | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const guard = setTimeout(() => {
        child()?.kill('SIGKILL');
        reject(new Error(`no ${n} request(s) arrived while planning was held at its last file: the run waits for the whole plan`));
      }, 30_000);
      const check = setInterval(() => {
        if (server.requests.length >= n) {
          clearTimeout(guard);
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
  }

  const args = () => ['run', '--prompt', 'Upper-case it.', '--base-url', baseUrl, '--model', 'm', '--out', 'o', '--chunk-tokens', '40', '--overlap', '0', '--chunks-per-batch', '1', '--concurrency', '1', 'src'];

  it('sends the first request before the planner has read its last file, then finishes the plan and the run', async () => {
    const g = await gate();
    let child: ChildProcess | undefined;
    // Each request records whether the planner could have read the last file yet.
    const gateOpenAt: boolean[] = [];
    server.script = () => (gateOpenAt.push(g.opened()), undefined);
    const done = runCli(args(), ws, { OPENAI_API_KEY: KEY }, (c) => (child = c));
    await requestsArrived(1, () => child);
    assert.strictEqual(gateOpenAt[0], false, 'the first request came while the last file was still unplanned');
    await g.open();
    const r = await done;
    assert.strictEqual(r.code, 0, r.stderr);
    const meta = JSON.parse(await fs.readFile(path.join(ws, 'o/run.json'), 'utf8')) as RunMeta;
    assert.strictEqual(meta.planning, undefined, 'run.json is whole once the plan is complete');
    assert.deepStrictEqual(meta.files.map((f) => f.path), ['src/f0.txt', 'src/f1.txt', 'src/f2.txt', 'src/f3.txt', GATED]);
    await assert.rejects(fs.access(path.join(ws, 'o/plan.jsonl')), 'the plan journal is gone');
    assert.ok((await fs.readFile(path.join(ws, 'o/outputs', GATED), 'utf8')).startsWith('OUT[5.1]\nTHE LAST FILE'), 'the last file is sent once planned');
    const summary = JSON.parse(await fs.readFile(path.join(ws, 'o/summary.json'), 'utf8')) as RunSummary;
    assert.strictEqual(summary.status, 'succeeded');
    assert.strictEqual(summary.succeeded, meta.files.reduce((n, f) => n + f.chunks.length, 0));
    assert.ok(gateOpenAt.some((o) => o) && !gateOpenAt[0], 'requests went on after the gate opened');
  });

  it('a kill during planning and sending leaves a folder whose resume plans the rest and never resends a success', async () => {
    const g = await gate();
    let child: ChildProcess | undefined;
    // The first request is answered, the second held: then the process is killed, planning still held.
    server.script = (q) => (q.n >= 2 ? { kind: 'hang' } : undefined);
    const done = runCli(args(), ws, { OPENAI_API_KEY: KEY }, (c) => (child = c));
    await requestsArrived(2, () => child);
    child!.kill('SIGKILL');
    const killed = await done;
    assert.strictEqual(killed.signal, 'SIGKILL');
    const dir = path.join(ws, 'o');
    const before = JSON.parse(await fs.readFile(path.join(dir, 'run.json'), 'utf8')) as RunMeta;
    assert.ok(before.planning, 'killed while planning: run.json says so');
    const journaled = (await fs.readFile(path.join(dir, 'plan.jsonl'), 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { path: string }).path);
    assert.ok(!journaled.includes(GATED), 'the last file was never planned');
    const succeeded = (await fs.readFile(path.join(dir, 'run.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { chunkId: string; status: string }).filter((r) => r.status === 'succeeded').map((r) => r.chunkId);
    assert.deepStrictEqual(succeeded, [server.requests[0].chunks[0].id], 'the first request succeeded before the kill');

    // The gate is replaced by the file itself (the FIFO would hold the resume's planning as well).
    await fs.rm(path.join(ws, GATED));
    await fs.writeFile(path.join(ws, GATED), LAST_TEXT);
    server.reset();
    const r = await runCli(['resume', 'o', '--base-url', baseUrl], ws, { OPENAI_API_KEY: KEY });
    assert.strictEqual(r.code, 0, r.stderr);
    const resent = server.sentChunkIds();
    assert.ok(!resent.includes(succeeded[0]), `a chunk that succeeded is not sent again (sent: ${resent.join(', ')})`);
    const meta = JSON.parse(await fs.readFile(path.join(dir, 'run.json'), 'utf8')) as RunMeta;
    assert.strictEqual(meta.planning, undefined);
    assert.deepStrictEqual(meta.files.map((f) => f.path), ['src/f0.txt', 'src/f1.txt', 'src/f2.txt', 'src/f3.txt', GATED]);
    const all = meta.files.flatMap((f) => f.chunks.map((c) => c.id));
    assert.deepStrictEqual([...resent].sort(), all.filter((id) => id !== succeeded[0]).sort(), 'every other chunk is sent exactly once');
    const summary = JSON.parse(await fs.readFile(path.join(dir, 'summary.json'), 'utf8')) as RunSummary;
    assert.strictEqual(summary.status, 'succeeded');
    assert.strictEqual(summary.succeeded, all.length);
    assert.ok((await fs.readFile(path.join(dir, 'outputs', GATED), 'utf8')).startsWith('OUT[5.1]\nTHE LAST FILE'), 'the last file is planned and sent by the resume');
  });
});
