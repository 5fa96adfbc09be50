import * as assert from 'assert';
import { useServer } from '../../support/localServer';
import { AuthError, ContextOverflowError, InvalidRequestError, ModelNotFoundError, QuotaExceededError, RateLimitedError, TransientError, BadReplyError } from '../../../src/core/execute/errors';
import { parseDurationMs, retryAfterMs } from '../../../src/providers/http/http';
import { AZURE_DEFAULT_API_VERSION, azureChatUrl, OpenAICompatibleModel } from '../../../src/providers/openaiCompatible';
import { ModelServer } from '../../support/modelServer';

const KEY = 'sk-test-SECRET-0123456789abcdef';

describe('OpenAI-compatible provider', () => {
  const server = new ModelServer();
  let baseUrl = '';
  useServer(server, (url) => (baseUrl = url));

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

describe('Azure OpenAI (OpenAI-compatible, provider azure)', () => {
  const server = new ModelServer();
  let endpoint = '';
  useServer(server, (url) => (endpoint = url.replace(/\/v1$/, '')));

  const azure = (o: Partial<ConstructorParameters<typeof OpenAICompatibleModel>[0]> = {}) => new OpenAICompatibleModel({ provider: 'azure', baseUrl: endpoint, model: 'my gpt-4o', apiKey: KEY, ...o });
  const ask = (m = azure()) => m.complete({ messages: [{ role: 'user', content: 'hi' }] }, { signal: new AbortController().signal });
  const fail = (m = azure()) => ask(m).then(() => undefined, (e: unknown) => e);

  it(`POSTs to the deployment URL with api-version ${AZURE_DEFAULT_API_VERSION} and the api-key header, never Authorization`, async () => {
    server.script = () => ({ kind: 'ok', reply: 'hello', headers: { 'x-ratelimit-remaining-requests': '12', 'x-ratelimit-remaining-tokens': '0' } });
    const res = await ask();
    assert.strictEqual(res.text, 'hello');
    assert.deepStrictEqual(res.rateLimit, { remainingRequests: 12, remainingTokens: 0, resetRequestsMs: undefined, resetTokensMs: undefined });
    const req = server.requests[0];
    assert.strictEqual(req.url, `/openai/deployments/my%20gpt-4o/chat/completions?api-version=${AZURE_DEFAULT_API_VERSION}`);
    assert.strictEqual(req.headers['api-key'], KEY);
    assert.strictEqual(req.headers.authorization, undefined);
  });

  it('takes a configured api-version and tolerates a base URL ending in /openai/', async () => {
    assert.strictEqual(azureChatUrl('https://r.openai.azure.com/openai/', 'dep', '2025-01-01-preview'), 'https://r.openai.azure.com/openai/deployments/dep/chat/completions?api-version=2025-01-01-preview');
    await ask(azure({ apiVersion: '2024-06-01' }));
    assert.match(server.requests[0].url, /\?api-version=2024-06-01$/);
  });

  const cases: [string, number, unknown, Record<string, string>, (e: unknown) => boolean][] = [
    ['404 DeploymentNotFound → model-not-found (fatal)', 404, { error: { code: 'DeploymentNotFound', message: 'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.' } }, {}, (e) => ModelNotFoundError.is(e) && e.fatal && /deployment/.test(e.message)],
    ['429 with retry-after → rate-limited', 429, { error: { code: '429', message: 'Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds.' } }, { 'retry-after': '6' }, (e) => RateLimitedError.is(e) && e.retryAfterMs === 6000],
    ['429 without header → wait read from the message', 429, { error: { code: '429', message: 'Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 9 seconds.' } }, {}, (e) => RateLimitedError.is(e) && e.retryAfterMs === 9000],
    ['401 → auth', 401, { error: { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.' } }, {}, AuthError.is],
    ['400 context_length_exceeded → overflow', 400, { error: { message: "This model's maximum context length is 128000 tokens.", type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' } }, {}, ContextOverflowError.is],
    ['400 content_filter → invalid request', 400, { error: { message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.", type: null, param: 'prompt', code: 'content_filter', status: 400 } }, {}, InvalidRequestError.is],
  ];
  for (const [name, status, body, headers, check] of cases) {
    it(`maps ${name}`, async () => {
      server.script = () => ({ kind: 'status', status, body, headers });
      const err = await fail();
      assert.ok(check(err), `got ${String(err)}`);
      assert.ok(!String((err as Error).message).includes(KEY));
    });
  }
});

describe('custom headers and the key', () => {
  const server = new ModelServer();
  let baseUrl = '';
  useServer(server, (url) => (baseUrl = url));
  const ask = (m: OpenAICompatibleModel) => m.complete({ messages: [{ role: 'user', content: 'hi' }] }, { signal: new AbortController().signal });

  it('sends custom headers, but the key header wins over a custom one of the same name in any case (never merged)', async () => {
    await ask(new OpenAICompatibleModel({ baseUrl, model: 'm', apiKey: KEY, headers: { Authorization: 'Bearer custom', 'X-Title': 'batch' } }));
    assert.strictEqual(server.requests[0].headers.authorization, `Bearer ${KEY}`);
    assert.strictEqual(server.requests[0].headers['x-title'], 'batch');
    await ask(new OpenAICompatibleModel({ provider: 'azure', baseUrl: baseUrl.replace(/\/v1$/, ''), model: 'd', apiKey: KEY, headers: { 'API-KEY': 'custom' } }));
    assert.strictEqual(server.requests[1].headers['api-key'], KEY);
  });

  it('without a key a custom Authorization header (a gateway token) is sent as configured, and redacted from errors', async () => {
    server.script = () => ({ kind: 'status', status: 401, body: { error: { message: 'bad token gw-SECRET-424242', type: 'invalid_request_error', code: 'invalid_api_key' } } });
    const m = new OpenAICompatibleModel({ baseUrl, model: 'm', headers: { authorization: 'Bearer gw-SECRET-424242' } });
    const err = await ask(m).then(() => undefined, (e: unknown) => e);
    assert.strictEqual(server.requests[0].headers.authorization, 'Bearer gw-SECRET-424242');
    assert.ok(AuthError.is(err) && !err.message.includes('gw-SECRET-424242'), String(err));
    server.script = () => undefined;
  });
});
