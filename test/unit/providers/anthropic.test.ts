import * as assert from 'assert';
import { useServer } from '../../support/localServer';
import { AuthError, BadReplyError, ContextOverflowError, InvalidRequestError, ModelNotFoundError, QuotaExceededError, RateLimitedError, TransientError } from '../../../src/core/execute/errors';
import { AnthropicModel, anthropicRateLimit, ANTHROPIC_DEFAULT_MAX_TOKENS } from '../../../src/providers/anthropic';
import { AnthropicServer } from '../../support/anthropicServer';

const KEY = 'sk-ant-api03-SECRET-0123456789abcdef';

describe('Anthropic provider', () => {
  const server = new AnthropicServer();
  let baseUrl = '';
  useServer(server, (url) => (baseUrl = url));

  const model = (o: Partial<ConstructorParameters<typeof AnthropicModel>[0]> = {}) => new AnthropicModel({ baseUrl, model: 'claude-test', apiKey: KEY, ...o });
  const messages = [
    { role: 'system' as const, content: 'You are terse.' },
    { role: 'user' as const, content: 'hi' },
  ];
  const ask = (m = model()) => m.complete({ messages }, { signal: new AbortController().signal });
  const fail = (m = model()) => ask(m).then(() => undefined, (e: unknown) => e);

  it('POSTs /v1/messages with x-api-key, anthropic-version, max_tokens, top-level system and no stream', async () => {
    server.script = () => ({ kind: 'ok', reply: 'hello' });
    const res = await ask(model({ maxOutputTokens: 512, temperature: 0 }));
    assert.strictEqual(res.text, 'hello');
    assert.strictEqual(res.finishReason, 'stop');
    const req = server.requests[0];
    assert.strictEqual(req.url, '/v1/messages');
    assert.strictEqual(req.headers['x-api-key'], KEY);
    assert.strictEqual(req.headers['anthropic-version'], '2023-06-01');
    assert.match(String(req.headers['content-type']), /^application\/json/);
    assert.strictEqual(req.headers.authorization, undefined, 'no Bearer header');
    assert.deepStrictEqual(req.body, { model: 'claude-test', max_tokens: 512, messages: [{ role: 'user', content: 'hi' }], stream: false, system: 'You are terse.', temperature: 0 });
  });

  it(`sends max_tokens ${ANTHROPIC_DEFAULT_MAX_TOKENS} when none is configured, and the request's own when given`, async () => {
    await ask();
    assert.strictEqual(server.requests[0].body.max_tokens, ANTHROPIC_DEFAULT_MAX_TOKENS);
    await model({ maxOutputTokens: 100 }).complete({ messages, maxOutputTokens: 64 }, { signal: new AbortController().signal });
    assert.strictEqual(server.requests[1].body.max_tokens, 64);
  });

  it('joins the text blocks, skips other blocks, and reads usage', async () => {
    server.script = () => ({ kind: 'ok', blocks: [{ type: 'thinking', thinking: 'hmm', signature: 'x' }, { type: 'text', text: 'one ' }, { type: 'text', text: 'two' }] });
    const res = await ask();
    assert.strictEqual(res.text, 'one two');
    assert.ok(res.usage!.inputTokens > 0);
    server.script = () => ({ kind: 'ok', reply: 'a longer reply' });
    assert.deepStrictEqual((await ask()).usage, { inputTokens: Math.ceil('You are terse.hi'.length / 4), outputTokens: Math.ceil('a longer reply'.length / 4) });
  });

  it('maps stop_reason max_tokens to length and others to other', async () => {
    server.script = () => ({ kind: 'ok', reply: 'cut', stopReason: 'max_tokens' });
    assert.strictEqual((await ask()).finishReason, 'length');
    server.script = () => ({ kind: 'ok', reply: 'x', stopReason: 'stop_sequence' });
    assert.strictEqual((await ask()).finishReason, 'stop');
    server.script = () => ({ kind: 'ok', reply: 'x', stopReason: 'refusal' });
    assert.strictEqual((await ask()).finishReason, 'other');
  });

  it('reads anthropic-ratelimit-* headers: RFC 3339 resets become ms from now, the smaller token budget wins', async () => {
    const now = Date.parse('2025-08-21T12:40:00Z');
    const headers = new Headers({
      'anthropic-ratelimit-requests-limit': '1000',
      'anthropic-ratelimit-requests-remaining': '999',
      'anthropic-ratelimit-requests-reset': '2025-08-21T12:40:59Z',
      'anthropic-ratelimit-tokens-limit': '96000',
      'anthropic-ratelimit-tokens-remaining': '96000',
      'anthropic-ratelimit-tokens-reset': '2025-08-21T12:40:30Z',
      'anthropic-ratelimit-input-tokens-limit': '80000',
      'anthropic-ratelimit-input-tokens-remaining': '79000',
      'anthropic-ratelimit-input-tokens-reset': '2025-08-21T12:40:10Z',
    });
    assert.deepStrictEqual(anthropicRateLimit(headers, now), { remainingRequests: 999, remainingTokens: 79_000, resetRequestsMs: 59_000, resetTokensMs: 10_000 });
    // A reset already past is 0, never negative; an unparsable one is unknown.
    const past = anthropicRateLimit(new Headers({ 'anthropic-ratelimit-tokens-remaining': '5', 'anthropic-ratelimit-tokens-reset': '2025-08-21T12:39:00Z', 'anthropic-ratelimit-requests-reset': 'soon' }), now);
    assert.deepStrictEqual(past, { remainingRequests: undefined, remainingTokens: 5, resetRequestsMs: undefined, resetTokensMs: 0 });
    assert.strictEqual(anthropicRateLimit(new Headers(), now), undefined);
  });

  it('reports the rate-limit headers of a reply', async () => {
    const reset = new Date(Date.now() + 3_600_000).toISOString();
    server.script = () => ({ kind: 'ok', reply: 'x', headers: { 'anthropic-ratelimit-requests-remaining': '0', 'anthropic-ratelimit-requests-reset': reset, 'anthropic-ratelimit-tokens-remaining': '1200', 'anthropic-ratelimit-tokens-reset': reset } });
    const rl = (await ask()).rateLimit!;
    assert.strictEqual(rl.remainingRequests, 0);
    assert.strictEqual(rl.remainingTokens, 1200);
    assert.ok(rl.resetRequestsMs! > 0 && rl.resetRequestsMs! <= 3_600_000);
  });

  const cases: [string, number, string, string, Record<string, string>, (e: unknown) => boolean, unknown?][] = [
    ['429 rate_limit_error → rate-limited with retry-after', 429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit', { 'retry-after': '12' }, (e) => RateLimitedError.is(e) && e.retryAfterMs === 12_000],
    ['429 enforced_spend_limit_reached → quota (fatal)', 429, 'rate_limit_error', 'You have reached your monthly spend limit', {}, (e) => QuotaExceededError.is(e) && e.fatal, { error_code: 'enforced_spend_limit_reached' }],
    ['529 overloaded_error → transient', 529, 'overloaded_error', 'Overloaded', {}, TransientError.is],
    ['500 api_error → transient', 500, 'api_error', 'Internal server error', {}, TransientError.is],
    ['400 prompt is too long → context overflow', 400, 'invalid_request_error', 'prompt is too long: 208656 tokens > 200000 maximum', {}, ContextOverflowError.is],
    ['400 other invalid_request_error → invalid request', 400, 'invalid_request_error', 'messages: roles must alternate between "user" and "assistant"', {}, (e) => InvalidRequestError.is(e) && !e.fatal],
    ['400 credit balance too low → quota (fatal)', 400, 'invalid_request_error', 'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.', {}, (e) => QuotaExceededError.is(e) && e.fatal],
    ['401 authentication_error → auth (fatal)', 401, 'authentication_error', `invalid x-api-key: ${KEY}`, {}, (e) => AuthError.is(e) && e.fatal],
    ['403 permission_error → auth (fatal)', 403, 'permission_error', 'Your API key does not have permission to use the specified resource.', {}, (e) => AuthError.is(e) && e.fatal],
    ['404 not_found_error → model not found (fatal)', 404, 'not_found_error', 'model: claude-nope', {}, (e) => ModelNotFoundError.is(e) && e.fatal],
    ['413 request_too_large → context overflow', 413, 'request_too_large', 'Request exceeds the maximum allowed number of bytes.', {}, ContextOverflowError.is],
    ['402 billing_error → quota', 402, 'billing_error', 'Your credit balance is too low.', {}, QuotaExceededError.is],
  ];
  for (const [name, status, type, message, headers, check, details] of cases) {
    it(`maps ${name}`, async () => {
      server.script = () => ({ kind: 'error', status, type, message, headers, details });
      const err = await fail();
      assert.ok(check(err), `got ${String(err)}`);
      assert.strictEqual((err as TransientError).status, status);
      assert.ok(!String((err as Error).message).includes(KEY), 'the key never appears in a message');
    });
  }

  it('maps a missing key to auth, a reset connection to transient, a non-JSON 502 to transient, a body without content to a bad reply', async () => {
    assert.ok(AuthError.is(await fail(model({ apiKey: undefined }))));
    server.script = () => ({ kind: 'reset' });
    assert.ok(TransientError.is(await fail()));
    server.script = () => ({ kind: 'raw', status: 502, body: '<html>Bad Gateway</html>' });
    assert.ok(TransientError.is(await fail()));
    server.script = () => ({ kind: 'raw', status: 200, body: '{"type":"message"}' });
    assert.ok(BadReplyError.is(await fail()));
  });

  it('never lets a custom header replace x-api-key, whatever its case, and redacts credential-like custom headers', async () => {
    const m = model({ headers: { 'X-Api-Key': 'other-key-123456', 'X-Gateway-Token': 'gw-SECRET-987654', 'x-trace': 'abc' } });
    server.script = () => ({ kind: 'error', status: 400, type: 'invalid_request_error', message: 'bad gw-SECRET-987654' });
    const err = await fail(m);
    const req = server.requests[0];
    assert.strictEqual(req.headers['x-api-key'], KEY);
    assert.strictEqual(req.headers['x-gateway-token'], 'gw-SECRET-987654');
    assert.strictEqual(req.headers['x-trace'], 'abc');
    assert.ok(!(err as Error).message.includes('gw-SECRET-987654'), (err as Error).message);
  });
});
