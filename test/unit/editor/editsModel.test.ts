import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { applyHunks, hunkDescription, hunksOf, reviewLabel, reviewProblem, suspiciousOf, type TextPosition } from '../../../src/vscode/edits/editsModel';
import { rng } from '../../support/random';

const root = path.resolve(__dirname, '../../../..');

/** Where an offset is, as the editor counts it (a '\n' ends a line; '\r\n' too). */
function positionAt(text: string, offset: number): TextPosition {
  const before = text.slice(0, offset);
  const line = before.split('\n').length - 1;
  return { line, character: offset - (before.lastIndexOf('\n') + 1) };
}

/** A random text of lines (LF or CRLF, a final newline or not, empty lines, CJK and emoji), from `next`. */
function randomText(next: () => number, eol: string, lines: number, finalNewline: boolean): string {
  const words = ['alpha', 'beta', '', 'ünïcode', '日本語', '🙂 emoji', 'x'.repeat(30), '  indented', '}'];
  const out = Array.from({ length: lines }, () => words[Math.floor(next() * words.length)]);
  return out.join(eol) + (finalNewline && lines ? eol : '');
}

/** `text` with some lines replaced, removed, or inserted, at random. */
function randomEdit(next: () => number, text: string, eol: string): string {
  const lines = text.split(eol);
  const out: string[] = [];
  for (const l of lines) {
    const r = next();
    if (r < 0.1) continue;
    if (r < 0.2) out.push(`inserted ${Math.floor(next() * 100)}`);
    out.push(r < 0.35 ? l.toUpperCase() + '!' : l);
  }
  if (next() < 0.2) out.unshift('// top');
  return out.join(eol);
}

