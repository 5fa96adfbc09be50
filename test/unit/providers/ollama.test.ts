import * as assert from 'assert';
import { useServer } from '../../support/localServer';
import * as http from 'http';
import type { AddressInfo } from 'net';
import { BadReplyError, ConfigError, InvalidRequestError, ModelNotFoundError, TransientError, TruncatedError } from '../../../src/core/execute/errors';
import type { ChatMessage } from '../../../src/core/execute/model';
import { estimateRequestTokens, MIN_OLLAMA_CONTEXT, NUM_CTX_STEP, OllamaModel, TRUNCATION_RATIO } from '../../../src/providers/ollama';
import { CONFUSED_REPLY, OllamaServer } from '../../support/ollamaServer';

/** A protocol-shaped request of about `chars` characters. */
function request(chars: number, text = 'export const value = computeSomething(input);\n'): ChatMessage[] {
  const body = text.repeat(Math.ceil(chars / text.length)).slice(0, chars);
  return [
    { role: 'system', content: 'Upper-case each chunk.' },
    { role: 'user', content: `<chunk id="1.1" path="a.ts" lines="1-9">\n${body}\n</chunk>` },
  ];
}

describe('Ollama provider', () => {
  const server = new OllamaServer();
  let baseUrl = '';
  useServer(server, (url) => (baseUrl = url));

  const model = (o: Partial<ConstructorParameters<typeof OllamaModel>[0]> = {}) => new OllamaModel({ baseUrl, model: 'llama3.2', ...o });
  const ask = (m: OllamaModel, messages: ChatMessage[] = request(200), maxOutputTokens?: number) => m.complete({ messages, maxOutputTokens }, { signal: new AbortController().signal });
  const fail = (m: OllamaModel, messages?: ChatMessage[]) => ask(m, messages).then(() => undefined, (e: unknown) => e);

  it('POSTs /api/chat with stream false, no key, num_ctx and num_predict, and reads text, usage and done_reason', async () => {
    const res = await ask(model({ maxOutputTokens: 300, temperature: 0.2 }));
    assert.match(res.text, /^<result id="1\.1">\nOUT\[1\.1\]\nEXPORT CONST VALUE/);
    const req = server.requests[0];
    assert.strictEqual(req.url, '/api/chat');
    assert.strictEqual(req.body.stream, false);
    assert.strictEqual(req.headers.authorization, undefined);
    assert.deepStrictEqual(req.body.messages!.map((m) => m.role), ['system', 'user']);
    assert.strictEqual(req.body.options!.num_predict, 300);
    assert.strictEqual(req.body.options!.temperature, 0.2);
    assert.strictEqual(req.body.options!.num_ctx! % NUM_CTX_STEP, 0);
    assert.deepStrictEqual(res.usage, { inputTokens: req.tokens, outputTokens: Math.ceil(res.text.length / 4) });
    assert.strictEqual(res.finishReason, 'stop');
    server.script = () => ({ kind: 'ok', reply: 'cut', doneReason: 'length' });
    assert.strictEqual((await ask(model())).finishReason, 'length');
  });

  it('sizes num_ctx for the request plus the reply, above the 2,048 default, so a long prompt is read whole', async () => {
    const messages = request(40_000); // ~10,000 tokens for the fake, five times Ollama's default context
    const res = await ask(model({ maxOutputTokens: 1000 }), messages);
    const sent = server.requests[0].body.options!.num_ctx!;
    const est = estimateRequestTokens(messages);
    assert.ok(sent >= est.high + 1000, `num_ctx ${sent} holds the high estimate ${est.high} and the reply`);
    assert.ok(sent < est.high + 1000 + NUM_CTX_STEP, 'rounded up by less than one step');
    assert.ok(sent > server.requests[0].tokens);
    assert.notStrictEqual(res.text, CONFUSED_REPLY);
    assert.strictEqual(res.usage!.inputTokens, server.requests[0].tokens);
  });

  it('without maxOutputTokens reserves as many reply tokens as the request (at least 1,024), and sends no num_predict', async () => {
    const messages = request(20_000);
    await ask(model(), messages);
    const est = estimateRequestTokens(messages);
    assert.strictEqual(server.requests[0].body.options!.num_ctx, Math.ceil((est.high + est.central) / NUM_CTX_STEP) * NUM_CTX_STEP);
    assert.strictEqual(server.requests[0].body.options!.num_predict, undefined);
    await ask(model(), request(10));
    assert.ok(server.requests[1].body.options!.num_ctx! >= 1024 + estimateRequestTokens(request(10)).high);
  });

  it('uses the token counter when given, caps num_ctx at the context window, and never lowers num_ctx (Ollama reloads on a change)', async () => {
    const counted: string[] = [];
    const m = model({ tokenCounter: (t) => (counted.push(t), Math.ceil(t.length / 4)), maxOutputTokens: 500 });
    await ask(m, request(16_000));
    assert.ok(counted.length >= 2, 'every message counted');
    const big = server.requests[0].body.options!.num_ctx!;
    await ask(m, request(400));
    assert.strictEqual(server.requests[1].body.options!.num_ctx, big, 'a smaller request keeps the larger num_ctx');
    await ask(model({ contextWindow: 3000, maxOutputTokens: 500 }), request(16_000)).catch(() => undefined);
    assert.strictEqual(server.requests[2].body.options!.num_ctx, 3000);
  });

  it("sizes num_ctx from a request's own count (inputTokens) without counting; a counter that cannot count falls back to the heuristic", async () => {
    const counted: string[] = [];
    const messages = request(16_000);
    const m = model({ tokenCounter: (t) => (counted.push(t), Math.ceil(t.length / 4)), maxOutputTokens: 500 });
    await m.complete({ messages, maxOutputTokens: 500, inputTokens: 4500 }, { signal: new AbortController().signal });
    assert.deepStrictEqual(counted, [], 'the counter is not asked');
    const expected = estimateRequestTokens(messages, undefined, 4500);
    assert.strictEqual(expected.high, Math.ceil(4500 * 1.3) + 32 + 8 * messages.length);
    assert.strictEqual(server.requests[0].body.options!.num_ctx, Math.ceil((expected.high + 500) / NUM_CTX_STEP) * NUM_CTX_STEP);
    // The editor's counter answers undefined while its thread has no encoding: the character heuristic sizes it.
    await ask(model({ tokenCounter: () => undefined, maxOutputTokens: 500 }), messages, 500);
    assert.strictEqual(server.requests[1].body.options!.num_ctx, Math.ceil((estimateRequestTokens(messages).high + 500) / NUM_CTX_STEP) * NUM_CTX_STEP);
    assert.notStrictEqual(estimateRequestTokens(messages).high, expected.high);
  });

  it('a reply whose prompt_eval_count shows the prompt was cut is a TruncatedError, never a success', async () => {
    const messages = request(16_000); // ~4,000 tokens
    server.script = () => ({ kind: 'ok', promptEvalCount: 1024 });
    const err = await fail(model(), messages);
    assert.ok(TruncatedError.is(err), String(err));
    assert.match((err as Error).message, /read only 1024 of about \d+ prompt tokens \(num_ctx \d+\)/);
  });

  it('catches Ollama cutting the prompt when the model holds less than the num_ctx sent', async () => {
    server.maxNumCtx = 2048; // the model's own limit: Ollama lowers num_ctx and cuts, answering 200
    const err = await fail(model({ maxOutputTokens: 256 }), request(16_000));
    assert.ok(TruncatedError.is(err), String(err));
    // A request that fits is fine.
    const ok = await ask(model({ maxOutputTokens: 256 }), request(2000));
    assert.notStrictEqual(ok.text, CONFUSED_REPLY);
  });

  it('does not judge a reply without prompt_eval_count, and accepts counts just above the threshold', async () => {
    const messages = request(16_000);
    server.script = () => ({ kind: 'ok', promptEvalCount: null });
    assert.strictEqual((await ask(model(), messages)).usage!.inputTokens, 0);
    const low = estimateRequestTokens(messages).low;
    server.script = () => ({ kind: 'ok', promptEvalCount: Math.ceil(TRUNCATION_RATIO * low) });
    await ask(model(), messages);
    // A request no Ollama context is too small for is not judged either.
    const small = request(1000);
    assert.ok(estimateRequestTokens(small).high <= MIN_OLLAMA_CONTEXT);
    server.script = () => ({ kind: 'ok', promptEvalCount: 1 });
    await ask(model(), small);
  });

  it('estimates stay ordered and bracket the fake tokenizer on prose, code, CJK and Cyrillic', () => {
    const texts = ['The quick brown fox jumps over the lazy dog. '.repeat(200), 'if (a) {\n    return b;\n}\n'.repeat(300), '数据处理和模型训练'.repeat(300), 'Пример текста на русском языке. '.repeat(200)];
    for (const t of texts) {
      const e = estimateRequestTokens([{ role: 'user', content: t }]);
      assert.ok(e.low < e.central && e.central < e.high, JSON.stringify(e));
      const withCounter = estimateRequestTokens([{ role: 'user', content: t }], (x) => Math.ceil(x.length / 4));
      assert.ok(withCounter.low < withCounter.central && withCounter.central < withCounter.high, JSON.stringify(withCounter));
    }
  });

  const errors: [string, () => void, (e: unknown) => boolean][] = [
    ['404 model not found → model-not-found (fatal), naming ollama pull', () => undefined, (e) => ModelNotFoundError.is(e) && e.fatal && /ollama pull nope/.test(e.message)],
    ['500 → transient', () => (server.script = () => ({ kind: 'error', status: 500, error: 'llama runner process has terminated: exit status 2' })), TransientError.is],
    ['503 → transient', () => (server.script = () => ({ kind: 'error', status: 503, error: 'server busy, please try again.  maximum pending requests exceeded' })), TransientError.is],
    ['400 → invalid request', () => (server.script = () => ({ kind: 'error', status: 400, error: 'invalid options: num_thread' })), InvalidRequestError.is],
    ['200 without a message → bad reply', () => (server.script = () => ({ kind: 'raw', status: 200, body: '{"done":true}' })), BadReplyError.is],
  ];
  for (const [name, setUp, check] of errors) {
    it(`maps ${name}`, async () => {
      setUp();
      const err = await fail(name.startsWith('404') ? model({ model: 'nope' }) : model());
      assert.ok(check(err), String(err));
    });
  }

  it('maps a 404 without a model error (not an Ollama server, or a /v1 base URL) to a fatal config error', async () => {
    const err = await fail(model({ baseUrl: `${baseUrl}/v1` }));
    assert.ok(ConfigError.is(err) && err.fatal, String(err));
    assert.match((err as Error).message, /server root/);
  });

  it('says Ollama does not answer (start it with ollama serve) when the connection is refused', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const err = await fail(model({ baseUrl: `http://127.0.0.1:${port}` }));
    assert.ok(TransientError.is(err), String(err));
    assert.match((err as Error).message, new RegExp(`Ollama does not answer at http://127\\.0\\.0\\.1:${port}: start it with \`ollama serve\``));
    server.script = () => ({ kind: 'reset' });
    assert.ok(TransientError.is(await fail(model())));
  });
});
