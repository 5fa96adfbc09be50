// The CLI's front of edit runs (#15): `run --output edit` writes proposals and never a source file, and
// says how to apply; `batch-prompt apply DIR [--only GLOB]` with its per-file lines and exit codes, and
// its refusals (not an edit run, another working folder, a hostile manifest, a run still written).
import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseCli, UsageError } from '../../../src/cli/options';
import { applyReport } from '../../../src/cli/commands/apply';
import { addDocComments, editReply } from '../../support/editReplies';
import { useServer } from '../../support/localServer';
import { ModelServer } from '../../support/modelServer';
import { useWorkspace } from '../../support/tempWorkspace';
import { inProcessCli } from '../../support/cli';

const cli = inProcessCli;

const FILES = {
  'src/a.ts': 'export function add(a: number, b: number) {\n  return a + b;\n}\n',
  'src/b.ts': 'const x = 1;\r\nexport function twice(n: number) {\r\n  return n * 2;\r\n}\r\n',
  'src/c.ts': 'export const c = 3;\n',
};
const DOC_A = '/** add: documented by the model. */\n';

describe('batch-prompt CLI: edit runs and apply (#15)', function () {
  this.timeout(90_000);
  let ws = '';
  let baseUrl = '';
  const server = new ModelServer();
  useServer(server, (url) => (baseUrl = url));
  useWorkspace('bp-cli-edit-', FILES, (dir) => (ws = dir));
  beforeEach(() => (server.script = (req) => ({ kind: 'ok', reply: editReply(req) })));

  const read = (p: string) => fs.readFile(path.join(ws, p), 'utf8');
  const runEdit = (extra: string[] = []) => cli(['run', '--prompt', 'Add a doc comment to every exported function.', '--output', 'edit', '--base-url', baseUrl, '--model', 'm', '--no-cache', '--out', 'runs/e1', ...extra, 'src'], ws);

  it('parses --output edit and --only, and refuses --only elsewhere, an empty or bad glob, and apply without one folder', () => {
    assert.strictEqual(parseCli(['run', '--prompt', 'p', '--model', 'm', '--output', 'edit', 'src'], {}).output, 'edit');
    assert.strictEqual(parseCli(['apply', 'runs/e1', '--only', 'src/**'], {}).only, 'src/**');
    const bad: [string[], RegExp][] = [
      [['run', '--prompt', 'p', '--model', 'm', '--only', 'x', 'src'], /--only is for "batch-prompt apply" only/],
      [['apply', 'runs/e1', '--only', ' '], /--only needs a glob/],
      [['apply', 'runs/e1', '--only', '[z-a]'], /--only: Invalid glob "\[z-a\]": the range z-a/],
      [['apply'], /Name the folder of the edit run to apply/],
      [['apply', 'a', 'b'], /Name the folder of the edit run to apply/],
      [['apply', 'a', '--output', 'edit'], /--output is for "batch-prompt plan"/],
    ];
    for (const [args, re] of bad) assert.throws(() => parseCli(args, {}), (e: Error) => e instanceof UsageError && re.test(e.message), re.source);
  });

  it('--help names apply and the edit kind', async () => {
    const r = await cli(['--help'], ws);
    assert.match(r.stdout, /batch-prompt apply DIR \[--only GLOB\]/);
    assert.match(r.stdout, /or edit \(each file rewritten, in chunks/);
  });

  it('run --output edit writes proposals and edits.patch, changes no source file, and says how to apply', async () => {
    const r = await runEdit();
    assert.strictEqual(r.code, 0, r.stderr);
    for (const [p, text] of Object.entries(FILES)) assert.strictEqual(await read(p), text, `${p} untouched`);
    const dir = path.join(ws, 'runs', 'e1');
    assert.strictEqual(await fs.readFile(path.join(dir, 'proposed', 'src', 'a.ts.proposed'), 'utf8'), DOC_A + FILES['src/a.ts']);
    // CRLF kept (the model answers LF lines).
    assert.strictEqual(await fs.readFile(path.join(dir, 'proposed', 'src', 'b.ts.proposed'), 'utf8'), 'const x = 1;\r\n/** twice: documented by the model. */\r\nexport function twice(n: number) {\r\n  return n * 2;\r\n}\r\n');
    assert.match(await fs.readFile(path.join(dir, 'edits.patch'), 'utf8'), /^diff --git a\/src\/a\.ts b\/src\/a\.ts/m);
    assert.match(r.stdout, /Proposed edits: 2 files \(1 unchanged, 0 incomplete, 0 skipped\); none of your files was written\./);
    assert.ok(r.stdout.includes(`Patch: ${path.join(dir, 'edits.patch')}`), r.stdout);
    assert.match(r.stdout, /Review the patch, then apply it: batch-prompt apply runs\/e1\n/);
  });

  it('apply writes every proposal whose file is unchanged since the run, and prints each file; exit 0', async () => {
    assert.strictEqual((await runEdit()).code, 0);
    const r = await cli(['apply', 'runs/e1'], ws);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.strictEqual(r.stdout, 'applied    src/a.ts\napplied    src/b.ts\nunchanged  src/c.ts (the model left it as it was)\n2 applied, 0 skipped, 1 unchanged.\n');
    assert.strictEqual(await read('src/a.ts'), DOC_A + FILES['src/a.ts']);
    // Applied once, the files no longer have the planned sha: a second apply skips them all.
    const again = await cli(['apply', 'runs/e1'], ws);
    assert.strictEqual(again.code, 2);
    assert.match(again.stdout, /skipped    src\/a\.ts: changed since the run: re-run it\n/);
  });

  it('apply skips a file changed since the run and leaves it byte-identical; exit 2', async () => {
    assert.strictEqual((await runEdit()).code, 0);
    const changed = '// edited by hand\n' + FILES['src/b.ts'];
    await fs.writeFile(path.join(ws, 'src/b.ts'), changed);
    const r = await cli(['apply', 'runs/e1'], ws);
    assert.strictEqual(r.code, 2);
    assert.match(r.stdout, /^applied    src\/a\.ts\nskipped    src\/b\.ts: changed since the run: re-run it\n/);
    assert.match(r.stdout, /1 applied, 1 skipped, 1 unchanged\. Skipped files were left as they are\.\n$/);
    assert.strictEqual(await read('src/b.ts'), changed);
    assert.strictEqual(await read('src/a.ts'), DOC_A + FILES['src/a.ts']);
  });

  it('apply --only GLOB applies the matching files only', async () => {
    assert.strictEqual((await runEdit()).code, 0);
    const r = await cli(['apply', 'runs/e1', '--only', '**/b.ts'], ws);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.strictEqual(r.stdout, 'applied    src/b.ts\n1 applied, 0 skipped, 0 unchanged.\n');
    assert.strictEqual(await read('src/a.ts'), FILES['src/a.ts']);
    const none = await cli(['apply', 'runs/e1', '--only', 'nothing/**'], ws);
    assert.strictEqual(none.code, 0);
    assert.match(none.stdout, /No file of the run matches --only nothing\/\*\*\./);
  });

  it('a file with a failed chunk gets no proposal: the run exits 2 and lists it, apply skips it with "failed chunks"; exit 2', async () => {
    server.script = (req) => ({ kind: 'ok', reply: editReply({ chunks: req.chunks.filter((c) => c.path !== 'src/a.ts') }) });
    const r = await runEdit(['--max-retries', '0']);
    assert.strictEqual(r.code, 2, r.stderr);
    assert.match(r.stdout, /Proposed edits: 1 file \(1 unchanged, 1 incomplete, 0 skipped\)/);
    assert.match(r.stdout, /  incomplete src\/a\.ts: failed chunks: 1 of 1 did not succeed/);
    const applied = await cli(['apply', 'runs/e1'], ws);
    assert.strictEqual(applied.code, 2);
    assert.match(applied.stdout, /skipped    src\/a\.ts: failed chunks: 1 of 1 did not succeed/);
    assert.match(applied.stdout, /applied    src\/b\.ts/);
    assert.strictEqual(await read('src/a.ts'), FILES['src/a.ts']);
  });

  it('apply refuses a run that is not an edit run, and a folder that is not a run', async () => {
    server.script = () => undefined;
    const text = await cli(['run', '--prompt', 'Explain.', '--base-url', baseUrl, '--model', 'm', '--no-cache', '--out', 'runs/t1', 'src'], ws);
    assert.strictEqual(text.code, 0, text.stderr);
    const r = await cli(['apply', 'runs/t1'], ws);
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /runs\/t1 is not an edit run \(its output is text\): only a run made with --output edit .* Nothing was applied\./);
    const none = await cli(['apply', 'src'], ws);
    assert.strictEqual(none.code, 1);
    assert.match(none.stderr, /src is not a run folder \(no run\.json\); nothing was applied\./);
    for (const [p, t] of Object.entries(FILES)) assert.strictEqual(await read(p), t);
  });

  it('apply refuses a run whose root is not the working folder, and writes nothing', async () => {
    assert.strictEqual((await runEdit()).code, 0);
    const elsewhere = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-cli-edit-other-'));
    try {
      const r = await cli(['apply', path.join(ws, 'runs', 'e1')], elsewhere);
      assert.strictEqual(r.code, 1);
      assert.match(r.stderr, /run\.json: root .* is not .*; nothing was written or sent\. Run "batch-prompt apply" from the folder the run was made in\./);
      assert.strictEqual(await read('src/a.ts'), FILES['src/a.ts']);
    } finally {
      await fs.rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('apply refuses a hostile proposals.json (a path out of the root) before writing anything', async () => {
    assert.strictEqual((await runEdit()).code, 0);
    const manifestFile = path.join(ws, 'runs', 'e1', 'proposals.json');
    const manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as { files: { path: string }[] };
    manifest.files.push({ ...manifest.files[0], path: '../outside.ts' });
    await fs.writeFile(manifestFile, JSON.stringify(manifest));
    const r = await cli(['apply', 'runs/e1'], ws);
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /runs\/e1: proposals\.json: files\[3\]\.path .*\.\..* Nothing was applied\./);
    assert.strictEqual(await read('src/a.ts'), FILES['src/a.ts']);
  });

  it('apply refuses a run folder without proposals.json yet, naming resume', async () => {
    assert.strictEqual((await runEdit()).code, 0);
    await fs.rm(path.join(ws, 'runs', 'e1', 'proposals.json'));
    const r = await cli(['apply', 'runs/e1'], ws);
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /runs\/e1 has no proposals\.json yet .*batch-prompt resume runs\/e1/);
  });

  it('applyReport: one line per file and the counts', () => {
    assert.strictEqual(
      applyReport({ files: [{ path: 'a', outcome: 'applied' }, { path: 'b\u001b[2J', outcome: 'skipped', reason: 'deleted since the run' }], applied: 1, skipped: 1 }),
      'applied    a\nskipped    b?[2J: deleted since the run\n1 applied, 1 skipped, 0 unchanged. Skipped files were left as they are.\n',
    );
    assert.strictEqual(addDocComments('export function f() {}\n'), '/** f: documented by the model. */\nexport function f() {}\n');
  });
});
