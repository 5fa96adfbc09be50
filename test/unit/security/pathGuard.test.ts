// The one path guard for what a run folder, a job file or a cache names, and the small rules that came
// with it: credentials kept out of recorded URLs, and the user's cache folder.
import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkRelativePath, checkRunMeta, checkStoredFile, isOutside, PathGuard, relativePathProblem, UnsafePathError } from '../../../src/core/store/pathGuard';
import { redactUrlCredentials } from '../../../src/util/redact';
import { FileChunkSource, hashText } from '../../../src/core/plan/plan';
import { SourceChangedError } from '../../../src/core/execute/errors';
import { defaultResultCacheDir, userCacheDir } from '../../../src/cli/userCache';
import { ResultCache } from '../../../src/core/store/resultCache';
import { removeStaleTempFiles } from '../../../src/util/atomicFile';
import { collectFiles } from '../../../src/core/input/files';
import { RunStore, type RunMeta } from '../../../src/core/store/runStore';
import { writeRunReport } from '../../../src/core/store/runReport';

describe('path guard', () => {
  const legal = ['a.txt', 'src/a.ts', '..notes.md', 'a/..notes.md', '.env', 'a/.b/c', '...', 'a..b/c..', 'ü/日本.md', 'a b/c d', 'C/x', 'ab:c'];
  const illegal: [string, RegExp][] = [
    ['', /empty/],
    ['..', /".." segment/],
    ['../x', /".." segment/],
    ['a/../b', /".." segment/],
    ['a/..', /".." segment/],
    ['./a', /"\." segment/],
    ['a/./b', /"\." segment/],
    ['a//b', /empty segment/],
    ['a/', /empty segment/],
    ['/etc/x', /absolute/],
    ['//server/share/x', /absolute/],
    ['C:\\x', /backslash|drive/],
    ['C:x', /drive letter/],
    ['c:/x', /drive letter/],
    ['\\\\server\\share', /backslash/],
    ['a\\b', /backslash/],
    ['..\\..\\x', /backslash/],
    ['a\0b', /NUL/],
  ];

  it('accepts plain relative paths, names that merely start with dots included', () => {
    for (const p of legal) assert.strictEqual(relativePathProblem(p), undefined, p);
  });

  it('refuses empty, ".", "..", absolute, drive-letter, UNC, backslash and NUL paths, saying why', () => {
    for (const [p, why] of illegal) {
      const problem = relativePathProblem(p);
      assert.ok(problem, `${JSON.stringify(p)} is refused`);
      assert.match(problem, why, JSON.stringify(p));
      assert.throws(
        () => checkRelativePath(p, 'run.json', 'files[3].path'),
        (e: unknown) => UnsafePathError.is(e) && e.kind === 'config' && e.message.startsWith('run.json: files[3].path ') && e.message.includes(JSON.stringify(p)),
      );
    }
    for (const v of [undefined, null, 3, {}]) assert.ok(relativePathProblem(v), String(v));
  });

  it('isOutside: ".." and "../x" leave, "..notes.md" and "a/.." spelled by path.relative do not', () => {
    assert.strictEqual(isOutside('..'), true);
    assert.strictEqual(isOutside(`..${path.sep}x`), true);
    assert.strictEqual(isOutside(path.resolve('/abs')), true);
    assert.strictEqual(isOutside('..notes.md'), false);
    assert.strictEqual(isOutside(`..notes${path.sep}x`), false);
    assert.strictEqual(isOutside(''), false);
    assert.strictEqual(isOutside(path.relative('/w', '/w/..notes.md')), false);
    // Windows spelling, checked with win32 rules on any platform.
    assert.strictEqual(isOutside('..\\x', path.win32), true);
    assert.strictEqual(isOutside('D:\\x', path.win32), true);
    assert.strictEqual(isOutside('..notes.md', path.win32), false);
  });

  it('checkRunMeta names the entry: a bad path, a bad or duplicated chunk id, a chunk of another file', () => {
    const chunk = (id: string, p: string) => ({ id, path: p });
    const cases: [unknown, RegExp][] = [
      [{ files: [{ path: 'ok', chunks: [] }, { path: '../x', chunks: [] }] }, /^run\.json: files\[1\]\.path "\.\.\/x"/],
      [{ files: [{ path: 'a', chunks: [chunk('../1', 'a')] }] }, /^run\.json: files\[0\]\.chunks\[0\]\.id/],
      [{ files: [{ path: 'a', chunks: [chunk('1.1', 'a')] }, { path: 'b', chunks: [chunk('1.1', 'b')] }] }, /files\[1\]\.chunks\[0\]\.id "1\.1" appears twice/],
      [{ files: [{ path: 'a', chunks: [chunk('1.1', '../../x')] }] }, /files\[0\]\.chunks\[0\]\.path/],
      [{ files: [{ path: 'a', chunks: [] }, { path: 'a', chunks: [] }] }, /files\[1\]\.path "a" appears twice/],
    ];
    for (const [meta, re] of cases) assert.throws(() => checkRunMeta(meta), (e: Error) => UnsafePathError.is(e) && re.test(e.message), re.source);
    assert.doesNotThrow(() => checkRunMeta({ files: [{ path: '..notes.md', chunks: [chunk('1.1', '..notes.md'), chunk('1.2a', '..notes.md')] }] }));
  });

  describe('on disk', () => {
    let top = '';
    let run = '';
    beforeEach(async () => {
      top = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-guard-'));
      run = path.join(top, 'ws', 'run');
      await fs.mkdir(path.join(run, 'outputs'), { recursive: true });
      await fs.mkdir(path.join(top, 'elsewhere'));
    });
    afterEach(() => fs.rm(top, { recursive: true, force: true }));

    it('resolves a write inside, also through a folder that does not exist yet', async () => {
      const guard = new PathGuard(run);
      assert.strictEqual(await guard.resolve('outputs/new/deep/a.txt', 'run.json', 'files[0].path'), path.join(run, 'outputs', 'new', 'deep', 'a.txt'));
      assert.strictEqual(await guard.resolve('outputs/..notes.md', 'run.json', 'files[0].path'), path.join(run, 'outputs', '..notes.md'));
    });

    it('refuses a folder inside the run folder that links outside it (the real path of the existing parent)', async () => {
      await link(path.join(top, 'elsewhere'), path.join(run, 'outputs', 'src'));
      await assert.rejects(new PathGuard(run).resolve('outputs/src/a.txt', 'run.json', 'files[2].path'), (e: Error) => UnsafePathError.is(e) && /^run\.json: files\[2\]\.path "outputs\/src\/a\.txt" leads outside/.test(e.message));
      // Deeper, through a folder not made yet below the link: still outside.
      await assert.rejects(new PathGuard(run).resolve('outputs/src/x/y/a.txt', 'run.json', 'files[2].path'), UnsafePathError.is);
    });

    it('refuses a file that is a link to outside (an append would follow it), and accepts a link that stays inside', async () => {
      await fs.writeFile(path.join(top, 'elsewhere', 'bashrc'), 'x');
      await link(path.join(top, 'elsewhere', 'bashrc'), path.join(run, 'run.jsonl'), 'file');
      await assert.rejects(new PathGuard(run).resolve('run.jsonl', 'run.jsonl', 'run.jsonl'), (e: Error) => UnsafePathError.is(e) && /link that leads outside/.test(e.message));
      await fs.mkdir(path.join(run, 'real'));
      await fs.symlink(path.join(run, 'real'), path.join(run, 'outputs', 'in'), 'dir');
      assert.ok(await new PathGuard(run).resolve('outputs/in/a.txt', 'run.json', 'x'));
    });

    it('a run folder reached through a linked parent is still itself (real paths on both sides)', async () => {
      const alias = path.join(top, 'alias');
      await link(path.join(top, 'ws'), alias);
      assert.ok(await new PathGuard(path.join(alias, 'run')).resolve('outputs/a.txt', 'run.json', 'x'));
    });

    it('cleanups do not follow a linked folder: temporary-looking files elsewhere stay', async () => {
      await fs.writeFile(path.join(top, 'elsewhere', 'precious.tmp-1-1'), 'keep');
      await link(path.join(top, 'elsewhere'), path.join(run, 'chunks'));
      await removeStaleTempFiles(run, { all: true });
      assert.strictEqual(await fs.readFile(path.join(top, 'elsewhere', 'precious.tmp-1-1'), 'utf8'), 'keep');
    });

    it('file selection leaves out a name a run folder could not record (a backslash on Linux), keeps "..notes.md"', async () => {
      const ws = path.join(top, 'sel');
      await fs.mkdir(ws);
      await fs.writeFile(path.join(ws, '..notes.md'), 'dots');
      const odd = process.platform === 'win32' ? undefined : 'we\\ird.txt';
      if (odd) await fs.writeFile(path.join(ws, odd), 'odd');
      const r = await collectFiles(['.'], { cwd: ws });
      assert.deepStrictEqual(r.files.map((f) => f.path), ['..notes.md']);
      if (odd) assert.match(r.skipped.find((x) => x.path === odd)?.detail ?? '', /backslash.*rename it/);
    });

    it('the result cache neither writes nor prunes through a linked folder', async () => {
      const cacheDir = path.join(top, 'cache');
      const cache = new ResultCache(cacheDir, { maxEntries: 0 });
      const key = 'ab'.padEnd(64, '0');
      await cache.put('cd'.padEnd(64, '0'), 'x'); // creates the folder
      await fs.writeFile(path.join(top, 'elsewhere', `${'ab'.padEnd(64, '1')}.json`), 'keep');
      await link(path.join(top, 'elsewhere'), path.join(cacheDir, 'ab'));
      await assert.rejects(cache.put(key, 'y'), UnsafePathError.is);
      await cache.prune();
      assert.deepStrictEqual(await fs.readdir(path.join(top, 'elsewhere')), [`${'ab'.padEnd(64, '1')}.json`]);
      await assert.rejects(cache.put('../../x', 'y'), /Not a result cache key/);
    });
  });
});

