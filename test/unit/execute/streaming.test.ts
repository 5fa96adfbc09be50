import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as path from 'path';
import { runCli } from '../../support/cli';
import { useServer } from '../../support/localServer';
import { useWorkspace } from '../../support/tempWorkspace';
import { AuthError, BadReplyError, CanceledError, RateLimitedError, TransientError, TruncatedError } from '../../../src/core/execute/errors';
import type { ChatModel, ChatResponse } from '../../../src/core/execute/model';
import { chunkFile } from '../../../src/core/plan/chunker';
import type { ChunkOutcome, RunEvent } from '../../../src/core/execute/events';
import { executeRequests } from '../../../src/core/execute/executor';
import { packRequests } from '../../../src/core/plan/packer';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { PackedRequest, Chunk } from '../../../src/core/plan/types';
import { AnthropicModel } from '../../../src/providers/anthropic';
import { decodeBody } from '../../../src/providers/http/http';
import { OllamaModel } from '../../../src/providers/ollama';
import { OpenAICompatibleModel } from '../../../src/providers/openaiCompatible';
import { LineSplitter, SseParser, type SseEvent } from '../../../src/providers/http/streamParse';
import { AnthropicServer } from '../../support/anthropicServer';
import { defaultOutput, ModelServer } from '../../support/modelServer';
import { OllamaServer } from '../../support/ollamaServer';
import type { StreamScript } from '../../support/streamWriter';

const KEY = 'sk-stream-SECRET-0123456789';
/** Multi-byte characters of 2, 3 and 4 bytes in UTF-8, so that a byte-at-a-time stream splits each one. */
const WIDE = 'Grüße, 世界 🎉 — ok';

/** Feeds `text` to a fresh parser in pieces cut at `cuts` (character offsets); returns every event. */
function parseInPieces(text: string, cuts: number[]): SseEvent[] {
  const p = new SseParser();
  const out: SseEvent[] = [];
  let from = 0;
  for (const c of [...cuts, text.length]) {
    out.push(...p.push(text.slice(from, c)));
    from = c;
  }
  return [...out, ...p.end()];
}

describe('SSE parser', () => {
  const stream = ': comment\r\nevent: a\r\ndata: one\r\ndata:  two\r\n\r\ndata:x\n\nid: 7\rdata: {"k":"v"}\r\r: ping\n\nevent: empty\n\n';
  const expected: SseEvent[] = [
    { event: 'a', data: 'one\n two' },
    { event: 'message', data: 'x' },
    { event: 'message', data: '{"k":"v"}', id: '7' },
  ];

  it('reads events with \\r\\n, \\r and \\n line ends, multi-line data and comments, dropping events without data', () => {
    assert.deepStrictEqual(parseInPieces(stream, []), expected);
  });

  it('gives the same events however the text is cut, one character at a time included (a \\r\\n split in two)', () => {
    for (let cut = 0; cut <= stream.length; cut++) assert.deepStrictEqual(parseInPieces(stream, [cut]), expected, `cut at ${cut}`);
    assert.deepStrictEqual(parseInPieces(stream, Array.from({ length: stream.length }, (_, i) => i)), expected);
  });

  it('dispatches an event left without its blank line when the stream ends, and nothing twice', () => {
    assert.deepStrictEqual(parseInPieces('data: [DONE]', []), [{ event: 'message', data: '[DONE]' }]);
    assert.deepStrictEqual(parseInPieces('data: a\n\n', []), [{ event: 'message', data: 'a' }]);
  });

  it('ends a last line cut after its \\r at the end of the stream, and keeps the last id for the events after it', () => {
    assert.deepStrictEqual(parseInPieces('data: [DONE]\r', []), [{ event: 'message', data: '[DONE]' }]);
    assert.deepStrictEqual(parseInPieces('id: 1\ndata: a\n\ndata: b\n\nid:\ndata: c\n\n', [3]), [
      { event: 'message', data: 'a', id: '1' },
      { event: 'message', data: 'b', id: '1' },
      { event: 'message', data: 'c', id: '' },
    ]);
  });
});

