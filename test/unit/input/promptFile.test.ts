import * as assert from 'assert';
import { parsePromptFile } from '../../../src/core/input/promptFile';

describe('prompt files (*.prompt.md)', () => {
  it('reads description and model from the front matter and the rest as the prompt', () => {
    const p = parsePromptFile('---\ndescription: "Add JSDoc"\nmodel: gpt-4o\nmode: agent\ntools: [a, b]\n---\nDocument every exported function.\n');
    assert.deepStrictEqual(p, { body: 'Document every exported function.', description: 'Add JSDoc', model: 'gpt-4o' });
  });

  it('takes a file without front matter, with CRLF or a BOM, as all prompt', () => {
    assert.deepStrictEqual(parsePromptFile('\uFEFFJust do it.\r\n'), { body: 'Just do it.' });
    assert.deepStrictEqual(parsePromptFile("---\r\ndescription: 'x'\r\n---\r\nBody\r\n"), { body: 'Body', description: 'x' });
  });
});

describe('prompt files: output kinds (#14)', () => {
  it('reads output and a schema path, keeping the rest as before', () => {
    const p = parsePromptFile('---\ndescription: Review\noutput: json\nschema: ./schemas/review.json\n---\nReview it.\n');
    assert.deepStrictEqual(p, { body: 'Review it.', description: 'Review', output: 'json', schema: { path: './schemas/review.json' } });
    assert.deepStrictEqual(parsePromptFile('---\noutput: findings\n---\nFind bugs.'), { body: 'Find bugs.', output: 'findings' });
  });

  it('reads an inline schema as an object, and takes a schema alone as the json kind', () => {
    const p = parsePromptFile('---\nschema:\n  type: object\n  required: [summary]\n  properties:\n    summary: { type: string }\n---\nSummarise.');
    assert.deepStrictEqual(p, { body: 'Summarise.', output: 'json', schema: { inline: { type: 'object', required: ['summary'], properties: { summary: { type: 'string' } } } } });
  });

  it('says what is wrong with the front matter instead of throwing', () => {
    assert.match(parsePromptFile('---\noutput: edits\n---\nX').problem!, /`output: edits` is not an output kind \(text, findings, json, edit\)/);
    assert.match(parsePromptFile('---\noutput: json\n---\nX').problem!, /`output: json` needs a `schema:`/);
    assert.match(parsePromptFile('---\noutput: findings\nschema: x.json\n---\nX').problem!, /applies to `output: json` only/);
    assert.match(parsePromptFile('---\nschema: [1, 2]\n---\nX').problem!, /must be a path/);
    const bad = parsePromptFile('---\ndescription: [unclosed\nmodel: x\n---\nBody');
    assert.strictEqual(bad.body, 'Body');
    assert.match(bad.problem!, /^The front matter is not valid YAML \(front matter line \d+, column \d+\): /);
    assert.strictEqual(parsePromptFile('---\n- a\n---\nX').problem, 'The front matter is not a set of `key: value` lines.');
  });

  it('takes empty front matter, and numbers and quotes as text', () => {
    assert.deepStrictEqual(parsePromptFile('---\n---\nBody'), { body: 'Body' });
    assert.deepStrictEqual(parsePromptFile('---\nmodel: 4\ndescription: "a: b"\n---\nBody'), { body: 'Body', model: '4', description: 'a: b' });
  });
});
