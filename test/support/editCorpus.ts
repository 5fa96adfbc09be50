// Files for the edit run property tests (#15): a deterministic sample of the bench corpus, and generated
// files with the shapes that break naive rewriting (CRLF, no final newline, BOM, CJK, emoji, long lines
// under the budget, no blank line at all).
import * as path from 'path';
import { sampleCorpus } from '../../bench/corpus';
import type { SourceFile } from '../../src/core/plan/types';
import { rng } from './random';

const WORDS = ['const', 'value', 'return', 'function', 'if', 'else', '{', '}', '(', ')', '=', ';', 'alpha', 'beta', 'ß', 'ﬁle', 'Ωmega', 'straße'];
const CJK = ['漢字', 'かな', '한국어', '中文文本', '测试', 'テスト'];
const EMOJI = ['😀', '👍🏽', '🚀', '🇫🇷', '👨‍👩‍👧', '✨'];

function line(r: () => number, words: readonly string[], n: number): string {
  return Array.from({ length: n }, () => words[Math.floor(r() * words.length)]).join(' ');
}

function lines(seed: number, count: number, make: (r: () => number, i: number) => string): string[] {
  const r = rng(seed);
  return Array.from({ length: count }, (_, i) => make(r, i));
}

/** Generated files, one per shape, each over several chunks at the test budget. */
export function generatedFiles(): SourceFile[] {
  const code = (seed: number, count: number) => lines(seed, count, (r, i) => (i % 7 === 6 ? '' : `${'  '.repeat(i % 3)}${line(r, WORDS, 3 + Math.floor(r() * 8))}`));
  return [
    { path: 'gen/lf.ts', text: code(1, 120).join('\n') + '\n' },
    { path: 'gen/crlf.ts', text: code(2, 120).join('\r\n') + '\r\n' },
    { path: 'gen/no-final-newline.ts', text: code(3, 90).join('\n') },
    { path: 'gen/crlf-no-final-newline.txt', text: code(4, 90).join('\r\n') },
    { path: 'gen/bom.ts', text: '\uFEFF' + code(5, 100).join('\n') + '\n' },
    { path: 'gen/bom-crlf.txt', text: '\uFEFF' + code(6, 100).join('\r\n') + '\r\n' },
    { path: 'gen/cjk.md', text: lines(7, 150, (r, i) => (i % 9 === 8 ? '' : line(r, CJK, 4 + Math.floor(r() * 10)))).join('\n') + '\n' },
    { path: 'gen/emoji.md', text: lines(8, 150, (r, i) => (i % 5 === 4 ? '' : line(r, [...EMOJI, ...WORDS], 3 + Math.floor(r() * 8)))).join('\n') + '\n' },
    // Lines of ~600 characters without spaces: long, but under the budget (a few lines per chunk).
    { path: 'gen/long-lines.txt', text: lines(9, 30, (r) => Array.from({ length: 120 }, () => 'abcde'[Math.floor(r() * 5)] + 'xyz'[Math.floor(r() * 3)]).join('').slice(0, 600)).join('\n') + '\n' },
    { path: 'gen/no-blank-lines.ts', text: lines(10, 200, (r) => line(r, WORDS, 4 + Math.floor(r() * 6))).join('\n') + '\n' },
    { path: 'gen/blank-runs.md', text: lines(11, 160, (r, i) => (i % 4 < 2 ? '' : line(r, WORDS, 5))).join('\n') + '\n\n\n' },
    { path: 'gen/one-line.txt', text: 'a single line without a newline' },
    { path: 'gen/only-newlines.txt', text: '\n\n\n\n' },
    { path: 'gen/trailing-spaces.ts', text: lines(12, 80, (r, i) => `${line(r, WORDS, 4)}${i % 3 === 0 ? '   ' : ''}`).join('\n') + '\n  \n' },
    { path: 'gen/a name with spaces é.md', text: code(14, 40).join('\n') + '\n' },
    { path: 'gen/mixed-eol.txt', text: lines(13, 80, (r, i) => `${line(r, WORDS, 5)}${i % 2 ? '\r' : ''}`).join('\n') + '\n' },
  ];
}

/**
 * A deterministic sample of the bench corpus (real third-party source from node_modules): small enough to
 * run through the executor in seconds.
 */
export function corpusSample(limit = 24): SourceFile[] {
  const root = path.resolve(__dirname, '..', '..', '..');
  const candidates = [root, process.cwd()];
  for (const r of candidates) {
    const files = sampleCorpus(r, { every: 37, maxBytes: 12_000, limit });
    if (files.length) return files.map((f) => ({ path: `corpus/${f.path}`, text: f.text }));
  }
  throw new Error(`no bench corpus under ${candidates.join(' or ')}/node_modules`);
}