describe('NDJSON line splitter', () => {
  it('returns whole lines only, with \\r\\n or \\n, blank lines skipped, and the unterminated last line at the end', () => {
    const s = new LineSplitter();
    assert.deepStrictEqual(s.push('{"a":1}\r\n{"b"'), ['{"a":1}']);
    assert.deepStrictEqual(s.push(':2}\n\n{"c":'), ['{"b":2}']);
    assert.deepStrictEqual(s.push('3}'), []);
    assert.deepStrictEqual(s.end(), ['{"c":3}']);
  });
});

/** A byte stream of the given pieces. */
function bytes(pieces: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({ pull: (c) => (i < pieces.length ? c.enqueue(pieces[i++]) : c.close()) });
}

describe('decodeBody', () => {
  it('decodes UTF-8 split at every byte (multi-byte characters across chunks) back to the same text', async () => {
    const all = new TextEncoder().encode(WIDE);
    let text = '';
    for await (const piece of decodeBody(bytes([...all].map((b) => Uint8Array.of(b))), { idleTimeoutMs: 10_000 })) text += piece;
    assert.strictEqual(text, WIDE);
  });

  it('a stall longer than the idle timeout is a transient error, and the body is cancelled', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => c.enqueue(new TextEncoder().encode('data: x\n\n')),
      cancel: () => void (cancelled = true),
    });
    const pieces: string[] = [];
    const err = await (async () => {
      for await (const p of decodeBody(body, { idleTimeoutMs: 20 })) pieces.push(p);
    })().then(() => undefined, (e: unknown) => e);
    assert.deepStrictEqual(pieces, ['data: x\n\n']);
    assert.ok(TransientError.is(err), String(err));
    assert.match((err as Error).message, /stalled/);
    assert.ok(cancelled, 'the body was cancelled');
  });
});

/** Asks with `onText`, collecting the deltas; resolves with the response or the error. */
async function stream(model: ChatModel, options: { idleTimeoutMs?: number; signal?: AbortSignal } = {}): Promise<{ res?: ChatResponse; err?: unknown; deltas: string[] }> {
  const deltas: string[] = [];
  const messages = [
    { role: 'system' as const, content: 'Upper-case each chunk.' },
    { role: 'user' as const, content: `<chunk id="1.1" path="a.ts" lines="1-2">\n${WIDE}\nsecond line\n</chunk>` },
  ];
  try {
    const res = await model.complete({ messages }, { signal: options.signal ?? new AbortController().signal, onText: (d) => deltas.push(d), idleTimeoutMs: options.idleTimeoutMs });
    return { res, deltas };
  } catch (err) {
    return { err, deltas };
  }
}

const EXPECTED = `<result id="1.1">\nOUT[1.1]\n${WIDE.toUpperCase()}\nSECOND LINE\n</result>`;

