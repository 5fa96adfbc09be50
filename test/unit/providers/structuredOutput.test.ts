import * as assert from 'assert';
import { BadReplyError, ContextOverflowError, InvalidRequestError, StructuredModeRefusedError, TransientError } from '../../../src/core/execute/errors';
import type { ChatModel, ChatRequest, ChatResponse, ResponseSchema } from '../../../src/core/execute/model';
import { batchAnswerSchema, FINDINGS_SCHEMA, type JsonSchema } from '../../../src/core/output/kind';
import { AnthropicModel } from '../../../src/providers/anthropic';
import { AnthropicBatchApi } from '../../../src/providers/batch/anthropicBatch';
import { OpenAIBatchApi } from '../../../src/providers/batch/openaiBatch';
import { OllamaModel } from '../../../src/providers/ollama';
import { OpenAICompatibleModel } from '../../../src/providers/openaiCompatible';
import { canBeStrict, schemaName, strictSchemaProblem } from '../../../src/providers/structuredSchema';
import type { BatchApi, BatchResult, JobState } from '../../../src/core/jobs/job';
import { AnthropicServer } from '../../support/anthropicServer';
import { BatchServer } from '../../support/batchServer';
import { useServer } from '../../support/localServer';
import { ModelServer, STRUCTURED_REFUSALS } from '../../support/modelServer';
import { OllamaServer } from '../../support/ollamaServer';

/** A flat item schema that meets OpenAI's strict-mode rules (the optional field is nullable and required). */
const ITEM: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['label', 'score'],
  properties: { label: { type: 'string', enum: ['ok', 'bad'] }, score: { type: ['number', 'null'], minimum: 0 } },
};
const IDS = ['1.1', '1.2'];
const MESSAGES: ChatRequest['messages'] = [
  { role: 'system', content: 'Answer each chunk.' },
  { role: 'user', content: IDS.map((id) => `<chunk id="${id}" path="a.ts" lines="${id === '1.1' ? '1-2' : '3-4'}">\nx\ny\n</chunk>`).join('\n') },
];
const schemaOf = (item: JsonSchema, strict = true): ResponseSchema => ({ name: 'batch_answer', schema: batchAnswerSchema(item, IDS), strict });
const structured = (item: JsonSchema = ITEM, strict = true): ChatRequest => ({ messages: MESSAGES, responseSchema: schemaOf(item, strict) });
const signal = () => new AbortController().signal;

/** Completes `request` twice, whole then streamed; returns both responses and the streamed pieces. */
async function bothWays(model: ChatModel, request: ChatRequest): Promise<{ whole: ChatResponse; streamed: ChatResponse; pieces: string[] }> {
  const whole = await model.complete(request, { signal: signal() });
  const pieces: string[] = [];
  const streamed = await model.complete(request, { signal: signal(), onText: (d) => pieces.push(d) });
  return { whole, streamed, pieces };
}

