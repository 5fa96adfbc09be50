// The structured path end to end: executor → each provider's structured mode → its local fake server,
// answering valid, invalid, partly valid, fenced, prose-wrapped and truncated JSON; and the fallback to
// the tagged protocol when the server refuses the mode.
import * as assert from 'assert';
import { chunkFile } from '../../../src/core/plan/chunker';
import type { ChunkOutcome, RunEvent } from '../../../src/core/execute/events';
import { executeRequests } from '../../../src/core/execute/executor';
import type { ChatModel } from '../../../src/core/execute/model';
import { packRequests } from '../../../src/core/plan/packer';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { Chunk, PackedRequest } from '../../../src/core/plan/types';
import { decodeEntries, type OutputSpec } from '../../../src/core/output/spec';
import { AnthropicModel } from '../../../src/providers/anthropic';
import { OllamaModel } from '../../../src/providers/ollama';
import { OpenAICompatibleModel } from '../../../src/providers/openaiCompatible';
import { AnthropicServer } from '../../support/anthropicServer';
import { useServer } from '../../support/localServer';
import { defaultValue, ModelServer, STRUCTURED_REFUSALS, structuredAnswer, type RequestChunk } from '../../support/modelServer';
import { OllamaServer } from '../../support/ollamaServer';

const tokenizer = getTokenizer('o200k_base');
const FINDINGS: OutputSpec = { kind: 'findings' };

function batches(n = 3): PackedRequest<Chunk>[] {
  const chunks = Array.from({ length: n }, (_, f) => chunkFile({ path: `src/f${f}.ts`, text: Array.from({ length: 12 }, (_, l) => `let x${l} = ${l};`).join('\n') + '\n' }, f, tokenizer, { chunkTokens: 8192, overlapTokens: 10, lineNumbers: true })).flat();
  return packRequests(chunks, 'Find bugs.', tokenizer, { chunksPerBatch: 4, maxBatchTokens: 32768, output: FINDINGS });
}

/** The tagged protocol's answer with a valid findings value per chunk. */
const taggedJson = (chunks: RequestChunk[]): string => chunks.map((c) => `<result id="${c.id}">\n${JSON.stringify(defaultValue(c))}\n</result>`).join('\n');

interface ServedLike {
  body: Record<string, unknown>;
  chunks: RequestChunk[];
}

/** One provider: its fake server, its model, and how a script says "reply this text" on it. */
interface Harness {
  name: string;
  requests(): ServedLike[];
  model(): ChatModel;
  /** True when the request used the structured mode. */
  structured(r: ServedLike): boolean;
  setValue(v: (c: RequestChunk) => unknown): void;
  /** Make the server answer with this text (or null: its default) and an optional cut by the output limit. */
  reply(f: (r: ServedLike) => { text: string; cut?: boolean } | null): void;
  /** Make the server refuse the structured mode. */
  refuse(): void;
}

async function run(h: Harness) {
  const outcomes: ChunkOutcome[] = [];
  const events: RunEvent[] = [];
  const b = batches();
  await executeRequests(b, { prompt: 'Find bugs.', model: h.model(), tokenizer, output: FINDINGS, random: () => 0, maxRetries: 2, maxConcurrency: 1, onEvent: (e) => events.push(e), onOutcome: (o) => void outcomes.push(o) });
  assert.strictEqual(outcomes.length, b.flatMap((x) => x.chunks).length, 'every chunk ends once');
  return { byId: new Map(outcomes.map((o) => [o.chunk.id, o])), events, sent: h.requests().flatMap((r) => r.chunks.map((c) => c.id)) };
}

function succeeded(o: ChunkOutcome | undefined): void {
  assert.strictEqual(o?.status, 'succeeded', o?.error?.message);
  const [entry] = decodeEntries(o.output!);
  assert.deepStrictEqual(entry.value, { findings: [{ line: o.chunk.startLine, severity: 'warning', message: `OUT[${o.chunk.id}]` }] });
}

