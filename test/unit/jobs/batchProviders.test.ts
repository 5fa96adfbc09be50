import * as assert from 'assert';
import { AnthropicBatchApi, resultOf as anthropicResult, stateOf as anthropicState } from '../../../src/providers/batch/anthropicBatch';
import { OpenAIBatchApi, resultOf as openaiResult, stateOf as openaiState } from '../../../src/providers/batch/openaiBatch';
import { BatchServer } from '../../support/batchServer';
import { useServer } from '../../support/localServer';

describe('batch providers: documented shapes mapped to results', () => {
  it('OpenAI output lines: 200 bodies are replies, other status codes and errors are typed failures', () => {
    const body = { choices: [{ index: 0, message: { role: 'assistant', content: '<result id="1.1">\nok\n</result>' }, finish_reason: 'length' }], usage: { prompt_tokens: 12, completion_tokens: 3 } };
    const ok = openaiResult({ custom_id: 'b1', response: { status_code: 200, body }, error: null });
    assert.ok(ok?.ok);
    assert.deepStrictEqual([ok.response.text, ok.response.finishReason, ok.response.usage], ['<result id="1.1">\nok\n</result>', 'length', { inputTokens: 12, outputTokens: 3 }]);
    const kinds = [429, 500, 400].map((status_code) => openaiResult({ custom_id: 'b2', response: { status_code, body: { error: { message: `status ${status_code}`, type: 'x', code: null } } }, error: null }));
    assert.deepStrictEqual(kinds.map((k) => (k && !k.ok ? k.error.kind : 'ok')), ['rate-limited', 'transient', 'invalid-request']);
    const expired = openaiResult({ custom_id: 'b3', response: null, error: { code: 'batch_expired', message: 'expired' } });
    assert.ok(expired && !expired.ok && expired.status === 'failed' && expired.error.kind === 'timeout');
    const cancelled = openaiResult({ custom_id: 'b4', response: null, error: { code: 'batch_cancelled', message: 'cancelled' } });
    assert.ok(cancelled && !cancelled.ok && cancelled.status === 'canceled');
    const noMessage = openaiResult({ custom_id: 'b5', response: { status_code: 200, body: { choices: [] } }, error: null });
    assert.ok(noMessage && !noMessage.ok && noMessage.error.kind === 'bad-reply');
    assert.strictEqual(openaiResult({ response: null, error: null }), undefined, 'a line without custom_id is skipped');
  });

  it('OpenAI batch objects: which statuses have ended, counts, and a validation failure', () => {
    for (const s of ['validating', 'in_progress', 'finalizing', 'cancelling']) assert.strictEqual(openaiState({ status: s }).ended, false, s);
    for (const s of ['completed', 'failed', 'expired', 'cancelled']) assert.strictEqual(openaiState({ status: s }).ended, true, s);
    assert.deepStrictEqual(openaiState({ status: 'in_progress', request_counts: { total: 10, completed: 3, failed: 1 } }).counts, { total: 10, succeeded: 3, failed: 1, processing: 6 });
    assert.match(openaiState({ status: 'failed', errors: { data: [{ code: 'invalid_json_line', message: 'bad line', line: 2 }] } }).failure!, /invalid_json_line \(line 2\): bad line/);
  });

  it('Anthropic result lines: succeeded, errored (typed like the HTTP error), canceled, expired', () => {
    const ok = anthropicResult({ custom_id: 'b1', result: { type: 'succeeded', message: { content: [{ type: 'text', text: 'hi' }], stop_reason: 'max_tokens', usage: { input_tokens: 5, output_tokens: 2 } } } });
    assert.ok(ok?.ok && ok.response.text === 'hi' && ok.response.finishReason === 'length');
    const kindOf = (type: string, message = 'm') => {
      const r = anthropicResult({ custom_id: 'b', result: { type: 'errored', error: { type: 'error', error: { type, message } } } });
      return r && !r.ok ? r.error.kind : 'ok';
    };
    assert.deepStrictEqual(['invalid_request_error', 'overloaded_error', 'api_error', 'rate_limit_error'].map((t) => kindOf(t)), ['invalid-request', 'transient', 'transient', 'rate-limited']);
    assert.strictEqual(kindOf('invalid_request_error', 'prompt is too long: 300000 tokens > 200000 maximum'), 'context-overflow');
    const canceled = anthropicResult({ custom_id: 'b', result: { type: 'canceled' } });
    assert.ok(canceled && !canceled.ok && canceled.status === 'canceled');
    const expired = anthropicResult({ custom_id: 'b', result: { type: 'expired' } });
    assert.ok(expired && !expired.ok && expired.status === 'failed' && expired.error.kind === 'timeout');
    assert.deepStrictEqual(anthropicState({ processing_status: 'ended', request_counts: { processing: 0, succeeded: 3, errored: 1, canceled: 1, expired: 1 } }).counts, { total: 6, succeeded: 3, failed: 3, processing: 0 });
    assert.strictEqual(anthropicState({ processing_status: 'canceling' }).ended, false);
  });
});

describe('batch providers over HTTP', function () {
  this.timeout(10_000);
  const server = new BatchServer();
  let base = '';
  const KEY = 'sk-ant-provider-SECRET-42424242';
  useServer(server, (url) => (base = url));

  it('Anthropic: sends the key and version headers, and never sends the key to a results_url on another origin', async () => {
    const api = new AnthropicBatchApi({ baseUrl: base, model: 'claude', apiKey: KEY });
    const { jobId } = await api.submit(api.encode([{ customId: 'b1', messages: [{ role: 'system', content: 's' }, { role: 'user', content: '<chunk id="1.1" path="a" lines="1-1">\nx\n</chunk>' }] }]));
    const create = server.calls[0];
    assert.strictEqual(create.headers['x-api-key'], KEY);
    assert.strictEqual(create.headers['anthropic-version'], '2023-06-01');
    const calls = server.calls.length;
    await assert.rejects(api.results(jobId, { providerStatus: 'ended', ended: true, counts: { total: 1, succeeded: 1, failed: 0, processing: 0 }, resultsUrl: 'https://elsewhere.example/results' }), (e: Error & { kind?: string }) => e.kind === 'config' && !e.message.includes(KEY));
    assert.strictEqual(server.calls.length, calls, 'no request made');
  });

  it('OpenAI: a server without a batch API (404) is a clear config error, never "model not found"', async () => {
    const api = new OpenAIBatchApi({ baseUrl: `${base}/nothing-here`, model: 'm', apiKey: 'k-1234' });
    await assert.rejects(api.submit(api.encode([{ customId: 'b1', messages: [{ role: 'user', content: 'x' }] }])), (e: Error & { kind?: string }) => e.kind === 'config' && /no batch API/.test(e.message));
    const real = new OpenAIBatchApi({ baseUrl: `${base}/v1`, model: 'm', apiKey: 'k-1234' });
    await assert.rejects(real.poll('batch_unknown'), (e: Error & { kind?: string }) => e.kind === 'config' && /does not know this job/.test(e.message));
  });
});
