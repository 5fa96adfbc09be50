import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { chunkFile, DEFAULT_CHUNK_OPTIONS, splitChunk, type ChunkOptions } from '../../../src/core/plan/chunker';
import { getTokenizer, type Tokenizer } from '../../../src/core/plan/tokenizer';
import { numberLines } from '../../../src/core/plan/protocol';
import type { Chunk, SourceFile } from '../../../src/core/plan/types';
import { rng } from '../../support/random';

const root = path.resolve(__dirname, '../../../..');
const o200k = getTokenizer('o200k_base');

const PIECES = [
  'const', ' value', ' = ', 'call(arg);', '\n', '\r\n', '\n\n', '    ', '\t', '  \n', '// note', '};\n//', '/**', ' */',
  '😀', '👍🏽', '👨‍👩‍👧', '𝒳', '中文字符', '日本語のテキスト', 'e\u0301', 'a\u0308\u0323', '\u00a0', '<|endoftext|>',
  '<|fim_prefix|>', '0123456789', 'QUJDREVGR0g=', 'Ünïcödé', '\r',
];

/** Mixed text: code-like pieces, CRLF, astral chars, CJK, combining marks, special-token strings, long runs. */
function generatedText(seed: number, pieces: number): string {
  const r = rng(seed);
  let s = r() < 0.3 ? '\uFEFF' : '';
  for (let i = 0; i < pieces; i++) {
    const p = PIECES[Math.floor(r() * PIECES.length)];
    s += r() < 0.03 ? p.repeat(1 + Math.floor(r() * 400)) : p;
  }
  return s;
}

function base64Line(seed: number, bytes: number): string {
  const r = rng(seed);
  const buf = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) buf[i] = Math.floor(r() * 256);
  return buf.toString('base64');
}

/** One-line JavaScript-like text, as minifiers emit it. */
function minifiedJs(seed: number, length: number): string {
  const r = rng(seed);
  const parts = ['function ', 'return ', 'var ', 'a', 'b', 'c', '(', ')', '{', '}', ';', ',', '=', '+', '.', '!0', '"use strict"', 'e.exports', '&&', '||', '?', ':'];
  let s = '';
  while (s.length < length) s += parts[Math.floor(r() * parts.length)];
  return s;
}

function splitsPair(text: string, i: number): boolean {
  const a = text.charCodeAt(i - 1);
  const b = text.charCodeAt(i);
  return (a === 13 && b === 10) || (a >= 0xd800 && a <= 0xdbff && b >= 0xdc00 && b <= 0xdfff);
}

/** Sorted offsets of "\n" in `text`, for line checks by binary search. */
function lineStarts(text: string): number[] {
  const out: number[] = [];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) out.push(i);
  return out;
}

