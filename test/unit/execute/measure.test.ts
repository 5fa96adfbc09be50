// #17: the editor never loads the tokenizer's encoding on the extension host's thread during a run.
// A run given `measure` makes every count the executor needs (a request's size, a reply without usage)
// and the packing of a retry through it, never through the run's tokenizer in this thread. Proved with
// a tokenizer that throws when asked to count.
import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as path from 'path';
import type { Measure } from '../../../src/core/execute/executor';
import type { ChatModel, ChatRequest, ChatResponse } from '../../../src/core/execute/model';
import { createPlan } from '../../../src/core/plan/plan';
import { getTokenizer, type Tokenizer } from '../../../src/core/plan/tokenizer';
import { countedOffThread, PrecountedTokenizer } from '../../../src/core/plan/offThreadCounts';
import type { SourceFile } from '../../../src/core/plan/types';
import { retryChunks, runPlan, type RunParameters } from '../../../src/core/session/run';
import { chunksOf, taggedReply } from '../../support/scriptedModel';
import { treeOf, useWorkspace } from '../../support/tempWorkspace';

const real = getTokenizer();
/** The run's tokenizer, as the host's thread must not use it. */
const forbidden: Tokenizer = {
  encoding: real.encoding,
  count: (text) => {
    throw new Error(`counted in this thread: ${text.slice(0, 40)}`);
  },
};

/** Answers without usage (as the Language Model API does); fails the chunks of f1 while `failF1`. */
class NoUsageModel implements ChatModel {
  readonly id = 'no-usage';
  readonly supportsSystemMessage = true;
  readonly structuredOutput = false;
  failF1 = true;
  async complete(request: ChatRequest): Promise<ChatResponse> {
    const chunks = chunksOf(request);
    if (this.failF1 && chunks.some((c) => c.path === 'f1.txt')) throw Object.assign(new Error('bad request'), { status: 400 });
    return { text: taggedReply(chunks, (c) => c.body.toUpperCase()), finishReason: 'stop' };
  }
}

const files: SourceFile[] = [
  { path: 'f0.txt', text: 'alpha\n'.repeat(30) },
  { path: 'f1.txt', text: 'beta\n'.repeat(30) },
];
const parameters: RunParameters = { maxConcurrency: 2, maxRetries: 0, requestTimeoutMs: 60_000, chunkTokens: 200, overlapTokens: 0, chunksPerBatch: 1, maxBatchTokens: 32768 };

