import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as path from 'path';
import type { RunEvent } from '../../../src/core/execute/events';
import { createPlan } from '../../../src/core/plan/plan';
import { describeEndpoints, renderReport } from '../../../src/core/store/report';
import { endpointsOf, resumeRun, runPlan, smallestWindow, type RunEndpoint, type RunParameters } from '../../../src/core/session/run';
import { readRecords, type RunMeta, type RunSummary } from '../../../src/core/store/runStore';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { SourceFile } from '../../../src/core/plan/types';
import { OpenAICompatibleModel } from '../../../src/providers/openaiCompatible';
import { BAD_KEY, failingAfter, rateLimitedEvery, SERVER_ERROR, slow } from '../../support/endpointScripts';
import { useServer } from '../../support/localServer';
import { ModelServer, replyFor, type Script } from '../../support/modelServer';
import { treeOf, useWorkspace, writeFiles } from '../../support/tempWorkspace';

const tokenizer = getTokenizer();
const KEY = 'sk-several-KEY-0123456789';
const PROMPT = 'Upper-case it.';
const parameters: RunParameters = { maxConcurrency: 2, maxRetries: 6, requestTimeoutMs: 10_000, chunkTokens: 200, overlapTokens: 0, chunksPerBatch: 1, maxBatchTokens: 32768 };

/** `n` one-chunk files. */
function sourceFiles(n: number): SourceFile[] {
  return Array.from({ length: n }, (_, i) => ({ path: `src/f${i}.ts`, text: `export const v${i} = ${i}; // file ${i}\n` }));
}

/** What a server's log says it served, given its (pure) script: requests, failures, usage as it reported it. */
function served(server: ModelServer, script: Script) {
  let failures = 0;
  let inputTokens = 0;
  let outputTokens = 0;
  for (const r of server.requests) {
    const b = script(r) ?? { kind: 'ok' };
    if (b.kind !== 'ok') {
      failures++;
      continue;
    }
    inputTokens += Math.ceil(r.chars / 4);
    outputTokens += Math.ceil(replyFor(r.chunks).length / 4);
  }
  return { requests: server.requests.length, failures, inputTokens, outputTokens };
}

describe('smallestWindow', () => {
  it('packs for the endpoint leaving the least room once its reply is reserved; unknown windows do not count', () => {
    assert.deepStrictEqual(smallestWindow([{ contextWindow: 8000, maxOutputTokens: 4000 }, { contextWindow: 6000, maxOutputTokens: 1000 }, {}]), { contextWindow: 8000, maxOutputTokens: 4000 });
    assert.deepStrictEqual(smallestWindow([{ maxOutputTokens: 7 }, {}]), { contextWindow: undefined, maxOutputTokens: 7 });
  });
});

