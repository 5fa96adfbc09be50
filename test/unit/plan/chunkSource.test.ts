// #17 "Memory": a file's chunks share one read of it (reads in flight are shared; a run that plans as
// it sends hands over the text it planned), and each chunk's text is sliced only when asked for.
import * as assert from 'assert';
import { createPlan, FileChunkSource, hashText } from '../../../src/core/plan/plan';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import { SourceChangedError } from '../../../src/core/execute/errors';

const tokenizer = getTokenizer();
const text = 'const a = 1;\n'.repeat(3000);
const plan = createPlan([{ path: 'a.ts', text }], { prompt: 'x', tokenizer, chunk: { chunkTokens: 200, overlapTokens: 10 }, pack: { chunksPerBatch: 1, maxBatchTokens: 32768 } });
const chunks = plan.files[0].chunks;

describe('FileChunkSource (#17: one read per file)', () => {
  it('reads a file once for every chunk asking at the same time', async () => {
    let reads = 0;
    const source = new FileChunkSource(async () => {
      reads++;
      await new Promise<void>((resolve) => setImmediate(resolve));
      return text;
    }, plan.files);
    assert.ok(chunks.length > 10);
    const texts = await Promise.all(chunks.map((c) => source.text(c)));
    assert.strictEqual(reads, 1);
    for (const [i, c] of chunks.entries()) assert.strictEqual(texts[i], text.slice(c.start, c.end));
  });

  it('cuts chunks from a planned text handed over, held until each chunk is taken once, then reads (checked)', async () => {
    let reads = 0;
    const source = new FileChunkSource(async () => (reads++, text), []);
    source.addFile(plan.files[0], text);
    assert.strictEqual(source.heldSize, text.length);
    for (const c of chunks) assert.strictEqual(await source.text(c), text.slice(c.start, c.end));
    assert.strictEqual(reads, 0);
    assert.strictEqual(source.heldSize, 0, 'the text is let go once every chunk was taken');
    assert.strictEqual(await source.text(chunks[1]), text.slice(chunks[1].start, chunks[1].end), 'a retry reads the file');
    assert.strictEqual(reads, 1);
  });

  it('does not hold more than its bound; a file read again is still checked against its hash', async () => {
    const source = new FileChunkSource(async () => `${text}edited`, [], 8, 1024, text.length - 1);
    source.addFile(plan.files[0], text);
    assert.strictEqual(source.heldSize, 0);
    await assert.rejects(source.text(chunks[0]), (e: Error) => SourceChangedError.is(e) && /changed after the run was planned/.test(e.message));
    assert.strictEqual(hashText(text), plan.files[0].hash);
  });
});
