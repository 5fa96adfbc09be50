import * as assert from 'assert';
import { globMatcher, isGlob, selectionGlob, splitGlobBase } from '../../../src/core/input/glob';

function check(glob: string, yes: string[], no: string[]): void {
  const match = globMatcher(glob);
  for (const p of yes) assert.ok(match(p), `${glob} should match ${p}`);
  for (const p of no) assert.ok(!match(p), `${glob} should not match ${p}`);
}

describe('glob', () => {
  it('* and ? stay within one segment', () => {
    check('*.ts', ['a.ts', '.ts', 'x.y.ts', '.hidden.ts'], ['a.js', 'src/a.ts', 'a.tsx']);
    check('src/?.ts', ['src/a.ts'], ['src/ab.ts', 'src/.ts', 'src//.ts']);
    check('a*b', ['ab', 'axxb'], ['a/b', 'ab/c']);
  });

  it('** as a segment spans zero or more folders', () => {
    check('src/**/*.ts', ['src/a.ts', 'src/x/a.ts', 'src/x/y/z/a.ts'], ['a.ts', 'lib/a.ts', 'src/a.js', 'srcx/a.ts']);
    check('**/*.md', ['README.md', 'docs/a.md', 'a/b/c.md'], ['a.mdx']);
    check('src/**', ['src/a', 'src/a/b.ts'], ['src', 'lib/a']);
    check('**', ['a', 'a/b/c'], []);
    check('a/**/b/**/c', ['a/b/c', 'a/x/b/y/z/c'], ['a/c', 'a/bc']);
  });

  it('** inside a segment is a plain *', () => {
    check('a**.ts', ['a.ts', 'abc.ts'], ['a/b.ts']);
    check('**.ts', ['x.ts'], ['d/x.ts']);
  });

  it('[...] classes, ranges and negation, never /', () => {
    check('file[0-9].txt', ['file1.txt', 'file9.txt'], ['filea.txt', 'file10.txt']);
    check('[!a]*.ts', ['b.ts', 'z1.ts'], ['a.ts']);
    check('[^a]*.ts', ['b.ts'], ['a.ts']);
    check('a[/]b', [], ['a/b']);
    check('a[!x]b', ['acb'], ['a/b', 'axb']);
    check('[]]x', [']x'], ['x']);
    check('[a\\-z]', ['a', '-', 'z'], ['b']);
    check('[\\d]', ['d'], ['1']);
    check('a[', ['a['], ['a']);
  });

  it('{a,b} alternatives, nested, with wildcards inside', () => {
    check('*.{js,ts}', ['a.js', 'b.ts'], ['a.jsx', 'a.md', 'x/a.ts']);
    check('{src,lib}/**/*.ts', ['src/a.ts', 'lib/x/b.ts'], ['test/a.ts']);
    check('a.{j{s,son},md}', ['a.js', 'a.json', 'a.md'], ['a.j', 'a.jso']);
    check('{**/*.md,*.txt}', ['x/y.md', 'y.md', 'a.txt'], ['x/a.txt']);
    check('{a,[,}]}', ['a', ',', '}'], ['b']);
  });

  it('takes unclosed or comma-free braces literally', () => {
    check('{a}', ['{a}'], ['a']);
    check('a{b', ['a{b'], ['ab']);
  });

  it('quotes RegExp characters and honours backslash escapes', () => {
    check('a.b+(c)|d$^', ['a.b+(c)|d$^'], ['aXb+(c)|d$^']);
    check('\\*.ts', ['*.ts'], ['a.ts']);
    check('a\\?', ['a?'], ['ab']);
  });

  it('takes (, ), quotes, + @ groups and a leading ! or # as plain characters', () => {
    check('file (1)*.txt', ['file (1).txt', 'file (1) copy.txt'], ['file 1.txt']);
    check('+(a)*', ['+(a)', '+(a)b'], ['a', 'aa']);
    check('!x*', ['!x', '!xy'], ['y', 'x']);
    check('#x*', ['#x1'], ['x1']);
    check('"a"*', ['"a"b'], ['ab']);
  });

  it('rejects a malformed range with a clear error', () => {
    assert.throws(() => globMatcher('[z-a]'), (e: Error) => e instanceof SyntaxError && e.message.includes('[z-a]'));
    assert.throws(() => globMatcher('x[a-cz-a].ts'), (e: Error) => e instanceof SyntaxError && e.message.includes('z-a'));
  });

  it('isGlob and splitGlobBase', () => {
    assert.ok(isGlob('src/*.ts') && isGlob('a?') && isGlob('[ab]') && isGlob('{a,b}'));
    assert.ok(!isGlob('src/a.ts'));
    assert.deepStrictEqual(splitGlobBase('src/**/*.ts'), { base: 'src', rest: '**/*.ts' });
    assert.deepStrictEqual(splitGlobBase('src/lib/*.ts'), { base: 'src/lib', rest: '*.ts' });
    assert.deepStrictEqual(splitGlobBase('/*.md'), { base: '/', rest: '*.md' });
    assert.deepStrictEqual(splitGlobBase('*.md'), { base: '', rest: '*.md' });
    assert.deepStrictEqual(splitGlobBase('{a,b}/x.ts'), { base: '', rest: '{a,b}/x.ts' });
    assert.deepStrictEqual(splitGlobBase('a/\\*/b*'), { base: 'a', rest: '\\*/b*' });
  });
});

describe('selectionGlob (#18: a folder name means the folder)', () => {
  const folders = new Set(['src', 'src/core', 'docs']);
  const isFolder = (p: string) => folders.has(p);

  it('a folder typed as a path means everything under it', async () => {
    assert.strictEqual(await selectionGlob('src', isFolder), 'src/**');
    assert.strictEqual(await selectionGlob(' src/core ', isFolder), 'src/core/**');
    assert.strictEqual(await selectionGlob('./docs', isFolder), 'docs/**');
    assert.strictEqual(await selectionGlob('src/', isFolder), 'src/**');
    assert.strictEqual(await selectionGlob('.', isFolder), '**');
    // A trailing slash says folder by itself, even before the folder exists.
    assert.strictEqual(await selectionGlob('later/', () => false), 'later/**');
  });

  it('a glob, a file or a missing path stays as typed', async () => {
    const asked: string[] = [];
    const spy = (p: string) => (asked.push(p), isFolder(p));
    assert.strictEqual(await selectionGlob('src/**/*.ts', spy), 'src/**/*.ts');
    assert.strictEqual(await selectionGlob('{src,docs}', spy), '{src,docs}');
    assert.deepStrictEqual(asked, [], 'a glob is never looked up');
    assert.strictEqual(await selectionGlob('src/a.ts', spy), 'src/a.ts');
    assert.strictEqual(await selectionGlob('nope', spy), 'nope');
    assert.strictEqual(await selectionGlob('  ', spy), '');
  });

  it('a folder is matched by its glob and nothing beside it', async () => {
    check(await selectionGlob('src', isFolder), ['src/a.ts', 'src/core/b.ts'], ['srcx/a.ts', 'a.ts', 'lib/src/a.ts']);
  });
});
