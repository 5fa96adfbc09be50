// The product's files out of the user's way (#18), in the real extension host: the runs folder gets its
// own .gitignore; it stays out of findFiles (the glob box's count and a run's files) together with the
// user's own excludes, and out of Quick Open / search (search.exclude default, merged with the user's);
// the Explorer's run commands say so inside it; outputs are named <path>.md; batchPrompt.outputDirectory
// empty keeps the results in the extension's storage, where the edits review still finds them.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { findByGlob } from '../../src/vscode/run/fileSelection';
import { editReply } from '../support/editReplies';
import { ModelServer } from '../support/modelServer';
import { activateExtension, extensionApi, runOnFiles, runOnSelection } from './support/extension';
import { spyMessages } from './support/messages';
import { resetSettings, setSettings, useLocalEndpoint } from './support/settings';
import { removeTree, RUNS_DIR, RunFolder, runFolders, workspaceRoot, writeTree } from './support/workspace';

const FOLDER = 'tidy-corpus';
const rel = (uris: readonly vscode.Uri[]) => uris.map((u) => vscode.workspace.asRelativePath(u, false)).sort();

describe('The runs folder stays out of the way (extension host)', function () {
  let server: ModelServer;
  const planted = path.join(RUNS_DIR, 'old-run', 'outputs', FOLDER, 'a.ts');

  before(async () => {
    await activateExtension();
    server = new ModelServer();
    await useLocalEndpoint(await server.start());
  });
  beforeEach(() => {
    writeTree(FOLDER, { 'a.ts': 'export const a = 1;\n', 'b.ts': 'export const b = 2;\n', 'vendor/c.ts': 'export const c = 3;\n' });
    // What a run folder written before #18 holds: an output under the source's own name.
    fs.mkdirSync(path.dirname(path.join(workspaceRoot(), planted)), { recursive: true });
    fs.writeFileSync(path.join(workspaceRoot(), planted), 'export const old: number = "x";\n');
  });
  afterEach(async () => {
    await resetSettings('search');
    await resetSettings('files');
  });
  after(async () => {
    await resetSettings();
    await server.stop();
    removeTree(FOLDER);
    removeTree(path.join(RUNS_DIR, 'old-run'));
  });

  it('search.exclude leaves .batch-prompt out by default, merged with VS Code\'s defaults and with the user\'s own', async () => {
    const inspected = vscode.workspace.getConfiguration('search').inspect<Record<string, boolean>>('exclude');
    assert.strictEqual(inspected?.defaultValue?.['**/.batch-prompt'], true, JSON.stringify(inspected?.defaultValue));
    assert.strictEqual(inspected?.defaultValue?.['**/node_modules'], true, 'VS Code\'s own default is kept');
    await setSettings('search', { exclude: { '**/vendor': true } });
    const effective = vscode.workspace.getConfiguration('search').get<Record<string, boolean>>('exclude') ?? {};
    assert.strictEqual(effective['**/vendor'], true);
    assert.strictEqual(effective['**/.batch-prompt'], true, `the user's excludes keep the default: ${JSON.stringify(effective)}`);
  });

  it('findFiles of the glob box and of a run leaves the runs folder out, with the user\'s excludes', async () => {
    await setSettings('search', { exclude: { '**/vendor': true } });
    await setSettings('files', { exclude: { '**/b.ts': true } });
    // Without the extension's exclude, VS Code's findFiles does list the planted output.
    assert.ok(rel(await vscode.workspace.findFiles('**/a.ts')).includes(planted.split(path.sep).join('/')), 'the planted file is there to find');
    assert.deepStrictEqual(rel(await findByGlob('**/*.ts')), [`${FOLDER}/a.ts`]);
    // A folder name means the folder.
    assert.deepStrictEqual(rel(await findByGlob(FOLDER)), [`${FOLDER}/a.ts`]);
    await resetSettings('search');
    await resetSettings('files');
    assert.deepStrictEqual(rel(await findByGlob(FOLDER)), [`${FOLDER}/a.ts`, `${FOLDER}/b.ts`, `${FOLDER}/vendor/c.ts`]);
  });

  it('a run writes <path>.md under outputs/, and the runs folder gets its own .gitignore', async () => {
    const summary = await runOnFiles({ glob: FOLDER, prompt: 'Summarise.', modelId: 'local' });
    assert.ok(summary && summary.status === 'succeeded', JSON.stringify(summary));
    const run = RunFolder.of(summary);
    assert.deepStrictEqual(run.files().filter((f) => f.startsWith('outputs/')), [`outputs/${FOLDER}/a.ts.md`, `outputs/${FOLDER}/b.ts.md`, `outputs/${FOLDER}/vendor/c.ts.md`]);
    assert.strictEqual(fs.readFileSync(path.join(workspaceRoot(), RUNS_DIR, '.gitignore'), 'utf8').split('\n').includes('*'), true);
  });

  it('Run Prompt on Selection inside the runs folder says so, asks for nothing and runs nothing', async () => {
    const spy = spyMessages();
    const before = server.requests.length;
    try {
      const folder = vscode.Uri.file(path.join(workspaceRoot(), RUNS_DIR, 'old-run'));
      const result = await runOnSelection(folder, [folder], { prompt: 'Summarise.', modelId: 'local' });
      assert.strictEqual(result, undefined);
      assert.ok(spy.shown.some((m) => m.message.includes('Batch Prompt\'s own results folder')), spy.shown.map((m) => m.message).join('\n'));
      assert.strictEqual(server.requests.length, before, 'nothing sent');
    } finally {
      spy.restore();
    }
  });

  it('batchPrompt.outputDirectory empty: the run is kept in the extension\'s storage, and the edits review finds it', async () => {
    await setSettings('batchPrompt', { outputDirectory: '' });
    server.script = (req) => ({ kind: 'ok', reply: editReply(req) });
    fs.writeFileSync(path.join(workspaceRoot(), FOLDER, 'fn.ts'), 'export function add(a: number, b: number) {\n  return a + b;\n}\n');
    const inWorkspace = runFolders();
    try {
      const summary = await runOnFiles({ glob: `${FOLDER}/fn.ts`, prompt: 'Add a doc comment.', modelId: 'local', output: 'edit' });
      assert.ok(summary && summary.status === 'succeeded', JSON.stringify(summary));
      assert.deepStrictEqual(runFolders(), inWorkspace, 'no run folder in the workspace');
      const api = await extensionApi();
      const dir = await api.edits.newestEditRun();
      assert.ok(dir, 'the newest edit run is found');
      assert.strictEqual(path.basename(dir.fsPath), summary.runId);
      assert.ok(path.relative(workspaceRoot(), dir.fsPath).startsWith('..'), `${dir.fsPath} is outside the workspace`);
      assert.ok(fs.existsSync(path.join(dir.fsPath, 'proposed', FOLDER, 'fn.ts.proposed')));
      const plan = await api.edits.buildReview(dir);
      assert.strictEqual(plan?.offered.length, 1, JSON.stringify(plan?.notOffered));
    } finally {
      server.script = () => undefined;
      await setSettings('batchPrompt', { outputDirectory: RUNS_DIR });
    }
  });
});
