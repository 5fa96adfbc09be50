import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { LocatedFinding } from '../../../src/core/output/kind';
import { hashText } from '../../../src/core/plan/plan';
import { countsText, DIAGNOSTIC_SEVERITY, linesOf, messageOf, parseFindings, placeFindings, replaceCovered, STALE_NOTE, toDiagnosticData } from '../../../src/vscode/findings/findingsModel';

const root = path.resolve(__dirname, '../../../..');

function finding(over: Partial<LocatedFinding> = {}): LocatedFinding {
  return { path: 'src/a.ts', line: 2, severity: 'warning', message: 'Off by one.', chunkId: '1.1', ...over };
}

const FILE = 'const a = 1;\nfor (let i = 0; i <= n; i++) {}\nreturn a;\n';

describe('findings in the Problems panel: the pure model', () => {
  it('needs no vscode: the module imports nothing of the editor', () => {
    const source = fs.readFileSync(path.join(root, 'src/vscode/findings/findingsModel.ts'), 'utf8');
    assert.ok(!/from 'vscode'/.test(source) && !/require\('vscode'\)/.test(source));
  });

  describe('parseFindings (untrusted findings.jsonl)', () => {
    it('keeps the valid lines, only their known fields, and lists each malformed line with why', () => {
      const lines = [
        JSON.stringify({ ...finding(), extra: 'ignored' }),
        '{"path":"src/a.ts","line":3,',
        JSON.stringify(finding({ path: '../outside.ts' })),
        JSON.stringify(finding({ path: '/etc/passwd' })),
        JSON.stringify(finding({ line: 0 })),
        JSON.stringify(finding({ line: 4, endLine: 3 })),
        JSON.stringify(finding({ severity: 'fatal' as never })),
        JSON.stringify(finding({ message: '  ' })),
        JSON.stringify(finding({ chunkId: '../x' })),
        '',
        JSON.stringify(finding({ line: 3, endLine: 4, column: 5, severity: 'error', rule: 'null-check', suggestion: 'Check for null.' })),
        '[1,2]',
      ];
      const parsed = parseFindings(lines.join('\n'));
      assert.deepStrictEqual(parsed.findings, [finding(), finding({ line: 3, endLine: 4, column: 5, severity: 'error', rule: 'null-check', suggestion: 'Check for null.' })]);
      assert.deepStrictEqual(
        parsed.skipped.map((s) => s.line),
        [2, 3, 4, 5, 6, 7, 8, 9, 12],
      );
      assert.match(parsed.skipped[0].reason, /not JSON/);
      assert.match(parsed.skipped[1].reason, /path has a "\.\." segment/);
      assert.match(parsed.skipped[2].reason, /path is absolute/);
      assert.match(parsed.skipped[8].reason, /not an object/);
    });
  });

  describe('toDiagnosticData (a finding on its lines)', () => {
    const lines = linesOf(FILE);

    it('maps each severity to the editor\'s (error, warning, information, hint)', () => {
      assert.deepStrictEqual(DIAGNOSTIC_SEVERITY, { error: 0, warning: 1, info: 2, hint: 3 });
      for (const s of ['error', 'warning', 'info', 'hint'] as const) assert.strictEqual(toDiagnosticData(finding({ severity: s }), lines, false).severity, DIAGNOSTIC_SEVERITY[s]);
    });

    it('spans line..endLine (0-based), from the column or the line start to the end line\'s end; the rule is the code; the suggestion is in the message', () => {
      assert.deepStrictEqual(toDiagnosticData(finding({ rule: 'off-by-one', suggestion: 'Use <.' }), lines, false), {
        path: 'src/a.ts',
        startLine: 1,
        startCharacter: 0,
        endLine: 1,
        endCharacter: lines[1].length,
        severity: 1,
        message: 'Off by one. Suggestion: Use <.',
        code: 'off-by-one',
        stale: false,
      });
      const d = toDiagnosticData(finding({ line: 1, endLine: 3, column: 7 }), lines, false);
      assert.deepStrictEqual([d.startLine, d.startCharacter, d.endLine, d.endCharacter], [0, 6, 2, 'return a;'.length]);
      assert.ok(!('code' in toDiagnosticData(finding(), lines, false)));
    });

    it('cuts a range past the end of the file to its last line, and never makes it empty', () => {
      const d = toDiagnosticData(finding({ line: 3, endLine: 9, column: 40 }), lines, false);
      assert.deepStrictEqual([d.startLine, d.startCharacter, d.endLine, d.endCharacter], [2, 'return a;'.length, 2, 'return a;'.length + 1]);
    });

    it('messageOf: the message alone without a suggestion', () => {
      assert.strictEqual(messageOf({ message: ' Bad. ' }), 'Bad.');
    });
  });

  describe('placeFindings (stale findings)', () => {
    const findings = [finding({ line: 1 }), finding({ line: 3, endLine: 5 })];

    it('places the findings of an unchanged file as found, none marked stale', () => {
      const placed = placeFindings(findings, hashText(FILE), FILE);
      assert.deepStrictEqual(
        placed.map((d) => [d.startLine, d.endLine, d.stale, d.message]),
        [
          [0, 0, false, 'Off by one.'],
          [2, 2, false, 'Off by one.'],
        ],
      );
    });

    it('marks each finding of a changed file stale in its message, and drops those whose line no longer exists', () => {
      const changed = 'const a = 1;\nreturn a;\n'; // two lines now: line 3 is gone
      const placed = placeFindings(findings, hashText(FILE), changed);
      assert.deepStrictEqual(
        placed.map((d) => [d.startLine, d.stale, d.message]),
        [[0, true, `Off by one.${STALE_NOTE}`]],
      );
      assert.strictEqual(STALE_NOTE, ' (stale: the file changed since the run)');
    });

    it('a changed file whose lines all remain keeps every finding, stale; a file that is gone shows none', () => {
      const longer = `${FILE}// added\n`;
      assert.deepStrictEqual(
        placeFindings(findings, hashText(FILE), longer).map((d) => d.stale),
        [true, true],
      );
      assert.deepStrictEqual(placeFindings(findings, hashText(FILE), undefined), []);
    });

    it('a file with no recorded hash counts as changed', () => {
      assert.ok(placeFindings(findings, undefined, FILE).every((d) => d.stale));
    });
  });

  describe('countsText (the end-of-run notification)', () => {
    it('counts per severity, most severe first, zero counts left out, in the files holding findings', () => {
      const many = [
        ...Array.from({ length: 12 }, (_, i) => finding({ severity: 'error', path: `f${i % 5}.ts` })),
        ...Array.from({ length: 30 }, (_, i) => finding({ severity: 'warning', path: `f${i}.ts` })),
      ];
      assert.strictEqual(countsText(many, 41), '12 errors, 30 warnings in 30 files');
      assert.strictEqual(countsText([finding({ severity: 'hint' }), finding({ severity: 'error' }), finding({ severity: 'info' })], 3), '1 error, 1 info, 1 hint in 1 file');
    });

    it('says "No findings in N files" (the files covered) when there are none', () => {
      assert.strictEqual(countsText([], 41), 'No findings in 41 files');
      assert.strictEqual(countsText([], 1), 'No findings in 1 file');
    });
  });

  describe('replaceCovered (a new run replaces the diagnostics of the files it covered)', () => {
    it('replaces the covered files, clears covered files without findings now, keeps the others', () => {
      const current = new Map([
        ['a', ['old a']],
        ['b', ['old b']],
        ['c', ['old c']],
      ]);
      const next = new Map([
        ['a', ['new a']],
        ['d', ['new d']],
      ]);
      const merged = replaceCovered(current, ['a', 'b', 'd'], next);
      assert.deepStrictEqual(Object.fromEntries(merged), { a: ['new a'], c: ['old c'], d: ['new d'] });
    });
  });
});
