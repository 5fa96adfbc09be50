import * as assert from 'assert';
import type { LocatedFinding } from '../../../src/core/output/kind';
import { dedupeFindings, ItemValidator } from '../../../src/core/output/validate';

const range = { startLine: 10, endLine: 20 };

describe('output validation', () => {
  it('accepts valid findings within the chunk\'s lines', () => {
    const v = ItemValidator.forFindings();
    assert.strictEqual(v.check({ findings: [] }, range), undefined);
    assert.strictEqual(v.check({ findings: [{ line: 10, endLine: 20, severity: 'error', message: 'm' }] }, range), undefined);
  });

  it('names the first schema error with its path, short enough to quote', () => {
    const v = ItemValidator.forFindings();
    assert.strictEqual(v.check({ findings: [{ line: 12, severity: 'fatal', message: 'm' }] }, range), '/findings/0/severity: must be equal to one of the allowed values: "error", "warning", "info", "hint"');
    assert.strictEqual(v.check({}, range), "/: must have required property 'findings'");
    assert.strictEqual(v.check({ findings: [{ line: 12, severity: 'info', message: 'm', why: 1 }] }, range), '/findings/0: must NOT have additional properties ("why")');
    assert.strictEqual(v.check('not json', range), '/: must be object');
  });

  it('refuses findings whose lines are outside the chunk', () => {
    const v = ItemValidator.forFindings();
    const f = (line: number, endLine?: number) => ({ findings: [{ line: 15, severity: 'info', message: 'ok' }, { line, ...(endLine ? { endLine } : {}), severity: 'info', message: 'm' }] });
    assert.strictEqual(v.check(f(9), range), "/findings/1/line: 9 is outside this chunk's lines 10–20");
    assert.strictEqual(v.check(f(21), range), "/findings/1/line: 21 is outside this chunk's lines 10–20");
    assert.strictEqual(v.check(f(18, 21), range), "/findings/1/endLine: 21 is outside this chunk's lines 10–20");
    assert.strictEqual(v.check(f(18, 17), range), '/findings/1/endLine: 17 is before line 18');
    assert.strictEqual(v.check(f(9)), undefined, 'no range given: schema only');
  });

  it('checks json values against the user schema, compiled once', () => {
    const v = ItemValidator.forJson({ type: 'object', required: ['score'], properties: { score: { type: 'number', maximum: 10 } } });
    assert.strictEqual(v.check({ score: 3 }), undefined);
    assert.strictEqual(v.check({ score: 11 }), '/score: must be <= 10');
    assert.strictEqual(v.check({ score: 3, findings: [{ line: 999 }] }, range), undefined, 'no line check for json');
    const v2020 = ItemValidator.forJson({ $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'array', prefixItems: [{ type: 'string' }] });
    assert.strictEqual(v2020.check(['a']), undefined);
    assert.strictEqual(v2020.check([1]), '/0: must be string');
  });

  it('keeps a finding once in the overlap of neighbouring chunks', () => {
    const at = (chunkId: string, line: number, extra: Partial<LocatedFinding>): LocatedFinding => ({ path: 'a.ts', chunkId, line, severity: 'warning', message: 'Unused variable x', ...extra });
    const findings = [
      at('c1', 5, {}),
      at('c1', 18, { rule: 'no-unused', message: 'x is unused' }),
      at('c1', 18, { rule: 'no-unused', message: 'y is unused' }),
      at('c2', 18, { rule: 'no-unused', message: 'x is never read' }),
      at('c2', 18, { rule: 'no-unused', message: 'y is never read' }),
      at('c2', 19, { message: '  unused   VARIABLE x ' }),
      at('c3', 19, { message: 'Unused variable x' }),
      at('c2', 18, { rule: 'other', message: 'different' }),
      at('c2', 18, { endLine: 19, rule: 'no-unused', message: 'x is unused' }),
      { ...at('c2', 5, {}), path: 'b.ts' },
    ];
    const kept = dedupeFindings(findings);
    assert.deepStrictEqual(kept.map((f) => `${f.path}:${f.chunkId}:${f.line}-${f.endLine ?? f.line}:${f.message}`), [
      'a.ts:c1:5-5:Unused variable x',
      'a.ts:c1:18-18:x is unused',
      'a.ts:c1:18-18:y is unused',
      'a.ts:c2:19-19:  unused   VARIABLE x ',
      'a.ts:c2:18-18:different',
      'a.ts:c2:18-19:x is unused',
      'b.ts:c2:5-5:Unused variable x',
    ]);
  });
});
