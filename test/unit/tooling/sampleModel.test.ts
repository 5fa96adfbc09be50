import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { parsePromptFile } from '../../../src/core/input/promptFile';
import { ItemValidator } from '../../../src/core/output/validate';
import { instructions, wrapEditParts } from '../../../src/core/plan/protocol';
import * as sampleModel from '../../../scripts/sampleModel.js';

const root = path.resolve(__dirname, '../../../..');
const chunk = (id: string, p: string, from: number, to: number) => `<chunk id="${id}" path="${p}" lines="${from}-${to}">\n…\n</chunk>`;
const request = (system: string, ...chunks: string[]) => ({ model: 'canned', messages: [{ role: 'system', content: system }, { role: 'user', content: chunks.join('\n\n') }] });

describe('npm start --sample-model: the canned sample model', () => {
  it('"Find bugs" in the sample is a findings prompt', () => {
    const parsed = parsePromptFile(fs.readFileSync(path.join(root, 'sample/.github/prompts/find-bugs.prompt.md'), 'utf8'));
    assert.strictEqual(parsed.problem, undefined);
    assert.strictEqual(parsed.output, 'findings');
  });

  it('each planted finding is on the sample line it is about (its anchor is on that line)', () => {
    for (const [file, findings] of Object.entries(sampleModel.PLANTED_FINDINGS)) {
      const lines = fs.readFileSync(path.join(root, 'sample', file), 'utf8').split('\n');
      for (const f of findings) assert.ok(lines[f.line - 1]?.includes(f.anchor), `${file}:${f.line} holds ${JSON.stringify(f.anchor)}`);
    }
  });

  it('answers a findings request in the tagged protocol with valid findings JSON, absolute lines, only those within each chunk', () => {
    const reply = sampleModel.answer(request('Find bugs.\nAnswer {"findings": [...]} in each result.', chunk('1.1', 'src/pricing.ts', 1, 30), chunk('1.2', 'src/pricing.ts', 31, 47), chunk('2.1', 'docs/architecture.md', 1, 20)));
    const results = [...reply.matchAll(/<result id="([^"]+)">\n([\s\S]*?)\n<\/result>/g)].map((m) => [m[1], JSON.parse(m[2])] as const);
    const validator = ItemValidator.forFindings();
    for (const [, value] of results) assert.strictEqual(validator.check(value), undefined);
    assert.deepStrictEqual(
      results.map(([id, v]) => [id, (v as { findings: { line: number }[] }).findings.map((f) => f.line)]),
      [
        ['1.1', [29]],
        ['1.2', [36]],
        ['2.1', []],
      ],
    );
  });

  it('answers a structured request as the batch\'s {results:[{id, value}]}; any other prompt with a canned line', () => {
    const structured = JSON.parse(sampleModel.answer({ ...request('Find bugs.', chunk('3.1', 'server/health.go', 1, 42)), response_format: { type: 'json_schema', json_schema: { schema: { properties: { findings: {} } } } } })) as { results: { id: string; value: { findings: { line: number; endLine?: number }[] } }[] };
    assert.deepStrictEqual(structured.results.map((r) => [r.id, r.value.findings.map((f) => [f.line, f.endLine])]), [['3.1', [[40, 42]]]]);
    assert.match(sampleModel.answer(request('Explain.', chunk('4.1', 'src/pricing.ts', 1, 47))), /^<result id="4\.1">\n\(A canned answer from npm start's sample model/);
  });

  it('serves OpenAI chat completions on 127.0.0.1', async () => {
    const { server, baseUrl } = await sampleModel.startSampleModel();
    try {
      assert.match(baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      const res = await fetch(`${baseUrl}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request('"findings"', chunk('1.1', 'scripts/report.py', 1, 43))) });
      const body = (await res.json()) as { choices: { message: { content: string } }[] };
      assert.match(body.choices[0].message.content, /"line":17.*"line":31/);
    } finally {
      server.close();
    }
  });
});

describe('npm start --sample-model: edit requests (#15)', () => {
  it('"Add doc comments" in the sample is an edit prompt', () => {
    const parsed = parsePromptFile(fs.readFileSync(path.join(root, 'sample/.github/prompts/add-doc-comments.prompt.md'), 'utf8'));
    assert.strictEqual(parsed.problem, undefined);
    assert.strictEqual(parsed.output, 'edit');
  });

  it('answers each edit part (and only it, not its context) with a doc comment above every exported function', () => {
    const text = fs.readFileSync(path.join(root, 'sample/src/pricing.ts'), 'utf8');
    // The chunk as the edit protocol sends it: lines 1-30 as context, the rest to rewrite.
    const overlap = text.split('\n').slice(0, 30).join('\n').length + 1;
    const body = `<chunk id="1.2" path="src/pricing.ts" lines="1-${text.split('\n').length - 1}">\n${wrapEditParts({ text, overlap, trailing: 0, startLine: 1 })}\n</chunk>`;
    const req = request(instructions(1, { kind: 'edit' }), body);
    assert.ok(sampleModel.wantsEdit(req));
    const reply = sampleModel.answer(req);
    const m = /^<result id="1\.2">\n([\s\S]*)\n<\/result>$/.exec(reply);
    assert.ok(m, reply.slice(0, 200));
    const part = text.slice(overlap);
    const comments = m[1].split('\n').filter((l) => l.includes('a canned doc comment'));
    // lineTotal (line 27) is in the context: not rewritten; orderTotals and formatCents are in the part.
    assert.deepStrictEqual(comments, ['/** orderTotals: (a canned doc comment from the sample model) */', '/** formatCents: (a canned doc comment from the sample model) */']);
    assert.strictEqual(m[1].split('\n').filter((l) => !l.includes('a canned doc comment')).join('\n'), part.endsWith('\n') ? part : `${part}\n`);
  });

  it('Python and Go: top-level def and exported func get theirs; a documented one and an unexported Go func do not', () => {
    assert.strictEqual(sampleModel.addDocComments('def load(path):\n    pass\n# totals: done\ndef totals(rows):\n', 'scripts/report.py'), '# load: (a canned doc comment from the sample model)\ndef load(path):\n    pass\n# totals: done\ndef totals(rows):\n');
    assert.strictEqual(sampleModel.addDocComments('func (h *Health) Register() {}\nfunc helper() {}\n', 'server/health.go'), '// Register (a canned doc comment from the sample model).\nfunc (h *Health) Register() {}\nfunc helper() {}\n');
    assert.strictEqual(sampleModel.answer(request('Explain.', '<chunk id="1.1" path="a.ts" lines="1-2">\nx\n</chunk>')).includes('canned answer'), true, 'a text request still gets its sentence');
  });
});