function matrix(make: () => Harness, freeText: boolean): void {
  let h: Harness;
  beforeEach(() => (h = make()));

  it('valid JSON: every chunk succeeds in one structured request', async () => {
    const { byId } = await run(h);
    for (const o of byId.values()) succeeded(o);
    assert.strictEqual(h.requests().length, 1);
    assert.ok(h.structured(h.requests()[0]), 'the structured mode was used');
  });

  it('partly valid: the invalid chunk alone is repaired with its error; the valid ones are never sent again', async () => {
    let first = true;
    h.setValue((c) => {
      if (c.id === '2.1' && first) {
        first = false;
        return { findings: [{ line: 0, severity: 'warning', message: 'x' }] };
      }
      return defaultValue(c);
    });
    const { byId, sent } = await run(h);
    for (const o of byId.values()) succeeded(o);
    assert.deepStrictEqual(sent, ['1.1', '2.1', '3.1', '2.1']);
    const repair = JSON.stringify(h.requests()[1].body);
    assert.match(repair, /not valid: \/findings\/0\/line: must be >= 1/);
  });

  it('invalid after the repair: fails invalid-output with its raw answer', async () => {
    h.setValue((c) => (c.id === '1.1' ? { findings: 'none' } : defaultValue(c)));
    const { byId } = await run(h);
    const o = byId.get('1.1')!;
    assert.strictEqual(o.error?.kind, 'invalid-output');
    assert.match(o.error!.message, /\/findings: must be array/);
    assert.match(o.rawReply!, /"findings":"none"/);
    succeeded(byId.get('2.1'));
  });

  // A tool's input is an object: no fence or prose can surround it, nor can a cut one be sent.
  if (freeText) {it('fenced and prose-wrapped JSON is read', async () => {
    let n = 0;
    h.reply((r) => {
      n++;
      const json = structuredAnswer(r.chunks);
      return { text: n === 1 ? '```json\n' + json + '\n```' : `Sure! Here are the results:\n${json}\nLet me know.` };
    });
    const { byId } = await run(h);
    for (const o of byId.values()) succeeded(o);
    assert.strictEqual(h.requests().length, 1);
  });}

  if (freeText) {it('a reply cut by the output limit sends its chunks again, never as invalid', async () => {
    let n = 0;
    h.reply((r) => (++n === 1 ? { text: structuredAnswer(r.chunks).slice(0, 60), cut: true } : null));
    const { byId } = await run(h);
    for (const o of byId.values()) succeeded(o);
    assert.ok(h.requests().length > 1);
    assert.ok(h.requests().slice(1).every((r) => !JSON.stringify(r.body).includes('is not valid')), 'no repair was asked');
  });}

  it('a server that refuses the mode: the tagged protocol from then on, the chunks not charged', async () => {
    h.refuse();
    h.reply((r) => (h.structured(r) ? null : { text: taggedJson(r.chunks) }));
    const { byId, events } = await run(h);
    for (const o of byId.values()) {
      succeeded(o);
      assert.strictEqual(o.attempts, 1);
    }
    const reqs = h.requests();
    assert.strictEqual(reqs.filter((r) => h.structured(r)).length, 1, 'refused once, then never asked again');
    assert.ok(events.some((e) => e.type === 'reply-warning' && /refused structured output/.test(e.message)));
  });
}

describe('structured output end to end through each provider (#14)', function () {
  this.timeout(90_000);

  describe('OpenAI-compatible', () => {
    const server = new ModelServer();
    let url = '';
    useServer(server, (u) => (url = u));
    matrix(() => ({
      name: 'openai',
      requests: () => server.requests as unknown as ServedLike[],
      model: () => new OpenAICompatibleModel({ baseUrl: url, model: 'm', apiKey: 'sk-test-1234567890' }),
      structured: (r) => r.body.response_format !== undefined,
      setValue: (v) => (server.structuredValue = v),
      reply: (f) => (server.script = (r) => {
        const x = f(r as unknown as ServedLike);
        return x ? { kind: 'ok', reply: x.text, ...(x.cut ? { finishReason: 'length' } : {}) } : undefined;
      }),
      refuse: () => (server.refuseStructured = STRUCTURED_REFUSALS.llamaCpp),
    }), true);
  });

  describe('Anthropic (forced tool)', () => {
    const server = new AnthropicServer();
    let url = '';
    useServer(server, (u) => (url = u));
    matrix(() => ({
      name: 'anthropic',
      requests: () => server.requests as unknown as ServedLike[],
      model: () => new AnthropicModel({ baseUrl: url, model: 'claude-test', apiKey: 'sk-ant-test-123456' }),
      structured: (r) => r.body.tools !== undefined,
      setValue: (v) => (server.structuredValue = v),
      reply: (f) => (server.script = (r) => {
        const x = f(r as unknown as ServedLike);
        return x ? { kind: 'ok', reply: x.text } : undefined;
      }),
      refuse: () => (server.refuseStructured = { status: 400, type: 'invalid_request_error', message: 'tools.0.input_schema: JSON schema is invalid' }),
    }), false);
  });

  describe('Ollama (format)', () => {
    const server = new OllamaServer();
    let url = '';
    useServer(server, (u) => (url = u));
    matrix(() => ({
      name: 'ollama',
      requests: () => server.requests as unknown as ServedLike[],
      model: () => new OllamaModel({ baseUrl: url, model: 'llama3.2' }),
      structured: (r) => r.body.format !== undefined,
      setValue: (v) => (server.structuredValue = v),
      reply: (f) => (server.script = (r) => {
        const x = f(r as unknown as ServedLike);
        return x ? { kind: 'ok', reply: x.text, ...(x.cut ? { doneReason: 'length' } : {}) } : undefined;
      }),
      refuse: () => (server.legacyFormat = true),
    }), true);
  });
});