describe('a run whose token counts are measured elsewhere (#17)', () => {
  let ws = '';
  useWorkspace('bp-measure-', treeOf(files), (dir) => (ws = dir));

  it('sends, charges replies without usage and packs a retry through measure, never counting with the run tokenizer', async () => {
    let measured = 0;
    const measure: Measure = Object.assign(<T>(compute: (t: Tokenizer) => T) => {
      measured++;
      return Promise.resolve(compute(real));
    }, { known: real });
    const plan = createPlan(files, { prompt: 'Upper.', tokenizer: real, chunk: { chunkTokens: 200, overlapTokens: 0 }, pack: { chunksPerBatch: 1, maxBatchTokens: 32768 } });
    const model = new NoUsageModel();
    const dir = path.join(ws, 'run');
    const { summary } = await runPlan(plan, { root: ws, dir, prompt: 'Upper.', model, modelInfo: { id: 'no-usage' }, tokenizer: forbidden, measure, parameters, budget: { cap: { maxTokens: 1_000_000 } } });
    assert.strictEqual(summary.fatal, undefined, JSON.stringify(summary.fatal));
    assert.strictEqual(summary.succeeded, 1, 'f0 succeeded (its request sized and its reply charged through measure)');
    assert.strictEqual(summary.failed, 1);
    const afterRun = measured;
    assert.ok(afterRun >= 2, `the request sizes and the reply without usage were measured (${afterRun} calls)`);

    model.failF1 = false;
    const { summary: retried } = await retryChunks(dir, { roots: { allowed: [ws], hint: '' }, model, tokenizer: forbidden, measure, budget: { cap: { maxTokens: 1_000_000 } } });
    assert.strictEqual(retried.status, 'succeeded');
    assert.ok(measured > afterRun, 'the retry packed and sized its request through measure');
  });

  it('splits a chunk too large for the window through measure (counted elsewhere, in passes), and each request carries its count', async () => {
    const file: SourceFile = { path: 'big.txt', text: Array.from({ length: 120 }, (_, i) => `line ${i} of the big file`).join('\n') + '\n' };
    const plan = createPlan([file], { prompt: 'Upper.', tokenizer: real, chunk: { chunkTokens: 2000, overlapTokens: 0 }, pack: { chunksPerBatch: 1, maxBatchTokens: 32768 } });
    assert.strictEqual(plan.totals.chunks, 1);
    await fs.writeFile(path.join(ws, file.path), file.text);
    // Counted "elsewhere" as the editor's pool does: countedOffThread's passes, answering 0 to what it has not counted yet.
    let asked = 0;
    const known = new PrecountedTokenizer(real.encoding);
    const measure: Measure = Object.assign(<T>(compute: (t: Tokenizer) => T) => countedOffThread(real.encoding, async (texts) => (asked += texts.length, texts.map((t) => real.count(t))), compute, { known }), { known });
    const seen: { inputTokens?: number; bodies: string[] }[] = [];
    const started: number[] = [];
    const errors: string[] = [];
    class SmallWindow extends NoUsageModel {
      contextWindow = 0;
      override async complete(request: ChatRequest): Promise<ChatResponse> {
        seen.push({ inputTokens: request.inputTokens, bodies: chunksOf(request).map((c) => c.body) });
        return super.complete(request);
      }
    }
    const model = new SmallWindow();
    model.failF1 = false;
    const whole = plan.batches[0].tokens;
    // The whole chunk does not fit; each half does.
    model.contextWindow = whole - Math.floor(plan.batches[0].chunks[0].tokens / 3);
    const { summary } = await runPlan(plan, { root: ws, dir: path.join(ws, 'split'), prompt: 'Upper.', model, modelInfo: { id: 'small' }, tokenizer: forbidden, measure, parameters: { ...parameters, chunkTokens: 2000 }, onEvent: (e) => {
      if (e.type === 'batch-started') started.push(e.tokens);
      if (e.type === 'chunk-finished' && e.outcome.error) errors.push(e.outcome.error.message);
    } });
    assert.strictEqual(summary.fatal, undefined, JSON.stringify(summary.fatal));
    assert.strictEqual(summary.succeeded, 1, `the chunk succeeded in parts: ${JSON.stringify(summary)} ${JSON.stringify(seen.map((r) => r.inputTokens))} window ${model.contextWindow} ${errors.join('; ')}`);
    assert.ok(seen.length >= 2, `split into ${seen.length} requests`);
    assert.strictEqual(seen.map((r) => r.bodies.join('')).join(''), file.text, 'the parts are the chunk, in order');
    assert.deepStrictEqual(seen.map((r) => r.inputTokens), started, 'each request carries the count it was started with');
    assert.ok(started.every((t) => t <= model.contextWindow));
    assert.ok(asked > 0);
  });

  it('countedOffThread drops what a pass with placeholder counts throws, and throws what a pass with every count real throws', async () => {
    const elsewhere = async (texts: readonly string[]) => texts.map((t) => real.count(t));
    // Throws when a count is 0, as a split does that finds no cut: only the first pass (placeholders) sees 0.
    const split = (t: Tokenizer) => {
      const n = t.count('alpha beta gamma');
      if (n === 0) throw new RangeError('too small to split');
      return n;
    };
    assert.strictEqual(await countedOffThread(real.encoding, elsewhere, split), real.count('alpha beta gamma'));
    const always = (t: Tokenizer) => {
      t.count('delta');
      throw new RangeError('really too small');
    };
    await assert.rejects(countedOffThread(real.encoding, elsewhere, always), /really too small/);
  });

  it('without measure the run tokenizer counts in this thread (the default), so the test above would fail', async () => {
    const plan = createPlan(files, { prompt: 'Upper.', tokenizer: real, chunk: { chunkTokens: 200, overlapTokens: 0 }, pack: { chunksPerBatch: 1, maxBatchTokens: 32768 } });
    const ended = await runPlan(plan, { root: ws, dir: path.join(ws, 'run'), prompt: 'Upper.', model: new NoUsageModel(), modelInfo: { id: 'no-usage' }, tokenizer: forbidden, parameters }).then(
      ({ summary }) => JSON.stringify({ fatal: summary.fatal, succeeded: summary.succeeded }),
      (e: unknown) => String(e),
    );
    assert.match(ended, /counted in this thread|"succeeded":0/, `the forbidden tokenizer was used: ${ended}`);
  });
});
