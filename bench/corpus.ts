// Benchmark corpora: real third-party source from node_modules (listed deterministically) and
// generated pathological files (long runs without whitespace).
import * as fs from 'fs';
import * as path from 'path';
import { O200K_TOKEN_SPLIT_REGEX } from 'gpt-tokenizer/encodingParams/constants';
import type { SourceFile } from '../src/core/plan/types';
import { rng } from '../test/support/random';

/** Folders under node_modules read for the real corpus, in this order. */
export const CORPUS_ROOTS = [
  'typescript/lib',
  'eslint',
  '@typescript-eslint',
  '@eslint',
  'esbuild/lib',
  'mocha',
  '@types',
  'ajv',
  'js-yaml',
];

const EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts', '.json', '.md'];

/** Files under `dir` (recursively, names sorted, nested node_modules skipped) with a source extension. */
function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') out.push(...listFiles(full));
    } else if (entry.isFile() && EXTENSIONS.some((e) => entry.name.endsWith(e))) {
      out.push(full);
    }
  }
  return out;
}

export interface Corpus {
  readonly files: SourceFile[];
  /** UTF-8 bytes of all files. */
  readonly bytes: number;
  readonly roots: string[];
}

/** The real corpus: every source file under `CORPUS_ROOTS` of `root`/node_modules that exists. */
export function realCorpus(root: string): Corpus {
  const modules = path.join(root, 'node_modules');
  const roots = CORPUS_ROOTS.filter((r) => fs.existsSync(path.join(modules, r)));
  const files: SourceFile[] = [];
  let bytes = 0;
  for (const r of roots) {
    for (const full of listFiles(path.join(modules, r))) {
      const buf = fs.readFileSync(full);
      bytes += buf.length;
      files.push({ path: path.relative(modules, full).split(path.sep).join('/'), text: buf.toString('utf8') });
    }
  }
  return { files, bytes, roots };
}

/**
 * A deterministic sample of the real corpus without reading all of it: every `every`-th file (in the
 * listing order of `realCorpus`) of at most `maxBytes` bytes, at most `limit` files. For tests that need
 * real source in seconds.
 */
export function sampleCorpus(root: string, options: { every: number; maxBytes: number; limit: number }): SourceFile[] {
  const modules = path.join(root, 'node_modules');
  const files: SourceFile[] = [];
  let k = 0;
  for (const r of CORPUS_ROOTS.filter((x) => fs.existsSync(path.join(modules, x)))) {
    for (const full of listFiles(path.join(modules, r))) {
      if (k++ % options.every !== 0) continue;
      if (fs.statSync(full).size > options.maxBytes) continue;
      files.push({ path: path.relative(modules, full).split(path.sep).join('/'), text: fs.readFileSync(full, 'utf8') });
      if (files.length >= options.limit) return files;
    }
  }
  return files;
}

/**
 * Longest piece the o200k pre-tokenizer makes of `text`: BPE is quadratic in a piece's length, so
 * this is what makes a bare encode slow (a run of one letter, or of emoji, is one piece; base64 is not).
 */
export function longestPiece(text: string): number {
  let best = 0;
  for (const [piece] of text.matchAll(O200K_TOKEN_SPLIT_REGEX)) best = Math.max(best, piece.length);
  return best;
}

/** Generated worst cases for the chunker, each 1 MB or more. */
export function pathologicalCorpus(ordinary: readonly SourceFile[]): SourceFile[] {
  const r = rng(42);
  const bytes = Buffer.alloc(1_500_000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256);
  const js = ['function ', 'return ', 'var ', 'a', 'b', 'c', 'e', 't', 'n', '(', ')', '{', '}', ';', ',', '=', '+', '.', '!0', '"use strict"', 'e.exports', '&&', '||', '?', ':', '[', ']', '0', '1'];
  let minified = '';
  while (minified.length < 2_000_000) minified += js[Math.floor(r() * js.length)];
  // A 5 MB single line: real code with its line breaks turned into spaces.
  let line = '';
  for (const f of ordinary) {
    if (line.length >= 5_000_000) break;
    line += f.text.replace(/[\r\n]+/g, ' ');
  }
  return [
    { path: '2 MB of "a"', text: 'a'.repeat(2_000_000) },
    { path: '1 MB of "😀" (astral)', text: '😀'.repeat(500_000) },
    { path: '2 MB of base64, one line', text: bytes.toString('base64') },
    { path: '2 MB of minified JS, one line', text: minified },
    { path: '5 MB single line of code', text: line.slice(0, 5_000_000) },
  ];
}
