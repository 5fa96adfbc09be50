import * as assert from 'assert';
import type { ChunkOutcome, RunEvent } from '../../../src/core/execute/events';
import type { Chunk } from '../../../src/core/plan/types';
import { CombineProgress } from '../../../src/vscode/reduce/combineProgress';
import { LiveAnswerModel } from '../../../src/vscode/reduce/liveAnswer';

const chunk = (id: string): Chunk => ({ id, path: 'reduce', index: 0, start: 0, end: 1, startLine: 1, endLine: 1, overlap: 0, tokens: 1, text: 'x' });
const started = (id: string, attempt = 1): RunEvent => ({ type: 'batch-started', batchId: `b-${id}`, chunkIds: [id], tokens: 10, attempt });
const finished = (id: string, status: ChunkOutcome['status'] = 'succeeded'): RunEvent => ({ type: 'chunk-finished', outcome: { chunk: chunk(id), batchId: `b-${id}`, status, attempts: 1, inputTokens: 1, outputTokens: 1, latencyMs: 1, ...(status === 'succeeded' ? { output: 'x' } : {}) } });

describe('Combine Results… (editor, no vscode)', () => {
  it('the progress says the level and the groups done of it, counting each group once, and starts again at each level', () => {
    const p = new CombineProgress();
    assert.strictEqual(p.describe(), 'combining: reading the results…');
    p.onLevel(1, 3, false);
    assert.strictEqual(p.describe(), 'combining: level 1, 0/3 groups');
    p.onEvent(started('R1.1'));
    p.onEvent(finished('R1.1'));
    p.onEvent(started('R1.2'));
    p.onEvent(started('R1.2', 2));
    assert.strictEqual(p.describe(), 'combining: level 1, 1/3 groups');
    p.onEvent(finished('R1.2'));
    p.onEvent(started('R1.3'));
    assert.strictEqual(p.describe(), 'combining: level 1, 2/3 groups, 1 retried');
    p.onEvent(finished('R1.3'));
    p.onEvent(finished('R1.3'));
    assert.strictEqual(p.done, 3, 'never more than the level has');
    assert.strictEqual(p.percent(), 100);
    p.onLevel(2, 1, true);
    assert.strictEqual(p.describe(), 'combining: level 2 (the final answer), 0/1 group');
    assert.strictEqual(p.percent(), 0);
  });

  it('the live answer shows only the final level as it streams, from its result block, starts again on a retry and ends done', () => {
    const a = new LiveAnswerModel();
    assert.match(a.render(), /^## Combined answer · waiting/);
    a.onLevel(1, 2, false);
    a.onEvent(started('R1.1'));
    a.onText('b-R1.1', ['R1.1'], '<result id="R1.1">\npartial working');
    assert.doesNotMatch(a.render(), /partial working/, 'a partial answer is not the answer');
    a.onLevel(2, 1, true);
    a.onEvent(started('R2.1'));
    a.onText('b-R2.1', ['R2.1'], '<result id="R2.1">\nThe archi');
    assert.strictEqual(a.render(), '## Combined answer · streaming…\n\nThe archi\n');
    a.onEvent({ type: 'batch-finished', batchId: 'b-R2.1', chunkIds: ['R2.1'], ok: false, tokens: 0, inputTokens: 0, outputTokens: 0, latencyMs: 1 });
    assert.match(a.render(), /retrying/);
    a.onEvent(started('R2.1', 2));
    assert.strictEqual(a.render(), '## Combined answer · streaming…\n', 'a retry starts again from nothing');
    a.onText('b-R2.1', ['R2.1'], '<result id="R2.1">\nThe architecture has two layers.\n</result>');
    a.onEvent(finished('R2.1'));
    assert.strictEqual(a.render(), '## Combined answer · done (answer.md in the run folder holds it)\n\nThe architecture has two layers.\n');
  });

  it('an answer streamed without its tag is shown as it comes; a tag still arriving is not', () => {
    const a = new LiveAnswerModel('answer.json');
    a.onLevel(1, 1, true);
    a.onEvent(started('R1.1'));
    a.onText('b', ['R1.1'], '<res');
    assert.strictEqual(a.render(), '## Combined answer · streaming…\n');
    const b = new LiveAnswerModel('answer.json');
    b.onLevel(1, 1, true);
    b.onEvent(started('R1.1'));
    b.onText('b', ['R1.1'], 'Plain answer');
    assert.match(b.render(), /Plain answer/);
    b.onEvent(finished('R1.1', 'failed'));
    assert.match(b.render(), /· failed/);
  });
});
