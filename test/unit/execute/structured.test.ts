import * as assert from 'assert';
import { chunkFile } from '../../../src/core/plan/chunker';
import { StructuredModeRefusedError, TransientError } from '../../../src/core/execute/errors';
import type { ChunkOutcome, RunEvent } from '../../../src/core/execute/events';
import { executeRequests, type ExecutorOptions } from '../../../src/core/execute/executor';
import { packRequests } from '../../../src/core/plan/packer';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { Chunk, PackedRequest, SourceFile } from '../../../src/core/plan/types';
import { decodeEntries, type OutputSpec } from '../../../src/core/output/spec';
import { ScriptedModel, structuredReply, taggedReply, type Answer, type SeenChunk } from '../../support/scriptedModel';
import type { ChatRequest } from '../../../src/core/execute/model';

const tokenizer = getTokenizer('o200k_base');
const FINDINGS: OutputSpec = { kind: 'findings' };
const PROMPT = 'Find bugs.';

function files(n: number, lines = 30): SourceFile[] {
  return Array.from({ length: n }, (_, f) => ({
    path: `src/f${f}.ts`,
    text: Array.from({ length: lines }, (_, l) => `const v${l} = ${f * 100 + l};`).join('\n') + '\n',
  }));
}

function batchesOf(sources: SourceFile[], output: OutputSpec, chunkTokens = 8192, chunksPerBatch = 4): PackedRequest<Chunk>[] {
  const chunks = sources.flatMap((f, i) => chunkFile(f, i, tokenizer, { chunkTokens, overlapTokens: 10, lineNumbers: output.kind === 'findings' }));
  return packRequests(chunks, PROMPT, tokenizer, { chunksPerBatch, maxBatchTokens: 32768, output });
}

function finding(c: SeenChunk, extra: Record<string, unknown> = {}): unknown {
  return { findings: [{ line: c.startLine, severity: 'warning', message: `look at ${c.id}`, rule: 'r1', ...extra }] };
}

async function run(batches: PackedRequest<Chunk>[], model: ScriptedModel, output: OutputSpec, extra: Partial<ExecutorOptions> = {}) {
  const outcomes: ChunkOutcome[] = [];
  const events: RunEvent[] = [];
  const summary = await executeRequests(batches, {
    prompt: PROMPT,
    model,
    tokenizer,
    output,
    random: () => 0,
    maxRetries: 2,
    onEvent: (e) => events.push(e),
    onOutcome: (o) => void outcomes.push(o),
    ...extra,
  });
  const ids = batches.flatMap((b) => b.chunks.map((c) => c.id));
  assert.deepStrictEqual(outcomes.map((o) => o.chunk.id).sort(), [...ids].sort(), 'every chunk ends exactly once');
  return { outcomes, byId: new Map(outcomes.map((o) => [o.chunk.id, o])), events, summary };
}

function valueOf(o: ChunkOutcome | undefined): unknown {
  assert.strictEqual(o?.status, 'succeeded', o?.error?.message);
  const entries = decodeEntries(o.output!);
  assert.strictEqual(entries.length, 1);
  assert.strictEqual(entries[0].startLine, o.chunk.startLine);
  assert.strictEqual(entries[0].endLine, o.chunk.endLine);
  return entries[0].value;
}

const userText = (r: ChatRequest): string => r.messages.filter((m) => m.role === 'user').map((m) => m.content).join('\n');
const systemText = (r: ChatRequest): string => r.messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n');

