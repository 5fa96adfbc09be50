import * as assert from 'assert';
import Ajv04 from 'ajv-draft-04';
import * as fs from 'fs';
import * as path from 'path';
import type { LocatedFinding } from '../../../src/core/output/kind';
import { DEFAULT_RULE, FINGERPRINT_KEY, findingFingerprint, relativeUri, toSarif } from '../../../src/core/output/sarif';

const root = path.resolve(__dirname, '../../../..');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const findings: LocatedFinding[] = [
  { path: 'src/a.ts', chunkId: 'c1', line: 3, severity: 'error', message: 'Null dereference', rule: 'null-deref', suggestion: 'Check for null first.' },
  { path: 'src/a.ts', chunkId: 'c1', line: 7, endLine: 9, column: 4, severity: 'warning', message: 'Unused variable', rule: 'unused' },
  { path: 'src/dir with space/b.ts', chunkId: 'c2', line: 1, severity: 'info', message: 'Consider a constant' },
  { path: 'src/b.ts', chunkId: 'c3', line: 2, endLine: 2, severity: 'hint', message: 'Style', rule: 'unused' },
];

describe('SARIF output', () => {
  it('is valid against the official SARIF 2.1.0 JSON schema', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(root, 'test/fixtures/sarif-2.1.0.schema.json'), 'utf8'));
    const validate = new Ajv04({ strict: false, allErrors: true, logger: false }).compile(schema);
    for (const log of [toSarif(findings, { toolName: 'Batch Prompt', toolVersion: '0.1.0', informationUri: 'https://example.invalid/bp', rootUri: 'file:///work/repo' }), toSarif([], { toolName: 'Batch Prompt', toolVersion: '0.1.0' })]) {
      const ok = validate(log);
      assert.ok(ok, JSON.stringify(validate.errors, null, 2));
    }
    assert.ok(!validate({ version: '2.1.0', runs: [{ tool: { driver: {} } }] }), 'the schema is really checked: a driver needs a name');
  });

  it('writes tool, rules, levels, locations and regions', () => {
    const log: Json = toSarif(findings, { toolName: 'Batch Prompt', toolVersion: '0.1.0', rootUri: 'file:///work/repo' });
    assert.strictEqual(log.version, '2.1.0');
    const run = log.runs[0];
    assert.deepStrictEqual(run.tool.driver.rules.map((r: Json) => r.id), [DEFAULT_RULE, 'null-deref', 'unused']);
    assert.deepStrictEqual(run.results.map((r: Json) => [r.ruleId, run.tool.driver.rules[r.ruleIndex].id, r.level]), [
      ['null-deref', 'null-deref', 'error'],
      ['unused', 'unused', 'warning'],
      [DEFAULT_RULE, DEFAULT_RULE, 'note'],
      ['unused', 'unused', 'note'],
    ]);
    assert.deepStrictEqual(run.originalUriBaseIds, { '%SRCROOT%': { uri: 'file:///work/repo/' } });
    const loc = (i: number) => run.results[i].locations[0].physicalLocation;
    assert.deepStrictEqual(loc(0), { artifactLocation: { uri: 'src/a.ts', uriBaseId: '%SRCROOT%' }, region: { startLine: 3 } });
    assert.deepStrictEqual(loc(1).region, { startLine: 7, endLine: 9, startColumn: 4 });
    assert.strictEqual(loc(2).artifactLocation.uri, 'src/dir%20with%20space/b.ts');
    assert.deepStrictEqual(loc(3).region, { startLine: 2 });
    assert.strictEqual(run.results[0].message.text, 'Null dereference\nSuggestion: Check for null first.');
    assert.strictEqual(run.results[1].message.text, 'Unused variable');
    assert.strictEqual(relativeUri('.\\x\\y#1.ts'), 'x/y%231.ts');
  });

  it('fingerprints a finding the same across runs, whatever its line number or message spacing', () => {
    const f = findings[0];
    const fp = findingFingerprint(f, '  const x = y.z;');
    assert.match(fp, /^[0-9a-f]{32}$/);
    assert.strictEqual(findingFingerprint({ ...f, line: 40, chunkId: 'c9', message: ' null   DEREFERENCE ' }, 'const x = y.z;'), fp);
    assert.notStrictEqual(findingFingerprint({ ...f, path: 'src/other.ts' }, 'const x = y.z;'), fp);
    assert.notStrictEqual(findingFingerprint({ ...f, rule: 'other' }, 'const x = y.z;'), fp);
    assert.notStrictEqual(findingFingerprint(f, 'const q = 1;'), fp);
    const lineText = (p: string, line: number) => (p === 'src/a.ts' && line === 3 ? '  const x = y.z;' : undefined);
    const a: Json = toSarif(findings, { toolName: 't', toolVersion: '1', lineText });
    const b: Json = toSarif(findings, { toolName: 't', toolVersion: '1', lineText });
    assert.deepStrictEqual(a, b);
    assert.strictEqual(a.runs[0].results[0].partialFingerprints[FINGERPRINT_KEY], fp);
  });
});
