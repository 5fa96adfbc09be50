import * as assert from 'assert';
import { AuthError, ContextOverflowError, InvalidRequestError, ModelNotFoundError, QuotaExceededError, RateLimitedError, TransientError, BadReplyError } from '../../src/core/errors';
import { parseDurationMs, retryAfterMs } from '../../src/providers/http';
import { OpenAICompatibleModel } from '../../src/providers/openaiCompatible';
import { ModelServer } from '../support/modelServer';

const KEY = 'sk-test-SECRET-0123456789abcdef';

describe('OpenAI-compatible provider', () => {
  const server = new ModelServer();
  let baseUrl = '';
  before(async () => (baseUrl = await server.start()));
  after(() => server.stop());
  beforeEach(() => {
    server.script = () => undefined;
    server.requests.length = 0;
  });

  const model = () => new OpenAICompatibleModel({ baseUrl, model: 'gpt-test', apiKey: KEY, maxOutputTokens: 512 });
  const ask = (m = model()) => m.complete({ messages: [{ role: 'user', content: 'hi' }] }, { signal: new AbortController().signal });

  it('POSTs /chat/completions with the key, model and max_tokens, and reads text, usage and rate-limit headers', async () => {
    server.script = () => ({ kind: 'ok', reply: 'hello', headers: { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1m30s', 'x-ratelimit-remaining-tokens': '1200', 'x-ratelimit-reset-tokens': '250ms' } });
    const res = await ask();
    assert.strictEqual(res.text, 'hello');
    assert.ok(res.usage!.inputTokens > 0);
    assert.deepStrictEqual(res.rateLimit, { remainingRequests: 0, remainingTokens: 1200, resetRequestsMs: 90_000, resetTokensMs: 250 });
    const req = server.requests[0];
    assert.strictEqual(req.url, '/v1/chat/completions');
    assert.strictEqual(req.headers.authorization, `Bearer ${KEY}`);
    assert.strictEqual(req.body.model, 'gpt-test');
    assert.strictEqual(req.body.max_tokens, 512);
  });

  const cases: [string, number, unknown, Record<string, string>, (e: unknown) => boolean][] = [
    ['401 invalid_api_key → auth', 401, { error: { message: `Incorrect API key provided: ${KEY}.`, type: 'invalid_request_error', code: 'invalid_api_key' } }, {}, AuthError.is],
    ['403 → auth', 403, { error: { message: 'forbidden', type: 'permission_error', code: null } }, {}, AuthError.is],
    ['404 model_not_found → model-not-found', 404, { error: { message: 'The model `x` does not exist', type: 'invalid_request_error', code: 'model_not_found' } }, {}, ModelNotFoundError.is],
    ['429 insufficient_quota → quota (fatal)', 429, { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' } }, {}, QuotaExceededError.is],
    ['429 rate_limit_exceeded → rate-limited', 429, { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } }, { 'retry-after': '7' }, (e) => RateLimitedError.is(e) && e.retryAfterMs === 7000],
    ['429 retry-after-ms wins', 429, { error: { message: 'slow down', type: 'tokens', code: 'rate_limit_exceeded' } }, { 'retry-after': '7', 'retry-after-ms': '1234' }, (e) => RateLimitedError.is(e) && e.retryAfterMs === 1234],
    ['400 context_length_exceeded → overflow', 400, { error: { message: "This model's maximum context length is 8192 tokens", type: 'invalid_request_error', code: 'context_length_exceeded' } }, {}, ContextOverflowError.is],
    ['400 llama.cpp exceed_context_size_error → overflow', 400, { error: { code: 400, message: 'the request exceeds the available context size', type: 'exceed_context_size_error' } }, {}, ContextOverflowError.is],
    ['400 other → invalid request', 400, { error: { message: 'bad temperature', type: 'invalid_request_error', code: 'invalid_value' } }, {}, InvalidRequestError.is],
    ['500 → transient', 500, { error: { message: 'oops', type: 'server_error', code: null } }, {}, TransientError.is],
    ['503 plain text → transient', 503, 'upstream down', {}, TransientError.is],
    ['408 → transient', 408, {}, {}, TransientError.is],
  ];
  for (const [name, status, body, headers, check] of cases) {
    it(`maps ${name}`, async () => {
      server.script = () => ({ kind: 'status', status, body, headers });
      const err = await ask().then(() => undefined, (e: unknown) => e);
      assert.ok(check(err), `got ${String(err)}`);
      assert.ok(!String((err as Error).message).includes(KEY), 'the key never appears in a message');
    });
  }

  it('maps a reset connection to a transient error and a body without a message to a bad reply', async () => {
    server.script = () => ({ kind: 'reset' });
    assert.ok(TransientError.is(await ask().catch((e: unknown) => e)));
    server.script = () => ({ kind: 'status', status: 200, body: { choices: [] } });
    assert.ok(BadReplyError.is(await ask().catch((e: unknown) => e)));
  });

  it('reports finish_reason length', async () => {
    server.script = () => ({ kind: 'ok', reply: 'cut', finishReason: 'length' });
    assert.strictEqual((await ask()).finishReason, 'length');
  });

  it('parses durations and retry-after forms', () => {
    assert.strictEqual(parseDurationMs('6m0s'), 360_000);
    assert.strictEqual(parseDurationMs('20ms'), 20);
    assert.strictEqual(parseDurationMs('1h2m3.5s'), 3_723_500);
    assert.strictEqual(parseDurationMs('2'), 2000);
    assert.strictEqual(parseDurationMs('soon'), undefined);
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.strictEqual(retryAfterMs(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }), now), 5000);
  });
});
