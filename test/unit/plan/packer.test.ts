import * as assert from 'assert';
import { batchBudget, packRequests, requestOverhead } from '../../../src/core/plan/packer';
import type { Tokenizer } from '../../../src/core/plan/tokenizer';
import type { ChunkRef } from '../../../src/core/plan/types';

/** A test double: one token per character makes budgets easy to reason about. */
const charTokenizer: Tokenizer = { encoding: 'o200k_base', count: (t: string) => t.length };

function refs(sizes: number[]): ChunkRef[] {
  return sizes.map((tokens, i) => ({ id: `${i + 1}.1`, path: `f${i}.ts`, index: 0, start: 0, end: tokens, startLine: 1, endLine: 1, overlap: 0, tokens }));
}

describe('packer', () => {
  it('keeps file order and never exceeds chunksPerBatch or the token budget', () => {
    const sizes = Array.from({ length: 57 }, (_, i) => 100 + ((i * 7919) % 900));
    const chunks = refs(sizes);
    const options = { chunksPerBatch: 4, maxBatchTokens: 2500 };
    const batches = packRequests(chunks, 'Summarise.', charTokenizer, options);
    assert.deepStrictEqual(batches.flatMap((b) => b.chunks.map((c) => c.id)), chunks.map((c) => c.id));
    for (const b of batches) {
      assert.ok(b.chunks.length >= 1 && b.chunks.length <= 4);
      assert.ok(b.tokens <= 2500, `${b.id} has ${b.tokens} tokens`);
    }
    assert.strictEqual(new Set(batches.map((b) => b.id)).size, batches.length);
  });

  it('counts the prompt and the wrapping, not only the chunks', () => {
    const longPrompt = 'x'.repeat(1000);
    const few = packRequests(refs([400, 400, 400, 400]), longPrompt, charTokenizer, { chunksPerBatch: 4, maxBatchTokens: 2500 });
    const overhead = requestOverhead(longPrompt, charTokenizer, 4);
    assert.ok(overhead > 1000);
    assert.ok(few.length >= 2, 'the prompt leaves room for fewer chunks');
    for (const b of few) assert.ok(b.tokens <= 2500);
  });

  it('lowers the budget to the context window minus the reply', () => {
    assert.strictEqual(batchBudget({ chunksPerBatch: 4, maxBatchTokens: 32768, contextWindow: 8192, maxOutputTokens: 2048 }), 6144);
    assert.strictEqual(batchBudget({ chunksPerBatch: 4, maxBatchTokens: 4000, contextWindow: 128000, maxOutputTokens: 4096 }), 4000);
    const batches = packRequests(refs([1500, 1500, 1500, 1500]), 'p', charTokenizer, { chunksPerBatch: 4, maxBatchTokens: 32768, contextWindow: 5000, maxOutputTokens: 1000 });
    for (const b of batches) assert.ok(b.tokens <= 4000);
    assert.strictEqual(batches.length, 2);
  });

  it('gives a chunk larger than the budget a batch of its own', () => {
    const batches = packRequests(refs([100, 5000, 100]), 'p', charTokenizer, { chunksPerBatch: 4, maxBatchTokens: 1000 });
    assert.deepStrictEqual(batches.map((b) => b.chunks.map((c) => c.id)), [['1.1'], ['2.1'], ['3.1']]);
  });
});
