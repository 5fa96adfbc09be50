import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as path from 'path';
import { parseCli, UsageError } from '../../../src/cli/options';
import { readRunPrompt, resolveOutput, shardOf } from '../../../src/cli/planning';
import { runCli as cli } from '../../support/cli';
import { findingsValue, writeFixtureRun, type FixtureFile } from '../../support/structuredRun';
import { useWorkspace } from '../../support/tempWorkspace';
import { useServer } from '../../support/localServer';
import { ModelServer, type RequestChunk } from '../../support/modelServer';
import { inProcessCli } from '../../support/cli';

const inProcess = inProcessCli;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function jsonl(file: string): Promise<Json[]> {
  return (await fs.readFile(file, 'utf8')).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Six files of findings; c.ts's two chunks overlap and repeat one finding. */
const FILES: FixtureFile[] = [
  { path: 'src/a.ts', chunks: [{ startLine: 1, endLine: 5, value: findingsValue({ line: 2, severity: 'warning', message: 'w a' }) }] },
  { path: 'src/b.ts', chunks: [{ startLine: 1, endLine: 5, value: findingsValue() }] },
  { path: 'src/c.ts', chunks: [{ startLine: 1, endLine: 6, value: findingsValue({ line: 5, severity: 'error', message: 'e c', rule: 'r' }) }, { startLine: 4, endLine: 9, value: findingsValue({ line: 5, severity: 'error', message: 'e c again', rule: 'r' }, { line: 8, severity: 'info', message: 'i c' }) }] },
  { path: 'src/i.ts', chunks: [{ startLine: 1, endLine: 3, value: findingsValue({ line: 1, severity: 'hint', message: 'h i' }) }] },
  { path: 'lib/e.ts', chunks: [{ startLine: 1, endLine: 3, value: findingsValue({ line: 3, severity: 'info', message: 'i e' }) }] },
  { path: 'lib/f.ts', chunks: [{ startLine: 1, endLine: 4, value: findingsValue({ line: 4, severity: 'warning', message: 'w f' }) }] },
];

describe('batch-prompt CLI: output kinds, --fail-on, --sarif, --shard, merge', function () {
  this.timeout(90_000);
  let ws = '';
  useWorkspace('bp-cli-structured-', { 'src/x.ts': 'const x = 1;\n', 'schema.json': '{"type":"object","properties":{"n":{"type":"integer"}}}', 'bad.json': '{"type": 7}' }, (dir) => (ws = dir));

  it('parses the new options and refuses bad ones clearly', () => {
    const o = parseCli(['run', '--prompt', 'p', '--model', 'm', '--output', 'findings', '--fail-on', 'warning', '--sarif', 'out.sarif', '--shard', '2/3', 'src'], {});
    assert.deepStrictEqual([o.output, o.failOn, o.sarif, o.shard], ['findings', 'warning', 'out.sarif', { k: 2, n: 3 }]);
    const bad: [string[], RegExp][] = [
      [['--shard', '0/3'], /--shard must be K\/N with whole numbers 1 <= K <= N .*got "0\/3"/],
      [['--shard', '4/3'], /--shard must be K\/N/],
      [['--shard', 'two'], /--shard must be K\/N/],
      [['--fail-on', 'hint'], /--fail-on must be one of error, warning, info, got "hint"/],
      [['--output', 'xml'], /--output must be one of text, findings, json, edit/],
      [['--output', 'findings', '--schema', 's.json'], /--schema applies to --output json only/],
    ];
    for (const [extra, re] of bad) assert.throws(() => parseCli(['run', '--prompt', 'p', '--model', 'm', ...extra, 'src'], {}), (e: Error) => e instanceof UsageError && re.test(e.message), re.source);
    assert.throws(() => parseCli(['resume', 'dir', '--output', 'json'], {}), /--output is for "batch-prompt plan", "batch-prompt run"/);
    assert.throws(() => parseCli(['merge', 'out'], {}), /Name the run folder to create and the shard run folders/);
  });

  it('--schema and a prompt file\'s front matter give the output spec; the flag wins; a front matter problem refuses', async () => {
    const opts = (extra: string[]) => parseCli(['run', '--model', 'm', '--prompt', 'p', ...extra, 'src'], {});
    assert.deepStrictEqual(await resolveOutput(opts(['--schema', 'schema.json']), ws), { kind: 'json', schema: { type: 'object', properties: { n: { type: 'integer' } } } });
    await assert.rejects(resolveOutput(opts(['--schema', 'bad.json']), ws), /Schema .*bad\.json is not a valid JSON Schema/);
    await assert.rejects(resolveOutput(opts(['--schema', 'none.json']), ws), /none\.json cannot be read: the file does not exist/);
    await assert.rejects(resolveOutput(opts(['--output', 'json']), ws), /--output json needs a schema/);
    await fs.writeFile(path.join(ws, 'f.prompt.md'), '---\noutput: findings\n---\nFind bugs.\n');
    await fs.writeFile(path.join(ws, 'j.prompt.md'), '---\nschema: ./schema.json\n---\nCount.\n');
    await fs.writeFile(path.join(ws, 'bad.prompt.md'), '---\noutput: poem\n---\nWrite.\n');
    const file = (name: string, extra: string[] = []) => readRunPrompt(parseCli(['run', '--model', 'm', '--prompt-file', name, ...extra, 'src'], {}), ws);
    assert.deepStrictEqual(await file('f.prompt.md'), { prompt: 'Find bugs.', output: { kind: 'findings' } });
    assert.strictEqual((await file('j.prompt.md')).output.kind, 'json');
    assert.deepStrictEqual((await file('f.prompt.md', ['--output', 'text'])).output, { kind: 'text' });
    await assert.rejects(file('bad.prompt.md'), /The prompt file bad\.prompt\.md: `output: poem` is not an output kind/);
    const refused = await cli(['run', '--model', 'm', '--base-url', 'http://127.0.0.1:9/v1', '--prompt-file', 'bad.prompt.md', 'src'], ws);
    assert.strictEqual(refused.code, 1);
    assert.match(refused.stderr, /^batch-prompt: The prompt file bad\.prompt\.md: `output: poem` is not an output kind/);
  });

  it('--shard K/N: every planned file in exactly one shard, the same split each time', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `f/file${i}.txt`);
    for (const n of names) {
      await fs.mkdir(path.join(ws, 'f'), { recursive: true });
      await fs.writeFile(path.join(ws, n), `text of ${n}\n`);
    }
    const planned = async (shard?: string) => {
      const r = await cli(['plan', '--json', ...(shard ? ['--shard', shard] : []), 'f'], ws);
      assert.strictEqual(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { files: { path: string }[] }).files.map((f) => f.path);
    };
    const all = await planned();
    assert.strictEqual(all.length, 12);
    const shards = [await planned('1/3'), await planned('2/3'), await planned('3/3')];
    assert.deepStrictEqual(shards.flat().sort(), [...all].sort(), 'every file once');
    assert.ok(shards.every((s) => s.length < 12), 'split, not copied');
    for (const [k, s] of shards.entries()) for (const p of s) assert.strictEqual(shardOf(p, 3), k + 1);
    assert.deepStrictEqual(await planned('2/3'), shards[1], 'deterministic');
    const bad = await cli(['plan', '--shard', '3/2', 'f'], ws);
    assert.strictEqual(bad.code, 1);
    assert.match(bad.stderr, /--shard must be K\/N/);
  });

  /** FILES split in 3 shard folders by shardOf, and the same FILES in one unsharded folder. */
  async function shardsAndWhole(): Promise<{ shards: string[]; whole: string }> {
    const root = ws;
    const shards: string[] = [];
    for (let k = 1; k <= 3; k++) {
      const files = FILES.filter((f) => shardOf(f.path, 3) === k);
      const dir = path.join(ws, `shard-${k}`);
      await writeFixtureRun(dir, root, { kind: 'findings' }, files);
      shards.push(`shard-${k}`);
    }
    const sorted = [...FILES].sort((a, b) => (a.path < b.path ? -1 : 1));
    await writeFixtureRun(path.join(ws, 'whole'), root, { kind: 'findings' }, sorted);
    return { shards, whole: 'whole' };
  }

  it('merge of 3 shards gives the unsharded run\'s findings, chunk ids and outputs; --sarif and --fail-on apply', async () => {
    const { shards, whole } = await shardsAndWhole();
    assert.deepStrictEqual([...new Set(FILES.map((f) => shardOf(f.path, 3)))].sort(), [1, 2, 3], 'the fixture spreads over the 3 shards');
    const ref = await inProcess(['merge', 'ref', whole], ws);
    assert.strictEqual(ref.code, 0, ref.stderr);
    const r = await inProcess(['merge', 'merged', ...shards, '--sarif', 'ci/out.sarif', '--fail-on', 'error'], ws);
    assert.strictEqual(r.code, 4, r.stderr);
    assert.match(r.stderr, /1 finding at or above error \(--fail-on error\); exit code 4/);
    assert.deepStrictEqual(await jsonl(path.join(ws, 'merged/findings.jsonl')), await jsonl(path.join(ws, 'ref/findings.jsonl')));
    assert.strictEqual((await jsonl(path.join(ws, 'merged/findings.jsonl'))).length, 6, 'the overlap duplicate once');
    const meta = (d: string) => fs.readFile(path.join(ws, d, 'run.json'), 'utf8').then((t) => JSON.parse(t).files.map((f: Json) => [f.path, f.chunks.map((c: Json) => c.id)]));
    assert.deepStrictEqual(await meta('merged'), await meta('whole'));
    assert.strictEqual(await fs.readFile(path.join(ws, 'merged/outputs/src/c.ts.md'), 'utf8'), await fs.readFile(path.join(ws, 'whole/outputs/src/c.ts.md'), 'utf8'));
    assert.strictEqual(await fs.readFile(path.join(ws, 'ci/out.sarif'), 'utf8'), await fs.readFile(path.join(ws, 'merged/findings.sarif'), 'utf8'));
    const summary = JSON.parse(await fs.readFile(path.join(ws, 'merged/summary.json'), 'utf8'));
    assert.deepStrictEqual([summary.status, summary.succeeded, summary.requests], ['succeeded', 7, 7]);
    assert.strictEqual((await fs.readFile(path.join(ws, 'merged/run.jsonl'), 'utf8')).trim().split('\n').length, 7);
    assert.match(await fs.readFile(path.join(ws, 'merged/report.md'), 'utf8'), /6 findings in 5 files: 1 error, 2 warning, 2 info, 1 hint/);
    // The threshold counts the more severe: warning → 3; below the threshold → the run's own code.
    assert.strictEqual((await inProcess(['merge', 'm2', ...shards, '--fail-on', 'warning'], ws)).code, 4);
    // Shard 1 (lib/e.ts, lib/f.ts) has a warning and an info, no error.
    const none = await inProcess(['merge', 'm3', 'shard-1', '--fail-on', 'error'], ws);
    assert.strictEqual(none.code, 0, none.stderr);
    assert.match(none.stdout, /Findings: 2 \(0 error, 1 warning, 1 info, 0 hint\)/);
  });

  it('merge refuses a file in two shards, a folder named twice, and shards of different runs; nothing is written', async () => {
    const { shards, whole } = await shardsAndWhole();
    const twice = await inProcess(['merge', 'o1', shards[0], whole], ws);
    assert.strictEqual(twice.code, 1);
    assert.match(twice.stderr, /merge refused: .* is in .*shard-1 and in .*whole: a file \(and its chunks\) may be recorded by one shard only/);
    await assert.rejects(fs.access(path.join(ws, 'o1/run.json')));
    const same = await inProcess(['merge', 'o2', shards[0], `./${shards[0]}`], ws);
    assert.match(same.stderr, /is named twice/);
    await writeFixtureRun(path.join(ws, 'other'), ws, { kind: 'findings' }, [{ path: 'zz.ts', chunks: [{ startLine: 1, endLine: 2, value: findingsValue() }] }], { prompt: 'Another prompt.' });
    const other = await inProcess(['merge', 'o3', shards[0], 'other'], ws);
    assert.match(other.stderr, /other has another prompt than .*shard-1/);
    await writeFixtureRun(path.join(ws, 'json'), ws, { kind: 'json', schema: { type: 'object' } }, [{ path: 'zy.ts', chunks: [{ startLine: 1, endLine: 2, value: {} }] }]);
    assert.match((await inProcess(['merge', 'o4', shards[0], 'json'], ws)).stderr, /another output kind and schema/);
    for (const o of ['o2', 'o3', 'o4']) await assert.rejects(fs.access(path.join(ws, o, 'run.json')));
  });

  it('merge refuses a run.jsonl line that names a chunk its run.json does not hold, and an untrusted path', async () => {
    const { shards } = await shardsAndWhole();
    await fs.appendFile(path.join(ws, shards[1], 'run.jsonl'), `${JSON.stringify({ chunkId: '9.9', path: 'ghost.ts', status: 'succeeded' })}\n`);
    const r = await inProcess(['merge', 'o', ...shards], ws);
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /run\.jsonl: line \d+ records chunk "9\.9" of "ghost\.ts", which its run\.json does not hold/);
    await fs.appendFile(path.join(ws, shards[2], 'run.jsonl'), `${JSON.stringify({ chunkId: '1.1', path: '../escape.ts', status: 'succeeded' })}\n`);
    const u = await inProcess(['merge', 'o', shards[2]], ws);
    assert.strictEqual(u.code, 1);
    assert.match(u.stderr, /run\.jsonl: line \d+ path "\.\.\/escape\.ts" has a "\.\." segment/);
    await assert.rejects(fs.access(path.join(ws, 'o/run.json')));
  });

  it('--fail-on and --sarif on a run that is not a findings run are refused before anything is sent', async () => {
    const r = await cli(['run', '--prompt', 'p', '--model', 'm', '--base-url', 'http://127.0.0.1:9/v1', '--fail-on', 'error', 'src'], ws);
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /--fail-on needs a findings run .*this one's output is text/);
    await writeFixtureRun(path.join(ws, 'text'), ws, undefined, [{ path: 'src/x.ts', chunks: [{ startLine: 1, endLine: 1, value: 'ok' }] }]);
    const m = await inProcess(['merge', 'mt', 'text', '--sarif', 'x.sarif'], ws);
    assert.strictEqual(m.code, 1);
    assert.match(m.stderr, /--sarif: run .* is not a findings run/);
    await assert.rejects(fs.access(path.join(ws, 'x.sarif')));
  });

  describe('end to end, against a fake model answering findings', () => {
    const server = new ModelServer();
    let baseUrl = '';
    useServer(server, (url) => (baseUrl = url));
    const sources: Record<string, string> = {};
    for (const name of ['src/a.ts', 'src/b.ts', 'src/c.ts', 'lib/d.ts', 'lib/e.ts', 'lib/f.ts', 'src/i.ts']) sources[name] = Array.from({ length: 40 }, (_, i) => `export const v${i} = ${i}; // ${name}`).join('\n') + '\n';
    let e2e = '';
    useWorkspace('bp-cli-findings-', sources, (dir) => (e2e = dir));
    /** A warning on every chunk's first line, and an error on line 3 of src/b.ts: by path and line, never by chunk id (shards number them apart). */
    const value = (c: RequestChunk) => {
      const first = Number(/^(\d+)/.exec(c.lines)?.[1] ?? 1);
      const findings: unknown[] = [{ line: first, severity: 'warning', message: `first line of ${c.path}`, rule: 'first' }];
      if (c.path === 'src/b.ts' && first <= 3) findings.push({ line: 3, severity: 'error', message: 'planted bug', rule: 'bug' });
      return { findings };
    };
    const run = (extra: string[]) => cli(['run', '--prompt', 'Find bugs.', '--output', 'findings', '--base-url', baseUrl, '--model', 'm', '--chunk-tokens', '200', '--overlap', '20', ...extra, 'src', 'lib'], e2e, { OPENAI_API_KEY: 'sk-test' });

    it('run --output findings --fail-on error --sarif FILE: exit 4, the SARIF at FILE, findings.jsonl and a Markdown output per file', async () => {
      server.structuredValue = value;
      const r = await run(['--out', 'r1', '--fail-on', 'error', '--sarif', 'ci/review.sarif']);
      assert.strictEqual(r.code, 4, r.stderr);
      assert.match(r.stderr, /1 finding at or above error/);
      const findings = await jsonl(path.join(e2e, 'r1/findings.jsonl'));
      assert.deepStrictEqual(findings.filter((f) => f.severity === 'error').map((f) => [f.path, f.line, f.rule]), [['src/b.ts', 3, 'bug']]);
      assert.strictEqual(await fs.readFile(path.join(e2e, 'ci/review.sarif'), 'utf8'), await fs.readFile(path.join(e2e, 'r1/findings.sarif'), 'utf8'));
      assert.match(await fs.readFile(path.join(e2e, 'r1/outputs/src/b.ts.md'), 'utf8'), /^# Findings in src\/b\.ts\n\n- \*\*warning\*\* line 1 `first`: first line of src\/b\.ts\n- \*\*error\*\* line 3 `bug`: planted bug\n/);
      const ok = await run(['--out', 'r2', '--fail-on', 'error']);
      assert.strictEqual(ok.code, 4, 'the cache answers the same findings');
      server.structuredValue = (c) => ({ findings: [{ line: Number(/^(\d+)/.exec(c.lines)?.[1] ?? 1), severity: 'info', message: 'fine' }] });
      const info = await run(['--out', 'r3', '--fail-on', 'warning', '--no-cache']);
      assert.strictEqual(info.code, 0, info.stderr);
      assert.strictEqual((await run(['--out', 'r4', '--fail-on', 'info'])).code, 4);
    });

    it('3 shard runs merged give the findings of the run without shards', async () => {
      server.structuredValue = value;
      const whole = await run(['--out', 'whole', '--no-cache']);
      assert.strictEqual(whole.code, 0, whole.stderr);
      const dirs: string[] = [];
      for (let k = 1; k <= 3; k++) {
        const r = await run(['--out', `shard-${k}`, '--shard', `${k}/3`, '--no-cache']);
        assert.strictEqual(r.code, 0, r.stderr);
        dirs.push(`shard-${k}`);
      }
      const m = await cli(['merge', 'merged', ...dirs, '--fail-on', 'error'], e2e);
      assert.strictEqual(m.code, 4, m.stderr);
      const a = await jsonl(path.join(e2e, 'whole/findings.jsonl'));
      assert.ok(a.length > 7, 'several chunks per file');
      assert.deepStrictEqual(await jsonl(path.join(e2e, 'merged/findings.jsonl')), a);
      const twice = await cli(['merge', 'again', 'merged', 'shard-2'], e2e);
      assert.strictEqual(twice.code, 1);
      assert.match(twice.stderr, /merge refused: .* is in .*merged and in .*shard-2/);
    });
  });
});