/** 1-based line of the character at `offset`: 1 + number of "\n" before it. */
function lineOf(newlines: number[], offset: number): number {
  let lo = 0;
  let hi = newlines.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (newlines[mid] < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo + 1;
}

/** Every invariant the chunker promises, checked on one file's chunks. */
function checkChunks(file: SourceFile, fileIndex: number, chunks: Chunk[], tokenizer: Tokenizer, options: ChunkOptions): void {
  const text = file.text;
  if (text.length === 0) {
    assert.deepStrictEqual(chunks, []);
    return;
  }
  assert.ok(chunks.length > 0);
  const newlines = lineStarts(text);
  const ids = new Set<string>();
  let joined = '';
  chunks.forEach((c, i) => {
    const where = `${file.path} chunk ${c.id}`;
    assert.strictEqual(c.id, `${fileIndex + 1}.${i + 1}`, where);
    assert.strictEqual(c.index, i, where);
    assert.strictEqual(c.path, file.path, where);
    ids.add(c.id);
    assert.ok(c.text === text.slice(c.start, c.end), `${where}: text is the file's slice`);
    const tokens = tokenizer.count(c.text);
    assert.strictEqual(c.tokens, tokens, `${where}: tokens`);
    assert.ok(tokens <= options.chunkTokens, `${where}: ${tokens} tokens > ${options.chunkTokens}`);
    assert.ok(c.end > c.start + c.overlap, `${where}: adds new text beyond its overlap`);
    if (i === 0) {
      assert.strictEqual(c.start, 0, where);
      assert.strictEqual(c.overlap, 0, where);
    } else {
      const prev = chunks[i - 1];
      assert.strictEqual(c.start + c.overlap, prev.end, `${where}: overlap repeats the end of the previous chunk`);
      assert.ok(c.start >= prev.start, where);
      assert.ok(tokenizer.count(c.text.slice(0, c.overlap)) <= options.overlapTokens, `${where}: overlap tokens`);
    }
    for (const edge of [c.start, c.end]) {
      if (edge > 0 && edge < text.length) assert.ok(!splitsPair(text, edge), `${where}: edge ${edge} splits a surrogate pair or CRLF`);
    }
    assert.strictEqual(c.startLine, lineOf(newlines, c.start), `${where}: startLine`);
    assert.strictEqual(c.endLine, lineOf(newlines, c.end - 1), `${where}: endLine`);
    joined += c.text.slice(c.overlap);
  });
  assert.strictEqual(chunks[chunks.length - 1].end, text.length);
  assert.strictEqual(ids.size, chunks.length, 'ids are unique');
  assert.ok(joined === text, `${file.path}: chunks join back to the file`);
}

function chunkAndCheck(file: SourceFile, options: ChunkOptions, tokenizer: Tokenizer = o200k, fileIndex = 0): Chunk[] {
  const chunks = chunkFile(file, fileIndex, tokenizer, options);
  checkChunks(file, fileIndex, chunks, tokenizer, options);
  return chunks;
}

/** Some real third-party files: TypeScript's .d.ts (source-like) and a few minified bundles, when present. */
function realFiles(): SourceFile[] {
  const candidates = [
    'node_modules/typescript/lib/lib.es5.d.ts',
    'node_modules/typescript/lib/lib.es2015.promise.d.ts',
    'node_modules/typescript/lib/lib.decorators.d.ts',
    'node_modules/typescript/lib/lib.webworker.importscripts.d.ts',
    'node_modules/typescript/lib/typescript.d.ts',
    'node_modules/mocha/lib/runner.js',
    'node_modules/glob/dist/commonjs/index.min.js',
    'node_modules/ajv/dist/ajv.min.js',
    'node_modules/typescript/lib/zh-cn/diagnosticMessages.generated.json',
  ];
  return candidates
    .filter((p) => fs.existsSync(path.join(root, p)))
    .map((p) => ({ path: p, text: fs.readFileSync(path.join(root, p), 'utf8') }));
}

describe('chunkFile', () => {
  it('gives no chunk for an empty file', () => {
    assert.deepStrictEqual(chunkFile({ path: 'e', text: '' }, 0, o200k, DEFAULT_CHUNK_OPTIONS), []);
  });

  it('gives one chunk for a file that fits', () => {
    const file = { path: 'src/a.ts', text: 'export const a = 1;\nexport const b = 2;\n' };
    const chunks = chunkAndCheck(file, DEFAULT_CHUNK_OPTIONS, o200k, 4);
    assert.strictEqual(chunks.length, 1);
    assert.deepStrictEqual(
      { ...chunks[0], tokens: 0 },
      { id: '5.1', path: 'src/a.ts', index: 0, start: 0, end: file.text.length, startLine: 1, endLine: 2, overlap: 0, tokens: 0, text: file.text },
    );
  });

  it('rejects budgets too small to make progress', () => {
    const file = { path: 'a', text: 'abc' };
    assert.throws(() => chunkFile(file, 0, o200k, { chunkTokens: 4, overlapTokens: 0 }), RangeError);
    assert.throws(() => chunkFile(file, 0, o200k, { chunkTokens: 64, overlapTokens: -1 }), RangeError);
  });

  it('holds every invariant on generated text (seeded), for several budgets and overlaps', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const file = { path: `gen/${seed}.txt`, text: generatedText(seed, 300 + seed * 40) };
      for (const options of [
        { chunkTokens: 64, overlapTokens: 0 },
        { chunkTokens: 64, overlapTokens: 16 },
        { chunkTokens: 200, overlapTokens: 50 },
        { chunkTokens: 1000, overlapTokens: 100 },
      ]) {
        chunkAndCheck(file, options, o200k, seed);
      }
    }
  });

  it('holds every invariant on real files (TypeScript .d.ts, minified JS, CJK JSON) at small budgets', () => {
    const files = realFiles();
    assert.ok(files.length >= 5, 'real files are available');
    let chunks = 0;
    files.forEach((file, i) => {
      for (const options of [{ chunkTokens: 64, overlapTokens: 10 }, { chunkTokens: 200, overlapTokens: 50 }, { chunkTokens: 1000, overlapTokens: 100 }]) {
        chunks += chunkAndCheck(file, options, o200k, i).length;
      }
    });
    assert.ok(chunks > 1000, `${chunks} chunks`);
  });

  it('works with cl100k_base', () => {
    const cl = getTokenizer('cl100k_base');
    for (const file of realFiles().slice(0, 3)) chunkAndCheck(file, { chunkTokens: 200, overlapTokens: 50 }, cl);
    chunkAndCheck({ path: 'gen', text: generatedText(99, 2000) }, { chunkTokens: 64, overlapTokens: 8 }, cl);
  });

  describe('pathological files', () => {
    const singleLine = (): string => {
      let s = '';
      for (let seed = 1; s.length < 5_000_000; seed++) s += generatedText(seed, 20_000).replace(/[\r\n]/g, ' ');
      return s.slice(0, 5_000_000);
    };
    const cases: [string, () => string][] = [
      ['1.5 MB of one repeated letter', () => 'a'.repeat(1_500_000)],
      ['1 MB of "="', () => '='.repeat(1_000_000)],
      ['300k emoji', () => '😀'.repeat(300_000)],
      ['1 MB of base64 on one line', () => base64Line(7, 750_000)],
      ['1 MB of minified JS on one line', () => minifiedJs(3, 1_000_000)],
      ['a 5 MB single line', singleLine],
    ];
    for (const [name, make] of cases) {
      it(name, () => {
        const file = { path: name, text: make() };
        chunkAndCheck(file, DEFAULT_CHUNK_OPTIONS);
        chunkAndCheck({ path: name, text: file.text.slice(0, 100_000) }, { chunkTokens: 64, overlapTokens: 10 });
      });
    }
  });

  it('handles files of only line breaks, CRLF, BOM and tabs', () => {
    for (const text of ['\n', '\n'.repeat(100_000), '\r\n'.repeat(50_000), '\uFEFF', '\uFEFFx\r\n', '\t\t\n'.repeat(20_000), ' '.repeat(10_000)]) {
      chunkAndCheck({ path: 'ws', text }, { chunkTokens: 64, overlapTokens: 10 });
      chunkAndCheck({ path: 'ws', text }, DEFAULT_CHUNK_OPTIONS);
    }
  });

  it('splits a segment bigger than a tiny budget between characters, never dropping any', () => {
    for (const text of ['😀👍🏽𝒳'.repeat(200), 'a\u0301'.repeat(600), '中'.repeat(700), 'x '.repeat(300) + 'y', '\r\n'.repeat(300) + '<|endoftext|>'.repeat(50)]) {
      const chunks = chunkAndCheck({ path: 'tiny', text }, { chunkTokens: 8, overlapTokens: 2 });
      assert.ok(chunks.length > 3);
    }
  });

  it('always makes progress, even when the overlap asked is larger than the budget', () => {
    const file = { path: 'big-overlap', text: generatedText(11, 3000) };
    const chunks = chunkAndCheck(file, { chunkTokens: 64, overlapTokens: 1000 });
    for (const c of chunks.slice(1)) assert.ok(o200k.count(c.text.slice(0, c.overlap)) <= 32, 'overlap capped at half the budget');
  });

  it('uses the requested overlap on ordinary code', () => {
    const file = realFiles()[0];
    const chunks = chunkAndCheck(file, { chunkTokens: 1000, overlapTokens: 100 });
    const overlaps = chunks.slice(1).map((c) => o200k.count(c.text.slice(0, c.overlap)));
    assert.ok(overlaps.every((n) => n > 0), 'every later chunk repeats some text');
    assert.ok(overlaps.filter((n) => n >= 50).length > overlaps.length / 2, `most overlaps are near 100 tokens: ${overlaps.slice(0, 10)}`);
  });

  it('ends chunks at blank lines when the later half of the window has one, and fills at least half', () => {
    const r = rng(5);
    let text = '';
    for (let p = 0; p < 200; p++) {
      const lines = 2 + Math.floor(r() * 5);
      for (let l = 0; l < lines; l++) text += `line ${p}.${l} of paragraph with some words\n`;
      text += '\n';
    }
    const options = { chunkTokens: 300, overlapTokens: 0 };
    const chunks = chunkAndCheck({ path: 'paras', text }, options);
    for (const c of chunks.slice(0, -1)) {
      assert.ok(c.text.endsWith('\n\n'), `chunk ${c.id} ends at a blank line`);
      assert.ok(c.tokens >= options.chunkTokens / 2, `chunk ${c.id} has ${c.tokens} tokens`);
    }
  });

  it('prefers line ends to mid-line cuts', () => {
    const text = Array.from({ length: 400 }, (_, i) => `${'word '.repeat(i % 7)}x${i};`).join('\n');
    const chunks = chunkAndCheck({ path: 'lines', text }, { chunkTokens: 100, overlapTokens: 20 });
    for (const c of chunks.slice(0, -1)) assert.ok(c.text.endsWith('\n'), `chunk ${c.id} ends a line`);
  });
});

