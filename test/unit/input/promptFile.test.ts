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