describe('Review Proposed Edits: hunks of a proposal (pure)', () => {
  it('needs no vscode: the module imports nothing of the editor', () => {
    const source = fs.readFileSync(path.join(root, 'src/vscode/edits/editsModel.ts'), 'utf8');
    assert.ok(!/from 'vscode'/.test(source) && !/require\('vscode'\)/.test(source));
  });

  it('one replace per hunk of whole lines; insertions, deletions, the first and the last line', () => {
    const original = 'a\nb\nc\nd\n';
    assert.deepStrictEqual(hunksOf(original, 'a\nB\nc\nd\n'), [{ start: { line: 1, character: 0 }, end: { line: 2, character: 0 }, newText: 'B\n', oldStart: 2, oldLines: 1, newLines: 1 }]);
    assert.deepStrictEqual(hunksOf(original, 'new\na\nb\nc\nd\n')[0], { start: { line: 0, character: 0 }, end: { line: 0, character: 0 }, newText: 'new\n', oldStart: 1, oldLines: 0, newLines: 1 });
    assert.deepStrictEqual(hunksOf(original, 'a\nb\nc\nd\nend\n')[0], { start: { line: 4, character: 0 }, end: { line: 4, character: 0 }, newText: 'end\n', oldStart: 5, oldLines: 0, newLines: 1 });
    assert.deepStrictEqual(hunksOf(original, 'a\nd\n'), [{ start: { line: 1, character: 0 }, end: { line: 3, character: 0 }, newText: '', oldStart: 2, oldLines: 2, newLines: 0 }]);
    // Two hunks, then an insertion after them: placed in the original, not in the proposal.
    const two = hunksOf(original, 'A\nb\nC\nX\nd\n');
    assert.deepStrictEqual(two.map((h) => [h.oldStart, h.oldLines, h.newText]), [[1, 1, 'A\n'], [3, 1, 'C\nX\n']]);
    // Without a final newline, the last line ends at its last character.
    assert.deepStrictEqual(hunksOf('a\nb', 'a\nB')[0].end, { line: 1, character: 1 });
    assert.deepStrictEqual(hunksOf('a\nb', 'a\nb\n')[0], { start: { line: 1, character: 0 }, end: { line: 1, character: 1 }, newText: 'b\n', oldStart: 2, oldLines: 1, newLines: 1 });
    assert.deepStrictEqual(hunksOf('same\n', 'same\n'), []);
  });

  it('a BOM is left out of the positions and kept by the applied text', () => {
    const hunks = hunksOf('\uFEFFa\nb\n', '\uFEFFa\nB\n');
    assert.deepStrictEqual(hunks[0].start, { line: 1, character: 0 });
    assert.strictEqual(applyHunks('\uFEFFa\nb\n', hunks), '\uFEFFa\nB\n');
  });

  it('property: applying every hunk gives the proposal exactly; leaving one out keeps that part of the original (LF, CRLF, no final newline, CJK, emoji)', () => {
    const next = rng(15);
    for (let i = 0; i < 300; i++) {
      const eol = next() < 0.5 ? '\n' : '\r\n';
      const original = randomText(next, eol, Math.floor(next() * 30), next() < 0.7);
      const proposed = randomEdit(next, original, eol);
      const hunks = hunksOf(original, proposed);
      assert.strictEqual(applyHunks(original, hunks), proposed, `case ${i}: ${JSON.stringify(original)} → ${JSON.stringify(proposed)}`);
      for (const h of hunks) {
        // Positions are line starts (or the end of the text) of the original, as the editor counts them.
        for (const p of [h.start, h.end]) {
          const offset = original.split(/(?<=\n)/).slice(0, p.line).join('').length + p.character;
          assert.deepStrictEqual(positionAt(original, offset), p);
          assert.ok(p.character === 0 || offset === original.length, `case ${i}: a position inside a line`);
        }
      }
      if (hunks.length > 1) {
        const skip = Math.floor(next() * hunks.length);
        const partial = applyHunks(original, hunks, (_h, j) => j !== skip);
        // Accepting the skipped one afterwards gives the whole proposal: the others did not touch its lines.
        assert.strictEqual(applyHunks(partial, hunksOf(partial, proposed)), proposed);
        assert.strictEqual(hunksOf(partial, proposed).length, 1, `case ${i}: only the hunk left out differs`);
      }
    }
  });

  it('a file the editor cannot review from its document is said why', () => {
    assert.match(reviewProblem('a\rb\n', undefined) ?? '', /lone CR.*batch-prompt apply/);
    assert.match(reviewProblem('a\nb\n', 'a\nb\nunsaved\n') ?? '', /unsaved changes/);
    assert.strictEqual(reviewProblem('\uFEFFa\r\nb\r\n', 'a\r\nb\r\n'), undefined);
    assert.strictEqual(reviewProblem('a\nb\n', undefined), undefined);
    assert.strictEqual(reviewProblem('a\r\nb\nc\r\n', 'a\r\nb\r\nc\r\n'), undefined, 'mixed line endings the editor normalised');
  });

  it('labels group the suspicious hunks apart, and the description says where and why', () => {
    const entry = { suspicious: [{ chunkId: '1.2', startLine: 10, endLine: 20, note: 'shrank from 11 lines to 2' }] };
    const inside = { oldStart: 12, oldLines: 3 };
    const before = { oldStart: 2, oldLines: 3 };
    const insertionAtEdge = { oldStart: 10, oldLines: 0 };
    assert.strictEqual(suspiciousOf(entry, inside).length, 1);
    assert.strictEqual(suspiciousOf(entry, before).length, 0);
    assert.strictEqual(suspiciousOf(entry, insertionAtEdge).length, 1);
    assert.notStrictEqual(reviewLabel('r1', true), reviewLabel('r1', false));
    assert.match(reviewLabel('r1', true), /suspicious/);
    const h = { start: { line: 11, character: 0 }, end: { line: 14, character: 0 }, newText: '', oldStart: 12, oldLines: 3, newLines: 0 };
    assert.strictEqual(hunkDescription('src/a.ts', h, suspiciousOf(entry, h)), 'src/a.ts: lines 12-14 (3 → 0 lines); suspicious: lines 10-20 shrank from 11 lines to 2');
    assert.strictEqual(hunkDescription('src/a.ts', { ...h, oldLines: 0, newLines: 1 }, []), 'src/a.ts: 1 line added before line 12');
  });
});