describe('splitChunk', () => {
  function checkSplit(file: SourceFile, chunk: Chunk, tokenizer: Tokenizer = o200k): [Chunk, Chunk] {
    const [a, b] = splitChunk(chunk, tokenizer);
    const newlines = lineStarts(file.text);
    assert.strictEqual(a.id, `${chunk.id}a`);
    assert.strictEqual(b.id, `${chunk.id}b`);
    assert.strictEqual(a.text + b.text, chunk.text);
    assert.strictEqual(a.start, chunk.start);
    assert.strictEqual(a.end, b.start);
    assert.strictEqual(b.end, chunk.end);
    assert.strictEqual(a.overlap, chunk.overlap);
    assert.strictEqual(b.overlap, 0);
    assert.ok(a.text.length > a.overlap && b.text.length > 0, 'both halves carry new text');
    for (const h of [a, b]) {
      assert.strictEqual(h.path, chunk.path);
      assert.strictEqual(h.index, chunk.index);
      assert.strictEqual(h.text, file.text.slice(h.start, h.end));
      assert.strictEqual(h.tokens, tokenizer.count(h.text));
      assert.strictEqual(h.startLine, lineOf(newlines, h.start));
      assert.strictEqual(h.endLine, lineOf(newlines, h.end - 1));
    }
    assert.ok(!splitsPair(file.text, a.end), 'not inside a surrogate pair or CRLF');
    return [a, b];
  }

  it('splits near the token midpoint at a good boundary, keeping ranges, lines and overlap right', () => {
    for (const file of realFiles().slice(0, 4)) {
      for (const chunk of chunkFile(file, 0, o200k, { chunkTokens: 1000, overlapTokens: 100 }).slice(0, 20)) {
        const [a, b] = checkSplit(file, chunk);
        assert.ok(a.end < chunk.end && b.tokens > 0);
        const middle = Math.abs(a.tokens - b.tokens) <= chunk.tokens / 2 + 2;
        assert.ok(middle, `${chunk.id}: ${a.tokens} + ${b.tokens} of ${chunk.tokens}`);
        assert.ok(a.text.endsWith('\n'), `${chunk.id}: cut at a line end`);
      }
    }
  });

  it('splits generated and single-segment chunks, and splits the halves again', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const file = { path: 'g', text: generatedText(seed, 600) };
      for (const chunk of chunkFile(file, 0, o200k, { chunkTokens: 200, overlapTokens: 30 })) {
        if (chunk.text.length - chunk.overlap < 2) continue;
        const [, b] = checkSplit(file, chunk);
        if (b.text.length >= 4) checkSplit(file, b);
      }
    }
    const one = { path: 'one', text: 'abcdefghij'.repeat(40) };
    const [chunk] = chunkFile(one, 0, o200k, DEFAULT_CHUNK_OPTIONS);
    const [a] = checkSplit(one, chunk);
    assert.strictEqual(a.text.length, 200);
  });

  it('refuses a chunk with a single character of new text', () => {
    const file = { path: 's', text: '😀' };
    const [chunk] = chunkFile(file, 0, o200k, DEFAULT_CHUNK_OPTIONS);
    assert.throws(() => splitChunk(chunk, o200k), RangeError);
  });
});

