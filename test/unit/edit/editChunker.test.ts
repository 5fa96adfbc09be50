import * as assert from 'assert';
import { chunkFileForEdit, editableOf, splitEditChunk } from '../../../src/core/plan/editChunker';
import { wrapEditParts } from '../../../src/core/plan/protocol';
import type { Chunk, SourceFile } from '../../../src/core/plan/types';
import { corpusSample, generatedFiles } from '../../support/editCorpus';
import { editPlan, EDIT_PARAMETERS, tokenizer } from '../../support/editRun';

/** Every rule of edit chunks, checked on one file's chunks. */
function checkChunks(file: SourceFile, chunks: readonly Chunk[], budget: number, ctx: number): void {
  const text = file.text;
  assert.strictEqual(chunks.map(editableOf).join(''), text, `${file.path}: the editable parts tile the file`);
  let at = 0;
  for (const c of chunks) {
    const where = `${file.path} chunk ${c.id}`;
    assert.strictEqual(c.text, text.slice(c.start, c.end), `${where}: text is its span`);
    assert.strictEqual(c.start + c.overlap, at, `${where}: starts where the previous part ended`);
    at = c.end - (c.trailing ?? 0);
    assert.ok(c.tokens <= budget, `${where}: ${c.tokens} tokens over ${budget}`);
    assert.strictEqual(c.tokens, tokenizer.count(c.text), `${where}: tokens count the whole span`);
    // Cuts and context edges only at line ends.
    for (const offset of [c.start, c.start + c.overlap, c.end - (c.trailing ?? 0), c.end]) {
      assert.ok(offset === 0 || offset === text.length || text[offset - 1] === '\n', `${where}: offset ${offset} is not at a line end`);
    }
    assert.ok(tokenizer.count(text.slice(c.start, c.start + c.overlap)) <= ctx, `${where}: leading context over ${ctx}`);
    assert.ok(tokenizer.count(text.slice(c.end - (c.trailing ?? 0), c.end)) <= ctx, `${where}: trailing context over ${ctx}`);
    assert.strictEqual(c.startLine, text.slice(0, c.start).split('\n').length, `${where}: startLine`);
  }
}

