import * as assert from 'assert';
import { fenced, fenceLanguageOf, legacyOutputNameOf, outputNameOf, proposedNameOf } from '../../../src/core/output/names';

describe('output names (#18: never the source\'s own name)', () => {
  it('an output ends in .md (.json for a json run), after the source\'s whole name', () => {
    assert.strictEqual(outputNameOf('src/pricing.ts', undefined), 'src/pricing.ts.md');
    assert.strictEqual(outputNameOf('src/pricing.ts', { kind: 'text' }), 'src/pricing.ts.md');
    assert.strictEqual(outputNameOf('src/pricing.ts', { kind: 'findings' }), 'src/pricing.ts.md');
    assert.strictEqual(outputNameOf('src/pricing.ts', { kind: 'edit' }), 'src/pricing.ts.md');
    assert.strictEqual(outputNameOf('a/b.py', { kind: 'json' }), 'a/b.py.json');
    assert.strictEqual(outputNameOf('src/pricing.ts', undefined, 'incomplete'), 'src/pricing.ts.incomplete.md');
    assert.strictEqual(outputNameOf('x.prompt.md', undefined), 'x.prompt.md.md');
  });

  it('no output or proposal name keeps an extension a language server or prompt discovery claims', () => {
    const sources = ['src/a.ts', 'src/a.tsx', 'b.js', 'c.py', 'd.go', 'e.rs', '.github/prompts/x.prompt.md', 'f.json'];
    for (const p of sources) {
      for (const name of [outputNameOf(p, { kind: 'text' }), outputNameOf(p, { kind: 'edit' }, 'incomplete'), proposedNameOf(p)]) {
        assert.ok(!/\.(ts|tsx|js|py|go|rs)$/.test(name), `${name} ends like source`);
        assert.ok(!name.endsWith('.prompt.md'), `${name} ends like a prompt file`);
      }
    }
    assert.strictEqual(proposedNameOf('src/pricing.ts'), 'src/pricing.ts.proposed');
  });

  it('names of run folders written before #18 are the source\'s own', () => {
    assert.strictEqual(legacyOutputNameOf('src/a.ts'), 'src/a.ts');
    assert.strictEqual(legacyOutputNameOf('src/a.ts', 'incomplete'), 'src/a.ts.incomplete');
  });

  it('fences code in its language, longer than any backtick run inside', () => {
    assert.strictEqual(fenceLanguageOf('src/a.ts'), 'ts');
    assert.strictEqual(fenceLanguageOf('s/r.py'), 'python');
    assert.strictEqual(fenceLanguageOf('Makefile'), '');
    assert.strictEqual(fenced('a.ts', 'const a = 1;\n'), '```ts\nconst a = 1;\n```\n');
    assert.strictEqual(fenced('a.md', 'x\n```js\ny\n```\n'), '````markdown\nx\n```js\ny\n```\n````\n');
    assert.strictEqual(fenced('a.go', 'no newline'), '```go\nno newline\n```\n');
  });
});
