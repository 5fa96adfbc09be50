import * as assert from 'assert';
import { useServer } from '../../support/localServer';
import { promises as fs } from 'fs';
import * as path from 'path';
import { ModelServer } from '../../support/modelServer';
import { runCli as cli } from '../../support/cli';
import { listTree } from '../../support/runFolder';
import { useWorkspace } from '../../support/tempWorkspace';

const KEY = 'sk-cli-SECRET-abcdef123456';


/** Text files, an empty one, a binary one and a gitignored one. */
const WORKSPACE = {
  'src/a.ts': 'export const a = 1;\n'.repeat(30),
  'src/nested/b.py': 'def b():\n    return "b"\n'.repeat(20),
  'src/c.md': '# Title\n\nSome prose.\n',
  'src/empty.txt': '',
  'src/image.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0x0d]),
  'src/ignored.log': 'secret log\n',
  '.gitignore': '*.log\n',
};

describe('batch-prompt CLI', function () {
  this.timeout(90_000);
  const server = new ModelServer();
  let baseUrl = '';
  let ws = '';
  useServer(server, (url) => (baseUrl = url));
  useWorkspace('bp-cli-', WORKSPACE, (dir) => (ws = dir));

  it('plan lists files, chunks and batches without calling a model', async () => {
    const r = await cli(['plan', 'src', '--json', '--chunk-tokens', '64', '--overlap', '8'], ws);
    assert.strictEqual(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout) as { totals: { files: number; chunks: number; batches: number }; files: { path: string; chunks: { tokens: number }[] }[]; skipped: { path: string; reason: string }[]; empty: string[] };
    assert.deepStrictEqual(plan.files.map((f) => f.path), ['src/a.ts', 'src/c.md', 'src/nested/b.py']);
    assert.ok(plan.totals.chunks > 3);
    for (const f of plan.files) for (const c of f.chunks) assert.ok(c.tokens <= 64);
    assert.deepStrictEqual(plan.skipped.map((s) => `${s.path}:${s.reason}`).sort(), ['src/empty.txt:empty', 'src/image.png:binary']);
    assert.strictEqual(server.requests.length, 0);
  });

  it('run writes one output per file, run.jsonl and summary.json, and exits 0', async () => {
    const r = await cli(['run', '--prompt', 'Upper-case it.', '--base-url', baseUrl, '--model', 'm', '--out', 'results', '--chunk-tokens', '64', '--overlap', '0', 'src'], ws, { OPENAI_API_KEY: KEY });
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /image\.png: binary/);
    const out = path.join(ws, 'results');
    const a = await fs.readFile(path.join(out, 'outputs/src/a.ts.md'), 'utf8');
    assert.ok(a.startsWith('OUT[1.1]\nEXPORT CONST A = 1;'), a.slice(0, 80));
    const records = (await fs.readFile(path.join(out, 'run.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const summary = JSON.parse(await fs.readFile(path.join(out, 'summary.json'), 'utf8')) as { status: string; succeeded: number };
    assert.strictEqual(summary.status, 'succeeded');
    assert.strictEqual(records.length, summary.succeeded);
    assert.match(await fs.readFile(path.join(out, 'report.md'), 'utf8'), /all chunks succeeded/);
    for (const k of ['chunkId', 'path', 'start', 'end', 'startLine', 'endLine', 'tokens', 'status', 'attempts', 'inputTokens', 'outputTokens', 'latencyMs', 'batchId']) {
      assert.ok(k in records[0], `run.jsonl has ${k}`);
    }
    const sent = server.requests.map((q) => JSON.stringify(q.body)).join('');
    assert.ok(!sent.includes('secret log'), 'gitignored files are not sent');
    assert.ok(!(await listTree(out)).some((f) => f.includes('.tmp-')), 'no temporary file left');
  });

  it('exits 2 and marks the file incomplete when a chunk fails', async () => {
    server.script = (q) => (q.chunks.some((c) => c.path === 'src/c.md') ? { kind: 'status', status: 400, body: { error: { message: 'bad input', type: 'invalid_request_error', code: 'invalid_value' } } } : undefined);
    const r = await cli(['run', '--prompt', 'x', '--base-url', baseUrl, '--model', 'm', '--out', 'o', '--chunks-per-batch', '1', 'src'], ws);
    assert.strictEqual(r.code, 2, r.stderr);
    const files = await listTree(path.join(ws, 'o/outputs/src'));
    assert.ok(files.includes('c.md.incomplete.md') && !files.includes('c.md.md'), files.join(','));
    assert.match(await fs.readFile(path.join(ws, 'o/outputs/src/c.md.incomplete.md'), 'utf8'), /<<<batch-prompt: chunk 2\.1 \(lines 1-3\) failed: .*bad input/);
    assert.match(r.stdout, /Incomplete files \(1\): src\/c\.md/);
    // The same report.md as the editor writes: the outcome, each file's status, the failed chunk's reason.
    const report = await fs.readFile(path.join(ws, 'o/report.md'), 'utf8');
    assert.match(report, /^# Batch Prompt run /);
    assert.match(report, /some chunks failed/);
    assert.match(report, /src\/c\.md/);
    assert.match(report, /bad input/);
  });

  it('exits 1 with a one-line reason on a bad key, and the key appears nowhere', async () => {
    server.script = () => ({ kind: 'status', status: 401, body: { error: { message: `Incorrect API key provided: ${KEY}`, type: 'invalid_request_error', code: 'invalid_api_key' } } });
    const r = await cli(['run', '--prompt', 'x', '--base-url', baseUrl, '--model', 'm', '--out', 'o', 'src'], ws, { OPENAI_API_KEY: KEY });
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /batch-prompt: The endpoint refused the API key/);
    assert.match(r.stderr, /\(the key came from \$OPENAI_API_KEY\)\n$/, 'names the variable to fix');
    assert.ok(!r.stderr.includes(KEY) && !r.stdout.includes(KEY));
    for (const f of await listTree(path.join(ws, 'o'))) {
      const p = path.join(ws, 'o', f);
      if ((await fs.stat(p)).isFile()) assert.ok(!(await fs.readFile(p, 'utf8')).includes(KEY), `${f} holds the key`);
    }
  });

  it('refuses usage mistakes with a clear message', async () => {
    const r = await cli(['run', '--base-url', baseUrl, '--model', 'm', 'src'], ws);
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /Give exactly one of --prompt TEXT or --prompt-file FILE/);
    const k = await cli(['run', '--prompt', 'x', '--model', 'm', 'src'], ws);
    assert.strictEqual(k.code, 1);
    assert.match(k.stderr, /set OPENAI_API_KEY/);
    assert.strictEqual(server.requests.length, 0);
  });

  it('run --out into a folder that holds a run says to resume it, sends nothing, and the resume works', async () => {
    const args = ['run', '--prompt', 'x', '--base-url', baseUrl, '--model', 'm', '--out', 'again', 'src'];
    assert.strictEqual((await cli(args, ws, { OPENAI_API_KEY: KEY })).code, 0);
    const sent = server.requests.length;
    const journal = await fs.readFile(path.join(ws, 'again/run.jsonl'), 'utf8');
    const r = await cli(args, ws, { OPENAI_API_KEY: KEY });
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /^batch-prompt: again already holds a run; continue it with "batch-prompt resume again" .*, or choose another --out\.\n$/);
    assert.strictEqual(server.requests.length, sent, 'nothing sent');
    assert.strictEqual(await fs.readFile(path.join(ws, 'again/run.jsonl'), 'utf8'), journal, 'nothing written');
    assert.match(r.stderr, /and this command's endpoint options/);
    // The run's endpoint is named again (a run folder never chooses where a key goes).
    assert.strictEqual((await cli(['resume', 'again', '--base-url', baseUrl], ws, { OPENAI_API_KEY: KEY })).code, 0);
  });

  it('progress lines and the plan\'s recommendation say "1 chunk", "1 request" in the singular', async () => {
    const r = await cli(['run', '--prompt', 'x', '--base-url', baseUrl, '--model', 'm', '--chunks-per-batch', '1', '--out', 'one', 'src/c.md'], ws, { OPENAI_API_KEY: KEY });
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /^b1 \(1 chunk\) ok/m);
    const p = await cli(['plan', '--prompt', 'x', 'src/c.md'], ws);
    assert.strictEqual(p.code, 0, p.stderr);
    assert.match(p.stdout, /concurrency: only 1 request\./);
  });

  it('refuses --stream outside run (it would be ignored there), before anything is sent or written', async () => {
    for (const args of [
      ['plan', '--stream', 'src'],
      ['submit', '--stream', '--prompt', 'x', '--base-url', baseUrl, '--model', 'm', '--out', 'job', 'src'],
      ['resume', '--stream', 'results'],
      ['collect', '--stream', 'results'],
    ]) {
      const r = await cli(args, ws, { OPENAI_API_KEY: KEY });
      assert.strictEqual(r.code, 1, args.join(' '));
      assert.match(r.stderr, /--stream is for "batch-prompt run" only: /, args.join(' '));
      assert.strictEqual(r.stdout, '', args.join(' '));
    }
    assert.strictEqual(server.requests.length, 0);
    assert.deepStrictEqual(await listTree(ws).then((t) => t.filter((p) => p.startsWith('job'))), []);
  });

  it('Ctrl-C cancels cleanly: finished results kept, the rest recorded as canceled', async () => {
    server.script = (q) => (q.n === 1 ? undefined : { kind: 'hang' });
    let sent = 0;
    const r = await cli(['run', '--prompt', 'x', '--base-url', baseUrl, '--model', 'm', '--out', 'o', '--chunks-per-batch', '1', '--concurrency', '1', 'src'], ws, {}, (child) => {
      const timer = setInterval(() => {
        if (server.requests.length >= 2 && sent++ === 0) {
          clearInterval(timer);
          child.kill('SIGINT');
        }
      }, 10);
    });
    assert.strictEqual(r.code, 2, r.stderr);
    const summary = JSON.parse(await fs.readFile(path.join(ws, 'o/summary.json'), 'utf8')) as { succeeded: number; canceled: number; status: string };
    assert.strictEqual(summary.succeeded, 1);
    assert.strictEqual(summary.canceled, 2);
    assert.strictEqual(summary.status, 'canceled');
    assert.strictEqual(server.requests.length, 2, 'no request after Ctrl-C');
  });
});