describe('several endpoints in one run', function () {
  this.timeout(90_000);
  const names = ['fast', 'slow', 'limited', 'failing'] as const;
  const servers = Object.fromEntries(names.map((n) => [n, new ModelServer()])) as Record<(typeof names)[number], ModelServer>;
  const urls: Record<string, string> = {};
  for (const n of names) useServer(servers[n], (url) => (urls[n] = url));
  let ws = '';
  /** The run's files may be read from the test's workspace only. */
  const roots = () => ({ allowed: [ws], hint: 'resume from the workspace' });
  useWorkspace('bp-endpoints-', {}, (dir) => (ws = dir));

  function endpoint(name: (typeof names)[number], limits: RunEndpoint['info'] extends infer I ? Partial<I> : never = {}): RunEndpoint {
    const model = new OpenAICompatibleModel({ id: name, baseUrl: urls[name], model: 'm', apiKey: KEY });
    return { model, info: { id: name, provider: 'openai', model: 'm', baseUrl: urls[name], ...limits } };
  }

  async function runOn(endpoints: RunEndpoint[], files: SourceFile[], extra: { signal?: AbortSignal; onEvent?: (e: RunEvent) => void; parameters?: Partial<RunParameters> } = {}) {
    await writeFiles(ws, treeOf(files));
    const plan = createPlan(files, { prompt: PROMPT, tokenizer, chunk: { chunkTokens: 200, overlapTokens: 0 }, pack: { chunksPerBatch: 1, maxBatchTokens: 32768 } });
    const dir = path.join(ws, 'run');
    const events: RunEvent[] = [];
    const { summary } = await runPlan(plan, {
      root: ws,
      dir,
      prompt: PROMPT,
      model: endpoints[0].model,
      modelInfo: endpoints[0].info,
      endpoints,
      tokenizer,
      parameters: { ...parameters, ...extra.parameters },
      signal: extra.signal,
      onEvent: (e) => {
        events.push(e);
        extra.onEvent?.(e);
      },
    });
    return { dir, summary, events, plan };
  }

  /** Every chunk has exactly one record, succeeded, and its file's output holds its result. */
  async function assertEveryChunkOnce(dir: string, files: SourceFile[], summary: RunSummary) {
    const records = await readRecords(dir);
    const ids = files.map((_, i) => `${i + 1}.1`);
    assert.deepStrictEqual(records.map((r) => r.chunkId).sort(), [...ids].sort(), 'one record per chunk');
    for (const r of records) assert.strictEqual(r.status, 'succeeded', `${r.chunkId}: ${r.error?.message}`);
    assert.strictEqual(summary.succeeded, files.length);
    assert.strictEqual(summary.status, 'succeeded');
    for (const [i, f] of files.entries()) {
      const out = await fs.readFile(path.join(dir, 'outputs', `${f.path}.md`), 'utf8');
      assert.ok(out.includes(`OUT[${i + 1}.1]`), `${f.path} has its output`);
    }
    return records;
  }

  it('spreads batches by each endpoint\'s pace and limits, drops the one that starts failing, and records who served what', async () => {
    const scripts: Record<string, Script> = { fast: slow(10), slow: slow(300), limited: rateLimitedEvery(3, 400, 10), failing: failingAfter(2, SERVER_ERROR, 10) };
    for (const n of names) servers[n].script = scripts[n];
    const files = sourceFiles(48);
    const { dir, summary, events } = await runOn(names.map((n) => endpoint(n)), files);
    const records = await assertEveryChunkOnce(dir, files, summary);

    const dropped = events.filter((e): e is Extract<RunEvent, { type: 'endpoint-dropped' }> => e.type === 'endpoint-dropped');
    assert.deepStrictEqual(dropped.map((e) => [e.endpoint, e.reason.kind, e.remaining, e.others]), [['failing', 'transient', 3, ['fast', 'slow', 'limited']]]);
    assert.match(dropped[0].reason.message, /3 failures in a row/);
    const failingSent = servers.failing.requests.length;
    assert.ok(failingSent >= 5 && failingSent <= 6, `two answered, then three failures and out (one more may have been in flight): ${failingSent}`);

    assert.ok(servers.slow.requests.length >= 1, 'the slow endpoint served too');
    assert.ok(servers.slow.requests.length < servers.fast.requests.length, `slow ${servers.slow.requests.length} < fast ${servers.fast.requests.length}`);
    for (const n of names) assert.ok(servers[n].peakInFlight <= 2, `${n}: its own concurrency bound`);

    // Per endpoint, the summary matches what the servers logged.
    const byId = new Map(summary.endpoints!.map((e) => [e.id, e]));
    assert.deepStrictEqual([...byId.keys()], [...names]);
    for (const n of names) {
      const e = byId.get(n)!;
      assert.deepStrictEqual({ requests: e.requests, failures: e.failures, inputTokens: e.inputTokens, outputTokens: e.outputTokens }, served(servers[n], scripts[n]), n);
      assert.ok(e.meanLatencyMs > 0, `${n}: latency measured`);
    }
    assert.strictEqual(byId.get('failing')!.dropped!.kind, 'transient');
    assert.ok(!byId.get('fast')!.dropped && !byId.get('slow')!.dropped && !byId.get('limited')!.dropped);
    assert.ok(byId.get('slow')!.meanLatencyMs > byId.get('fast')!.meanLatencyMs);
    assert.strictEqual(summary.requests, names.reduce((n, s) => n + servers[s].requests.length, 0));

    // Each record names the endpoint whose server answered that chunk last.
    for (const r of records) {
      const server = servers[r.endpoint as (typeof names)[number]];
      assert.ok(server, `${r.chunkId} names an endpoint`);
      const last = server.requests.filter((q) => q.chunks.some((c) => c.id === r.chunkId)).pop();
      assert.ok(last && (scripts[r.endpoint!](last) ?? { kind: 'ok' }).kind === 'ok', `${r.chunkId} was answered by ${r.endpoint}`);
    }
    const saved = JSON.parse(await fs.readFile(path.join(dir, 'summary.json'), 'utf8')) as RunSummary;
    assert.deepStrictEqual(saved.endpoints, summary.endpoints);
    const meta = JSON.parse(await fs.readFile(path.join(dir, 'run.json'), 'utf8')) as RunMeta;
    const report = renderReport(meta, summary, records);
    assert.ok(report.includes('## Endpoints'));
    assert.match(report, new RegExp(`\\| slow \\| ${byId.get('slow')!.requests} \\| 0 \\|`));
    const f = byId.get('failing')!;
    assert.ok(report.includes(`| failing | ${f.requests} | ${f.failures} | ${f.inputTokens} | ${f.outputTokens} |`), report);
    assert.match(report, /\| failing \|.*\*\*dropped\*\*: transient: 3 failures in a row/);
    assert.ok(describeEndpoints(summary).some((l) => l.includes('failing') && l.includes('dropped')));
  });

  it('an endpoint whose key is refused leaves the rotation; its batches go to the others without being charged an attempt', async () => {
    servers.fast.script = slow(20);
    servers.failing.script = failingAfter(3, BAD_KEY);
    const files = sourceFiles(30);
    const { dir, summary, events } = await runOn([endpoint('failing'), endpoint('fast')], files);
    const records = await assertEveryChunkOnce(dir, files, summary);
    const dropped = events.filter((e) => e.type === 'endpoint-dropped');
    assert.strictEqual(dropped.length, 1);
    assert.deepStrictEqual(summary.endpoints!.map((e) => [e.id, e.dropped?.kind]), [['failing', 'auth'], ['fast', undefined]]);
    assert.ok(summary.endpoints![0].dropped!.message.includes('refused the API key'));
    assert.ok(!JSON.stringify(summary).includes(KEY), 'no key in the summary');
    assert.ok(servers.failing.requests.length > 3, 'the refused requests were sent');
    for (const r of records) assert.strictEqual(r.attempts, 1, `${r.chunkId}: a refused key costs no attempt`);
    assert.strictEqual(summary.fatal, undefined);
  });

  it('a rate-limited endpoint pulls no work while paused; one asked to wait longer than a minute is dropped', async () => {
    servers.fast.script = slow(20);
    servers.limited.script = (r) => (r.n === 1 ? rateLimitedEvery(1, 1500)(r) : { kind: 'ok' });
    servers.failing.script = rateLimitedEvery(1, 120_000);
    const files = sourceFiles(30);
    const { dir, summary, events } = await runOn([endpoint('limited', { maxConcurrency: 1 }), endpoint('failing'), endpoint('fast')], files);
    await assertEveryChunkOnce(dir, files, summary);
    const first429 = servers.limited.requests[0];
    for (const r of servers.limited.requests.slice(1)) {
      assert.ok(r.receivedAt >= first429.receivedAt + 1400, `request ${r.n} came ${r.receivedAt - first429.receivedAt} ms after the 429 asked for 1500`);
    }
    const dropped = events.filter((e): e is Extract<RunEvent, { type: 'endpoint-dropped' }> => e.type === 'endpoint-dropped');
    assert.deepStrictEqual(dropped.map((e) => [e.endpoint, e.reason.kind]), [['failing', 'rate-limited']]);
    assert.match(dropped[0].reason.message, /asked to wait 120 s/);
    assert.ok(servers.fast.requests.length > servers.limited.requests.length);
  });

  // The drop thresholds are run parameters (CLI --drop-after-*, settings batchPrompt.dropEndpointAfter*).
  const thresholds: [string, Partial<RunParameters>, Script, { requests: number; dropped?: RegExp }][] = [
    ['three 500s in a row by default', {}, () => SERVER_ERROR, { requests: 3, dropped: /^transient: 3 failures in a row/ }],
    ['one 500 with dropAfterFailures 1', { dropAfterFailures: 1 }, () => SERVER_ERROR, { requests: 1, dropped: /^transient: 1 failure in a row/ }],
    ['five 500s with dropAfterFailures 5', { dropAfterFailures: 5 }, () => SERVER_ERROR, { requests: 5, dropped: /^transient: 5 failures in a row/ }],
    ['no drop for a 429 asking 5 s by default (60 s)', {}, rateLimitedEvery(1, 5000), { requests: 1 }],
    ['a 429 asking 5 s with dropAfterRetryAfterMs 2000', { dropAfterRetryAfterMs: 2000 }, rateLimitedEvery(1, 5000), { requests: 1, dropped: /^rate-limited: asked to wait 5 s/ }],
  ];
  for (const [name, params, script, expected] of thresholds) {
    it(`drop thresholds: ${name}`, async () => {
      servers.fast.script = slow(40);
      servers.failing.script = script;
      const files = sourceFiles(12);
      const { dir, summary } = await runOn([endpoint('failing', { maxConcurrency: 1 }), endpoint('fast')], files, { parameters: params });
      await assertEveryChunkOnce(dir, files, summary);
      const failing = summary.endpoints![0];
      assert.strictEqual(servers.failing.requests.length, expected.requests);
      if (expected.dropped) assert.match(`${failing.dropped?.kind}: ${failing.dropped?.message}`, expected.dropped);
      else assert.strictEqual(failing.dropped, undefined);
    });
  }

  it('when every endpoint is paused, work resumes as soon as the first pause ends (not the longest)', async function () {
    // Bounded: had the executor slept until the 30 s pause ended, the test would time out.
    this.timeout(10_000);
    servers.limited.script = rateLimitedEvery(1, 30_000);
    servers.fast.script = (r) => (r.n === 1 ? { ...rateLimitedEvery(1, 300)(r)!, delayMs: 200 } : { kind: 'ok' });
    const files = sourceFiles(6);
    // No retries: nothing but the pump's own timer can start the queued chunks again.
    const { dir, summary } = await runOn([endpoint('limited', { maxConcurrency: 1 }), endpoint('fast', { maxConcurrency: 1 })], files, { parameters: { maxRetries: 0 } });
    const records = await readRecords(dir);
    assert.deepStrictEqual(records.map((r) => r.chunkId).sort(), files.map((_, i) => `${i + 1}.1`).sort(), 'one record per chunk');
    assert.deepStrictEqual(records.filter((r) => r.status !== 'succeeded').map((r) => r.error?.kind), ['rate-limited', 'rate-limited'], 'the two 429s, not retried');
    assert.strictEqual(summary.succeeded, files.length - 2);
    assert.strictEqual(servers.limited.requests.length, 1, 'the endpoint paused for 30 s pulled no more work');
    assert.strictEqual(servers.fast.requests.length, files.length - 1);
  });

  it('the run fails only when no endpoint is left, with a message naming each', async () => {
    servers.fast.script = () => BAD_KEY;
    servers.failing.script = failingAfter(1, { kind: 'status', status: 404, body: { error: { message: 'The model `m` does not exist.', type: 'invalid_request_error', code: 'model_not_found' } } });
    const files = sourceFiles(12);
    const { dir, summary, events } = await runOn([endpoint('fast'), endpoint('failing')], files);
    assert.strictEqual(summary.status, 'failed');
    assert.ok(summary.fatal, 'fatal');
    assert.match(summary.fatal!.message, /No endpoint is left/);
    assert.ok(summary.fatal!.message.includes('fast') && summary.fatal!.message.includes('failing'), summary.fatal!.message);
    assert.deepStrictEqual(events.filter((e) => e.type === 'endpoint-dropped').length, 2);
    assert.ok(summary.endpoints!.every((e) => e.dropped));
    const records = await readRecords(dir);
    assert.deepStrictEqual(records.map((r) => r.chunkId).sort(), files.map((_, i) => `${i + 1}.1`).sort(), 'one record per chunk');
    const succeeded = records.filter((r) => r.status === 'succeeded').length;
    assert.strictEqual(succeeded, 1, 'only the one answered request succeeded');
    assert.strictEqual(summary.canceled, files.length - succeeded);
  });

  // A chunk sent to an endpoint that then leaves the run still spent that attempt when it failed
  // transiently (it was sent and failed): with maxRetries 3 no chunk goes out more than 4 times for
  // transient failures, whichever endpoints served it. Only a fatal error of the dropped endpoint is free.
  const budgets: [string, Partial<RunParameters>, Script, Script][] = [
    ['one endpoint always 500, dropped after 3', {}, () => SERVER_ERROR, slow(60)],
    ['one endpoint always 500, dropped after 5 (more than the budget)', { dropAfterFailures: 5 }, () => SERVER_ERROR, slow(60)],
    ['one endpoint always 500, the other failing every other request', {}, () => SERVER_ERROR, (r) => (r.n % 2 === 0 ? SERVER_ERROR : { kind: 'ok', delayMs: 30 })],
    ['two 500s then a refused key', {}, (r) => (r.n <= 2 ? SERVER_ERROR : BAD_KEY), (r) => (r.n % 2 === 0 ? SERVER_ERROR : { kind: 'ok', delayMs: 30 })],
  ];
  for (const [name, params, failingScript, fastScript] of budgets) {
    it(`retry budget across a dropped endpoint: ${name}`, async () => {
      servers.failing.script = failingScript;
      servers.fast.script = fastScript;
      const maxRetries = 3;
      const files = sourceFiles(16);
      const { dir, events } = await runOn([endpoint('failing'), endpoint('fast')], files, { parameters: { maxRetries, ...params } });
      // Transient sends per chunk, from the servers' own logs (a refused key is not charged).
      const charged = new Map<string, number>();
      for (const [server, script] of [[servers.failing, failingScript], [servers.fast, fastScript]] as const) {
        for (const r of server.requests) {
          const b = script(r);
          if (b?.kind === 'status' && b.status === 401) continue;
          for (const c of r.chunks) charged.set(c.id, (charged.get(c.id) ?? 0) + 1);
        }
      }
      for (const [id, n] of charged) assert.ok(n <= maxRetries + 1, `${id} was sent ${n} times (charged) with maxRetries ${maxRetries}`);
      for (const e of events) {
        if (e.type === 'retry-scheduled') assert.ok(e.attempt <= maxRetries + 1, `${e.batchId}: retry-scheduled says attempt ${e.attempt}`);
        if (e.type === 'batch-started') assert.ok(e.attempt <= maxRetries + 1, `${e.batchId}: batch-started says attempt ${e.attempt}`);
      }
      const records = await readRecords(dir);
      assert.deepStrictEqual(records.map((r) => r.chunkId).sort(), files.map((_, i) => `${i + 1}.1`).sort(), 'one record per chunk');
      for (const r of records) {
        assert.ok(r.attempts <= maxRetries + 1, `${r.chunkId}: run.jsonl says ${r.attempts} attempts`);
        assert.strictEqual(r.attempts, charged.get(r.chunkId), `${r.chunkId}: its recorded attempts are its charged sends`);
      }
    });
  }

  it('resumes an interrupted several-endpoint run on all of its endpoints, rebuilt from run.json', async () => {
    servers.fast.script = slow(30);
    servers.slow.script = slow(60);
    const files = sourceFiles(30);
    const stop = new AbortController();
    let done = 0;
    const first = await runOn([endpoint('fast', { maxConcurrency: 1 }), endpoint('slow', { maxConcurrency: 1, requestsPerMinute: 600 })], files, {
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === 'chunk-finished' && e.outcome.status === 'succeeded' && ++done === 8) stop.abort();
      },
    });
    assert.strictEqual(first.summary.status, 'canceled');
    const meta = JSON.parse(await fs.readFile(path.join(first.dir, 'run.json'), 'utf8')) as RunMeta;
    assert.deepStrictEqual(meta.model, { id: 'fast', provider: 'openai', model: 'm', baseUrl: urls.fast });
    assert.deepStrictEqual(
      meta.endpoints!.map((e) => [e.id, e.baseUrl, e.maxConcurrency, e.requestsPerMinute]),
      [['fast', urls.fast, 1, undefined], ['slow', urls.slow, 1, 600]],
    );
    assert.ok(!JSON.stringify(meta).includes(KEY), 'no key in run.json');
    const succeededFirst = new Set((await readRecords(first.dir)).filter((r) => r.status === 'succeeded').map((r) => r.chunkId));

    for (const n of ['fast', 'slow'] as const) servers[n].requests.length = 0;
    const endpoints = endpointsOf(meta).map((info) => ({ model: new OpenAICompatibleModel({ id: info.id, baseUrl: info.baseUrl!, model: info.model!, apiKey: KEY }), info }));
    const { summary } = await resumeRun(first.dir, { roots: roots(), model: endpoints[0].model, endpoints, tokenizer });
    await assertEveryChunkOnceAfterResume(first.dir, files, summary, succeededFirst);
    assert.ok(servers.fast.requests.length > 0 && servers.slow.requests.length > 0, 'both endpoints served the resume');
    assert.ok(servers.slow.peakInFlight <= 1 && servers.fast.peakInFlight <= 1, 'each kept its recorded concurrency');
    const sent = [...servers.fast.sentChunkIds(), ...servers.slow.sentChunkIds()];
    assert.ok(!sent.some((id) => succeededFirst.has(id)), 'a chunk that succeeded is never sent again');
    assert.deepStrictEqual(summary.endpoints!.map((e) => [e.id, e.requests]), [['fast', servers.fast.requests.length], ['slow', servers.slow.requests.length]]);
  });

  async function assertEveryChunkOnceAfterResume(dir: string, files: SourceFile[], summary: RunSummary, before: Set<string>) {
    assert.strictEqual(summary.status, 'succeeded');
    const latest = new Map((await readRecords(dir)).map((r) => [r.chunkId, r]));
    assert.strictEqual(latest.size, files.length);
    for (const [id, r] of latest) {
      assert.strictEqual(r.status, 'succeeded', id);
      if (!before.has(id)) assert.ok(r.endpoint === 'fast' || r.endpoint === 'slow', `${id} names its endpoint`);
    }
    for (const f of files) await fs.access(path.join(dir, 'outputs', `${f.path}.md`));
  }
});