describe('send-time hash check', () => {
  let dir = '';
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-hash-'));
    await fs.writeFile(path.join(dir, 'a.txt'), 'hello');
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));
  const chunk = { id: '1.1', path: 'a.txt', index: 0, start: 0, end: 5, startLine: 1, endLine: 1, overlap: 0, tokens: 1 };

  it('a missing, empty or malformed recorded hash refuses the text instead of skipping the check', async () => {
    for (const hash of ['', 'abc', 'Z'.repeat(64), undefined as unknown as string]) {
      const source = new FileChunkSource(dir, [{ path: 'a.txt', hash }]);
      await assert.rejects(source.text(chunk), (e: Error) => SourceChangedError.is(e) && /no valid sha256 recorded in run\.json/.test(e.message), JSON.stringify(hash));
    }
  });

  it('the right hash reads; another one is a changed file', async () => {
    assert.strictEqual(await new FileChunkSource(dir, [{ path: 'a.txt', hash: hashText('hello') }]).text(chunk), 'hello');
    await assert.rejects(new FileChunkSource(dir, [{ path: 'a.txt', hash: hashText('other') }]).text(chunk), (e: Error) => SourceChangedError.is(e) && /changed after the run was planned/.test(e.message));
  });
});

describe('redactUrlCredentials', () => {
  const cases: [string, string][] = [
    ['https://api.openai.com/v1', 'https://api.openai.com/v1'],
    ['https://u:p@host.example/v1', 'https://***:***@host.example/v1'],
    ['https://tok3n@host.example/v1', 'https://***@host.example/v1'],
    ['https://host.example/v1?key=SECRET', 'https://host.example/v1?key=***'],
    ['https://host.example/v1?api-version=2024-10-21&api-key=SECRET', 'https://host.example/v1?api-version=2024-10-21&api-key=***'],
    ['https://host.example/?API_KEY=S&apikey=S&Token=S&access_token=S&sig=S&Signature=S&code=S&page=2', 'https://host.example/?API_KEY=***&apikey=***&Token=***&access_token=***&sig=***&Signature=***&code=***&page=2'],
    ['https://host.example/?subscription-key=S&client_secret=S#frag', 'https://host.example/?subscription-key=***&client_secret=***#frag'],
    ['https://a:b@host.example:8443/p?x=1&key=S', 'https://***:***@host.example:8443/p?x=1&key=***'],
    ['http://127.0.0.1:1234/v1?keyboard=1&monkey=2', 'http://127.0.0.1:1234/v1?keyboard=1&monkey=2'],
    ['not a url?token=S', 'not a url?token=***'],
  ];
  for (const [url, want] of cases) {
    it(`${url} -> ${want}`, () => {
      assert.strictEqual(redactUrlCredentials(url), want);
      assert.ok(!redactUrlCredentials(url).includes('SECRET'));
    });
  }
});

