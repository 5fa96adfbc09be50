// The reduce step (#16) against an in-process fake model whose combine answer lists the input ids it
// was given: trees of depth 1, 2 and 3 forced by small budgets carry every successful file exactly
// once; failed files and failed groups are named, never both included and named, never neither.
import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as path from 'path';
import type { ChatRequest } from '../../../src/core/execute/model';
import { TransientError } from '../../../src/core/execute/errors';
import { createPlan } from '../../../src/core/plan/plan';
import { getTokenizer, type Tokenizer } from '../../../src/core/plan/tokenizer';
import { countedOffThread, PrecountedTokenizer } from '../../../src/core/plan/offThreadCounts';
import type { Measure } from '../../../src/core/execute/executor';
import type { SourceFile } from '../../../src/core/plan/types';
import { readReduceState, type InputRecord } from '../../../src/core/reduce/journal';
import { reduceRun, type ReduceOptions, type ReduceResult } from '../../../src/core/reduce/reduce';
import { reduceOverhead } from '../../../src/core/reduce/framing';
import { ReduceRefusedError } from '../../../src/core/reduce/tree';
import { runPlan, type RunParameters } from '../../../src/core/session/run';
import { writeRunReport } from '../../../src/core/store/runReport';
import { combineReply, groupIdOf, idsInAnswer, userText } from '../../support/reduceModel';
import { ScriptedModel, taggedReply } from '../../support/scriptedModel';
import { treeOf, useWorkspace } from '../../support/tempWorkspace';

const tokenizer = getTokenizer();
const byText = (x: unknown, y: unknown) => JSON.stringify(x).localeCompare(JSON.stringify(y));
const parameters: RunParameters = { maxConcurrency: 3, maxRetries: 1, requestTimeoutMs: 10_000, chunkTokens: 400, overlapTokens: 0, chunksPerBatch: 1, maxBatchTokens: 32768 };
const PROMPT = 'Which files mention billing?';
const FILES: SourceFile[] = Array.from({ length: 12 }, (_, i) => ({ path: `src/m${String(i + 1).padStart(2, '0')}.ts`, text: `export const m${i + 1} = ${i};\n`.repeat(3 + i) }));