describe('edit chunks (#15)', function () {
  this.timeout(90_000);
  const budget = 300;
  const ctx = 40;

  it('tile every generated file exactly, cut at line ends, within the budget, with whole-line context', () => {
    for (const f of generatedFiles()) {
      const r = chunkFileForEdit(f, 0, tokenizer, { chunkTokens: budget, overlapTokens: ctx });
      assert.ok(r.chunks, `${f.path}: ${r.skipped}`);
      checkChunks(f, r.chunks, budget, ctx);
    }
    const many = chunkFileForEdit(generatedFiles()[0], 0, tokenizer, { chunkTokens: budget, overlapTokens: ctx }).chunks!;
    assert.ok(many.length >= 3, 'several chunks');
    assert.ok(many.slice(1).every((c) => c.overlap > 0) && many.slice(0, -1).every((c) => (c.trailing ?? 0) > 0), 'context on both sides where there are neighbours');
  });

  it('tile a sample of the bench corpus the same way', () => {
    const files = corpusSample(40);
    assert.ok(files.length >= 20, `corpus sample of ${files.length} files`);
    let chunks = 0;
    for (const f of files) {
      const r = chunkFileForEdit(f, 0, tokenizer, { chunkTokens: budget, overlapTokens: ctx });
      if (r.skipped) {
        assert.match(r.skipped, /line \d+ alone has \d+ tokens, over the chunk budget of 300/);
        continue;
      }
      checkChunks(f, r.chunks!, budget, ctx);
      chunks += r.chunks!.length;
    }
    assert.ok(chunks > files.length, 'the sample makes several chunks per file');
  });

  it('ends a part after a blank line when one is in its later half', () => {
    const para = (k: number) => Array.from({ length: 6 }, (_, i) => `paragraph ${k} sentence ${i} with some words in it`).join('\n');
    const text = Array.from({ length: 20 }, (_, k) => para(k)).join('\n\n') + '\n';
    const { chunks } = chunkFileForEdit({ path: 'p.md', text }, 0, tokenizer, { chunkTokens: 200, overlapTokens: 20 });
    assert.ok(chunks!.length > 2);
    for (const c of chunks!.slice(0, -1)) {
      const part = editableOf(c);
      assert.ok(part.endsWith('\n\n'), `part ${c.id} ends after a blank line: ${JSON.stringify(part.slice(-40))}`);
    }
  });

  it('skips a file with a line over the budget before any request, with the reason, in the plan', () => {
    const minified = { path: 'min.js', text: `var a=1;\n${Array.from({ length: 800 }, (_, i) => `f${i}(x)`).join(';')}\nvar b=2;\n` };
    const ok = { path: 'ok.ts', text: 'const x = 1;\n' };
    const plan = editPlan([minified, ok], { ...EDIT_PARAMETERS, chunkTokens: 300 });
    assert.deepStrictEqual(plan.files.map((f) => f.path), ['ok.ts']);
    assert.strictEqual(plan.skipped?.length, 1);
    assert.strictEqual(plan.skipped![0].path, 'min.js');
    assert.match(plan.skipped![0].reason, /^line 2 alone has \d+ tokens, over the chunk budget of \d+ \(minified code\?\): a file with such a line cannot be edited in parts$/);
    assert.ok(plan.batches.every((b) => b.chunks.every((c) => c.path !== 'min.js')), 'no request for it');
  });

  it('marks context as context and the editable part as the part to rewrite, a BOM left out', () => {
    const text = '\uFEFFone\ntwo\nthree\nfour\nfive\n';
    const c: Chunk = { id: '1.1', path: 'x', index: 0, start: 0, end: text.length, startLine: 1, endLine: 5, overlap: 0, trailing: 0, tokens: 1, text };
    assert.strictEqual(wrapEditParts(c), '<edit lines="1-5">\none\ntwo\nthree\nfour\nfive\n</edit>');
    const mid = { ...c, text: 'two\nthree\nfour', overlap: 4, trailing: 4, startLine: 2 };
    assert.strictEqual(wrapEditParts(mid), '<context lines="2-2">\ntwo\n</context>\n<edit lines="3-3">\nthree\n</edit>\n<context lines="4-4">\nfour\n</context>');
  });

  it('splits an edit chunk in its editable part at a line end, contexts re-derived; a one-line part cannot be split', () => {
    const f = generatedFiles()[0];
    const chunks = chunkFileForEdit(f, 0, tokenizer, { chunkTokens: budget, overlapTokens: ctx }).chunks!;
    const c = chunks[1];
    const [a, b] = splitEditChunk(c, tokenizer);
    assert.deepStrictEqual([a.id, b.id], [`${c.id}a`, `${c.id}b`]);
    assert.strictEqual(editableOf(a) + editableOf(b), editableOf(c), 'the parts join to the original part');
    for (const p of [a, b]) {
      assert.strictEqual(p.text, f.text.slice(p.start, p.end), `${p.id}: text is its span in the file`);
      assert.ok(p.tokens <= c.tokens, `${p.id} is not larger`);
      assert.ok(f.text[p.start - 1] === '\n' || p.start === 0);
      assert.ok(f.text[p.start + p.overlap - 1] === '\n', `${p.id}: editable part starts at a line`);
      assert.strictEqual(p.startLine, f.text.slice(0, p.start).split('\n').length);
    }
    assert.ok((a.trailing ?? 0) > 0 && b.overlap > 0, 'each part has context on the cut side');
    const one: Chunk = { ...c, text: 'ctx\nonly line\nctx\n', overlap: 4, trailing: 4 };
    assert.throws(() => splitEditChunk(one, tokenizer), /editable part is a single line/);
  });
});