describe('no credentials written', () => {
  it('run.json, summary.json and report.md hold a base URL without its userinfo or key parameters', async () => {
    const dir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'bp-creds-')), 'run');
    const url = 'https://user:SECRET-PASS@api.example/v1?api-version=1&api-key=SECRET-Q&code=SECRET-C';
    const meta: RunMeta = {
      runId: 'run',
      createdAt: new Date().toISOString(),
      root: dir,
      prompt: 'p',
      model: { id: 'e1', provider: 'azure', model: 'm', baseUrl: url },
      endpoints: [
        { id: 'e1', provider: 'azure', model: 'm', baseUrl: url },
        { id: 'e2', provider: 'openai', model: 'm', baseUrl: 'https://TOKEN-SECRET@other.example/v1?token=SECRET-T' },
      ],
      encoding: 'o200k_base',
      protocolVersion: 1,
      parameters: {},
      files: [],
    };
    try {
      const store = await RunStore.create(dir, meta);
      const summary = await store.finish({ succeeded: 0, failed: 0, canceled: 0, requests: 0, inputTokens: 0, outputTokens: 0, durationMs: 0 });
      await writeRunReport(dir, {}, summary);
      const written = JSON.parse(await fs.readFile(path.join(dir, 'run.json'), 'utf8')) as RunMeta;
      assert.strictEqual(written.model.baseUrl, 'https://***:***@api.example/v1?api-version=1&api-key=***&code=***');
      assert.strictEqual(written.endpoints?.[1].baseUrl, 'https://***@other.example/v1?token=***');
      assert.strictEqual(store.meta.model.baseUrl, written.model.baseUrl, 'the store holds what it wrote');
      for (const name of await fs.readdir(dir)) {
        const text = await fs.readFile(path.join(dir, name), 'utf8');
        assert.ok(!text.includes('SECRET'), `${name} holds no credential`);
      }
    } finally {
      await fs.rm(path.dirname(dir), { recursive: true, force: true });
    }
  });
});

