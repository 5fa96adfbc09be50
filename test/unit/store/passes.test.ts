// A run's history (#18): each pass (run, retry, resume) is recorded in passes.jsonl with its own scope,
// the end-of-pass text says that scope ("retried 1 chunk: succeeded"), and the report keeps every pass;
// answers from the cache are said as such; a folder's passes.jsonl is untrusted.
import * as assert from 'assert';
import { useServer } from '../../support/localServer';
import { promises as fs } from 'fs';
import * as path from 'path';
import { createPlan } from '../../../src/core/plan/plan';
import { resumeRun, retryChunks, runPlan, type RunParameters } from '../../../src/core/session/run';
import { checkPass, describeOutcome, describePass, PASSES_FILE, readPasses, type RunPass } from '../../../src/core/store/passes';
import { renderReport } from '../../../src/core/store/report';
import { ResultCache } from '../../../src/core/store/resultCache';
import { writeRunReport } from '../../../src/core/store/runReport';
import type { RunMeta, RunRecord, RunSummary } from '../../../src/core/store/runStore';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { SourceFile } from '../../../src/core/plan/types';
import { OpenAICompatibleModel } from '../../../src/providers/openaiCompatible';
import { ModelServer } from '../../support/modelServer';
import { treeOf, useWorkspace } from '../../support/tempWorkspace';

const tokenizer = getTokenizer();
const parameters: RunParameters = { maxConcurrency: 2, maxRetries: 0, requestTimeoutMs: 10_000, chunkTokens: 200, overlapTokens: 0, chunksPerBatch: 1, maxBatchTokens: 32768 };
const pass = (over: Partial<RunPass>): RunPass => ({ kind: 'run', at: '2026-12-03T10:00:00.000Z', chunks: 6, succeeded: 6, failed: 0, canceled: 0, cached: 0, attempts: 6, requests: 6, inputTokens: 600, outputTokens: 60, durationMs: 12_000, ...over });