/** The ids of a structured answer's results. */
function resultIds(text: string): string[] {
  return (JSON.parse(text) as { results: { id: string }[] }).results.map((r) => r.id);
}

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe('structured output: strict-mode check (OpenAI rules)', () => {
  it('a batch answer over a flat, fully required item schema can be strict', () => {
    assert.strictEqual(strictSchemaProblem(batchAnswerSchema(ITEM, IDS)), undefined);
  });

  it('the built-in findings schema cannot (optional properties, minLength): the problem is named', () => {
    assert.match(strictSchemaProblem(batchAnswerSchema(FINDINGS_SCHEMA, IDS))!, /does not require its property "endLine"/);
  });

  const refused: [string, JsonSchema][] = [
    ['an object without additionalProperties: false', { type: 'object', required: ['a'], properties: { a: { type: 'string' } } }],
    ['a nested object with extra properties allowed', { ...ITEM, properties: { ...(ITEM.properties as object), more: { type: 'object', additionalProperties: true, properties: {} } }, required: ['label', 'score', 'more'] }],
    ['allOf', { ...ITEM, properties: { label: { allOf: [{ type: 'string' }] }, score: { type: 'number' } } }],
    ['minLength', { ...ITEM, properties: { label: { type: 'string', minLength: 1 }, score: { type: 'number' } } }],
    ['default', { ...ITEM, properties: { label: { type: 'string', default: 'ok' }, score: { type: 'number' } } }],
    ['an unlisted format', { ...ITEM, properties: { label: { type: 'string', format: 'uri' }, score: { type: 'number' } } }],
    ['a boolean schema', { ...ITEM, properties: { label: true, score: { type: 'number' } } }],
  ];
  for (const [name, item] of refused) {
    it(`refuses ${name}`, () => {
      assert.ok(canBeStrict(batchAnswerSchema(ITEM, IDS)), 'the base case is strict');
      assert.strictEqual(canBeStrict(batchAnswerSchema(item, IDS)), false);
    });
  }

  it('refuses a root anyOf or a root that is not an object, and nesting deeper than 10 levels', () => {
    assert.strictEqual(canBeStrict({ anyOf: [ITEM] }), false);
    assert.strictEqual(canBeStrict({ type: 'array', items: ITEM }), false);
    let deep: JsonSchema = { type: 'string' };
    for (let i = 0; i < 11; i++) deep = { type: 'object', additionalProperties: false, required: ['x'], properties: { x: deep } };
    assert.match(strictSchemaProblem(deep)!, /deeper than 10/);
  });

  it('accepts $defs with $ref, nested anyOf, and the listed string, number and array keywords', () => {
    const item: JsonSchema = {
      type: 'object',
      additionalProperties: false,
      required: ['when', 'tags', 'node'],
      properties: {
        when: { type: 'string', format: 'date-time', description: 'd' },
        tags: { type: 'array', items: { type: 'string', pattern: '^[a-z]+$' }, minItems: 1, maxItems: 3 },
        node: { anyOf: [{ $ref: '#/$defs/leaf' }, { type: 'null' }] },
      },
      $defs: { leaf: { type: 'object', additionalProperties: false, required: ['n'], properties: { n: { type: 'integer', multipleOf: 2, maximum: 10 } } } },
    };
    assert.strictEqual(strictSchemaProblem(batchAnswerSchema(item, IDS)), undefined);
  });

  it('names are made into what the APIs accept', () => {
    assert.strictEqual(schemaName('batch answer/v1'), 'batch_answer_v1');
    assert.strictEqual(schemaName('x'.repeat(80)).length, 64);
  });
});