describe('userCacheDir', () => {
  it('XDG_CACHE_HOME when absolute, else ~/.cache; LOCALAPPDATA on Windows, else ~\\AppData\\Local', () => {
    assert.strictEqual(userCacheDir({ XDG_CACHE_HOME: '/x/cache' }, 'linux', '/home/u'), '/x/cache/batch-prompt');
    assert.strictEqual(userCacheDir({}, 'linux', '/home/u'), '/home/u/.cache/batch-prompt');
    assert.strictEqual(userCacheDir({ XDG_CACHE_HOME: 'relative' }, 'linux', '/home/u'), '/home/u/.cache/batch-prompt');
    assert.strictEqual(userCacheDir({ XDG_CACHE_HOME: '' }, 'darwin', '/Users/u'), '/Users/u/.cache/batch-prompt');
    assert.strictEqual(userCacheDir({ LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'win32', 'C:\\Users\\u'), 'C:\\Users\\u\\AppData\\Local\\batch-prompt');
    assert.strictEqual(userCacheDir({}, 'win32', 'C:\\Users\\u'), 'C:\\Users\\u\\AppData\\Local\\batch-prompt');
    assert.strictEqual(defaultResultCacheDir({}, 'linux', '/home/u'), '/home/u/.cache/batch-prompt/results');
    assert.strictEqual(defaultResultCacheDir({}, 'win32', 'C:\\Users\\u'), 'C:\\Users\\u\\AppData\\Local\\batch-prompt\\results');
  });
});

/** A symbolic link at `at` to `target`. */
function link(target: string, at: string, type: 'dir' | 'file' = 'dir'): Promise<void> {
  return fs.symlink(target, at, type);
}

describe('checkStoredFile (#17: one file checked as it joins a run)', () => {
  const file = (p: string, ids: string[]) => ({ path: p, chunks: ids.map((id) => ({ id, path: p })) });

  it('refuses a path that escapes the run folder, and leaves the names known unchanged', () => {
    const known = { paths: new Set(['a.ts']), ids: new Set(['1.1']) };
    for (const bad of ['../x.ts', '/etc/passwd', 'a/../../x', 'C:x', 'a\\b']) {
      assert.throws(() => checkStoredFile(file(bad, ['2.1']), 1, known, 'plan.jsonl'), (e: Error) => UnsafePathError.is(e) && /plan\.jsonl: files\[1\]\.path/.test(e.message));
    }
    assert.throws(() => checkStoredFile(file('b.ts', ['../1']), 1, known), (e: Error) => UnsafePathError.is(e));
    assert.deepStrictEqual([...known.paths], ['a.ts']);
    assert.deepStrictEqual([...known.ids], ['1.1']);
  });

  it('refuses a path or a chunk id already in the run, or twice in the file; adds a good file', () => {
    const known = { paths: new Set(['a.ts']), ids: new Set(['1.1']) };
    assert.throws(() => checkStoredFile(file('a.ts', ['2.1']), 1, known), /appears twice/);
    assert.throws(() => checkStoredFile(file('b.ts', ['1.1']), 1, known), /appears twice/);
    assert.throws(() => checkStoredFile(file('b.ts', ['2.1', '2.1']), 1, known), /appears twice/);
    assert.throws(() => checkStoredFile({ path: 'b.ts', chunks: [{ id: '2.1', path: 'c.ts' }] }, 1, known), /is not its file's path/);
    checkStoredFile(file('b.ts', ['2.1', '2.2']), 1, known);
    assert.deepStrictEqual([...known.paths], ['a.ts', 'b.ts']);
    assert.deepStrictEqual([...known.ids], ['1.1', '2.1', '2.2']);
  });

  it('checkRunMeta still refuses the same files (it checks each file this way)', () => {
    assert.throws(() => checkRunMeta({ files: [file('a.ts', ['1.1']), file('../b.ts', ['2.1'])] }), /files\[1\]\.path/);
    assert.throws(() => checkRunMeta({ files: [file('a.ts', ['1.1']), file('b.ts', ['1.1'])] }), /files\[1\]\.chunks\[0\]\.id.*appears twice/);
  });
});
