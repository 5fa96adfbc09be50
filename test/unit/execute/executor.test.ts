import * as assert from 'assert';
import { useServer } from '../../support/localServer';
import { chunkFile } from '../../../src/core/plan/chunker';
import { SourceChangedError } from '../../../src/core/execute/errors';
import type { ChunkOutcome, RunEvent } from '../../../src/core/execute/events';
import { executeRequests, type ExecutorOptions } from '../../../src/core/execute/executor';
import { packRequests } from '../../../src/core/plan/packer';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { PackedRequest, Chunk, SourceFile } from '../../../src/core/plan/types';
import { OpenAICompatibleModel } from '../../../src/providers/openaiCompatible';
import { defaultOutput, ModelServer } from '../../support/modelServer';

const tokenizer = getTokenizer('o200k_base');
const KEY = 'sk-exec-KEY-9876543210';

function sourceFiles(n: number, lines = 20): SourceFile[] {
  return Array.from({ length: n }, (_, f) => ({
    path: `src/file${f}.ts`,
    text: Array.from({ length: lines }, (_, l) => `export const v${f}_${l} = ${f * 1000 + l}; // line ${l} of file ${f}`).join('\n') + '\n',
  }));
}

function plan(files: SourceFile[], chunkTokens = 8192, chunksPerBatch = 4, maxBatchTokens = 32768): { chunks: Chunk[]; batches: PackedRequest<Chunk>[] } {
  const chunks = files.flatMap((f, i) => chunkFile(f, i, tokenizer, { chunkTokens, overlapTokens: Math.min(100, Math.floor(chunkTokens / 4)) }));
  return { chunks, batches: packRequests(chunks, 'Upper-case it.', tokenizer, { chunksPerBatch, maxBatchTokens }) };
}

/** Runs and collects everything; asserts the invariant of every run: each chunk ends exactly once. */
async function run(_server: ModelServer, baseUrl: string, batches: PackedRequest<Chunk>[], extra: Partial<ExecutorOptions> = {}) {
  const outcomes: ChunkOutcome[] = [];
  const events: { at: number; e: RunEvent }[] = [];
  const model = extra.model ?? new OpenAICompatibleModel({ baseUrl, model: 'test', apiKey: KEY });
  const summary = await executeRequests(batches, {
    prompt: 'Upper-case it.',
    model,
    tokenizer,
    random: () => 0,
    onEvent: (e) => events.push({ at: Date.now(), e }),
    onOutcome: (o) => void outcomes.push(o),
    ...extra,
  });
  const ids = batches.flatMap((b) => b.chunks.map((c) => c.id));
  assert.deepStrictEqual(outcomes.map((o) => o.chunk.id).sort(), [...ids].sort(), 'every chunk ends exactly once');
  assert.strictEqual(summary.succeeded + summary.failed + summary.canceled, ids.length);
  const byId = new Map(outcomes.map((o) => [o.chunk.id, o]));
  return { outcomes, byId, events, summary };
}

function assertOwnOutput(o: ChunkOutcome, chunk: Chunk): void {
  assert.strictEqual(o.status, 'succeeded', `${chunk.id}: ${o.error?.message}`);
  assert.strictEqual(o.output, defaultOutput({ id: chunk.id, path: chunk.path, lines: '', text: chunk.text }));
}