describe('structured output: OpenAI-compatible and Azure', () => {
  const server = new ModelServer();
  let baseUrl = '';
  useServer(server, (url) => (baseUrl = url));
  const model = () => new OpenAICompatibleModel({ baseUrl, model: 'gpt-test', apiKey: 'sk-test-1234567890' });

  it('declares the mode', () => {
    assert.strictEqual(model().structuredOutput, true);
  });

  it('sends response_format json_schema (strict for a strict-able schema), whole and streamed, and the reply text is the JSON', async () => {
    const request = structured();
    const { whole, streamed, pieces } = await bothWays(model(), request);
    for (const r of server.requests) {
      assert.deepStrictEqual(r.body.response_format, { type: 'json_schema', json_schema: { name: 'batch_answer', schema: request.responseSchema!.schema, strict: true } });
    }
    assert.deepStrictEqual([server.requests[0].body.stream, server.requests[1].body.stream], [false, true]);
    assert.deepStrictEqual(resultIds(whole.text), IDS);
    assert.strictEqual(streamed.text, whole.text);
    assert.strictEqual(pieces.join(''), whole.text);
    assert.ok(pieces.length > 1, 'the JSON arrived in pieces');
  });

  it('sends strict: false for a schema strict mode would refuse, or when the caller asks for non-strict', async () => {
    await model().complete(structured(FINDINGS_SCHEMA, true), { signal: signal() });
    await model().complete(structured(ITEM, false), { signal: signal() });
    assert.deepStrictEqual(
      server.requests.map((r) => (r.body.response_format as { json_schema: { strict: boolean } }).json_schema.strict),
      [false, false],
    );
  });

  it('sends no response_format for a request without a schema', async () => {
    await model().complete({ messages: MESSAGES }, { signal: signal() });
    assert.strictEqual(server.requests[0].body.response_format, undefined);
  });

  it('Azure carries the same response_format to the deployment URL', async () => {
    const azure = new OpenAICompatibleModel({ provider: 'azure', baseUrl: `${baseUrl.replace(/\/v1$/, '')}`, model: 'dep', apiKey: 'azure-key-123456' });
    assert.strictEqual(azure.structuredOutput, true);
    const res = await azure.complete(structured(), { signal: signal() });
    assert.match(server.requests[0].url, /^\/openai\/deployments\/dep\/chat\/completions\?api-version=/);
    assert.strictEqual((server.requests[0].body.response_format as { type: string }).type, 'json_schema');
    assert.deepStrictEqual(resultIds(res.text), IDS);
  });

  for (const [name, refusal] of Object.entries(STRUCTURED_REFUSALS)) {
    it(`a server refusing the mode (${name}, HTTP ${refusal.status}) rejects with StructuredModeRefusedError, whole and streamed`, async () => {
      server.refuseStructured = refusal;
      for (const onText of [undefined, () => undefined]) {
        const e = await failure(model().complete(structured(), { signal: signal(), onText }));
        assert.ok(StructuredModeRefusedError.is(e), `got ${String(e)}`);
        assert.strictEqual(e.kind, 'invalid-request');
        assert.strictEqual(e.fatal, false);
        assert.strictEqual(e.status, refusal.status);
      }
    });
  }

  it('the same refusal body on a request without a schema keeps its own type', async () => {
    server.refuseStructured = STRUCTURED_REFUSALS.vllm;
    server.script = () => ({ kind: 'status', ...STRUCTURED_REFUSALS.vllm });
    const e = await failure(model().complete({ messages: MESSAGES }, { signal: signal() }));
    assert.ok(InvalidRequestError.is(e) && !StructuredModeRefusedError.is(e), `got ${String(e)}`);
    server.script = () => ({ kind: 'status', ...STRUCTURED_REFUSALS.llamaCpp });
    const t = await failure(model().complete({ messages: MESSAGES }, { signal: signal() }));
    assert.ok(TransientError.is(t), `got ${String(t)}`);
  });

  it('other errors of a structured request are not refusals: an unrelated 400, a context overflow, a plain 500', async () => {
    const cases: [unknown, number, (e: unknown) => boolean][] = [
      [{ error: { message: 'bad temperature', type: 'invalid_request_error', code: 'invalid_value' } }, 400, InvalidRequestError.is],
      [{ error: { message: "This model's maximum context length is 8192 tokens", type: 'invalid_request_error', code: 'context_length_exceeded' } }, 400, ContextOverflowError.is],
      [{ error: { message: 'oops', type: 'server_error', code: null } }, 500, TransientError.is],
    ];
    for (const [body, status, check] of cases) {
      server.script = () => ({ kind: 'status', status, body });
      const e = await failure(model().complete(structured(), { signal: signal() }));
      assert.ok(check(e) && !StructuredModeRefusedError.is(e), `HTTP ${status}: got ${String(e)}`);
    }
  });

  it("a model's refusal to answer (message.refusal, no content) is a bad reply that says so", async () => {
    server.script = () => ({ kind: 'status', status: 200, body: { choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: "I'm sorry, I can't help with that." }, finish_reason: 'stop' }] } });
    const e = await failure(model().complete(structured(), { signal: signal() }));
    assert.ok(BadReplyError.is(e) && /refused to answer: I'm sorry/.test(e.message), `got ${String(e)}`);
  });
});