describe('run passes: scope, history, cache hits', function () {
  this.timeout(90_000);
  const server = new ModelServer();
  let baseUrl = '';
  let ws = '';
  const roots = () => ({ allowed: [ws], hint: 'resume from the workspace' });
  const files: SourceFile[] = [
    { path: 'a.ts', text: 'export const a = 1;\n'.repeat(120) },
    { path: 'b.ts', text: 'export const b = 2;\n'.repeat(10) },
  ];
  useServer(server, (url) => (baseUrl = url));
  useWorkspace('bp-passes-', treeOf(files), (dir) => (ws = dir));
  const plan = () => createPlan(files, { prompt: 'Upper.', tokenizer, chunk: { chunkTokens: 200, overlapTokens: 0 }, pack: { chunksPerBatch: 1, maxBatchTokens: 32768 } });

  it('a retry of one chunk says its own scope; passes.jsonl and the report keep the run, the retry and the resume', async () => {
    const model = new OpenAICompatibleModel({ baseUrl, model: 'm' });
    server.script = (r) => (r.chunks.some((c) => c.id === '1.2' || c.id === '1.3') ? { kind: 'status', status: 500 } : undefined);
    const dir = path.join(ws, '.batch-prompt/runs/p1');
    const p = plan();
    const total = p.totals.chunks;
    const { summary: first } = await runPlan(p, { root: ws, dir, prompt: 'Upper.', model, modelInfo: { id: 'm' }, tokenizer, parameters });
    assert.deepStrictEqual([first.pass?.kind, first.pass?.chunks, first.pass?.failed], ['run', total, 2]);
    assert.strictEqual(describeOutcome(first), `${total - 2} of ${total} chunks succeeded, 2 failed (${describePass(first.pass!).match(/\((.+)\)$/)![1]})`);

    server.script = () => undefined;
    const { summary: retried } = await retryChunks(dir, { roots: roots(), model, tokenizer, chunkIds: ['1.2'] });
    assert.deepStrictEqual({ ...retried.pass!, at: '', durationMs: 0, inputTokens: 0, outputTokens: 0 }, { kind: 'retry', at: '', chunks: 1, succeeded: 1, failed: 0, canceled: 0, cached: 0, attempts: 1, requests: 1, inputTokens: 0, outputTokens: 0, durationMs: 0 });
    assert.match(describeOutcome(retried), new RegExp(`^retried 1 chunk: succeeded \\(.+\\); the run now has ${total - 1} of ${total} chunks succeeded, 1 failed$`));

    const { summary: resumed } = await resumeRun(dir, { roots: roots(), model, tokenizer });
    assert.match(describeOutcome(resumed), new RegExp(`^resumed 1 chunk: succeeded \\(.+\\); the run now has ${total} of ${total} chunks succeeded$`));

    const { passes, problems } = await readPasses(dir);
    assert.deepStrictEqual(problems, []);
    assert.deepStrictEqual(passes.map((x) => [x.kind, x.chunks, x.succeeded, x.failed, x.requests]), [['run', total, total - 2, 2, total], ['retry', 1, 1, 0, 1], ['resume', 1, 1, 0, 1]]);

    await writeRunReport(dir);
    const report = await fs.readFile(path.join(dir, 'report.md'), 'utf8');
    assert.match(report, /## Passes/);
    assert.match(report, new RegExp(`\\| 1 \\| run \\| [^|]+ \\| ${total} \\| ${total - 2} \\| 0 \\| 2 \\| 0 \\| ${total} \\| ${total} \\|`));
    assert.match(report, /\| 2 \| retry \| [^|]+ \| 1 \| 1 \| 0 \| 0 \| 0 \| 1 \| 1 \|/);
    assert.match(report, /\| 3 \| resume \| [^|]+ \| 1 \| 1 \| 0 \| 0 \| 0 \| 1 \| 1 \|/);
    assert.match(report, new RegExp(`\\| Requests \\| ${total + 2} over 3 passes \\|`), 'the run\'s requests, not the last pass\'s');
  });

  it('a run answered from the cache says so: no "0 ms", the report explains 0 requests', async () => {
    const model = new OpenAICompatibleModel({ baseUrl, model: 'm' });
    server.script = () => undefined;
    const cache = new ResultCache(path.join(ws, '.cache'));
    const p = plan();
    const total = p.totals.chunks;
    await runPlan(p, { root: ws, dir: path.join(ws, 'runs/c1'), prompt: 'Upper.', model, modelInfo: { id: 'm' }, tokenizer, parameters, cache });
    server.requests.length = 0;
    const events: string[] = [];
    const dir = path.join(ws, 'runs/c2');
    const { summary } = await runPlan(p, { root: ws, dir, prompt: 'Upper.', model, modelInfo: { id: 'm' }, tokenizer, parameters, cache, onEvent: (e) => events.push(e.type === 'chunk-finished' ? `done${e.outcome.cached ? ' cached' : ''}` : e.type) });
    assert.strictEqual(server.requests.length, 0);
    assert.strictEqual(describeOutcome(summary), `${total} of ${total} chunks succeeded, ${total} from the cache`);
    assert.deepStrictEqual(events.filter((e) => e.startsWith('done')), Array(total).fill('done cached'), 'progress displays count cached chunks');
    await writeRunReport(dir);
    const report = await fs.readFile(path.join(dir, 'report.md'), 'utf8');
    assert.match(report, new RegExp(`\\| Answers from the cache \\| ${total} of ${total} chunks \\(nothing sent for them: no requests, no tokens\\) \\|`));
    assert.match(report, /\| Requests \| 0 \(every answer came from the cache\) \|/);
    assert.match(report, /\| Duration \| — \(nothing was sent\) \|/);
    assert.match(report, /\| \[a\.ts\]\([^)]+\) \| complete \(from the cache\) \|/);
  });

  it("reads passes.jsonl as untrusted: a bad line is left out and named, a torn last line skipped; an old folder has no history", async () => {
    const dir = path.join(ws, 'hostile');
    await fs.mkdir(dir, { recursive: true });
    assert.deepStrictEqual(await readPasses(dir), { passes: [], problems: [] });
    const good = pass({});
    await fs.writeFile(path.join(dir, PASSES_FILE), [JSON.stringify(good), JSON.stringify({ ...good, requests: -1 }), '[1]', JSON.stringify({ ...good, kind: 'rm -rf' }), 'not json', '{"kind":"ru'].join('\n'));
    const { passes, problems } = await readPasses(dir);
    assert.deepStrictEqual(passes, [good]);
    assert.deepStrictEqual(problems, [`${PASSES_FILE} line 2: "requests" must be a number of at least 0`, `${PASSES_FILE} line 3: not an object`, `${PASSES_FILE} line 4: "kind" must be one of run, resume, retry`, `${PASSES_FILE} line 5: not JSON`]);
    assert.strictEqual(typeof checkPass({ ...good, fatal: 3 }), 'string');
  });
});