describe('executor', function () {
  this.timeout(90_000);
  const server = new ModelServer();
  let baseUrl = '';
  useServer(server, (url) => (baseUrl = url));

  it('runs every batch concurrently within the bound; each chunk gets its own output', async () => {
    const { chunks, batches } = plan(sourceFiles(40));
    server.script = () => ({ kind: 'ok', delayMs: 30 });
    const { byId, summary, events } = await run(server, baseUrl, batches, { maxConcurrency: 3 });
    for (const c of chunks) assertOwnOutput(byId.get(c.id)!, c);
    assert.strictEqual(summary.succeeded, 40);
    assert.strictEqual(server.requests.length, batches.length, 'one request per batch');
    assert.ok(server.peakInFlight <= 3, `peak ${server.peakInFlight}`);
    assert.ok(server.peakInFlight >= 2, 'requests overlap');
    assert.strictEqual(events[0].e.type, 'run-started');
    assert.strictEqual(events[events.length - 1].e.type, 'run-finished');
  });

  it('a 429 pauses every worker for its Retry-After and halves concurrency', async () => {
    const { chunks, batches } = plan(sourceFiles(24), 8192, 1);
    server.script = (r) =>
      r.n === 3
        ? { kind: 'status', status: 429, body: { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } }, headers: { 'retry-after-ms': '400' } }
        : { kind: 'ok', delayMs: 20 };
    const { byId, events } = await run(server, baseUrl, batches, { maxConcurrency: 4 });
    for (const c of chunks) assertOwnOutput(byId.get(c.id)!, c);
    // Measured where the client is: once it has seen the 429, no worker starts a request for 400 ms.
    const seen429 = events.find((x) => x.e.type === 'batch-finished' && x.e.error?.kind === 'rate-limited')!.at;
    const startedAfter = events.filter((x) => x.e.type === 'batch-started' && x.at >= seen429);
    assert.ok(startedAfter.length > 0);
    for (const x of startedAfter) assert.ok(x.at - seen429 >= 395, `a request started ${x.at - seen429} ms after the 429`);
    const change = events.find((x) => x.e.type === 'concurrency-changed')?.e;
    assert.deepStrictEqual(change && { ...change }, { type: 'concurrency-changed', from: 4, to: 2, reason: 'rate-limited' });
    assert.ok(events.some((x) => x.e.type === 'waiting' && x.e.reason === 'rate-limited'));
    const retried = [...byId.values()].filter((o) => o.attempts === 2);
    assert.strictEqual(retried.length, 1, 'only the rate-limited request is sent again');
  });

  it('retries 500s with backoff, and fails only the chunks that keep failing', async () => {
    const { chunks, batches } = plan(sourceFiles(8), 8192, 2);
    const flaky = new Map<string, number>();
    server.script = (r) => {
      const first = r.chunks[0].path;
      if (first === 'src/file0.ts') return { kind: 'status', status: 500, body: { error: { message: 'boom', type: 'server_error', code: null } } };
      const n = (flaky.get(first) ?? 0) + 1;
      flaky.set(first, n);
      if (first === 'src/file2.ts' && n <= 2) return { kind: 'status', status: 503 };
      return undefined;
    };
    const { byId, summary, events } = await run(server, baseUrl, batches, { maxRetries: 3 });
    for (const c of chunks.filter((c) => !['src/file0.ts', 'src/file1.ts'].includes(c.path))) assertOwnOutput(byId.get(c.id)!, c);
    assert.strictEqual(byId.get('3.1')!.attempts, 3);
    for (const id of ['1.1', '2.1']) {
      const o = byId.get(id)!;
      assert.strictEqual(o.status, 'failed');
      assert.strictEqual(o.error!.kind, 'transient');
      assert.strictEqual(o.attempts, 4, 'first try plus maxRetries');
    }
    assert.strictEqual(summary.failed, 2);
    assert.strictEqual(summary.fatal, undefined, 'a failing chunk never fails the run');
    assert.strictEqual(events.filter((x) => x.e.type === 'retry-scheduled').length, 3 + 2);
  });

  it('retries a request that hangs past the timeout, and a reset connection', async () => {
    const { chunks, batches } = plan(sourceFiles(3), 8192, 1);
    server.script = (r) => {
      const p = r.chunks[0].path;
      const seen = server.requests.filter((x) => x.chunks[0]?.path === p).length;
      if (p === 'src/file0.ts' && seen === 1) return { kind: 'hang' };
      if (p === 'src/file1.ts' && seen === 1) return { kind: 'reset' };
      return undefined;
    };
    const { byId, events } = await run(server, baseUrl, batches, { requestTimeoutMs: 300 });
    for (const c of chunks) assertOwnOutput(byId.get(c.id)!, c);
    assert.strictEqual(byId.get('1.1')!.attempts, 2);
    assert.strictEqual(byId.get('2.1')!.attempts, 2);
    const reasons = events.flatMap((x) => (x.e.type === 'retry-scheduled' ? [x.e.reason] : [])).sort();
    assert.deepStrictEqual(reasons, ['timeout', 'transient']);
  });

  it('splits a batch that overflows the context, then a chunk that alone overflows; never resends one unchanged', async () => {
    const files = sourceFiles(6, 30);
    files[2] = { path: 'src/big.ts', text: sourceFiles(1, 200)[0].text };
    const { chunks, batches } = plan(files);
    const big = chunks.find((c) => c.path === 'src/big.ts')!;
    server.maxChars = big.text.length * 0.8;
    const { byId, events } = await run(server, baseUrl, batches);
    for (const c of chunks.filter((c) => c !== big)) assertOwnOutput(byId.get(c.id)!, c);
    const o = byId.get(big.id)!;
    assert.strictEqual(o.status, 'succeeded', o.error?.message);
    assert.match(o.output!, /^OUT\[3\.1a+\]/);
    const bodies = o.output!.split(/OUT\[3\.1[ab]+\]\n/).filter(Boolean);
    assert.ok(bodies.length >= 2, 'the outputs of the parts are joined in order');
    assert.strictEqual(bodies.join('').replace(/\n/g, ''), big.text.toUpperCase().replace(/\n/g, ''));
    assert.ok(events.some((x) => x.e.type === 'batch-split'));
    const overflowed = server.requests.filter((r) => r.chars > server.maxChars).map((r) => r.chunks.map((c) => c.id).join(','));
    assert.strictEqual(new Set(overflowed).size, overflowed.length, 'an overflowing request is never sent twice');
  });

  it('retries alone a chunk missing from a packed reply, and ignores ids it did not ask for', async () => {
    const { chunks, batches } = plan(sourceFiles(4), 8192, 4);
    server.script = (r) => (r.n === 1 ? { kind: 'ok', drop: ['2.1'], extra: '<result id="77.7">\nstray\n</result>\n' } : undefined);
    const { byId, events } = await run(server, baseUrl, batches);
    for (const c of chunks) assertOwnOutput(byId.get(c.id)!, c);
    assert.deepStrictEqual(server.requests.map((r) => r.chunks.map((c) => c.id)), [['1.1', '2.1', '3.1', '4.1'], ['2.1']]);
    assert.ok(events.some((x) => x.e.type === 'reply-warning' && x.e.message.includes('77.7')));
  });

  it('fails a chunk with bad-reply when every reply lacks it', async () => {
    const { batches } = plan(sourceFiles(2), 8192, 2);
    server.script = () => ({ kind: 'ok', drop: ['2.1'] });
    const { byId } = await run(server, baseUrl, batches, { maxRetries: 2 });
    assert.strictEqual(byId.get('1.1')!.status, 'succeeded');
    assert.strictEqual(byId.get('2.1')!.status, 'failed');
    assert.strictEqual(byId.get('2.1')!.error!.kind, 'bad-reply');
    assert.strictEqual(byId.get('2.1')!.attempts, 3);
  });

  it('ends the run at once on a bad key: queued chunks canceled, the key in no message', async () => {
    const { batches } = plan(sourceFiles(20), 8192, 1);
    server.script = () => ({ kind: 'status', status: 401, body: { error: { message: `Incorrect API key provided: ${KEY}`, type: 'invalid_request_error', code: 'invalid_api_key' } } });
    const { outcomes, summary } = await run(server, baseUrl, batches, { maxConcurrency: 2 });
    assert.strictEqual(summary.fatal?.kind, 'auth');
    assert.ok(!summary.fatal!.message.includes(KEY));
    assert.ok(outcomes.every((o) => o.status === 'canceled'));
    assert.ok(server.requests.length <= 2, `${server.requests.length} requests sent after a 401`);
    assert.ok(!JSON.stringify(outcomes).includes(KEY));
  });

  it('ends the run on insufficient_quota instead of waiting', async () => {
    const { batches } = plan(sourceFiles(5), 8192, 1);
    server.script = () => ({ kind: 'status', status: 429, body: { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' } } });
    const { summary } = await run(server, baseUrl, batches, { maxConcurrency: 1 });
    assert.strictEqual(summary.fatal?.kind, 'quota');
    assert.strictEqual(server.requests.length, 1);
  });

  it('cancels: requests in flight are aborted, finished results kept, the rest canceled', async () => {
    const { chunks, batches } = plan(sourceFiles(12), 8192, 1);
    const ac = new AbortController();
    server.script = (r) => {
      if (r.n <= 2) return { kind: 'ok' };
      if (r.n === 4) setTimeout(() => ac.abort(), 50);
      return { kind: 'hang' };
    };
    const { byId, summary } = await run(server, baseUrl, batches, { signal: ac.signal, maxConcurrency: 2 });
    // The abort, not a timeout, ended them: the client closed every request left hanging (the server's
    // log), the mocha timeout is the only bound against a hang.
    const hanging = server.requests.slice(2);
    assert.ok(hanging.length >= 1);
    while (!hanging.every((r) => r.closedByClient)) await new Promise((r) => setTimeout(r, 10));
    assert.strictEqual(summary.succeeded, 2);
    assert.strictEqual(summary.canceled, chunks.length - 2);
    for (const o of byId.values()) if (o.status === 'succeeded') assertOwnOutput(o, chunks.find((c) => c.id === o.chunk.id)!);
    assert.ok(server.requests.length <= 4, 'no new request after cancel');
  });

  it('fails the chunks of a file that changed after planning, and goes on with the rest', async () => {
    const { chunks, batches } = plan(sourceFiles(3), 8192, 1);
    const refs = batches.map((b) => ({ ...b, chunks: b.chunks.map(({ text: _t, ...ref }) => ref) }));
    const { byId } = await run(server, baseUrl, refs as unknown as PackedRequest<Chunk>[], {
      loadText: (c) => {
        if (c.path === 'src/file1.ts') throw new SourceChangedError('src/file1.ts changed after the run was planned.');
        return chunks.find((x) => x.id === c.id)!.text;
      },
    });
    assert.strictEqual(byId.get('2.1')!.status, 'failed');
    assert.strictEqual(byId.get('2.1')!.error!.kind, 'source-changed');
    assertOwnOutput(byId.get('1.1')!, chunks[0]);
    assertOwnOutput(byId.get('3.1')!, chunks[2]);
  });
});
