// `kill -9` of the CLI at random points of a run against the local model server, then `resume`:
// every chunk ends exactly once, nothing that succeeded is sent again, and the outputs equal those of
// a run never interrupted, byte for byte, with no temporary file, lock or torn line left behind.
import * as assert from 'assert';
import type { ChildProcess } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { RunRecord, RunSummary } from '../../../src/core/store/runStore';
import { ModelServer, type ServedRequest } from '../../support/modelServer';
import { runCli } from '../../support/cli';
import { rng } from '../../support/random';

const cli = (args: string[], cwd: string, onStart?: (child: ChildProcess) => void) => runCli(args, cwd, {}, onStart);

/** Seeds of the kill test, one SIGKILL each; `BP_KILL_SEEDS=200` for a longer soak. */
const SEEDS = Number(process.env.BP_KILL_SEEDS ?? 20);
/** Processes killed one after the other in one run folder (a run, then resumes) before the last resume. */
const KILLS_PER_CHAIN = 4;
/** Seeds run side by side (each is a chain of CLI processes). */
const PARALLEL = 2;

/** Deterministic per seed, so a failing seed can be replayed (the seed is spread first: seeds are small). */
const random = (seed: number) => rng(seed * 2654435761);

async function writeCorpus(ws: string): Promise<void> {
  const files: Record<string, string> = {};
  for (let i = 0; i < 6; i++) {
    const lines = Array.from({ length: 5 + ((i * 7) % 13) }, (_, j) => `line ${j} of file ${i}: ${'word '.repeat((i + j) % 9)}é✓`);
    files[`src/f${i}.txt`] = `${lines.join('\n')}\n`;
  }
  files['src/deep/unicode.md'] = '# Ünïcödé\n\n日本語のテキスト。\n🙂 emoji line\n'.repeat(2);
  for (const [p, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(ws, p)), { recursive: true });
    await fs.writeFile(path.join(ws, p), text);
  }
}

/** Every file under `dir` (relative, sorted) with its bytes. */
async function tree(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  let names: string[] = [];
  try {
    names = (await fs.readdir(dir, { recursive: true })).map(String).sort();
  } catch {
    return out;
  }
  for (const n of names) {
    const p = path.join(dir, n);
    if ((await fs.stat(p)).isFile()) out.set(n.split(path.sep).join('/'), await fs.readFile(p));
  }
  return out;
}

async function journal(dir: string): Promise<{ text: string; records: RunRecord[] }> {
  const text = await fs.readFile(path.join(dir, 'run.jsonl'), 'utf8').catch(() => '');
  const records: RunRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      records.push(JSON.parse(line) as RunRecord);
    } catch {
      // a torn line: the resume must close it
    }
  }
  return { text, records };
}

