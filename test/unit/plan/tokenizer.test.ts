import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { countTokens as bareO200k } from 'gpt-tokenizer/encoding/o200k_base';
import { countTokens as bareCl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import {
  createTokenizer, CutKind, cutKind, getTokenizer, HARD_SEGMENT_LENGTH, nextCut, segmentBoundaries, type EncodingName,
} from '../../../src/core/plan/tokenizer';
import { rng } from '../../support/random';

const root = path.resolve(__dirname, '../../../..');
const tsLib = path.join(root, 'node_modules/typescript/lib');
const AS_TEXT = { disallowedSpecial: new Set<string>() };
const bare: Record<EncodingName, (text: string) => number> = {
  o200k_base: (t) => bareO200k(t, AS_TEXT),
  cl100k_base: (t) => bareCl100k(t, AS_TEXT),
};

const PIECES = [
  'const', ' x', ' = ', 'foo(bar);', '\n', '\r\n', '\n\n', '    ', '\t', '  \n', '// note', '};\n//', '/**', ' */',
  '😀', '👍🏽', '👨‍👩‍👧', '中文字符', 'e\u0301', '\u00a0', '<|endoftext|>', '<|fim_prefix|>', 'QUJDRA==', '\uFEFF', '0123456789',
];

function randomText(seed: number, pieces: number): string {
  const r = rng(seed);
  let s = '';
  for (let i = 0; i < pieces; i++) {
    const p = PIECES[Math.floor(r() * PIECES.length)];
    s += r() < 0.05 ? p.repeat(1 + Math.floor(r() * 300)) : p;
  }
  return s;
}

function splitsPair(text: string, i: number): boolean {
  const a = text.charCodeAt(i - 1);
  const b = text.charCodeAt(i);
  return (a === 13 && b === 10) || (a >= 0xd800 && a <= 0xdbff && b >= 0xdc00 && b <= 0xdfff);
}

describe('tokenizer', () => {
  it('defaults to o200k_base, caches one tokenizer per encoding, and offers cl100k_base', () => {
    const o = getTokenizer();
    assert.strictEqual(o.encoding, 'o200k_base');
    assert.strictEqual(getTokenizer('o200k_base'), o);
    const c = getTokenizer('cl100k_base');
    assert.strictEqual(c.encoding, 'cl100k_base');
    assert.notStrictEqual(c, o);
    const cjk = '天下大势，分久必合，合久必分。周末七国分争，并入于秦。';
    assert.strictEqual(o.count(cjk), bare.o200k_base(cjk));
    assert.strictEqual(c.count(cjk), bare.cl100k_base(cjk));
    assert.notStrictEqual(o.count(cjk), c.count(cjk));
  });

  it('rejects an unknown encoding', () => {
    assert.throws(() => getTokenizer('p50k_base' as EncodingName), RangeError);
  });

  it('counts an empty text as 0', () => {
    assert.strictEqual(getTokenizer().count(''), 0);
  });

  for (const encoding of ['o200k_base', 'cl100k_base'] as const) {
    it(`${encoding}: counts special-token strings as ordinary text, never throws`, () => {
      const t = getTokenizer(encoding);
      for (const special of ['<|endoftext|>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|endofprompt|>', '<|im_start|>']) {
        const text = `before ${special} after\n${special}`;
        const n = t.count(text);
        assert.strictEqual(n, bare[encoding](text));
        assert.ok(n > 6, `${special} counted as text (${n} tokens)`);
      }
    });
  }

  it('equals the bare library count on every TypeScript lib .d.ts file, for both encodings', () => {
    const files = fs.readdirSync(tsLib).filter((f) => f.endsWith('.d.ts')).sort();
    assert.ok(files.length > 50, 'typescript/lib .d.ts files are available');
    for (const encoding of ['o200k_base', 'cl100k_base'] as const) {
      const t = getTokenizer(encoding);
      const differ: string[] = [];
      for (const f of files) {
        const text = fs.readFileSync(path.join(tsLib, f), 'utf8');
        if (t.count(text) !== bare[encoding](text)) differ.push(f);
      }
      // Measured: 0 of 110 differ for either encoding (blank lines and "};\n//" are kept whole).
      assert.deepStrictEqual(differ, [], `${encoding}: files whose count differs`);
    }
  });

  it('stays exact through memo hits, hash-alike segments and the memo starting over', () => {
    const t = createTokenizer();
    assert.notStrictEqual(t, getTokenizer());
    const lines = Array.from({ length: 210_000 }, (_, i) => `const v${i.toString(36)} = f(${i % 97});\n`);
    const text = lines.join('');
    const expected = bare.o200k_base(text);
    assert.strictEqual(t.count(text), expected, 'first pass (misses, then the memo starts over at 200k)');
    assert.strictEqual(t.count(text), expected, 'second pass (hits)');
    for (const line of ['x\n', 'y\n', 'xy\n', 'yx\n', '}\n', '})\n']) assert.strictEqual(t.count(line), bare.o200k_base(line));
  });

  it('counts long runs without whitespace (segmented, so not quadratic) close to the bare count', () => {
    const t = getTokenizer();
    const run = 'a'.repeat(64 * 1024);
    const n = t.count(run);
    const exact = bare.o200k_base('a'.repeat(4096)) * 16;
    assert.ok(Math.abs(n - exact) <= exact * 0.05, `${n} vs about ${exact}`);
  });
});

describe('segmentation', () => {
  it('cuts after line ends, keeping CRLF, runs of line breaks and blank lines whole', () => {
    const text = 'a\nb\r\nc\n\n\nd\n   \ne\r\n\r\nf';
    const { ends, kinds } = segmentBoundaries(text);
    const segs = ends.map((e, i) => text.slice(i ? ends[i - 1] : 0, e));
    assert.deepStrictEqual(segs, ['a\n', 'b\r\n', 'c\n\n\n', 'd\n   \n', 'e\r\n\r\n', 'f']);
    assert.deepStrictEqual(kinds, [CutKind.LineEnd, CutKind.LineEnd, CutKind.BlankLine, CutKind.BlankLine, CutKind.BlankLine, CutKind.End]);
  });

  it('keeps punctuation + line breaks + slashes together (o200k pre-tokenises "};\\n//" as one piece)', () => {
    const text = 'x();\n// c\nfoo\n/bar/\n';
    const { ends } = segmentBoundaries(text);
    assert.deepStrictEqual(ends, [10, 14, 20]);
  });

  it('cuts long lines before whitespace after ~256 units, and hard-cuts runs at 512', () => {
    const words = 'word '.repeat(200);
    const { ends, kinds } = segmentBoundaries(words);
    assert.strictEqual(ends[0], 259); // 256 reached inside "word", cut before the next space
    assert.strictEqual(kinds[0], CutKind.Whitespace);
    const run = 'x'.repeat(2000);
    assert.deepStrictEqual(segmentBoundaries(run).ends, [512, 1024, 1536, 2000]);
    assert.strictEqual(cutKind(run, 0, 512), CutKind.Hard);
  });

  it('never cuts inside a surrogate pair or a CRLF', () => {
    const emoji = '😀'.repeat(1000);
    for (const e of segmentBoundaries(emoji).ends) assert.ok(!splitsPair(emoji, e));
    const crlf = 'y'.repeat(511) + '\r\n' + 'z'.repeat(600);
    const { ends } = segmentBoundaries(crlf);
    assert.strictEqual(ends[0], 513);
    for (const e of ends) assert.ok(!splitsPair(crlf, e));
  });

  it('properties on generated text: covering, bounded, safe, deterministic on cut-aligned substrings', () => {
    const t = getTokenizer();
    for (let seed = 1; seed <= 40; seed++) {
      const text = randomText(seed, 400);
      const { ends } = segmentBoundaries(text);
      let start = 0;
      let sum = 0;
      for (const e of ends) {
        assert.ok(e > start && e - start <= HARD_SEGMENT_LENGTH + 1, `segment [${start}, ${e})`);
        assert.strictEqual(nextCut(text, start), e);
        if (e < text.length) assert.ok(!splitsPair(text, e), `cut at ${e} splits a pair`);
        sum += t.count(text.slice(start, e));
        start = e;
      }
      assert.strictEqual(start, text.length);
      assert.strictEqual(t.count(text), sum, 'count is the sum of segment counts');
      // Any substring between two cut points segments to the same cuts.
      const r = rng(seed * 7919);
      for (let k = 0; k < 10 && ends.length > 2; k++) {
        const i = Math.floor(r() * ends.length);
        const j = i + Math.floor(r() * (ends.length - i));
        const a = i === 0 ? 0 : ends[i - 1];
        const b = ends[j];
        const sub = segmentBoundaries(text.slice(a, b)).ends.map((e) => e + a);
        assert.deepStrictEqual(sub, ends.slice(i, j + 1));
      }
    }
  });
});