describe('executor: structured output kinds (#14)', function () {
  this.timeout(20_000);

  it('findings: sends numbered lines, checks each value, records it placed on its chunk', async () => {
    const batches = batchesOf(files(3), FINDINGS);
    const model = new ScriptedModel((_r, _n, chunks) => taggedReply(chunks, (c) => JSON.stringify(finding(c))));
    const { byId, summary } = await run(batches, model, FINDINGS);
    assert.strictEqual(summary.succeeded, 3);
    for (const o of byId.values()) assert.deepStrictEqual(valueOf(o), { findings: [{ line: o.chunk.startLine, severity: 'warning', message: `look at ${o.chunk.id}`, rule: 'r1' }] });
    const first = model.requests[0];
    assert.match(userText(first), /\n {5}1\tconst v0 = 0;\n {5}2\tconst v1 = 1;/, 'every line carries its number as cat -n prints it');
    assert.match(systemText(first), /cat -n/);
    assert.match(systemText(first), /JSON Schema/);
    assert.strictEqual(first.responseSchema, undefined, 'a model without a structured mode gets the tagged protocol');
  });

  it('a mixed reply: the valid chunk is kept and never re-sent; the invalid one is repaired alone with its error quoted', async () => {
    const batches = batchesOf(files(2), FINDINGS);
    assert.strictEqual(batches.length, 1);
    const model = new ScriptedModel((_r, n, chunks) => {
      if (n === 1) return taggedReply(chunks, (c) => JSON.stringify(c.id === '2.1' ? finding(c, { severity: 'fatal' }) : finding(c)));
      return taggedReply(chunks, (c) => JSON.stringify(finding(c)));
    });
    const { byId, events } = await run(batches, model, FINDINGS);
    assert.ok(valueOf(byId.get('1.1')));
    assert.ok(valueOf(byId.get('2.1')));
    assert.deepStrictEqual(model.sentIds(), ['1.1', '2.1', '2.1'], 'only the invalid chunk goes again');
    const repair = model.requests[1];
    const roles = repair.messages.map((m) => m.role);
    assert.deepStrictEqual(roles, ['system', 'user', 'assistant', 'user']);
    assert.match(repair.messages[2].content, /"fatal"/, 'the invalid answer is shown back');
    assert.match(repair.messages[3].content, /not valid: \/findings\/0\/severity: must be equal to one of the allowed values/);
    const retry = events.find((e) => e.type === 'retry-scheduled');
    assert.strictEqual(retry?.type === 'retry-scheduled' && retry.reason, 'invalid-output');
    assert.strictEqual(byId.get('2.1')!.attempts, 2);
  });

  it('still invalid after the one repair: fails invalid-output naming the first error, with the raw reply kept', async () => {
    const batches = batchesOf(files(1), FINDINGS);
    const model = new ScriptedModel((_r, _n, chunks) => taggedReply(chunks, (c) => JSON.stringify({ findings: [{ line: c.endLine + 5, severity: 'error', message: 'x' }] })));
    const { byId } = await run(batches, model, FINDINGS);
    const o = byId.get('1.1')!;
    assert.strictEqual(o.status, 'failed');
    assert.strictEqual(o.error?.kind, 'invalid-output');
    assert.match(o.error!.message, /\/findings\/0\/line: 35 is outside this chunk's lines 1–30/);
    assert.match(o.error!.message, /invalid\/1\.1\.txt/);
    assert.match(o.rawReply ?? '', /"line":35/);
    assert.strictEqual(model.requests.length, 2, 'one request, one repair, no more');
  });

  it('accepts JSON in a code fence or wrapped in prose; a reply that is not JSON is repaired', async () => {
    const batches = batchesOf(files(3), FINDINGS);
    const model = new ScriptedModel((_r, n, chunks) =>
      taggedReply(chunks, (c) => {
        const json = JSON.stringify(finding(c));
        if (n > 1) return json;
        if (c.id === '1.1') return '```json\n' + json + '\n```';
        if (c.id === '2.1') return `Here is what I found:\n${json}\nHope this helps.`;
        return 'I found nothing wrong.';
      }),
    );
    const { byId } = await run(batches, model, FINDINGS);
    for (const id of ['1.1', '2.1', '3.1']) assert.ok(valueOf(byId.get(id)));
    assert.deepStrictEqual(model.sentIds(), ['1.1', '2.1', '3.1', '3.1']);
    assert.match(model.requests[1].messages[3].content, /not JSON/);
  });

  it('structured mode: the answer schema goes with the request; one {"results"} object answers the batch', async () => {
    const batches = batchesOf(files(3), FINDINGS);
    const model = new ScriptedModel((_r, _n, chunks) => structuredReply(chunks, (c) => finding(c)), { structuredOutput: true });
    const { byId } = await run(batches, model, FINDINGS);
    for (const o of byId.values()) assert.ok(valueOf(o));
    const schema = model.requests[0].responseSchema;
    assert.ok(schema, 'the structured mode is used');
    assert.deepStrictEqual((schema.schema as { properties: { results: { items: { properties: { id: { enum: string[] } } } } } }).properties.results.items.properties.id.enum, ['1.1', '2.1', '3.1']);
    assert.match(systemText(model.requests[0]), /\{"results"/);
  });

  it('structured mode: a reply that is not JSON sends each chunk alone as a repair; a cut-off one sends them again, not as invalid', async () => {
    const batches = batchesOf(files(2), FINDINGS);
    let n = 0;
    const model = new ScriptedModel((_r, _k, chunks): Answer => {
      n++;
      if (n === 1) return 'Sorry, here: {"results": [';
      return structuredReply(chunks, (c) => finding(c));
    }, { structuredOutput: true });
    const a = await run(batches, model, FINDINGS);
    for (const o of a.byId.values()) assert.ok(valueOf(o));
    assert.ok(model.requests.slice(1).every((r) => r.messages.length === 4), 'each went as a repair');

    const cut = new ScriptedModel((_r, k, chunks): Answer => (k === 1 ? { text: '{"results": [{"id": "1.1", "value": {"findi', finishReason: 'length' } : structuredReply(chunks, (c) => finding(c))), { structuredOutput: true });
    const b = await run(batchesOf(files(2), FINDINGS), cut, FINDINGS);
    for (const o of b.byId.values()) assert.ok(valueOf(o));
    assert.ok(cut.requests.slice(1).every((r) => r.messages.length === 2), 'sent again as ordinary requests, not repairs');
    assert.deepStrictEqual(cut.sentIds().slice(2).sort(), ['1.1', '2.1']);
  });

  it('a server that refuses the structured mode: tagged protocol for the rest of the run, chunks not charged, told once', async () => {
    const batches = batchesOf(files(8), FINDINGS, 8192, 2);
    assert.strictEqual(batches.length, 4);
    const model = new ScriptedModel((r, _n, chunks): Answer => {
      if (r.responseSchema) return new StructuredModeRefusedError("response_format 'json_schema' is not supported");
      return taggedReply(chunks, (c) => JSON.stringify(finding(c)));
    }, { structuredOutput: true });
    const { byId, events, summary } = await run(batches, model, FINDINGS, { maxConcurrency: 1 });
    assert.strictEqual(summary.succeeded, 8);
    for (const o of byId.values()) assert.strictEqual(o.attempts, 1, `${o.chunk.id} is not charged for the refusal`);
    assert.strictEqual(model.requests.filter((r) => r.responseSchema).length, 1, 'detected once per endpoint and run');
    assert.strictEqual(events.filter((e) => e.type === 'reply-warning' && /refused structured output/.test(e.message)).length, 1);
  });

  it('a transient error during a repair is retried like any other; the repair context is kept', async () => {
    const batches = batchesOf(files(1), FINDINGS);
    const model = new ScriptedModel((_r, n, chunks): Answer => {
      if (n === 1) return taggedReply(chunks, () => '{"findings": "none"}');
      if (n === 2) return new TransientError('502');
      return taggedReply(chunks, (c) => JSON.stringify(finding(c)));
    });
    const { byId } = await run(batches, model, FINDINGS, { clock: { now: () => Date.now(), sleep: () => Promise.resolve() } });
    assert.ok(valueOf(byId.get('1.1')));
    assert.strictEqual(model.requests[2].messages.length, 4, 'the retry is still the repair');
  });

  it('json kind: the user schema is applied to each chunk value', async () => {
    const spec: OutputSpec = { kind: 'json', schema: { type: 'object', required: ['todo'], properties: { todo: { type: 'integer', minimum: 0 } }, additionalProperties: false } };
    const batches = batchesOf(files(2), spec);
    const model = new ScriptedModel((_r, n, chunks) => taggedReply(chunks, (c) => JSON.stringify(n === 1 && c.id === '2.1' ? { todo: -1 } : { todo: 2 })));
    const { byId } = await run(batches, model, spec);
    assert.deepStrictEqual(valueOf(byId.get('1.1')), { todo: 2 });
    assert.deepStrictEqual(valueOf(byId.get('2.1')), { todo: 2 });
    assert.match(model.requests[1].messages[3].content, /\/todo: must be >= 0/);
    assert.doesNotMatch(userText(model.requests[0]), /\n {5}2\t/, 'json chunks are not numbered');
  });

  it('text runs are unchanged: no schema, no numbers, outputs as the model wrote them', async () => {
    const batches = batchesOf(files(1), { kind: 'text' });
    const model = new ScriptedModel((_r, _n, chunks) => taggedReply(chunks, () => 'not json at all'));
    const { byId } = await run(batches, model, { kind: 'text' });
    assert.strictEqual(byId.get('1.1')!.output, 'not json at all');
    assert.strictEqual(model.requests.length, 1);
    assert.doesNotMatch(systemText(model.requests[0]), /JSON Schema|cat -n/);
  });
});