describe('structured output: Anthropic (forced tool)', () => {
  const server = new AnthropicServer();
  let baseUrl = '';
  useServer(server, (url) => (baseUrl = url));
  const model = () => new AnthropicModel({ baseUrl, model: 'claude-test', apiKey: 'sk-ant-test-123456' });

  it('declares the mode', () => {
    assert.strictEqual(model().structuredOutput, true);
  });

  it('forces one tool whose input_schema is the schema, and the reply text is the tool input as JSON, whole and streamed alike', async () => {
    const request = structured();
    const { whole, streamed, pieces } = await bothWays(model(), request);
    for (const r of server.requests) {
      const tools = r.body.tools as { name: string; input_schema: unknown; description: string }[];
      assert.strictEqual(tools.length, 1);
      assert.strictEqual(tools[0].name, 'batch_answer');
      assert.deepStrictEqual(tools[0].input_schema, request.responseSchema!.schema);
      assert.deepStrictEqual(r.body.tool_choice, { type: 'tool', name: 'batch_answer' });
      assert.strictEqual(r.headers['anthropic-beta'], undefined, 'no beta header');
    }
    assert.deepStrictEqual(resultIds(whole.text), IDS);
    assert.strictEqual(whole.text, JSON.stringify(JSON.parse(whole.text)), 'JSON.stringify of the input');
    assert.strictEqual(whole.finishReason, 'stop', 'stop_reason tool_use is a normal stop');
    assert.strictEqual(streamed.text, whole.text, 'the streamed input_json_deltas give the same text');
    assert.strictEqual(streamed.finishReason, 'stop');
    assert.ok(pieces.length > 1);
    assert.deepStrictEqual(JSON.parse(pieces.join('')), JSON.parse(whole.text), 'the pieces passed on are the input as it streams');
  });

  it('a tool call cut by max_tokens has finish reason length (the caller splits), its input still the text', async () => {
    server.script = () => ({
      kind: 'ok',
      blocks: [{ type: 'tool_use', id: 't', name: 'batch_answer', input: { results: [] } }],
      stopReason: 'max_tokens',
    });
    const res = await model().complete(structured(), { signal: signal() });
    assert.deepStrictEqual([res.text, res.finishReason], ['{"results":[]}', 'length']);
  });

  it('sends no tools for a request without a schema', async () => {
    await model().complete({ messages: MESSAGES }, { signal: signal() });
    assert.strictEqual(server.requests[0].body.tools, undefined);
    assert.strictEqual(server.requests[0].body.tool_choice, undefined);
  });

  it('a 400 refusing the tool or its schema is StructuredModeRefusedError; an unrelated 400 or a too-long prompt is not', async () => {
    server.refuseStructured = { status: 400, type: 'invalid_request_error', message: 'tools.0.input_schema: JSON schema is invalid - please consult https://json-schema.org' };
    for (const onText of [undefined, () => undefined]) {
      const e = await failure(model().complete(structured(), { signal: signal(), onText }));
      assert.ok(StructuredModeRefusedError.is(e), `got ${String(e)}`);
    }
    server.refuseStructured = { status: 400, type: 'invalid_request_error', message: 'messages: roles must alternate between "user" and "assistant"' };
    const other = await failure(model().complete(structured(), { signal: signal() }));
    assert.ok(InvalidRequestError.is(other) && !StructuredModeRefusedError.is(other), `got ${String(other)}`);
    server.refuseStructured = { status: 400, type: 'invalid_request_error', message: 'prompt is too long: 300000 tokens > 200000 maximum' };
    assert.ok(ContextOverflowError.is(await failure(model().complete(structured(), { signal: signal() }))));
  });
});

describe('structured output: Ollama (format)', () => {
  const server = new OllamaServer();
  let baseUrl = '';
  useServer(server, (url) => (baseUrl = url));
  const model = () => new OllamaModel({ baseUrl, model: 'llama3.2' });

  it('declares the mode, sends the schema as format, and the reply text is the JSON, whole and streamed', async () => {
    assert.strictEqual(model().structuredOutput, true);
    const request = structured();
    const { whole, streamed, pieces } = await bothWays(model(), request);
    for (const r of server.requests) assert.deepStrictEqual(r.body.format, request.responseSchema!.schema);
    assert.deepStrictEqual(resultIds(whole.text), IDS);
    assert.strictEqual(streamed.text, whole.text);
    assert.strictEqual(pieces.join(''), whole.text);
  });

  it('sends no format for a request without a schema', async () => {
    await model().complete({ messages: MESSAGES }, { signal: signal() });
    assert.strictEqual(server.requests[0].body.format, undefined);
  });

  it('an Ollama before 0.5 refusing a schema in format, or one it cannot compile, is StructuredModeRefusedError', async () => {
    server.legacyFormat = true;
    for (const onText of [undefined, () => undefined]) {
      const e = await failure(model().complete(structured(), { signal: signal(), onText }));
      assert.ok(StructuredModeRefusedError.is(e) && /Ollama 0\.5/.test(e.message), `got ${String(e)}`);
    }
    server.legacyFormat = false;
    server.script = () => ({ kind: 'error', status: 500, error: 'invalid JSON schema in format' });
    assert.ok(StructuredModeRefusedError.is(await failure(model().complete(structured(), { signal: signal() }))));
  });

  it('other errors of a structured request keep their type', async () => {
    server.script = () => ({ kind: 'error', status: 400, error: 'invalid options: num_gpu' });
    const e = await failure(model().complete(structured(), { signal: signal() }));
    assert.ok(InvalidRequestError.is(e) && !StructuredModeRefusedError.is(e), `got ${String(e)}`);
    server.script = () => ({ kind: 'error', status: 500, error: 'llama runner process has terminated: signal: killed' });
    const t = await failure(model().complete(structured(), { signal: signal() }));
    assert.ok(TransientError.is(t) && !StructuredModeRefusedError.is(t), `got ${String(t)}`);
  });
});

