// #17: the editor never loads the tokenizer's encoding on the extension host's thread during a run.
// A run given `measure` makes every count the executor needs (a request's size, a reply without usage)
// and the packing of a retry through it, never through the run's tokenizer in this thread. Proved with
// a tokenizer that throws when asked to count.
import * as assert from 'assert';
import * as path from 'path';
import type { Measure } from '../../../src/core/execute/executor';
import type { ChatModel, ChatRequest, ChatResponse } from '../../../src/core/execute/model';
import { createPlan } from '../../../src/core/plan/plan';
import { getTokenizer, type Tokenizer } from '../../../src/core/plan/tokenizer';
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

  it('without measure the run tokenizer counts in this thread (the default), so the test above would fail', async () => {
    const plan = createPlan(files, { prompt: 'Upper.', tokenizer: real, chunk: { chunkTokens: 200, overlapTokens: 0 }, pack: { chunksPerBatch: 1, maxBatchTokens: 32768 } });
    const ended = await runPlan(plan, { root: ws, dir: path.join(ws, 'run'), prompt: 'Upper.', model: new NoUsageModel(), modelInfo: { id: 'no-usage' }, tokenizer: forbidden, parameters }).then(
      ({ summary }) => JSON.stringify({ fatal: summary.fatal, succeeded: summary.succeeded }),
      (e: unknown) => String(e),
    );
    assert.match(ended, /counted in this thread|"succeeded":0/, `the forbidden tokenizer was used: ${ended}`);
  });
});
