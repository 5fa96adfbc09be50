import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { reduceEstimateMarkdown } from '../../../src/core/reduce/estimate';
import { reduceSpecOfFile, reduceSpecOfFront, reduceSpecOfText, ReduceSpecError } from '../../../src/core/reduce/spec';

// The combining prompt rules both front ends share (#16): reduce:, reduceFile: (its own output: json and
// schema), a combining prompt file picked directly; refusals name the file.
describe('reduce spec (core/reduce/spec)', () => {
  let ws: string;
  const read = (p: string) => fs.readFile(p, 'utf8');
  before(async () => {
    ws = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-reduce-spec-'));
    await fs.mkdir(path.join(ws, 'prompts'));
    await fs.writeFile(path.join(ws, 'prompts', 'combine.prompt.md'), '---\noutput: json\nschema: ./answer.schema.json\n---\nList the modules.\n');
    await fs.writeFile(path.join(ws, 'prompts', 'answer.schema.json'), JSON.stringify({ type: 'object', properties: { modules: { type: 'array' } }, required: ['modules'] }));
    await fs.writeFile(path.join(ws, 'prompts', 'plain.prompt.md'), '---\ndescription: plain\n---\nSummarise the architecture.\n');
    await fs.writeFile(path.join(ws, 'prompts', 'empty.prompt.md'), '---\ndescription: nothing\n---\n');
    await fs.writeFile(path.join(ws, 'prompts', 'findings.prompt.md'), '---\noutput: findings\n---\nFind bugs.\n');
    await fs.writeFile(path.join(ws, 'prompts', 'edit.prompt.md'), '---\noutput: edit\n---\nRewrite.\n');
  });
  after(() => fs.rm(ws, { recursive: true, force: true }));
  const file = (name: string) => path.join(ws, 'prompts', name);

  it('reduce: is the prompt as written; an empty one is refused, naming where it comes from', async () => {
    assert.deepStrictEqual(await reduceSpecOfFront({ reduce: 'Summarise.' }, file('run.prompt.md'), 'prompts/run.prompt.md', read, ws), { prompt: 'Summarise.' });
    assert.strictEqual(await reduceSpecOfFront({}, file('run.prompt.md'), 'prompts/run.prompt.md', read, ws), undefined);
    await assert.rejects(reduceSpecOfFront({ reduce: '  ' }, file('run.prompt.md'), 'prompts/run.prompt.md', read, ws), (e: unknown) => ReduceSpecError.is(e) && /"reduce:" of prompts\/run\.prompt\.md\) is empty/.test(e.message));
    assert.throws(() => reduceSpecOfText('\n', 'typed'), /reduce prompt \(typed\) is empty/);
  });

  it('reduceFile: is read relative to the prompt file; its output: json and schema make a json reduce', async () => {
    const spec = await reduceSpecOfFront({ reduceFile: './combine.prompt.md' }, file('run.prompt.md'), 'prompts/run.prompt.md', read, ws);
    assert.strictEqual(spec?.prompt, 'List the modules.');
    assert.strictEqual(spec?.output?.kind, 'json');
    assert.deepStrictEqual((spec?.output as unknown as { schema: { required: string[] } }).schema.required, ['modules']);
    const plain = await reduceSpecOfFront({ reduceFile: 'plain.prompt.md' }, file('run.prompt.md'), 'x', read, ws);
    assert.deepStrictEqual(plain, { prompt: 'Summarise the architecture.' });
  });

  it('refuses a missing reduce file, one outside the folder (not read), an empty body, findings or edit output, before anything else', async () => {
    await assert.rejects(reduceSpecOfFront({ reduceFile: './gone.prompt.md' }, file('run.prompt.md'), 'prompts/run.prompt.md', read, ws), (e: unknown) => ReduceSpecError.is(e) && /Cannot read the reduce file \.\/gone\.prompt\.md \(of prompts\/run\.prompt\.md\): it does not exist/.test(e.message));
    let asked = 0;
    const counting = (p: string) => (asked++, read(p));
    await assert.rejects(reduceSpecOfFront({ reduceFile: '../../etc/passwd' }, file('run.prompt.md'), 'prompts/run.prompt.md', counting, ws), /outside the folder/);
    assert.strictEqual(asked, 0, 'a file outside is never read');
    await assert.rejects(reduceSpecOfFront({ reduceFile: 'empty.prompt.md' }, file('run.prompt.md'), 'r', read, ws), /the reduce file empty\.prompt\.md\) is empty/);
    await assert.rejects(reduceSpecOfFile(await read(file('findings.prompt.md')), file('findings.prompt.md'), 'prompts/findings.prompt.md', read, ws), /prompts\/findings\.prompt\.md: a reduce answers in text or json, not findings/);
    await assert.rejects(reduceSpecOfFile(await read(file('edit.prompt.md')), file('edit.prompt.md'), 'e', read, ws), /not edit/);
    await assert.rejects(reduceSpecOfFile('---\noutput: json\nschema: ../../outside.json\n---\nX', file('bad.prompt.md'), 'bad', read, ws), (e: unknown) => ReduceSpecError.is(e) && /outside the workspace folder/.test(e.message));
    await assert.rejects(reduceSpecOfFile('---\noutput: [\n---\nX', file('bad.prompt.md'), 'prompts/bad.prompt.md', read, ws), /The reduce file prompts\/bad\.prompt\.md: The front matter is not valid YAML/);
  });
});

describe('reduce estimate as Markdown (Estimate Run…)', () => {
  it('gives the totals, then one list item per level and per assumption', () => {
    const md = reduceEstimateMarkdown({
      levels: [
        { level: 1, groups: 3, inputTokens: 9000, outputTokens: 1500 },
        { level: 2, groups: 1, inputTokens: 1800, outputTokens: 500 },
      ],
      requests: 4,
      inputTokens: 10800,
      outputTokens: 2000,
      budget: 4000,
      answerTokens: 500,
      assumptions: ['A partial answer is 500 tokens.'],
    });
    assert.strictEqual(
      md,
      ['## Reduce', '', 'Reduce (one combined answer): 2 levels, 4 requests, 10800 input / 2000 output tokens (estimated from the expected result sizes).', '', '- level 1: 3 groups, 9000 input / 1500 output tokens', '- level 2: 1 group, 1800 input / 500 output tokens', '- A partial answer is 500 tokens.', ''].join('\n'),
    );
  });
});