describe('structured output: provider batch jobs', function () {
  this.timeout(10_000);
  const batches = new BatchServer();
  const live = new ModelServer();
  const claude = new AnthropicServer();
  let base = '';
  let liveUrl = '';
  let claudeUrl = '';
  useServer(batches, (url) => (base = url));
  useServer(live, (url) => (liveUrl = url));
  useServer(claude, (url) => (claudeUrl = url));

  /** Submits one structured request, polls the job to its end, and returns its results. */
  async function runJob(api: BatchApi, request: ChatRequest): Promise<BatchResult[]> {
    const { jobId } = await api.submit(api.encode([{ customId: 'b1', ...request }]));
    let state: JobState | undefined;
    for (let i = 0; i < 5 && !state?.ended; i++) state = await api.poll(jobId);
    assert.ok(state?.ended, 'the job ended');
    return (await api.results(jobId, state)).results;
  }

  it('OpenAI: each JSONL line carries the live request\'s response_format, and the result text is the JSON', async () => {
    const request = structured();
    await new OpenAICompatibleModel({ baseUrl: liveUrl, model: 'gpt-test', apiKey: 'k-123456' }).complete(request, { signal: signal() });
    const results = await runJob(new OpenAIBatchApi({ baseUrl: `${base}/v1`, model: 'gpt-test', apiKey: 'k-123456' }), request);
    const line = (batches.calls[0].body as { lines: { body: Record<string, unknown> }[] }).lines[0];
    assert.deepStrictEqual(line.body.response_format, live.requests[0].body.response_format);
    assert.strictEqual((line.body.response_format as { json_schema: { strict: boolean } }).json_schema.strict, true);
    const r = results[0];
    assert.ok(r.ok, 'succeeded');
    assert.deepStrictEqual(resultIds(r.response.text), IDS);
  });

  it("Anthropic: each request's params carry the live request's forced tool, and the result text is the tool input as JSON", async () => {
    const request = structured(FINDINGS_SCHEMA);
    const whole = await new AnthropicModel({ baseUrl: claudeUrl, model: 'claude-test', apiKey: 'sk-ant-123456' }).complete(request, { signal: signal() });
    const results = await runJob(new AnthropicBatchApi({ baseUrl: base, model: 'claude-test', apiKey: 'sk-ant-123456' }), request);
    const params = (batches.calls[0].body as { requests: { params: Record<string, unknown> }[] }).requests[0].params;
    assert.deepStrictEqual([params.tools, params.tool_choice], [claude.requests[0].body.tools, claude.requests[0].body.tool_choice]);
    assert.deepStrictEqual(params.tool_choice, { type: 'tool', name: 'batch_answer' });
    assert.deepStrictEqual((params.tools as { input_schema: unknown }[])[0].input_schema, request.responseSchema!.schema);
    const r = results[0];
    assert.ok(r.ok, 'succeeded');
    assert.deepStrictEqual(resultIds(r.response.text), IDS);
    assert.strictEqual(r.response.text, whole.text, 'the same text as the live reply');
    assert.strictEqual(r.response.finishReason, 'stop');
  });
});
