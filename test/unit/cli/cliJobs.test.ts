import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as path from 'path';
import { runCli as cli } from '../../support/cli';
import { BatchServer } from '../../support/batchServer';
import { useServer } from '../../support/localServer';
import { useWorkspace } from '../../support/tempWorkspace';

const KEY = 'sk-ant-cli-SECRET-9876543210';

describe('batch-prompt submit / status / collect / cancel', function () {
  this.timeout(90_000);
  const server = new BatchServer();
  let base = '';
  let ws = '';
  useServer(server, (url) => (base = url));
  useWorkspace('bp-clijob-', { 'src/a.ts': 'export const a = 1;\n'.repeat(40), 'src/b.md': '# Title\n\nSome prose.\n' }, (dir) => (ws = dir));

  const anthropic = () => ['--provider', 'anthropic', '--base-url', base, '--model', 'claude-x', '--max-output-tokens', '500'];
  /** The job's endpoint, named on the command line of status, collect and cancel (a run folder never chooses it). */
  const at = () => ['--provider', 'anthropic', '--base-url', base];
  const submitArgs = (perBatch = '2') => ['submit', '--prompt', 'Upper-case it.', ...anthropic(), '--out', 'job', '--chunk-tokens', '64', '--overlap', '0', '--chunks-per-batch', perBatch, 'src'];

  it('submit creates the run folder and the job, prints both, and exits 0 without waiting', async () => {
    server.requiredKey = KEY;
    server.pollsBeforeEnd = 100;
    const r = await cli(submitArgs(), ws, { ANTHROPIC_API_KEY: KEY });
    assert.strictEqual(r.code, 0, r.stderr);
    const [job] = [...server.jobs.values()];
    assert.match(r.stdout, new RegExp(`Job id: ${job.id}`));
    assert.match(r.stdout, new RegExp(`Run folder: ${path.join(ws, 'job').replace(/[\\/]/g, '.')}`));
    const saved = JSON.parse(await fs.readFile(path.join(ws, 'job/job.json'), 'utf8')) as { jobId: string; provider: string; requests: unknown[] };
    assert.strictEqual(saved.jobId, job.id);
    assert.strictEqual(saved.provider, 'anthropic');
    assert.strictEqual(saved.requests.length, job.requests.length);
    assert.ok(job.requests.every((q) => q.body.max_tokens === 500 && q.body.model === 'claude-x'));
    for (const f of await fs.readdir(path.join(ws, 'job'), { recursive: true })) {
      const text = await fs.readFile(path.join(ws, 'job', String(f)), 'utf8').catch(() => '');
      assert.ok(!text.includes(KEY), `${String(f)} holds no key`);
    }
    assert.ok(!r.stdout.includes(KEY) && !r.stderr.includes(KEY));
  });

  it('status shows the state and counts; collect says "still running" (exit 3), then writes the results (exit 0), then changes nothing', async () => {
    server.pollsBeforeEnd = 2;
    const env = { ANTHROPIC_API_KEY: KEY };
    assert.strictEqual((await cli(submitArgs(), ws, env)).code, 0);
    const twice = await cli(submitArgs(), ws, env);
    assert.strictEqual(twice.code, 1);
    assert.match(twice.stderr, /job already holds a run; check its batch job with "batch-prompt status job" and "batch-prompt collect job", or choose another --out/);
    assert.strictEqual(server.jobs.size, 1, 'no second job');
    const status = await cli(['status', 'job', ...at()], ws, env);
    assert.strictEqual(status.code, 0, status.stderr);
    assert.match(status.stdout, /in_progress/);
    assert.match(status.stdout, /Requests: 0\/\d+ done/);
    const early = await cli(['collect', 'job', ...at()], ws, env);
    assert.strictEqual(early.code, 3, early.stderr);
    assert.match(early.stdout, /still running/);
    await assert.rejects(fs.access(path.join(ws, 'job/summary.json')));
    const done = await cli(['collect', 'job', ...at()], ws, env);
    assert.strictEqual(done.code, 0, done.stderr);
    assert.match(done.stdout, /succeeded, 0 failed, 0 canceled/);
    const a = await fs.readFile(path.join(ws, 'job/outputs/src/a.ts.md'), 'utf8');
    assert.ok(a.startsWith('OUT[1.1]\nEXPORT CONST A = 1;'), a.slice(0, 60));
    const journal = await fs.readFile(path.join(ws, 'job/run.jsonl'), 'utf8');
    const again = await cli(['collect', 'job', ...at()], ws, env);
    assert.strictEqual(again.code, 0);
    assert.match(again.stdout, /nothing written again/);
    assert.strictEqual(await fs.readFile(path.join(ws, 'job/run.jsonl'), 'utf8'), journal);
    const after = await cli(['status', 'job', ...at()], ws, env);
    assert.match(after.stdout, /Collected at/);
    // Collected: the folder answers, so no key is needed (and the provider is not asked).
    const calls = server.calls.length;
    const keyless = await cli(['status', 'job'], ws, {});
    assert.strictEqual(keyless.code, 0, keyless.stderr);
    assert.match(keyless.stdout, /Collected at/);
    const keylessCollect = await cli(['collect', 'job'], ws, {});
    assert.strictEqual(keylessCollect.code, 0, keylessCollect.stderr);
    assert.match(keylessCollect.stdout, /nothing written again/);
    assert.match(keylessCollect.stdout, /succeeded, 0 failed, 0 canceled/);
    assert.strictEqual(server.calls.length, calls);
    assert.strictEqual(await fs.readFile(path.join(ws, 'job/run.jsonl'), 'utf8'), journal);
  });

  it('collect exits 2 when some requests failed, and names the incomplete file', async () => {
    server.pollsBeforeEnd = 0;
    server.script = (q) => (q.chunks.some((c) => c.path === 'src/b.md') ? { kind: 'error', status: 500, type: 'overloaded_error', message: 'Overloaded' } : undefined);
    const env = { ANTHROPIC_API_KEY: KEY };
    assert.strictEqual((await cli(submitArgs('1'), ws, env)).code, 0);
    const r = await cli(['collect', 'job', ...at()], ws, env);
    assert.strictEqual(r.code, 2, r.stderr);
    assert.match(r.stdout, /Incomplete files \(1\): src\/b\.md/);
    const records = (await fs.readFile(path.join(ws, 'job/run.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { path: string; status: string; error?: { kind: string } });
    assert.ok(records.filter((x) => x.path === 'src/b.md').every((x) => x.status === 'failed' && x.error?.kind === 'transient'));
  });

  it('cancel asks the provider to cancel; resume refuses a job that is not collected', async () => {
    server.pollsBeforeEnd = 100;
    const env = { ANTHROPIC_API_KEY: KEY };
    assert.strictEqual((await cli(submitArgs(), ws, env)).code, 0);
    const resumed = await cli(['resume', 'job'], ws, env);
    assert.strictEqual(resumed.code, 1);
    assert.match(resumed.stderr, /batch job .* not collected yet/);
    const c = await cli(['cancel', 'job', ...at()], ws, env);
    assert.strictEqual(c.code, 0, c.stderr);
    assert.match(c.stdout, /Cancel requested/);
    assert.ok(server.calls.some((x) => x.method === 'POST' && /\/cancel$/.test(x.url)));
    const r = await cli(['collect', 'job', ...at()], ws, env);
    assert.strictEqual(r.code, 2, r.stdout);
    assert.match(r.stdout, /0 succeeded, 0 failed, \d+ canceled/);
  });

  it('names the missing key variable, and refuses providers without a batch service, before any request', async () => {
    const r = await cli(submitArgs(), ws, {});
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /set ANTHROPIC_API_KEY in the environment/);
    const o = await cli(['submit', '--prompt', 'x', '--provider', 'ollama', '--base-url', base, '--model', 'llama', 'src'], ws);
    assert.strictEqual(o.code, 1);
    assert.match(o.stderr, /Ollama has no batch service/);
    assert.strictEqual(server.calls.length, 0);
    await assert.rejects(fs.access(path.join(ws, 'job')), 'no run folder');
    const s = await cli(['status', 'nowhere'], ws, { ANTHROPIC_API_KEY: KEY });
    assert.strictEqual(s.code, 1);
    assert.match(s.stderr, /not a run folder/);
  });

  it('a refused key names the variable it came from (submit, status), never the key', async () => {
    server.requiredKey = KEY;
    server.pollsBeforeEnd = 100;
    const wrong = 'sk-ant-WRONG-0000000000';
    const refused = await cli(submitArgs(), ws, { ANTHROPIC_API_KEY: wrong });
    assert.strictEqual(refused.code, 1);
    assert.match(refused.stderr, /no batch job was created: .*refused the API key.*\(the key came from \$ANTHROPIC_API_KEY\)/);
    const ok = await cli(submitArgs().map((x) => (x === 'job' ? 'job2' : x)), ws, { ANTHROPIC_API_KEY: KEY });
    assert.strictEqual(ok.code, 0, ok.stderr);
    const status = await cli(['status', 'job2', ...at()], ws, { ANTHROPIC_API_KEY: wrong });
    assert.strictEqual(status.code, 1);
    assert.match(status.stderr, /refused the API key.*\(the key came from \$ANTHROPIC_API_KEY\)\n$/);
    for (const r of [refused, status]) assert.ok(!r.stderr.includes(wrong) && !r.stdout.includes(wrong));
  });

  it('works with the OpenAI Batch API the same way', async () => {
    server.pollsBeforeEnd = 0;
    server.requiredKey = 'sk-openai-cli-key-123456';
    const env = { OPENAI_API_KEY: 'sk-openai-cli-key-123456' };
    const sub = await cli(['submit', '--prompt', 'Upper.', '--base-url', `${base}/v1`, '--model', 'gpt-x', '--out', 'oj', '--chunk-tokens', '64', '--overlap', '0', 'src'], ws, env);
    assert.strictEqual(sub.code, 0, sub.stderr);
    assert.ok(server.calls.some((x) => x.url === '/v1/files'));
    const r = await cli(['collect', 'oj', '--base-url', `${base}/v1`], ws, env);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.ok((await fs.readFile(path.join(ws, 'oj/outputs/src/b.md.md'), 'utf8')).includes('SOME PROSE.'));
  });
});