describe('chunkFile with numbered lines (findings, #14)', () => {
  it('counts every line-number prefix: each chunk, numbered as sent, holds at most the budget', () => {
    for (const seed of [1, 2, 3]) {
      const r = rng(seed);
      const lines = Array.from({ length: 1500 }, (_, i) => (r() < 0.1 ? '' : `  const v${i} = call(${Math.floor(r() * 1e6)}); // ${'x'.repeat(Math.floor(r() * 60))}`));
      const file: SourceFile = { path: 'f.ts', text: lines.join('\n') + '\n' };
      for (const chunkTokens of [64, 300, 2000]) {
        const chunks = chunkFile(file, 0, o200k, { chunkTokens, overlapTokens: 20, lineNumbers: true });
        assert.strictEqual(chunks.map((c) => c.text.slice(c.overlap)).join(''), file.text, 'still lossless');
        for (const c of chunks) {
          const sent = numberLines(c.text, c.startLine);
          const exact = o200k.count(sent);
          assert.ok(c.tokens <= chunkTokens, `chunk ${c.id}: ${c.tokens} > ${chunkTokens}`);
          assert.ok(exact <= c.tokens, `chunk ${c.id} counts ${c.tokens} but sends ${exact} tokens`);
        }
        const plain = chunkFile(file, 0, o200k, { chunkTokens, overlapTokens: 20 });
        assert.ok(chunks.length > plain.length, 'the numbers take room: more chunks than without them');
      }
    }
  });

  it('numberLines prints numbers as cat -n does and starts no line after a final newline', () => {
    assert.strictEqual(numberLines('a\nb\n', 9), '     9\ta\n    10\tb\n');
    assert.strictEqual(numberLines('x', 1234567), '1234567\tx');
  });
});
