import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { hashText } from '../../../src/core/plan/plan';
import { rng } from '../../support/random';
import { collectFiles, decode, decodeInSlices, DECODE_WHOLE_BYTES, filterGitignored, type CollectResult, type SkippedFile } from '../../../src/core/input/files';

/** Creates `files` (path -> content) under a new temporary folder and returns the folder. */
function makeTree(files: Record<string, string | Buffer>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-files-'));
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, content);
  }
  return root;
}

const paths = (r: CollectResult): string[] => r.files.map((f) => f.path);
const skip = (r: CollectResult, p: string): SkippedFile | undefined => r.skipped.find((s) => s.path === p);

describe('collectFiles', () => {
  const roots: string[] = [];
  function tree(files: Record<string, string | Buffer>): string {
    const root = makeTree(files);
    roots.push(root);
    return root;
  }
  after(() => {
    for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
  });

  describe('.gitignore', () => {
    let cwd: string;
    before(() => {
      cwd = tree({
        '.gitignore': '*.log\nbuild/\n',
        'a.txt': 'a',
        'x.log': 'log',
        'build/out.txt': 'out',
        'pkg/.gitignore': '!keep.log\n/local.txt\n',
        'pkg/keep.log': 'keep',
        'pkg/other.log': 'other',
        'pkg/local.txt': 'local',
        'pkg/sub/local.txt': 'not anchored here',
        'pkg/build/y.txt': 'y',
        'pkg2/build': 'a file named build: `build/` only matches folders',
        're/.gitignore': '!build/\n',
        're/build/z.txt': 'z',
      });
    });

    it('honours root and nested files, negation and folder-only patterns', async () => {
      const r = await collectFiles(['.'], { cwd });
      assert.deepStrictEqual(
        paths(r).filter((p) => !p.startsWith('re/')),
        ['.gitignore', 'a.txt', 'pkg/.gitignore', 'pkg/keep.log', 'pkg/sub/local.txt', 'pkg2/build'],
      );
      assert.deepStrictEqual(r.skipped, []);
    });

    it('lets a nested .gitignore re-include a folder an outer one excludes', async () => {
      const r = await collectFiles(['re'], { cwd });
      assert.ok(paths(r).includes('re/build/z.txt'), paths(r).join());
    });

    it('can be turned off', async () => {
      const r = await collectFiles(['.'], { cwd, respectGitignore: false });
      for (const p of ['x.log', 'build/out.txt', 'pkg/other.log', 'pkg/local.txt']) assert.ok(paths(r).includes(p), p);
    });

    it('reads a gitignored file named explicitly, and walks a gitignored folder named explicitly', async () => {
      const r = await collectFiles(['x.log', 'pkg/other.log', 'build'], { cwd });
      assert.deepStrictEqual(paths(r), ['build/out.txt', 'pkg/other.log', 'x.log']);
    });

    it('applies the rules of the repository above cwd, and a nested repository starts afresh', async () => {
      const top = tree({
        '.git/HEAD': 'ref: refs/heads/main\n',
        '.gitignore': '*.secret\n',
        'sub/a.txt': 'a',
        'sub/a.secret': 's',
        'sub/nested/.git/HEAD': 'ref: refs/heads/main\n',
        'sub/nested/b.secret': 'b',
      });
      const r = await collectFiles(['.'], { cwd: path.join(top, 'sub') });
      assert.deepStrictEqual(paths(r), ['a.txt', 'nested/b.secret']);
    });
  });

  describe('globs', () => {
    let cwd: string;
    before(() => {
      cwd = tree({
        '.gitignore': 'src/gen/\n',
        'a.js': 'a',
        'b.ts': 'b',
        'c.md': 'c',
        'src/x.ts': 'x',
        'src/deep/y.ts': 'y',
        'src/z.js': 'z',
        'src/gen/g.ts': 'generated',
        'lib/w.ts': 'w',
        'app/[id].ts': 'a route file',
      });
    });

    it('matches src/**/*.ts at any depth, honouring .gitignore', async () => {
      const r = await collectFiles(['src/**/*.ts'], { cwd });
      assert.deepStrictEqual(paths(r), ['src/deep/y.ts', 'src/x.ts']);
    });

    it('matches *.{js,ts} in the top folder only', async () => {
      const r = await collectFiles(['*.{js,ts}'], { cwd });
      assert.deepStrictEqual(paths(r), ['a.js', 'b.ts']);
    });

    it('normalises ./ and an absolute literal folder', async () => {
      const r = await collectFiles(['./lib/*.ts', path.join(cwd, 'src').split(path.sep).join('/') + '/*.js'], { cwd });
      assert.deepStrictEqual(paths(r), ['lib/w.ts', 'src/z.js']);
    });

    it('reads an existing path with glob characters literally', async () => {
      const r = await collectFiles(['app/[id].ts'], { cwd });
      assert.deepStrictEqual(paths(r), ['app/[id].ts']);
    });

    it('reports a glob that matches nothing', async () => {
      const r = await collectFiles(['**/*.rs', 'nope/*.ts'], { cwd });
      assert.deepStrictEqual(paths(r), []);
      assert.strictEqual(skip(r, '**/*.rs')?.reason, 'not-found');
      assert.strictEqual(skip(r, 'nope/*.ts')?.reason, 'not-found');
    });
  });

  describe('content checks', () => {
    let cwd: string;
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('héllo\r\n')]);
    before(() => {
      cwd = tree({
        'nul.bin': Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x01]),
        'latin1.txt': Buffer.from([0x63, 0x61, 0x66, 0xe9]), // "café" in Latin-1
        'utf16.txt': Buffer.from('\ufeffhi', 'utf16le'),
        'bom.txt': bom,
        'empty.txt': '',
        'ten.txt': '0123456789',
        'eleven.txt': '0123456789A',
      });
    });

    it('skips binary files: a NUL byte, invalid UTF-8, UTF-16', async () => {
      const r = await collectFiles(['nul.bin', 'latin1.txt', 'utf16.txt'], { cwd });
      assert.deepStrictEqual(paths(r), []);
      assert.strictEqual(skip(r, 'nul.bin')?.reason, 'binary');
      assert.match(skip(r, 'nul.bin')?.detail ?? '', /NUL byte at offset 4/);
      assert.strictEqual(skip(r, 'latin1.txt')?.reason, 'binary');
      assert.match(skip(r, 'latin1.txt')?.detail ?? '', /UTF-8/);
      assert.strictEqual(skip(r, 'utf16.txt')?.reason, 'binary');
      assert.match(skip(r, 'utf16.txt')?.detail ?? '', /UTF-16/);
    });

    it('keeps a UTF-8 BOM, so the text round-trips byte for byte', async () => {
      const r = await collectFiles(['bom.txt'], { cwd });
      assert.strictEqual(r.files.length, 1);
      assert.strictEqual(r.files[0].text, '\ufeffhéllo\r\n');
      assert.ok(Buffer.from(r.files[0].text, 'utf8').equals(bom));
    });

    it('skips empty files', async () => {
      const r = await collectFiles(['empty.txt'], { cwd });
      assert.deepStrictEqual(r, { files: [], skipped: [skip(r, 'empty.txt')] });
      assert.strictEqual(skip(r, 'empty.txt')?.reason, 'empty');
    });

    it('skips files over maxFileBytes, saying the size and the limit', async () => {
      const r = await collectFiles(['ten.txt', 'eleven.txt'], { cwd, maxFileBytes: 10 });
      assert.deepStrictEqual(paths(r), ['ten.txt']);
      const s = skip(r, 'eleven.txt');
      assert.strictEqual(s?.reason, 'too-large');
      assert.strictEqual(s?.detail, '11 bytes is over the 10 bytes limit; raise the file size limit (maxFileBytes) to include it');
    });

    it('decodes a large file in slices to the same text, a multi-byte character straddling every slice edge included', async () => {
      // 2-, 3- and 4-byte characters at every offset against the slice size (7 bytes per round).
      const text = '\ufeffa' + 'é€😀'.repeat(50) + '\nb';
      const bytes = Buffer.from(text, 'utf8');
      for (const slice of [1, 2, 3, 4, 5, 64]) assert.strictEqual(await decodeInSlices(bytes, slice), text, `slices of ${slice} bytes`);
      assert.deepStrictEqual(await decodeInSlices(Buffer.concat([bytes, Buffer.from([0xe2, 0x82])]), 5), { detail: 'not valid UTF-8 (another encoding, or binary); re-save it as UTF-8 to include it' }, 'a cut character at the end');
      assert.match(((await decodeInSlices(Buffer.from([0x61, 0xe9, 0x62]), 1)) as { detail: string }).detail, /UTF-8/);
      assert.match(((await decodeInSlices(Buffer.from([0x61, 0x00]), 1)) as { detail: string }).detail, /NUL byte at offset 1/);
      // Through collectFiles: over the slice size (and the default limit raised).
      const big = 'x€😀\n'.repeat(Math.ceil((DECODE_WHOLE_BYTES * 1.5) / 9));
      const bigDir = tree({ 'big.txt': big });
      const r = await collectFiles(['big.txt'], { cwd: bigDir, maxFileBytes: 4 * DECODE_WHOLE_BYTES });
      assert.strictEqual(r.files[0].text, big);
      // Its pieces too (the planner hashes and posts them without joining them).
      assert.ok(r.files[0].pieces!.length > 1);
      assert.strictEqual(r.files[0].pieces!.join(''), big);
      // Hashed from its bytes in slices: the sha256 of its text.
      assert.strictEqual(r.files[0].hash, hashText(big));
    });

    it('decodes exactly what a fatal TextDecoder decodes, and refuses exactly what it refuses (random bytes)', () => {
      const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
      const next = rng(17);
      // Bytes biased toward lead and continuation bytes, so that valid and invalid sequences both come often.
      const pick = () => { const r = next(); return r < 0.3 ? 1 + Math.floor(next() * 127) : r < 0.65 ? 0x80 + Math.floor(next() * 64) : 0xc0 + Math.floor(next() * 64); };
      let valid = 0;
      for (let i = 0; i < 20000; i++) {
        const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(next() * 9) }, pick));
        let expected: string | undefined;
        try {
          expected = fatal.decode(bytes);
        } catch {
          expected = undefined;
        }
        const got = decode(bytes);
        if (expected === undefined) assert.match((got as { detail: string }).detail, /not valid UTF-8/, bytes.toString('hex'));
        else assert.strictEqual(got, expected, bytes.toString('hex'));
        if (expected !== undefined) valid++;
      }
      assert.ok(valid > 1000 && valid < 19000, `both kinds tried (${valid} valid)`);
    });

    it('defaults the limit to 1 MiB', async () => {
      const big = tree({ 'big.txt': 'x'.repeat(1_048_577), 'ok.txt': 'x'.repeat(1_048_576) });
      const r = await collectFiles(['.'], { cwd: big });
      assert.deepStrictEqual(paths(r), ['ok.txt']);
      assert.match(skip(r, 'big.txt')?.detail ?? '', /1048577 bytes.*1 MiB limit/);
    });
  });

  describe('paths', () => {
    it('reports a missing path as not-found', async () => {
      const cwd = tree({ 'a.txt': 'a' });
      const r = await collectFiles(['missing.txt', 'a.txt/inside', 'a.txt'], { cwd });
      assert.deepStrictEqual(paths(r), ['a.txt']);
      assert.strictEqual(skip(r, 'missing.txt')?.reason, 'not-found');
      assert.strictEqual(skip(r, 'a.txt/inside')?.reason, 'not-found');
    });

    it('refuses paths outside cwd, including through a symlink', async () => {
      const outer = tree({ 'x.txt': 'x', 'sub/in.txt': 'in' });
      const cwd = path.join(outer, 'sub');
      fs.symlinkSync(path.join(outer, 'x.txt'), path.join(cwd, 'link.txt'));
      const r = await collectFiles(['../x.txt', path.join(outer, 'x.txt'), '../*.txt', '.'], { cwd });
      assert.deepStrictEqual(paths(r), ['in.txt']);
      for (const p of ['../x.txt', '../*.txt', 'link.txt']) {
        assert.strictEqual(skip(r, p)?.reason, 'outside-root', p);
        assert.match(skip(r, p)?.detail ?? '', /run from a parent folder/);
      }
    });

    it('reads each file once, under its own path rather than a link to it', async () => {
      const cwd = tree({ 'src/x.ts': 'x', 'a.txt': 'a' });
      fs.symlinkSync(path.join(cwd, 'a.txt'), path.join(cwd, '0-link.txt'));
      const r = await collectFiles(['src', 'src/x.ts', './src/**/*.ts', '0-link.txt', '.'], { cwd });
      assert.deepStrictEqual(paths(r), ['a.txt', 'src/x.ts']);
      assert.deepStrictEqual(r.skipped, []);
    });

    it('refuses a file named through a linked folder that leads outside cwd, and reads one through a link inside it once, under its own path', async () => {
      const outer = tree({ 'away/secret.txt': 'secret', 'cwd/real/f.txt': 'f' });
      const cwd = path.join(outer, 'cwd');
      fs.symlinkSync(path.join(outer, 'away'), path.join(cwd, 'out'));
      fs.symlinkSync(path.join(cwd, 'real'), path.join(cwd, 'in'));
      const r = await collectFiles(['out/secret.txt', 'in/f.txt', 'real/f.txt'], { cwd });
      assert.deepStrictEqual(paths(r), ['real/f.txt']);
      assert.strictEqual(skip(r, 'out/secret.txt')?.reason, 'outside-root');
      assert.match(skip(r, 'out/secret.txt')?.detail ?? '', /away/);
      // Alone, the file through the inner link is read under the name it was given.
      const alone = await collectFiles(['in/f.txt'], { cwd });
      assert.deepStrictEqual(alone.files.map((f) => [f.path, f.text]), [['in/f.txt', 'f']]);
    });

    it('does not follow directory symlinks (no cycles)', async () => {
      const cwd = tree({ 'd/f.txt': 'f' });
      fs.symlinkSync(cwd, path.join(cwd, 'd', 'loop'));
      const r = await collectFiles(['.'], { cwd });
      assert.deepStrictEqual(paths(r), ['d/f.txt']);
    });

    it('sorts files and skipped entries by code unit, whatever the input order', async () => {
      const cwd = tree({ 'b.txt': 'b', 'B.txt': 'B', 'a/b.txt': 'ab', 'a.b.txt': 'a.b', 'a-c.txt': 'ac', 'z.bin': Buffer.from([0]) });
      const r = await collectFiles(['z.bin', 'missing', 'b.txt', '.'], { cwd });
      assert.deepStrictEqual(paths(r), ['B.txt', 'a-c.txt', 'a.b.txt', 'a/b.txt', 'b.txt']);
      assert.deepStrictEqual(r.skipped.map((s) => s.path), ['missing', 'z.bin']);
    });

    it('skips node_modules, .git and its own .batch-prompt runs when walking, but reads a file named inside them', async () => {
      const cwd = tree({
        'index.js': 'i',
        'node_modules/dep/index.js': 'dep',
        'pkg/node_modules/x.js': 'x',
        '.git/config': '[core]',
        '.batch-prompt/runs/r1/outputs/index.js': 'an earlier output',
      });
      const walked = await collectFiles(['.'], { cwd, respectGitignore: false });
      assert.deepStrictEqual(paths(walked), ['index.js']);
      const named = await collectFiles(['node_modules/dep/index.js', '**/*.js'], { cwd });
      assert.deepStrictEqual(paths(named), ['index.js', 'node_modules/dep/index.js']);
    });
  });

  it('hands files on one at a time in path order while reading ahead; a file deleted meanwhile is reported, the rest read', async () => {
    // Sizes that vary, so reads finish out of order; 60 files, far more than are read ahead.
    const files: Record<string, string> = {};
    for (let i = 0; i < 60; i++) files[`f${String(i).padStart(2, '0')}.txt`] = `${i}\n`.repeat(1 + ((i * 7919) % 97) * 200);
    const cwd = tree(files);
    const names = Object.keys(files).sort();
    const seen: string[] = [];
    let inside = 0;
    const r = await collectFiles(['.'], {
      cwd,
      onFile: async (f) => {
        assert.strictEqual(inside++, 0, 'one file at a time');
        seen.push(f.path);
        assert.strictEqual('text' in f ? f.text : undefined, files[f.path]);
        // While the first file is handed on, the last one goes away: too far ahead to be read yet.
        if (f.path === names[0]) fs.rmSync(path.join(cwd, names[59]));
        await new Promise((resolve) => setImmediate(resolve));
        inside--;
      },
    });
    assert.deepStrictEqual(seen, names.slice(0, 59));
    assert.deepStrictEqual(r.files, []);
    assert.deepStrictEqual(r.skipped, [{ path: names[59], reason: 'not-found', detail: 'no such file (deleted while collecting)' }]);
  });

  it("hands each file on with the sha256 of its bytes, which is hashText of its text (a BOM, CRLF, astral and accented characters)", async () => {
    const texts: Record<string, string> = { 'bom.txt': '\ufeffhello\r\nworld\r\n', 'astral.md': 'caf\u00e9 \ud83d\ude00 \u4e2d\u6587\n', 'plain.ts': 'export const a = 1;\n' };
    const cwd = tree(texts);
    const r = await collectFiles(['.'], { cwd });
    assert.deepStrictEqual(r.files.map((f) => f.path).sort(), Object.keys(texts).sort());
    for (const f of r.files) {
      assert.strictEqual(f.text, texts[f.path]);
      assert.strictEqual(f.hash, hashText(texts[f.path]), f.path);
    }
  });

  it('stops handing files on when aborted mid-way, with the signal reason', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 30; i++) files[`f${String(i).padStart(2, '0')}.txt`] = `text ${i}\n`;
    const cwd = tree(files);
    const controller = new AbortController();
    const reason = new Error('stop');
    const seen: string[] = [];
    await assert.rejects(collectFiles(['.'], {
      cwd,
      signal: controller.signal,
      onFile: (f) => {
        seen.push(f.path);
        if (seen.length === 3) controller.abort(reason);
      },
    }), (e) => e === reason);
    assert.deepStrictEqual(seen, ['f00.txt', 'f01.txt', 'f02.txt']);
  });

  it('throws the signal reason when aborted', async () => {
    const cwd = tree({ 'a.txt': 'a' });
    const controller = new AbortController();
    const reason = new Error('stop');
    controller.abort(reason);
    await assert.rejects(collectFiles(['.'], { cwd, signal: controller.signal }), (e) => e === reason);
  });
});

describe('filterGitignored', () => {
  it('drops what .gitignore files exclude, also inside excluded folders, as the walk does', async () => {
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'bp-filter-'));
    try {
      const write = async (rel: string, text = 'x\n') => {
        await fs.promises.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
        await fs.promises.writeFile(path.join(dir, rel), text);
      };
      await write('.gitignore', '*.log\nbuild/\n');
      await write('sub/.gitignore', '!keep.log\n');
      const files = ['a.ts', 'x.log', 'build/out.js', 'build/deep/more.js', 'sub/keep.log', 'sub/y.log', 'node_modules/m.js', 'sub/b.ts'];
      for (const f of files) await write(f);
      assert.deepStrictEqual(await filterGitignored(dir, files), ['a.ts', 'sub/keep.log', 'sub/b.ts']);
    } finally {
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
  });
});