describe('streamed replies: OpenAI-compatible', function () {
  this.timeout(20_000);
  const server = new ModelServer();
  let baseUrl = '';
  useServer(server, (url) => (baseUrl = url));
  const model = () => new OpenAICompatibleModel({ baseUrl, model: 'gpt-test', apiKey: KEY });

  it('sends stream with include_usage; deltas arrive in pieces and concatenate to the text; usage and rate limits are read', async () => {
    server.script = () => ({ kind: 'ok', headers: { 'x-ratelimit-remaining-requests': '9' } });
    const { res, deltas, err } = await stream(model());
    assert.ifError(err);
    assert.strictEqual(res!.text, EXPECTED);
    assert.ok(deltas.length > 5, `${deltas.length} deltas`);
    assert.strictEqual(deltas.join(''), res!.text);
    assert.strictEqual(res!.finishReason, 'stop');
    assert.ok(res!.usage!.inputTokens > 0 && res!.usage!.outputTokens > 0, JSON.stringify(res!.usage));
    assert.strictEqual(res!.rateLimit?.remainingRequests, 9);
    assert.strictEqual(server.requests[0].body.stream, true);
    assert.deepStrictEqual(server.requests[0].body.stream_options, { include_usage: true });
    assert.strictEqual(server.requests[0].headers.accept, 'text/event-stream');
  });

  it('reads a stream sent one byte at a time with \\r\\n line ends (multi-byte characters split across writes)', async () => {
    server.script = () => ({ kind: 'ok', stream: { writeBytes: 1, crlf: true } });
    const { res, deltas, err } = await stream(model());
    assert.ifError(err);
    assert.strictEqual(res!.text, EXPECTED);
    assert.strictEqual(deltas.join(''), EXPECTED);
  });

  it('finish_reason length gives finishReason length', async () => {
    server.script = () => ({ kind: 'ok', finishReason: 'length' });
    const { res } = await stream(model());
    assert.strictEqual(res!.finishReason, 'length');
  });

  const broken: [string, StreamScript][] = [
    ['closes cleanly before [DONE]', { cutAfter: 4 }],
    ['closes in the middle of an event', { cutAfter: 4, cutInside: true }],
    ['resets the connection midway', { cutAfter: 4, cut: 'destroy' }],
  ];
  for (const [name, script] of broken) {
    it(`a stream that ${name} rejects with a transient error, after the deltas that arrived`, async () => {
      server.script = () => ({ kind: 'ok', stream: script });
      const { res, err, deltas } = await stream(model());
      assert.strictEqual(res, undefined);
      assert.ok(TransientError.is(err), String(err));
      assert.ok(deltas.length > 0 && EXPECTED.startsWith(deltas.join('')) && deltas.join('') !== EXPECTED);
    });
  }

  it('a stream that stalls longer than the idle timeout rejects with a transient error', async () => {
    server.script = () => ({ kind: 'ok', stream: { cutAfter: 3, cut: 'hang' } });
    const { err } = await stream(model(), { idleTimeoutMs: 50 });
    assert.ok(TransientError.is(err), String(err));
  });

  it('an error object midway rejects with a transient error (key redacted); aborting rejects with CanceledError', async () => {
    server.script = () => ({ kind: 'ok', streamError: { message: `server crashed for ${KEY}`, type: 'server_error', code: null } });
    const { err } = await stream(model());
    assert.ok(TransientError.is(err), String(err));
    assert.ok(!(err as Error).message.includes(KEY));
    const ac = new AbortController();
    server.script = () => ({ kind: 'ok', stream: { cutAfter: 3, cut: 'hang' } });
    const pending = stream(model(), { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    assert.ok(CanceledError.is((await pending).err), String((await pending).err));
  });

  it('errors before the stream starts map as without streaming (401 → auth, 429 → rate limited with Retry-After)', async () => {
    server.script = () => ({ kind: 'status', status: 401, body: { error: { message: `bad key ${KEY}`, type: 'invalid_request_error', code: 'invalid_api_key' } } });
    const auth = (await stream(model())).err;
    assert.ok(AuthError.is(auth) && !auth.message.includes(KEY), String(auth));
    server.script = () => ({ kind: 'status', status: 429, body: { error: { message: 'slow down', type: 'requests', code: 'rate_limit_exceeded' } }, headers: { 'retry-after': '3' } });
    const limited = (await stream(model())).err;
    assert.ok(RateLimitedError.is(limited) && limited.retryAfterMs === 3000, String(limited));
  });

  it('Azure streams too, from its deployment URL', async () => {
    const azure = new OpenAICompatibleModel({ provider: 'azure', baseUrl: baseUrl.replace(/\/v1$/, ''), model: 'dep', apiKey: KEY });
    const { res, deltas } = await stream(azure);
    assert.strictEqual(res!.text, EXPECTED);
    assert.strictEqual(deltas.join(''), EXPECTED);
    assert.match(server.requests[0].url, /^\/openai\/deployments\/dep\/chat\/completions\?api-version=/);
  });

  it('a server that ignores stream: true and answers one JSON body is read whole, its text passed on at once', async () => {
    server.script = () => ({ kind: 'status', status: 200, body: { choices: [{ message: { content: 'whole answer' }, finish_reason: 'length' }], usage: { prompt_tokens: 7, completion_tokens: 2 } } });
    const { res, deltas, err } = await stream(model());
    assert.ifError(err);
    assert.deepStrictEqual(deltas, ['whole answer']);
    assert.strictEqual(res!.finishReason, 'length');
    assert.deepStrictEqual(res!.usage, { inputTokens: 7, outputTokens: 2 });
  });

  it('without onText nothing is streamed', async () => {
    const res = await model().complete({ messages: [{ role: 'user', content: 'hi' }] }, { signal: new AbortController().signal });
    assert.ok(res.text.length >= 0);
    assert.strictEqual(server.requests[0].body.stream, false);
    assert.strictEqual(server.requests[0].body.stream_options, undefined);
  });
});

describe('streamed replies: Anthropic', function () {
  this.timeout(20_000);
  const server = new AnthropicServer();
  let baseUrl = '';
  useServer(server, (url) => (baseUrl = url));
  const model = () => new AnthropicModel({ baseUrl, model: 'claude-test', apiKey: KEY });

  it('reads message_start, text deltas (pings between), message_delta and message_stop: text, usage, stop reason', async () => {
    const { res, deltas, err } = await stream(model());
    assert.ifError(err);
    assert.strictEqual(res!.text, EXPECTED);
    assert.strictEqual(deltas.join(''), EXPECTED);
    assert.ok(deltas.length > 5);
    assert.ok(res!.usage!.inputTokens > 0);
    assert.strictEqual(res!.usage!.outputTokens, Math.ceil(EXPECTED.length / 4), 'output tokens from message_delta');
    assert.strictEqual(res!.finishReason, 'stop');
    assert.strictEqual(server.requests[0].body.stream, true);
  });

  it('one byte at a time, and stop_reason max_tokens → length', async () => {
    server.script = () => ({ kind: 'ok', stopReason: 'max_tokens', stream: { writeBytes: 1 } });
    const { res, deltas } = await stream(model());
    assert.strictEqual(res!.text, EXPECTED);
    assert.strictEqual(deltas.join(''), EXPECTED);
    assert.strictEqual(res!.finishReason, 'length');
  });

  it('an overloaded_error event midway is a transient error; a rate_limit_error event is rate limited', async () => {
    server.script = () => ({ kind: 'ok', errorAfter: { deltas: 3, type: 'overloaded_error', message: 'Overloaded' } });
    const over = await stream(model());
    assert.ok(TransientError.is(over.err), String(over.err));
    assert.match((over.err as Error).message, /overloaded_error/);
    assert.strictEqual(over.deltas.length, 3);
    server.script = () => ({ kind: 'ok', errorAfter: { deltas: 1, type: 'rate_limit_error', message: 'slow' } });
    assert.ok(RateLimitedError.is((await stream(model())).err));
  });

  it('a stream without message_stop (closed, or reset) is transient; errors before the stream map as usual', async () => {
    server.script = () => ({ kind: 'ok', stream: { cutAfter: 6 } });
    assert.ok(TransientError.is((await stream(model())).err));
    server.script = () => ({ kind: 'ok', stream: { cutAfter: 6, cutInside: true, cut: 'destroy' } });
    assert.ok(TransientError.is((await stream(model())).err));
    server.script = () => ({ kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' });
    assert.ok(TransientError.is((await stream(model())).err));
    server.script = () => ({ kind: 'error', status: 401, type: 'authentication_error', message: 'invalid x-api-key' });
    assert.ok(AuthError.is((await stream(model())).err));
  });

  it('a complete stream without message_start is a bad reply', async () => {
    const { readAnthropicStream } = await import('../../../src/providers/anthropic');
    async function* only() {
      yield 'event: message_stop\ndata: {"type":"message_stop"}\n\n';
    }
    const err = await readAnthropicStream(only(), new Headers(), () => undefined).catch((e: unknown) => e);
    assert.ok(BadReplyError.is(err), String(err));
  });
});

describe('streamed replies: Ollama', function () {
  this.timeout(20_000);
  const server = new OllamaServer();
  let baseUrl = '';
  useServer(server, (url) => (baseUrl = url));
  const model = () => new OllamaModel({ baseUrl, model: 'llama3.2' });

  it('reads NDJSON lines to the done line: text, prompt_eval_count and eval_count, done_reason', async () => {
    const { res, deltas, err } = await stream(model());
    assert.ifError(err);
    assert.strictEqual(res!.text, EXPECTED);
    assert.strictEqual(deltas.join(''), EXPECTED);
    assert.ok(deltas.length > 5);
    assert.strictEqual(res!.usage!.inputTokens, server.requests[0].tokens);
    assert.strictEqual(res!.usage!.outputTokens, Math.ceil(EXPECTED.length / 4));
    assert.strictEqual(server.requests[0].body.stream, true);
    assert.ok(server.requests[0].body.options?.num_ctx);
  });

  it('one byte at a time with \\r\\n, and done_reason length → length', async () => {
    server.script = () => ({ kind: 'ok', doneReason: 'length', stream: { writeBytes: 1, crlf: true } });
    const { res } = await stream(model());
    assert.strictEqual(res!.text, EXPECTED);
    assert.strictEqual(res!.finishReason, 'length');
  });

  it('the truncation rule judges the streamed done line: a cut prompt is a TruncatedError', async () => {
    server.maxNumCtx = 2048;
    const long = 'export const value = computeSomething(input);\n'.repeat(400);
    const deltas: string[] = [];
    const err = await model()
      .complete({ messages: [{ role: 'user', content: `<chunk id="1.1" path="a.ts" lines="1-400">\n${long}\n</chunk>` }] }, { signal: new AbortController().signal, onText: (d) => deltas.push(d) })
      .catch((e: unknown) => e);
    assert.ok(TruncatedError.is(err), String(err));
    assert.ok(deltas.length > 0, 'the text streamed before the verdict');
  });

  it('an error line midway, a stream without its done line and a reset are transient', async () => {
    server.script = () => ({ kind: 'ok', errorAfter: { lines: 2, error: 'an error was encountered while running the model' } });
    const e1 = (await stream(model())).err;
    assert.ok(TransientError.is(e1) && /running the model/.test(e1.message), String(e1));
    server.script = () => ({ kind: 'ok', stream: { cutAfter: 3 } });
    assert.ok(TransientError.is((await stream(model())).err));
    server.script = () => ({ kind: 'ok', stream: { cutAfter: 3, cutInside: true, cut: 'destroy' } });
    assert.ok(TransientError.is((await stream(model())).err));
  });
});

describe('executor with streamed replies', function () {
  this.timeout(90_000);
  const server = new ModelServer();
  let baseUrl = '';
  useServer(server, (url) => (baseUrl = url));
  const tokenizer = getTokenizer('o200k_base');

  function batchesOf(files: number, chunksPerBatch: number): { chunks: Chunk[]; batches: PackedRequest<Chunk>[] } {
    const sources = Array.from({ length: files }, (_, f) => ({ path: `src/f${f}.ts`, text: `// ${WIDE}\nexport const v${f} = ${f};\n` }));
    const chunks = sources.flatMap((s, i) => chunkFile(s, i, tokenizer, { chunkTokens: 8192, overlapTokens: 0 }));
    return { chunks, batches: packRequests(chunks, 'Upper-case it.', tokenizer, { chunksPerBatch, maxBatchTokens: 32768 }) };
  }

  async function execute(batches: PackedRequest<Chunk>[]) {
    const outcomes: ChunkOutcome[] = [];
    const events: RunEvent[] = [];
    const texts: { batchId: string; chunkIds: readonly string[]; delta: string }[] = [];
    const summary = await executeRequests(batches, {
      prompt: 'Upper-case it.',
      model: new OpenAICompatibleModel({ baseUrl, model: 'test', apiKey: KEY }),
      tokenizer,
      random: () => 0,
      maxRetries: 2,
      onEvent: (e) => events.push(e),
      onOutcome: (o) => void outcomes.push(o),
      onText: (batchId, chunkIds, delta) => texts.push({ batchId, chunkIds, delta }),
    });
    return { outcomes, events, texts, summary };
  }

  it('a stream broken midway is retried; each chunk ends succeeded exactly once with the whole output, never the partial one', async () => {
    const { chunks, batches } = batchesOf(2, 2);
    assert.strictEqual(batches.length, 1);
    server.script = (r) => (r.n === 1 ? { kind: 'ok', stream: { cutAfter: 6, cut: 'destroy' } } : { kind: 'ok' });
    const { outcomes, events, texts, summary } = await execute(batches);
    assert.strictEqual(server.requests.length, 2);
    assert.strictEqual(summary.succeeded, 2);
    assert.deepStrictEqual(outcomes.map((o) => o.chunk.id).sort(), chunks.map((c) => c.id).sort(), 'each chunk ends exactly once');
    for (const c of chunks) {
      const o = outcomes.find((x) => x.chunk.id === c.id)!;
      assert.strictEqual(o.status, 'succeeded');
      assert.strictEqual(o.attempts, 2);
      assert.strictEqual(o.output, defaultOutput({ id: c.id, path: c.path, lines: '', text: c.text }));
    }
    const retry = events.find((e) => e.type === 'retry-scheduled');
    assert.ok(retry && retry.reason === 'transient', JSON.stringify(retry));
    // The hook saw the first attempt's partial text, then the second attempt's whole reply, both tagged with the batch.
    assert.ok(texts.every((t) => t.batchId === batches[0].id && t.chunkIds.join() === chunks.map((c) => c.id).join()));
    const starts = events.map((e, i) => (e.type === 'batch-started' ? i : -1)).filter((i) => i >= 0);
    assert.strictEqual(starts.length, 2);
    const full = texts.map((t) => t.delta).join('');
    const served = `${chunks.map((c) => `<result id="${c.id}">\n${defaultOutput({ id: c.id, path: c.path, lines: '', text: c.text })}\n</result>`).join('\n')}`;
    assert.ok(full.endsWith(served) && full.length > served.length, 'partial text first, then the whole reply');
  });

  it('a listener that throws does not break the stream: the chunks still succeed on the first attempt', async () => {
    const { chunks, batches } = batchesOf(2, 2);
    const summary = await executeRequests(batches, {
      prompt: 'Upper-case it.',
      model: new OpenAICompatibleModel({ baseUrl, model: 'test', apiKey: KEY }),
      tokenizer,
      onText: () => {
        throw new Error('display bug');
      },
    });
    assert.strictEqual(summary.succeeded, chunks.length);
    assert.strictEqual(server.requests.length, 1);
    assert.strictEqual(server.requests[0].body.stream, true);
  });

  it('a streamed reply cut by the output limit (finish_reason length) is handled as a truncated reply: its cut chunk goes again alone', async () => {
    const { chunks, batches } = batchesOf(2, 2);
    const [first, second] = chunks;
    const firstOnly = `<result id="${first.id}">\n${defaultOutput({ id: first.id, path: first.path, lines: '', text: first.text })}\n</result>\n<result id="${second.id}">\nOUT[`;
    server.script = (r) => (r.n === 1 ? { kind: 'ok', reply: firstOnly, finishReason: 'length' } : { kind: 'ok' });
    const { outcomes, summary } = await execute(batches);
    assert.strictEqual(summary.succeeded, 2);
    assert.strictEqual(server.requests.length, 2);
    assert.deepStrictEqual(server.requests[1].chunks.map((c) => c.id), [second.id], 'only the cut chunk is sent again');
    for (const c of chunks) assert.strictEqual(outcomes.find((o) => o.chunk.id === c.id)!.output, defaultOutput({ id: c.id, path: c.path, lines: '', text: c.text }));
  });
});

describe('batch-prompt run --stream', function () {
  this.timeout(90_000);
  const server = new ModelServer();
  let baseUrl = '';
  useServer(server, (url) => (baseUrl = url));

  let ws = '';
  useWorkspace('bp-stream-', { 'a.txt': `${WIDE}\nline two\n` }, (dir) => (ws = dir));

  it('prints the streamed replies on stdout, retries a broken stream, and writes the same outputs', async () => {
    server.script = (r) => (r.n === 1 ? { kind: 'ok', stream: { cutAfter: 4, cut: 'destroy' } } : { kind: 'ok' });
    const r = await runCli(['run', '--stream', '--prompt', 'Upper-case it.', '--base-url', baseUrl, '--model', 'm', '--out', 'results', 'a.txt'], ws, { OPENAI_API_KEY: KEY });
    assert.strictEqual(r.code, 0, r.stderr);
    assert.strictEqual(server.requests.length, 2);
    assert.ok(server.requests.every((q) => q.body.stream === true));
    const output = await fs.readFile(path.join(ws, 'results/outputs/a.txt.md'), 'utf8');
    assert.strictEqual(output, `OUT[1.1]\n${WIDE.toUpperCase()}\nLINE TWO\n`);
    // The broken attempt's text, then a new header and the whole reply.
    const parts = r.stdout.split(/^── b1 ──\n/m);
    assert.strictEqual(parts.length, 3, r.stdout);
    assert.ok(parts[2].startsWith(`<result id="1.1">\nOUT[1.1]\n${WIDE.toUpperCase()}\nLINE TWO\n`), parts[2]);
    assert.ok(!r.stdout.includes(KEY));
  });
});