describe('resume after kill -9 (CLI, local model server)', function () {
  // A bound against hangs, scaled for a long soak; nothing asserts how long a run took.
  this.timeout(60_000 + SEEDS * 3_000);
  const server = new ModelServer();
  let baseUrl = '';
  let ws = '';
  /** Per model name (one per seed): called on each request's arrival; true holds that request (no reply). */
  const hooks = new Map<string, (q: ServedRequest) => boolean>();
  const common = () => ['--base-url', baseUrl, '--chunk-tokens', '40', '--overlap', '6', '--chunks-per-batch', '3', '--concurrency', '2'];

  before(async () => {
    baseUrl = await server.start();
    server.script = (q) => (hooks.get(String(q.body.model))?.(q) ? { kind: 'hang' } : { kind: 'ok', delayMs: 1 + (q.n % 3) });
    ws = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-resume-'));
    await writeCorpus(ws);
  });
  after(async () => {
    await server.stop();
    await fs.rm(ws, { recursive: true, force: true });
  });

  function requestsOf(model: string, from = 0): ServedRequest[] {
    return server.requests.slice(from).filter((q) => q.body.model === model);
  }

  it(`every chunk ends exactly once and the outputs equal an uninterrupted run's (${SEEDS} seeds)`, async () => {
    const base = await cli(['run', '--prompt', 'Upper-case it.', '--model', 'baseline', '--out', 'runs/baseline', '--no-cache', ...common(), 'src'], ws);
    assert.strictEqual(base.code, 0, base.stderr);
    const baseline = await tree(path.join(ws, 'runs/baseline/outputs'));
    const baselineChunks = await tree(path.join(ws, 'runs/baseline/chunks'));
    const chunkIds = [...baselineChunks.keys()].map((n) => n.replace(/\.out$/, '')).sort();
    const totalRequests = requestsOf('baseline').length;
    assert.ok(chunkIds.length >= 20 && totalRequests >= 8, `${chunkIds.length} chunks, ${totalRequests} requests`);

    const stats = { kills: 0, finishedBeforeTheKill: 0, chunksSent: 0, adopted: 0, cached: 0 };
    /** One run folder: a run and resumes, each SIGKILLed at a random point (one seed each), then a resume to the end. */
    const runChain = async (chain: number) => {
      const model = `m-chain-${chain}`;
      const dir = path.join(ws, 'runs', `c${chain}`);
      // Odd chains use the result cache (one per chain), even chains send everything.
      const cacheArgs = chain % 2 ? ['--cache-dir', `caches/c${chain}`] : ['--no-cache'];
      const seeds = Array.from({ length: Math.min(KILLS_PER_CHAIN, SEEDS - chain * KILLS_PER_CHAIN) }, (_, i) => chain * KILLS_PER_CHAIN + i);

      /** What had succeeded (journaled, or its output written) when the last process died. */
      const done = async () => {
        const ids = new Set((await journal(dir)).records.filter((r) => r.status === 'succeeded').map((r) => r.chunkId));
        for (const n of (await tree(path.join(dir, 'chunks'))).keys()) if (!n.includes('.tmp-')) ids.add(n.replace(/\.out$/, ''));
        return ids;
      };
      /**
       * Runs the CLI; chunks done before it started must not be sent by it. With `killAt`, the process is
       * SIGKILLed 0–8 ms after that request arrived (its reply goes out after 1–3 ms, so the kill lands
       * before, while or after it is recorded), and every later request of the process is held: a process
       * with a request after the kill point cannot finish first, whatever the machine's speed. Only a
       * process whose last request is the kill point may finish before the kill; its record must say so.
       */
      const step = async (args: string[], label: string, killAt?: { request: number; delayMs: number }) => {
        const doneBefore = await done();
        const mark = server.requests.length;
        let seen = 0;
        let heldAfterKill = false;
        const r = await cli(args, ws, (child) => {
          if (!killAt) return;
          hooks.set(model, () => {
            ++seen;
            if (seen === killAt.request) setTimeout(() => child.kill('SIGKILL'), killAt.delayMs);
            if (seen > killAt.request) heldAfterKill = true;
            return seen > killAt.request;
          });
        });
        hooks.delete(model);
        const sent = requestsOf(model, mark).flatMap((q) => q.chunks.map((c) => c.id));
        assert.deepStrictEqual(sent.filter((id) => doneBefore.has(id)), [], `${label}: chunks that had succeeded were sent again`);
        stats.chunksSent += sent.length;
        if (heldAfterKill) assert.strictEqual(r.signal, 'SIGKILL', `${label}: a request after the kill point was held, so the kill ended the process (exit ${r.code}: ${r.stderr})`);
        if (r.signal !== 'SIGKILL') {
          // It ran to the end before any kill: the exit code and the record agree.
          assert.strictEqual(r.code, 0, `${label}: ${r.stderr}`);
          const summary = JSON.parse(await fs.readFile(path.join(dir, 'summary.json'), 'utf8')) as RunSummary;
          assert.strictEqual(summary.status, 'succeeded', `${label}: a process that exited 0 recorded its run as finished`);
        }
        return r;
      };

      for (const seed of seeds) {
        const rnd = random(seed + 1);
        const first = seed === seeds[0];
        const args = first ? ['run', '--prompt', 'Upper-case it.', '--model', model, '--out', `runs/c${chain}`, ...cacheArgs, ...common(), 'src'] : ['resume', `runs/c${chain}`, '--base-url', baseUrl, ...cacheArgs];
        // The first process of a chain dies anywhere in the run but its last request (a later one is
        // held, so it always dies mid-run), a resume within its first requests.
        const killAt = { request: 1 + Math.floor(rnd() * (first ? totalRequests - 1 : 3)), delayMs: Math.floor(rnd() * 9) };
        const r = await step(args, `seed ${seed}`, killAt);
        if (r.signal === 'SIGKILL') stats.kills++;
        else stats.finishedBeforeTheKill++;
        // The first process of a chain sends every request of the run: it always reaches its kill.
        if (first) assert.strictEqual(r.signal, 'SIGKILL', `seed ${seed}: the first process of chain ${chain} was killed mid-run`);
      }
      const last = await step(['resume', `runs/c${chain}`, '--base-url', baseUrl, ...cacheArgs], `chain ${chain}, last resume`);
      assert.strictEqual(last.code, 0, `chain ${chain}: ${last.stderr}`);

      const { text, records } = await journal(dir);
      assert.ok(text.endsWith('\n') && text.split('\n').slice(0, -1).every((l) => JSON.parse(l)), `chain ${chain}: every journal line is whole`);
      const latest = new Map(records.map((r) => [r.chunkId, r]));
      assert.deepStrictEqual([...latest.keys()].sort(), chunkIds, `chain ${chain}: every chunk is in the journal`);
      for (const r of latest.values()) assert.strictEqual(r.status, 'succeeded', `chain ${chain}: ${r.chunkId} ends succeeded`);
      const successes = new Map<string, number>();
      for (const r of records) if (r.status === 'succeeded') successes.set(r.chunkId, (successes.get(r.chunkId) ?? 0) + 1);
      for (const id of chunkIds) assert.strictEqual(successes.get(id), 1, `chain ${chain}: ${id} succeeded exactly once`);
      stats.adopted += records.filter((r) => r.recovered).length;
      stats.cached += records.filter((r) => r.cached).length;

      const summary = JSON.parse(await fs.readFile(path.join(dir, 'summary.json'), 'utf8')) as RunSummary;
      assert.strictEqual(summary.status, 'succeeded', `chain ${chain}`);
      assert.strictEqual(summary.succeeded, chunkIds.length, `chain ${chain}`);

      const outputs = await tree(path.join(dir, 'outputs'));
      assert.deepStrictEqual([...outputs.keys()], [...baseline.keys()], `chain ${chain}: the same output files, none incomplete`);
      for (const [name, bytes] of baseline) assert.ok(outputs.get(name)!.equals(bytes), `chain ${chain}: ${name} equals the uninterrupted run's`);
      const chunks = await tree(path.join(dir, 'chunks'));
      assert.deepStrictEqual([...chunks.keys()], [...baselineChunks.keys()], `chain ${chain}: chunk outputs`);
      for (const [name, bytes] of baselineChunks) assert.ok(chunks.get(name)!.equals(bytes), `chain ${chain}: chunks/${name}`);

      const left = [...(await tree(dir)).keys(), ...(await tree(path.join(ws, 'caches', `c${chain}`))).keys()];
      assert.deepStrictEqual(left.filter((f) => f.includes('.tmp-') || f === 'run.lock'), [], `chain ${chain}: no temporary file or lock left`);
    };

    const chains = Math.ceil(SEEDS / KILLS_PER_CHAIN);
    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < chains) await runChain(next++);
      }),
    );
    // Each chain's first process is killed mid-run (asserted per step above); resumes are killed when they
    // reach their kill request, which depends on what was left, not on timing.
    assert.ok(stats.kills >= chains, `every chain had its first process killed mid-run: ${JSON.stringify(stats)}`);
    console.log(`      ${SEEDS} seeds in ${chains} run folders: ${JSON.stringify(stats)}`);
  });

  it('refuses to resume a run another live process is writing; resumes it once that process is killed', async () => {
    const model = 'm-lock';
    let started!: () => void;
    const firstRequest = new Promise<void>((resolve) => (started = resolve));
    const hang = new ModelServer();
    const hangUrl = await hang.start();
    hang.script = (q) => {
      if (q.body.model === model) started();
      return { kind: 'hang' };
    };
    let child!: ChildProcess;
    const running = cli(['run', '--prompt', 'x', '--model', model, '--out', 'runs/locked', '--no-cache', '--base-url', hangUrl, '--chunk-tokens', '40', '--overlap', '0', 'src/f1.txt'], ws, (c) => (child = c));
    await firstRequest;
    const refused = await cli(['resume', 'runs/locked', '--no-cache', '--base-url', hangUrl], ws);
    assert.strictEqual(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`being written by process ${child.pid}`));
    child.kill('SIGKILL');
    await running;
    await hang.stop();
    // The run's endpoint is recorded in run.json: point it at the answering server, and name that one.
    const runJson = path.join(ws, 'runs/locked/run.json');
    const meta = JSON.parse(await fs.readFile(runJson, 'utf8')) as { model: { baseUrl: string } };
    assert.strictEqual(meta.model.baseUrl, hangUrl);
    await fs.writeFile(runJson, JSON.stringify({ ...meta, model: { ...meta.model, baseUrl } }));
    const resumed = await cli(['resume', 'runs/locked', '--no-cache', '--base-url', baseUrl], ws);
    assert.strictEqual(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /succeeded, 0 failed, 0 canceled/);
  });

  it('a resume of a finished run sends nothing and leaves its outputs as they were', async () => {
    const r = await cli(['run', '--prompt', 'x', '--model', 'm-done', '--out', 'runs/done', '--no-cache', ...common(), 'src/f2.txt'], ws);
    assert.strictEqual(r.code, 0, r.stderr);
    const before = await tree(path.join(ws, 'runs/done/outputs'));
    const mark = server.requests.length;
    const again = await cli(['resume', 'runs/done', '--no-cache', '--base-url', baseUrl], ws);
    assert.strictEqual(again.code, 0, again.stderr);
    assert.strictEqual(requestsOf('m-done', mark).length, 0);
    assert.deepStrictEqual(await tree(path.join(ws, 'runs/done/outputs')), before);
  });

  it('explains what it cannot resume', async () => {
    const missing = await cli(['resume', 'runs/nothing-here'], ws);
    assert.strictEqual(missing.code, 1);
    assert.match(missing.stderr, /is not a run folder/);
    await fs.mkdir(path.join(ws, 'runs/lm'), { recursive: true });
    await fs.writeFile(path.join(ws, 'runs/lm/run.json'), JSON.stringify({ runId: 'lm', model: { id: 'lm:copilot-gpt', provider: 'vscode-lm', model: 'gpt' }, files: [] }));
    const lm = await cli(['resume', 'runs/lm'], ws);
    assert.strictEqual(lm.code, 1);
    assert.match(lm.stderr, /Language Model API .* resume it in VS Code/);
  });
});