describe('reduce: one answer for a run (#16)', function () {
  this.timeout(90_000);
  let ws = '';
  useWorkspace('bp-reduce-', treeOf(FILES), (dir) => (ws = dir));
  const roots = () => ({ allowed: [ws], hint: 'from the workspace' });

  /** A map run: each chunk answered `summary of PATH`; chunks of `failing` files fail (no result, no retry). */
  async function mapRun(name: string, failing: readonly string[] = []): Promise<string> {
    const plan = createPlan(FILES, { prompt: 'Summarise.', tokenizer, chunk: { chunkTokens: 400, overlapTokens: 0 }, pack: { chunksPerBatch: 1, maxBatchTokens: 32768 } });
    const model = new ScriptedModel((_r, _n, chunks) => (chunks.some((c) => failing.includes(c.path)) ? new TransientError('server error') : taggedReply(chunks, (c) => `summary of ${c.path}`)));
    const dir = path.join(ws, '.batch-prompt/runs', name);
    await runPlan(plan, { root: ws, dir, prompt: 'Summarise.', model, modelInfo: { id: 'm' }, tokenizer, parameters: { ...parameters, maxRetries: 0 } });
    return dir;
  }

  /** A request budget with `room` tokens for inputs (a level-0 input, `summary of src/mNN.ts` in its wrapper, costs about 32). */
  const budgetFor = (room: number) => reduceOverhead(PROMPT, tokenizer, undefined) + room;

  async function reduce(dir: string, model: ScriptedModel, extra: Partial<ReduceOptions> = {}): Promise<ReduceResult> {
    return reduceRun(dir, { prompt: PROMPT, model, tokenizer, roots: roots(), ...extra });
  }

  async function inputsOf(dir: string): Promise<InputRecord[]> {
    return (await readReduceState(dir))!.inputs!.inputs;
  }

  /** Every input is in the final answer exactly once, or named not included; never both, never neither. */
  async function assertCounted(dir: string, result: ReduceResult, failedPaths: readonly string[]): Promise<void> {
    const answer = await fs.readFile(path.join(dir, 'answer.md'), 'utf8');
    const listed = idsInAnswer(answer);
    const inputs = await inputsOf(dir);
    const byId = new Map(inputs.map((i) => [i.id, i]));
    assert.strictEqual(new Set(listed).size, listed.length, `an input listed twice: ${listed.join(' ')}`);
    const named = new Set(result.notIncluded.map((n) => n.path));
    for (const i of inputs) {
      const included = listed.includes(i.id);
      assert.ok(included !== named.has(i.path), `${i.path} (${i.id}) is ${included ? 'both included and named' : 'neither included nor named'}`);
    }
    for (const p of failedPaths) {
      assert.ok(!inputs.some((i) => i.path === p), `${p} failed in the run: it is no input`);
      assert.ok(named.has(p), `${p} is named not included`);
      assert.ok(answer.includes(`- ${p} lines`), `${p} is named at the top of answer.md`);
    }
    for (const id of listed) assert.ok(byId.has(id), `the answer lists ${id}, an input`);
    if (result.notIncluded.length) assert.ok(answer.startsWith('Not included ('), 'what is missing is named at the top');
  }

  for (const [depth, room] of [
    [1, 3200],
    [2, 160],
    [3, 80],
  ] as const) {
    it(`a tree of depth ${depth} (${room} tokens of inputs a request) carries every successful file exactly once`, async () => {
      const dir = await mapRun(`d${depth}`);
      const model = new ScriptedModel(combineReply);
      const result = await reduce(dir, model, { parameters: { maxBatchTokens: budgetFor(room) } });
      assert.strictEqual(result.status, 'succeeded', result.message);
      assert.strictEqual(result.shape.levels.length, depth, JSON.stringify(result.shape.levels));
      assert.strictEqual(result.shape.levels[depth - 1].groups, 1, 'the last level is one request');
      assert.strictEqual(result.shape.requests, model.requests.length);
      assert.strictEqual(idsInAnswer(result.answer!).length, FILES.length);
      await assertCounted(dir, result, []);
      // The journal: every group with the inputs it took; each input in exactly one group of its level.
      const st = (await readReduceState(dir))!;
      const level1 = st.levels[0].groups.flatMap((g) => g.inputs).sort();
      assert.deepStrictEqual(level1, (await inputsOf(dir)).map((i) => i.id).sort());
    });
  }

  it('names failed files and groups that failed after their retries; a group failing once then succeeding is included', async () => {
    const failing = ['src/m03.ts', 'src/m08.ts'];
    const dir = await mapRun('fail', failing);
    const attempts = new Map<string, number>();
    const model = new ScriptedModel((r: ChatRequest) => {
      const id = groupIdOf(userText(r))!;
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      if (id === 'R1.2' && n === 1) return new TransientError('once'); // fails once, then succeeds
      if (id === 'R1.3') return new TransientError('always'); // fails after its retries
      return combineReply(r);
    });
    const result = await reduce(dir, model, { parameters: { maxBatchTokens: budgetFor(100), maxRetries: 1 } });
    assert.strictEqual(result.status, 'succeeded', result.message);
    assert.strictEqual(attempts.get('R1.2'), 2);
    assert.strictEqual(attempts.get('R1.3'), 2, 'retried once, then failed');
    const st = (await readReduceState(dir))!;
    const lost = st.levels[0].groups.find((g) => g.id === 'R1.3')!.inputs;
    const inputs = await inputsOf(dir);
    const lostPaths = inputs.filter((i) => lost.includes(i.id)).map((i) => i.path);
    assert.ok(lostPaths.length > 0);
    for (const p of lostPaths) assert.ok(result.notIncluded.some((n) => n.path === p && n.reason.includes('R1.3')), `${p} is named with its failed group`);
    await assertCounted(dir, result, failing);
    // The report links the answer and shows the tree.
    await writeRunReport(dir);
    const report = await fs.readFile(path.join(dir, 'report.md'), 'utf8');
    assert.ok(report.includes('[answer.md](answer.md)'), report);
    assert.ok(/\| 1 \| \d+ \| \d+ \| 1 \|/.test(report), 'level 1 shows its failed group');
    assert.ok(report.includes('Not included in the combined answer'), report);
  });

  it('cuts a file result larger than one request with the chunker; each piece reaches the answer once', async () => {
    const big: SourceFile[] = [{ path: 'big.md', text: 'x\n' }];
    await fs.writeFile(path.join(ws, 'big.md'), 'x\n');
    const plan = createPlan(big, { prompt: 'Summarise.', tokenizer, chunk: { chunkTokens: 400, overlapTokens: 0 }, pack: { chunksPerBatch: 1, maxBatchTokens: 32768 } });
    const long = Array.from({ length: 200 }, (_, i) => `point ${i}: the billing module does thing number ${i}.`).join('\n');
    const dir = path.join(ws, '.batch-prompt/runs/big');
    await runPlan(plan, { root: ws, dir, prompt: 'Summarise.', model: new ScriptedModel((_r, _n, chunks) => taggedReply(chunks, () => long)), modelInfo: { id: 'm' }, tokenizer, parameters });
    const model = new ScriptedModel(combineReply);
    const result = await reduce(dir, model, { parameters: { maxBatchTokens: reduceOverhead(PROMPT, tokenizer, undefined) + 700 } });
    assert.strictEqual(result.status, 'succeeded', result.message);
    const inputs = await inputsOf(dir);
    assert.ok(inputs.length > 3 && inputs.every((i) => /^F1\.\d+$/.test(i.id) && i.part), JSON.stringify(inputs.map((i) => i.id)));
    assert.deepStrictEqual(idsInAnswer(result.answer!), inputs.map((i) => i.id));
    for (const r of model.requests) assert.ok(tokenizer.count(r.messages.map((m) => m.content).join('\n')) <= reduceOverhead(PROMPT, tokenizer, undefined) + 700, 'every request within its budget');
  });

  it('counts elsewhere with measure (the editor: off its thread), never with the run tokenizer here, to the same tree, inputs and requests', async () => {
    const forbidden: Tokenizer = { encoding: tokenizer.encoding, count: (t) => assert.fail(`counted in this thread: ${t.slice(0, 40)}`) };
    let passes = 0;
    const known = new PrecountedTokenizer(tokenizer.encoding);
    const measure: Measure = Object.assign(<T>(compute: (t: Tokenizer) => T) => countedOffThread(tokenizer.encoding, async (texts) => (passes++, texts.map((t) => tokenizer.count(t))), compute, { known }), { known });
    const budget = { parameters: { maxBatchTokens: budgetFor(80) } };
    const here = await mapRun('here');
    const there = await mapRun('there');
    const hereModel = new ScriptedModel(combineReply);
    const thereModel = new ScriptedModel(combineReply);
    const a = await reduce(here, hereModel, budget);
    const b = await reduce(there, thereModel, { ...budget, tokenizer: forbidden, measure });
    assert.strictEqual(b.status, 'succeeded', b.message);
    assert.ok(passes > 0);
    assert.deepStrictEqual(b.shape, a.shape);
    assert.strictEqual(b.shape.levels.length, 3);
    assert.deepStrictEqual(await inputsOf(there), await inputsOf(here));
    assert.deepStrictEqual((await readReduceState(there))!.levels, (await readReduceState(here))!.levels);
    assert.deepStrictEqual(thereModel.requests.map((r) => r.messages).sort(byText), hereModel.requests.map((r) => r.messages).sort(byText));
    assert.strictEqual(b.answer, a.answer);

    // A result cut into pieces by the chunker (counts that depend on counts: several passes).
    const big: SourceFile[] = [{ path: 'big.md', text: 'x\n' }];
    await fs.writeFile(path.join(ws, 'big.md'), 'x\n');
    const plan = createPlan(big, { prompt: 'Summarise.', tokenizer, chunk: { chunkTokens: 400, overlapTokens: 0 }, pack: { chunksPerBatch: 1, maxBatchTokens: 32768 } });
    const long = Array.from({ length: 200 }, (_, i) => `point ${i}: the billing module does thing number ${i}.`).join('\n');
    const cut = { parameters: { maxBatchTokens: reduceOverhead(PROMPT, tokenizer, undefined) + 700 } };
    const runs = await Promise.all(['cut-here', 'cut-there'].map(async (name) => {
      const dir = path.join(ws, '.batch-prompt/runs', name);
      await runPlan(plan, { root: ws, dir, prompt: 'Summarise.', model: new ScriptedModel((_r, _n, chunks) => taggedReply(chunks, () => long)), modelInfo: { id: 'm' }, tokenizer, parameters });
      return dir;
    }));
    const c = await reduce(runs[0], new ScriptedModel(combineReply), cut);
    const d = await reduce(runs[1], new ScriptedModel(combineReply), { ...cut, tokenizer: forbidden, measure });
    assert.strictEqual(d.status, 'succeeded', d.message);
    assert.ok((await inputsOf(runs[1])).length > 3);
    assert.deepStrictEqual(await inputsOf(runs[1]), await inputsOf(runs[0]));
    assert.strictEqual(d.answer, c.answer);
  });

  it('refuses a run with no successful result, an empty prompt, and a folder with no reduce to go on with, before any request', async () => {
    const dir = await mapRun('none', FILES.map((f) => f.path));
    const model = new ScriptedModel(combineReply);
    await assert.rejects(reduce(dir, model), (e: unknown) => ReduceRefusedError.isRefusal(e) && e.reason === 'no-results' && /no successful result/.test(e.message));
    const ok = await mapRun('ok');
    await assert.rejects(reduce(ok, model, { prompt: '  \n' }), (e: unknown) => ReduceRefusedError.isRefusal(e) && e.reason === 'empty-prompt');
    await assert.rejects(reduceRun(ok, { model, tokenizer, roots: roots() }), (e: unknown) => ReduceRefusedError.isRefusal(e) && e.reason === 'no-reduce');
    assert.strictEqual(model.requests.length, 0);
    await assert.rejects(fs.access(path.join(ok, 'reduce.jsonl')), 'nothing written');
  });

  it('goes on from the journal without resending finished groups, and answers from it when done', async () => {
    const dir = await mapRun('again');
    let calls = 0;
    const stop = new AbortController();
    const model = new ScriptedModel((r) => {
      calls++;
      // Level 2 is where it stops: every level-1 group has its answer on disk.
      if (groupIdOf(userText(r))!.startsWith('R2.')) {
        stop.abort();
        return new TransientError('killed');
      }
      return combineReply(r);
    });
    const first = await reduce(dir, model, { parameters: { maxBatchTokens: budgetFor(80) }, signal: stop.signal });
    assert.strictEqual(first.status, 'interrupted');
    const level1 = (await readReduceState(dir))!.levels[0].groups.map((g) => g.id);
    const again = new ScriptedModel(combineReply);
    const second = await reduceRun(dir, { model: again, tokenizer, roots: roots(), parameters: { maxBatchTokens: budgetFor(80) } });
    assert.strictEqual(second.status, 'succeeded', second.message);
    const sent = again.requests.map((r) => groupIdOf(userText(r))!);
    assert.deepStrictEqual(sent.filter((id) => level1.includes(id)), [], 'no level-1 group sent again');
    await assertCounted(dir, second, []);
    const third = new ScriptedModel(combineReply);
    const done = await reduce(dir, third, { parameters: { maxBatchTokens: budgetFor(80) } });
    assert.strictEqual(done.status, 'succeeded');
    assert.strictEqual(third.requests.length, 0, 'a finished reduce over the same results sends nothing');
    assert.ok(calls > 0);
  });
});
