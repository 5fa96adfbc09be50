import * as assert from 'assert';
import Ajv04 from 'ajv-draft-04';
import { promises as fs, readFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MalformedOutputError } from '../../../src/core/output/artifacts';
import type { JsonSchema, LocatedFinding } from '../../../src/core/output/kind';
import { checkRunMeta, RunOutputError } from '../../../src/core/store/pathGuard';
import { REPORT_FILE, writeRunReport } from '../../../src/core/store/runReport';
import { RunStore } from '../../../src/core/store/runStore';
import { findingsValue, writeFixtureRun } from '../../support/structuredRun';

const repo = path.resolve(__dirname, '../../../..');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const ITEMS_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['items'],
  properties: {
    file: { type: 'string' },
    items: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, count: { type: 'integer' } } } },
  },
};

async function lines(file: string): Promise<Json[]> {
  return (await fs.readFile(file, 'utf8')).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

describe('run-folder artifacts of structured runs', function () {
  this.timeout(20_000);
  let tmp = '';
  let root = '';
  beforeEach(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-art-'));
    root = path.join(tmp, 'ws');
  });
  afterEach(async () => fs.rm(tmp, { recursive: true, force: true }));

  /** Two files; b.ts's two chunks overlap on lines 8–10 and both report the finding on line 9. */
  async function findingsRun(dir = path.join(tmp, 'run')) {
    await writeFixtureRun(dir, root, { kind: 'findings' }, [
      {
        path: 'src/b.ts',
        chunks: [
          { startLine: 1, endLine: 10, value: findingsValue({ line: 9, severity: 'warning', message: 'Unused variable', rule: 'unused' }, { line: 2, severity: 'error', message: 'Null dereference', rule: 'null-deref', suggestion: 'Check first.' }) },
          { startLine: 8, endLine: 20, value: findingsValue({ line: 9, severity: 'warning', message: 'unused  VARIABLE', rule: 'unused' }, { line: 15, endLine: 17, column: 3, severity: 'info', message: 'Magic number' }) },
        ],
      },
      { path: 'src/a.ts', chunks: [{ startLine: 1, endLine: 5, value: findingsValue({ line: 4, severity: 'hint', message: 'Style' }, { line: 1, severity: 'error', message: 'Syntax | error' }) }] },
    ]);
    return dir;
  }

  it('findings.jsonl: one finding a line, overlap duplicates once, in path then line order, every field', async () => {
    const dir = await findingsRun();
    const artifacts = await writeRunReport(dir);
    const rows: LocatedFinding[] = await lines(path.join(dir, 'findings.jsonl'));
    assert.deepStrictEqual(rows.map((r) => `${r.path}:${r.line}:${r.chunkId}`), ['src/a.ts:1:2.1', 'src/a.ts:4:2.1', 'src/b.ts:2:1.1', 'src/b.ts:9:1.1', 'src/b.ts:15:1.2']);
    assert.deepStrictEqual(rows[2], { path: 'src/b.ts', line: 2, severity: 'error', message: 'Null dereference', rule: 'null-deref', suggestion: 'Check first.', chunkId: '1.1' });
    assert.deepStrictEqual(rows[4], { path: 'src/b.ts', line: 15, endLine: 17, column: 3, severity: 'info', message: 'Magic number', chunkId: '1.2' });
    assert.strictEqual(artifacts.findings?.length, 5);
  });

  it('findings.sarif is valid SARIF 2.1.0 with rules, levels, relative locations, regions and fingerprints', async () => {
    const dir = await findingsRun();
    await writeRunReport(dir);
    const log: Json = JSON.parse(await fs.readFile(path.join(dir, 'findings.sarif'), 'utf8'));
    const validate = new Ajv04({ strict: false, allErrors: true, logger: false }).compile(JSON.parse(readFileSync(path.join(repo, 'test/fixtures/sarif-2.1.0.schema.json'), 'utf8')));
    const checked: unknown = log;
    assert.ok(validate(checked), JSON.stringify(validate.errors, null, 2));
    const run = log.runs[0];
    assert.strictEqual(run.tool.driver.name, 'Batch Prompt');
    assert.deepStrictEqual(run.tool.driver.rules.map((r: Json) => r.id), ['finding', 'null-deref', 'unused']);
    assert.strictEqual(run.results.length, 5);
    const b15 = run.results[4];
    assert.deepStrictEqual(b15.locations[0].physicalLocation, { artifactLocation: { uri: 'src/b.ts', uriBaseId: '%SRCROOT%' }, region: { startLine: 15, endLine: 17, startColumn: 3 } });
    assert.strictEqual(b15.level, 'note');
    assert.strictEqual(run.results[2].level, 'error');
    assert.ok(run.originalUriBaseIds['%SRCROOT%'].uri.startsWith('file://'));
    // The line's text is in the fingerprint while the file is as planned: the same finding on another line of equal text keeps it.
    const fps = run.results.map((r: Json) => r.partialFingerprints['batchPromptFinding/v1']);
    assert.strictEqual(new Set(fps).size, 5);
    await fs.writeFile(path.join(root, 'src/b.ts'), 'edited\n');
    await writeRunReport(dir);
    const after: Json = JSON.parse(await fs.readFile(path.join(dir, 'findings.sarif'), 'utf8'));
    assert.notDeepStrictEqual(after.runs[0].results.map((r: Json) => r.partialFingerprints['batchPromptFinding/v1']).slice(2), fps.slice(2), 'an edited file gives no line text');
  });

  it('report.md counts findings by severity, lists the files with the most, and a table of the first rows', async () => {
    const dir = await findingsRun();
    await writeRunReport(dir);
    const report = await fs.readFile(path.join(dir, REPORT_FILE), 'utf8');
    assert.match(report, /5 findings in 2 files: 2 error, 1 warning, 1 info, 1 hint\./);
    assert.match(report, /\| error \| 2 \|/);
    assert.match(report, /### Files with the most findings\n\n\| File \| Findings \| Errors \| Warnings \|\n\|---\|---:\|---:\|---:\|\n\| src\/b\.ts \| 3 \| 1 \| 1 \|\n\| src\/a\.ts \| 2 \| 1 \| 0 \|/);
    assert.match(report, /\| src\/a\.ts \| 1 \| error \| {2}\| Syntax \\\| error \|/);
    assert.match(report, /\| src\/b\.ts \| 15–17 \| info \|/);
  });

  it('outputs/ of a findings run is a readable Markdown list per file, not the raw records', async () => {
    const dir = await findingsRun();
    const b = await fs.readFile(path.join(dir, 'outputs/src/b.ts.md'), 'utf8');
    assert.strictEqual(b, ['# Findings in src/b.ts', '', '- **error** line 2 `null-deref`: Null dereference', '  - Suggestion: Check first.', '- **warning** line 9 `unused`: Unused variable', '- **info** lines 15–17:3: Magic number', ''].join('\n'));
  });

  it('a failed chunk is marked in its file output, and its findings are simply absent from the artifacts', async () => {
    const dir = path.join(tmp, 'run');
    await writeFixtureRun(dir, root, { kind: 'findings' }, [{ path: 'x.ts', chunks: [{ startLine: 1, endLine: 3, value: findingsValue({ line: 2, severity: 'warning', message: 'w' }) }, { startLine: 4, endLine: 6, fail: '/findings/0/line: 9 is outside' }] }]);
    await writeRunReport(dir);
    assert.match(await fs.readFile(path.join(dir, 'outputs/x.ts.incomplete.md'), 'utf8'), /<<<batch-prompt: chunk 1\.2 \(lines 4-6\) failed: \/findings\/0\/line: 9 is outside>>>/);
    assert.deepStrictEqual((await lines(path.join(dir, 'findings.jsonl'))).map((r) => r.line), [2]);
  });

  it('json kind: results.jsonl per entry, results.csv with the schema columns, pretty JSON per file', async () => {
    const dir = path.join(tmp, 'run');
    await writeFixtureRun(dir, root, { kind: 'json', schema: ITEMS_SCHEMA }, [
      { path: 'a.md', chunks: [{ startLine: 1, endLine: 4, value: { file: 'a', items: [{ name: '=cmd', count: 2 }, { name: 'x,y', count: 1 }] } }, { startLine: 5, endLine: 9, value: { file: 'a2', items: [] } }] },
    ]);
    await writeRunReport(dir);
    assert.deepStrictEqual(await lines(path.join(dir, 'results.jsonl')), [
      { path: 'a.md', startLine: 1, endLine: 4, chunkId: '1.1', value: { file: 'a', items: [{ name: '=cmd', count: 2 }, { name: 'x,y', count: 1 }] } },
      { path: 'a.md', startLine: 5, endLine: 9, chunkId: '1.2', value: { file: 'a2', items: [] } },
    ]);
    assert.strictEqual(await fs.readFile(path.join(dir, 'results.csv'), 'utf8'), 'path,startLine,endLine,file,name,count\r\na.md,1,4,a,\'=cmd,2\r\na.md,1,4,a,"x,y",1\r\n');
    assert.deepStrictEqual(JSON.parse(await fs.readFile(path.join(dir, 'outputs/a.md.json'), 'utf8')), [
      { startLine: 1, endLine: 4, value: { file: 'a', items: [{ name: '=cmd', count: 2 }, { name: 'x,y', count: 1 }] } },
      { startLine: 5, endLine: 9, value: { file: 'a2', items: [] } },
    ]);
    const report = await fs.readFile(path.join(dir, REPORT_FILE), 'utf8');
    assert.match(report, /## Results\n\n2 results in 1 file\(s\)\. All of them: \[results\.jsonl\]\(results\.jsonl\), \[results\.csv\]\(results\.csv\)\./);
    await assert.rejects(fs.access(path.join(dir, 'findings.jsonl')), 'no findings files in a json run');
  });

  it('a json schema that is not flat gets results.jsonl but no results.csv; a text run gets neither', async () => {
    const deep = path.join(tmp, 'deep');
    await writeFixtureRun(deep, root, { kind: 'json', schema: { type: 'object', properties: { a: { type: 'object' }, b: { type: 'array' } } } }, [{ path: 'a.md', chunks: [{ startLine: 1, endLine: 2, value: { a: {} } }] }]);
    await writeRunReport(deep);
    await fs.access(path.join(deep, 'results.jsonl'));
    await assert.rejects(fs.access(path.join(deep, 'results.csv')));
    const text = path.join(tmp, 'text');
    await writeFixtureRun(text, root, undefined, [{ path: 'a.md', chunks: [{ startLine: 1, endLine: 2, value: 'hello' }] }]);
    await writeRunReport(text);
    assert.deepStrictEqual((await fs.readdir(text)).filter((n) => /^(findings|results)\./.test(n)), []);
    assert.strictEqual(await fs.readFile(path.join(text, 'outputs/a.md.md'), 'utf8'), 'hello');
  });

  it('rewrites the artifacts from the folder\'s latest state after a retry', async () => {
    const dir = path.join(tmp, 'run');
    const { meta } = await writeFixtureRun(dir, root, { kind: 'findings' }, [{ path: 'x.ts', chunks: [{ startLine: 1, endLine: 3, fail: 'bad' }] }]);
    await writeRunReport(dir);
    assert.strictEqual(await fs.readFile(path.join(dir, 'findings.jsonl'), 'utf8'), '');
    const store = await RunStore.openForUpdate(dir);
    await store.record({ chunk: meta.files[0].chunks[0], status: 'succeeded', output: JSON.stringify([{ startLine: 1, endLine: 3, value: findingsValue({ line: 3, severity: 'error', message: 'now found' }) }]), attempts: 1, batchId: 'r', inputTokens: 1, outputTokens: 1, latencyMs: 1 });
    const summary = await store.finish({ succeeded: 1, failed: 0, canceled: 0, requests: 1, inputTokens: 1, outputTokens: 1, durationMs: 1 });
    await writeRunReport(dir, {}, summary);
    assert.deepStrictEqual((await lines(path.join(dir, 'findings.jsonl'))).map((r) => r.message), ['now found']);
    assert.match(await fs.readFile(path.join(dir, REPORT_FILE), 'utf8'), /1 finding in 1 file: 1 error/);
  });

  it('a malformed chunk output in the folder is refused by name, and nothing is written', async () => {
    for (const [bad, why] of [
      ['not json', /chunks\/1\.1\.out is not a recorded structured output .*not JSON/],
      ['{"startLine":1}', /chunks\/1\.1\.out .*a JSON list of entries/],
      ['[{"startLine":1,"endLine":2,"value":{"findings":[{"line":1,"severity":"fatal","message":"m"}]}}]', /chunks\/1\.1\.out .*entry 0: \/findings\/0\/severity/],
    ] as const) {
      const dir = await fs.mkdtemp(path.join(tmp, 'm-'));
      await fs.rmdir(dir);
      await findingsRun(dir);
      await fs.rm(path.join(dir, REPORT_FILE), { force: true });
      await fs.writeFile(path.join(dir, 'chunks/1.1.out'), bad);
      await assert.rejects(writeRunReport(dir), (e: Error) => MalformedOutputError.is(e) && why.test(e.message));
      await assert.rejects(fs.access(path.join(dir, 'findings.jsonl')), 'nothing written');
      await assert.rejects(fs.access(path.join(dir, REPORT_FILE)), 'nothing written');
    }
  });

  it('checkRunMeta refuses a run.json whose output is unknown or whose schema is not a JSON Schema, naming the entry', () => {
    const files = [{ path: 'a.md', chunks: [] }];
    const cases: [unknown, RegExp][] = [
      ['findings', /run\.json: output is not an object/],
      [{ kind: 'edits' }, /run\.json: output\.kind "edits" is not an output kind \(text, findings, json, edit\)/],
      [{}, /run\.json: output\.kind missing is not an output kind/],
      [{ kind: 'json' }, /run\.json: output\.schema is missing/],
      [{ kind: 'json', schema: { type: 'objekt' } }, /run\.json: output\.schema cannot be used \(Schema run\.json output\.schema is not a valid JSON Schema .*\/type/],
      [{ kind: 'json', schema: [] }, /run\.json: output\.schema cannot be used/],
      [{ kind: 'findings', schema: {} }, /output\.schema is given for the findings kind/],
      [{ kind: 'edit', schema: {} }, /output\.schema is given for the edit kind/],
    ];
    for (const [output, re] of cases) assert.throws(() => checkRunMeta({ files, output }), (e: Error) => RunOutputError.is(e) && re.test(e.message), re.source);
    for (const output of [undefined, { kind: 'text' }, { kind: 'findings' }, { kind: 'json', schema: ITEMS_SCHEMA }, { kind: 'edit' }]) assert.doesNotThrow(() => checkRunMeta({ files, output }));
  });

  it('opening a folder whose run.json has a bad output is refused before anything is written', async () => {
    const dir = await findingsRun();
    const meta = JSON.parse(await fs.readFile(path.join(dir, 'run.json'), 'utf8'));
    meta.output = { kind: 'json', schema: { type: 7 } };
    await fs.writeFile(path.join(dir, 'run.json'), JSON.stringify(meta));
    await fs.rm(path.join(dir, REPORT_FILE), { force: true });
    await assert.rejects(RunStore.openForUpdate(dir), (e: Error) => RunOutputError.is(e) && /output\.schema/.test(e.message));
    await assert.rejects(writeRunReport(dir), (e: Error) => RunOutputError.is(e));
    await assert.rejects(fs.access(path.join(dir, REPORT_FILE)));
  });
});