describe('run report: history, cached answers, measured and estimated tokens', () => {
  const meta: RunMeta = { runId: 'r9', createdAt: '', root: '/w', prompt: 'P', model: { id: 'gpt' }, encoding: 'o200k_base', protocolVersion: 1, parameters: {}, files: [{ path: 'a.ts', hash: '', chunks: [] }, { path: 'b.ts', hash: '', chunks: [] }, { path: 'c.ts', hash: '', chunks: [] }] };
  const summary: RunSummary = {
    runId: 'r9', status: 'succeeded', succeeded: 3, failed: 0, canceled: 0, requests: 1, inputTokens: 10, outputTokens: 5, durationMs: 2_000, finishedAt: '',
    files: ['a.ts', 'b.ts', 'c.ts'].map((p) => ({ path: p, status: 'complete' as const, output: `outputs/${p}` })),
  };
  const rec = (chunkId: string, p: string, batchId: string, output: number): RunRecord => ({ chunkId, path: p, start: 0, end: 1, startLine: 1, endLine: 2, tokens: 1, status: 'succeeded', attempts: 1, inputTokens: 10, outputTokens: output, latencyMs: 1, batchId, at: '' });

  it('marks ≈ the tokens of files that shared a request with other files; a one-file request is measured', () => {
    const md = renderReport(meta, summary, [rec('1.1', 'a.ts', 'b1', 7), rec('2.1', 'b.ts', 'b2', 3), rec('3.1', 'c.ts', 'b2', 4)]);
    assert.match(md, /\| \[a\.ts\]\(outputs\/a\.ts\) \| complete \| 10 \| 7 \|/);
    assert.match(md, /\| \[b\.ts\]\(outputs\/b\.ts\) \| complete \| ≈ 10 \| ≈ 3 \|/);
    assert.match(md, /\| \[c\.ts\]\(outputs\/c\.ts\) \| complete \| ≈ 10 \| ≈ 4 \|/);
    assert.match(md, /≈ estimated: these files shared a request/);
    assert.ok(!renderReport(meta, summary, [rec('1.1', 'a.ts', 'b1', 7)]).includes('≈'), 'nothing estimated, no mark');
  });

  it('renders each pass with attempts, requests and duration; the header adds the passes up; an old folder shows its summary alone', () => {
    const history = { passes: [pass({ chunks: 6, succeeded: 5, failed: 1, attempts: 7, requests: 7 }), pass({ kind: 'retry', chunks: 1, succeeded: 1, attempts: 1, requests: 1, inputTokens: 100, outputTokens: 10, durationMs: 3_000 })], problems: ['passes.jsonl line 3: not JSON'] };
    const md = renderReport(meta, summary, [], {}, undefined, undefined, history);
    assert.match(md, /\| 1 \| run \| 2026-12-03 10:00:00Z \| 6 \| 5 \| 0 \| 1 \| 0 \| 7 \| 7 \| 600 \/ 60 \| 12 s \|/);
    assert.match(md, /\| 2 \| retry \| 2026-12-03 10:00:00Z \| 1 \| 1 \| 0 \| 0 \| 0 \| 1 \| 1 \| 100 \/ 10 \| 3 s \|/);
    assert.match(md, /\| Requests \| 8 over 2 passes \|/);
    assert.match(md, /\| Tokens \| 700 input, 70 output \|/);
    assert.match(md, /\| Duration \| 15 s \(the passes added up\) \|/);
    assert.match(md, /> Left out: passes\.jsonl line 3: not JSON\./);
    const old = renderReport(meta, summary, []);
    assert.ok(!old.includes('## Passes'));
    assert.match(old, /\| Requests \| 1 \|/);
    assert.match(old, /\| Answers from the cache \| 0 \|/);
  });

  it('says a pass in its own scope', () => {
    assert.strictEqual(describePass(pass({ cached: 6, requests: 0, durationMs: 0 })), '6 of 6 chunks succeeded, 6 from the cache');
    assert.strictEqual(describePass(pass({ succeeded: 4, failed: 2 })), '4 of 6 chunks succeeded, 2 failed (12 s)');
    assert.strictEqual(describePass(pass({ kind: 'retry', chunks: 1, succeeded: 0, failed: 1, durationMs: 3_000 })), 'retried 1 chunk: failed (3 s)');
    assert.strictEqual(describePass(pass({ kind: 'resume', chunks: 3, succeeded: 2, canceled: 1, durationMs: 3_000 })), 'resumed 3 chunks: 2 succeeded, 1 canceled (3 s)');
    assert.strictEqual(describeOutcome({ succeeded: 6, failed: 0, canceled: 0, cached: 6, requests: 0, durationMs: 0 }), '6 of 6 chunks succeeded, 6 from the cache', 'a summary without its pass (a collected job) says the run');
  });
});
