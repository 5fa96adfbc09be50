// Runs through the real commands, against a scriptable OpenAI-compatible server on 127.0.0.1: what a
// run writes and where, which files it reads, cancelling, and a missing API key.
import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import { AnthropicServer } from '../support/anthropicServer';
import { defaultOutput, ModelServer } from '../support/modelServer';
import { activateExtension, extensionApi, HANG_GUARD_MS, runOnFiles, runOnSelection, settlesWithin, until } from './support/extension';
import { outside, recordFsWrites } from './support/fsWrites';
import { spyMessages, stubInputBox } from './support/messages';
import { resetSettings, setSettings, useLocalEndpoint, useModelServerEachTest } from './support/settings';
import { listFiles, removeTree, RunFolder, runFolders, workspaceRoot, writeTree } from './support/workspace';

const PROMPT = 'Upper-case every chunk.';

/** Files a run must send (paths relative to the workspace). */
const TEXT_FILES: Record<string, string> = {
  'corpus/.gitignore': 'ignored/\n*.secret\n',
  'corpus/a.txt': 'alpha\nbeta\n',
  'corpus/src/b.md': '# Title\n\nsome text\n',
  'corpus/src/deep/c.ts': 'export const c = 1;\n',
  'corpus/src-other/d.txt': 'a sibling folder whose name starts like src\n',
};

/** Files a run must leave out, and why. */
const LEFT_OUT: Record<string, string | Uint8Array> = {
  'corpus/image.png': new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]), // binary
  'corpus/empty.txt': '', // empty
  'corpus/ignored/e.txt': 'gitignored folder\n', // .gitignore: ignored/
  'corpus/notes.secret': 'gitignored pattern\n', // .gitignore: *.secret
  'corpus/hidden-by-files-exclude/f.txt': 'files.exclude\n',
  'corpus/hidden-by-search-exclude/g.txt': 'search.exclude\n',
};

function writeCorpus(): void {
  const files: Record<string, string | Uint8Array> = { ...TEXT_FILES, ...LEFT_OUT };
  writeTree('corpus', Object.fromEntries(Object.entries(files).map(([p, c]) => [p.slice('corpus/'.length), c])));
}

describe('Runs (extension host, local model server)', function () {
  let server: ModelServer;
  let baseUrl: string;

  before(async () => {
    await activateExtension();
    writeCorpus();
    await setSettings('files', { exclude: { '**/hidden-by-files-exclude': true } });
    await setSettings('search', { exclude: { '**/hidden-by-search-exclude': true } });
  });

  after(async () => {
    await resetSettings();
    removeTree('corpus');
  });

  useModelServerEachTest((s, url) => {
    server = s;
    baseUrl = url;
  });

  it('writes one output per text file, run.jsonl, summary.json and report.md into its run folder, and nothing elsewhere', async () => {
    await useLocalEndpoint(baseUrl);
    const root = workspaceRoot();
    const before = new Set(listFiles(root));
    const writes = recordFsWrites();
    let summary;
    try {
      summary = await runOnFiles({ glob: 'corpus/**', prompt: PROMPT, modelId: 'local' });
    } finally {
      writes.restore();
    }
    assert.ok(summary, 'the command resolves with the run summary');
    const sent = Object.keys(TEXT_FILES).sort();
    assert.strictEqual(summary.status, 'succeeded');
    assert.strictEqual(summary.succeeded, sent.length);
    assert.deepStrictEqual(summary.files.map((f) => f.path).sort(), sent);

    // The server saw exactly the text files: binary, empty, gitignored and excluded files never left.
    assert.deepStrictEqual([...new Set(server.requests.flatMap((r) => r.chunks.map((c) => c.path)))].sort(), sent);
    assert.ok(server.requests.every((r) => r.body.messages?.some((m) => m.content.includes(PROMPT))), 'every request carries the prompt');

    const run = RunFolder.of(summary);
    assert.strictEqual(path.dirname(run.dir), path.join(root, '.batch-prompt', 'runs'), 'default batchPrompt.outputDirectory');
    const files = run.files();
    for (const f of ['run.json', 'run.jsonl', 'summary.json', 'report.md']) assert.ok(files.includes(f), `${f} in ${files.join(', ')}`);
    assert.deepStrictEqual(files.filter((f) => f.startsWith('outputs/')), sent.map((p) => `outputs/${p}.md`).sort(), 'one output per text file, none for the others');
    assert.deepStrictEqual(files.filter((f) => f.includes('.tmp-')), [], 'no temporary file left');

    // Each output is the server's answer for its file's chunks.
    for (const p of sent) {
      const chunks = server.requests.flatMap((r) => r.chunks).filter((c) => c.path === p);
      assert.strictEqual(chunks.length, 1, `${p} is one chunk`);
      assert.strictEqual(run.output(p).trimEnd(), defaultOutput(chunks[0]).trimEnd(), `output of ${p}`);
    }
    const records = run.records();
    assert.deepStrictEqual(records.map((r) => r.path).sort(), sent);
    assert.ok(records.every((r) => r.status === 'succeeded' && !path.isAbsolute(r.path) && !r.path.startsWith('..')), 'records: succeeded, workspace-relative paths');
    assert.deepStrictEqual(run.summary(), JSON.parse(JSON.stringify(summary)), 'summary.json is what the command returned');
    const report = run.read('report.md');
    for (const p of sent) assert.ok(report.includes(p), `report.md lists ${p}`);

    // Nothing written outside the run folder: neither by the extension's own file calls, nor in the workspace.
    assert.ok(writes.paths.length > 0, 'the recorder saw the run being written');
    // Besides the run folder, only the runs folder and its own .gitignore (#18) when it is created.
    const runsFolder = path.dirname(run.dir);
    const allowed = new Set([runsFolder, path.join(runsFolder, '.gitignore')]);
    assert.deepStrictEqual(outside(writes.paths, run.dir).filter((p) => !allowed.has(p)), [], 'files the extension wrote outside its run folder');
    const added = listFiles(root).filter((f) => !before.has(f));
    const runRel = path.relative(root, run.dir).split(path.sep).join('/');
    const ignoreRel = path.relative(root, path.join(runsFolder, '.gitignore')).split(path.sep).join('/');
    assert.deepStrictEqual(added.filter((f) => !f.startsWith(`${runRel}/`) && f !== ignoreRel), [], 'new workspace files outside the run folder');
  });

  it('never reads the outputs of earlier runs as input', async () => {
    // respectGitignore off: the tier's workspace lies inside this repository, whose .gitignore lists
    // .batch-prompt/; a user's workspace usually has no such line.
    await useLocalEndpoint(baseUrl, { respectGitignore: false });
    const first = await runOnFiles({ glob: 'corpus/src/**', prompt: PROMPT, modelId: 'local' });
    assert.ok(first);
    server.requests.length = 0;
    const second = await runOnFiles({ glob: '**/b.md', prompt: PROMPT, modelId: 'local' });
    assert.ok(second, 'the command resolves with the run summary');
    assert.deepStrictEqual(second.files.map((f) => f.path), ['corpus/src/b.md'], 'only the source file, not its output under .batch-prompt/');
    assert.deepStrictEqual(server.requests.flatMap((r) => r.chunks.map((c) => c.path)), ['corpus/src/b.md']);
  });

  it('runOnSelection over a folder covers exactly the files under it', async () => {
    await useLocalEndpoint(baseUrl);
    const src = vscode.Uri.file(path.join(workspaceRoot(), 'corpus', 'src'));
    const summary = await runOnSelection(src, [src], { prompt: PROMPT, modelId: 'local' });
    assert.ok(summary, 'the command resolves with the run summary');
    const expected = ['corpus/src/b.md', 'corpus/src/deep/c.ts'];
    assert.deepStrictEqual(summary.files.map((f) => f.path).sort(), expected);
    assert.deepStrictEqual(server.sentChunkIds().length, expected.length);
    assert.deepStrictEqual([...new Set(server.requests.flatMap((r) => r.chunks.map((c) => c.path)))].sort(), expected);
    assert.strictEqual(summary.succeeded, expected.length);
  });

  it('runOnSelection over a folder and a file honours files.exclude, search.exclude and .gitignore like a glob', async () => {
    await useLocalEndpoint(baseUrl);
    const corpus = vscode.Uri.file(path.join(workspaceRoot(), 'corpus'));
    const file = vscode.Uri.file(path.join(workspaceRoot(), 'corpus', 'a.txt'));
    const summary = await runOnSelection(corpus, [corpus, file], { prompt: PROMPT, modelId: 'local' });
    assert.ok(summary, 'the command resolves with the run summary');
    assert.deepStrictEqual(summary.files.map((f) => f.path).sort(), Object.keys(TEXT_FILES).sort(), 'each file once; binary, empty, excluded and gitignored ones left out');
    assert.strictEqual(server.sentChunkIds().length, Object.keys(TEXT_FILES).length);
  });

  it('cancelRun mid-run: the command resolves, nothing is sent after it, finished results kept, the rest canceled', async () => {
    // One chunk per request, one request at a time: two answers, then the server hangs.
    await useLocalEndpoint(baseUrl, { chunksPerBatch: 1, maxConcurrency: 1, maxRetries: 0 });
    server.script = (r) => (r.n <= 2 ? undefined : { kind: 'hang' });
    const running = runOnFiles({ glob: 'corpus/**', prompt: PROMPT, modelId: 'local' });
    await until(() => server.requests.length === 3, HANG_GUARD_MS, 'the third request (which hangs)');
    await vscode.commands.executeCommand('batchPrompt.cancelRun');
    const summary = await settlesWithin(running, HANG_GUARD_MS, 'the run after cancelRun');
    assert.ok(summary, 'the command resolves with the summary of the canceled run');
    const total = Object.keys(TEXT_FILES).length;
    assert.strictEqual(summary.succeeded, 2);
    assert.strictEqual(summary.failed, 0);
    assert.strictEqual(summary.canceled, total - 2);
    assert.strictEqual(summary.status, 'canceled');
    assert.strictEqual(server.requests.length, 3, 'nothing is sent after the cancel');
    // The cancel, not a timeout, ended the run: the hanging request was aborted by the client.
    await until(() => server.requests[2].closedByClient === true, HANG_GUARD_MS, 'the hanging request to be aborted');

    const run = RunFolder.of(summary);
    const onDisk = run.summary();
    assert.strictEqual(onDisk.canceled, total - 2);
    assert.strictEqual(onDisk.status, 'canceled');
    const answered = server.requests.slice(0, 2).map((r) => r.chunks[0]);
    for (const c of answered) assert.strictEqual(run.output(c.path).trimEnd(), defaultOutput(c).trimEnd(), `finished result of ${c.path} kept`);
    const complete = onDisk.files.filter((f) => f.status === 'complete').map((f) => f.path).sort();
    assert.deepStrictEqual(complete, answered.map((c) => c.path).sort());
    const records = run.records();
    assert.deepStrictEqual(records.filter((r) => r.status === 'succeeded').map((r) => r.path).sort(), complete);
    assert.ok(records.every((r) => r.status !== 'failed'), 'a canceled chunk is not a failure');
  });

  describe('an endpoint that needs an API key (anthropic)', () => {
    let anthropic: AnthropicServer;
    const KEY = 'sk-ant-test-0123456789';

    beforeEach(async () => {
      anthropic = new AnthropicServer();
      const url = await anthropic.start();
      await setSettings('batchPrompt', { models: [{ id: 'claude', provider: 'anthropic', baseUrl: url, model: 'claude-test' }], confirmAbove: 100000 });
      await vscode.commands.executeCommand('batchPrompt.clearApiKey', 'claude');
    });

    afterEach(async () => {
      await vscode.commands.executeCommand('batchPrompt.clearApiKey', 'claude');
      await anthropic.stop();
    });

    it('without its key: the run does not start, the command resolves, the message offers "Set API Key"', async () => {
      const runsBefore = runFolders();
      const messages = spyMessages();
      let summary;
      try {
        // Nobody clicks the message: the command must not wait for it (if it did, it would never settle).
        summary = await settlesWithin(runOnFiles({ glob: 'corpus/**', prompt: PROMPT, modelId: 'claude' }), HANG_GUARD_MS, 'runOnFiles without a key');
      } finally {
        messages.restore();
      }
      assert.strictEqual(summary, undefined);
      assert.strictEqual(anthropic.requests.length + server.requests.length, 0, 'no request reached any server');
      assert.deepStrictEqual(runFolders(), runsBefore, 'no run folder was created');
      const error = messages.shown.find((m) => m.kind === 'error');
      assert.ok(error, `an error message is shown (saw ${JSON.stringify(messages.shown)})`);
      assert.match(error.message, /API key/);
      assert.ok(error.items.includes('Set API Key'), `it offers "Set API Key" (items: ${error.items.join(', ')})`);
    });

    it('"Set API Key" asks for the key and stores it; the next run sends it and writes it nowhere', async () => {
      const messages = spyMessages((m) => (m.items.includes('Set API Key') ? 'Set API Key' : undefined));
      const input = stubInputBox(KEY);
      try {
        assert.strictEqual(await runOnFiles({ glob: 'corpus/**', prompt: PROMPT, modelId: 'claude' }), undefined);
        await until(() => messages.shown.some((m) => /API key stored/.test(m.message)), HANG_GUARD_MS, 'the key to be stored');
      } finally {
        messages.restore();
        input.restore();
      }
      assert.strictEqual(input.asked.length, 1);
      assert.ok(input.asked[0].password, 'the key is typed into a password box');

      const summary = await runOnFiles({ glob: 'corpus/**', prompt: PROMPT, modelId: 'claude' });
      assert.ok(summary);
      assert.strictEqual(summary.status, 'succeeded');
      assert.ok(anthropic.requests.length > 0 && anthropic.requests.every((r) => r.headers['x-api-key'] === KEY), 'every request carries the stored key');
      const run = RunFolder.of(summary);
      for (const f of run.files()) assert.ok(!run.read(f).includes(KEY), `${f} does not contain the key`);
    });

    it('a server that echoes the key in its error: the key is in no message, no run file and no log line', async () => {
      const input = stubInputBox(KEY);
      try {
        assert.strictEqual(await vscode.commands.executeCommand('batchPrompt.setApiKey', 'claude'), true);
      } finally {
        input.restore();
      }
      anthropic.script = () => ({ kind: 'error', status: 401, type: 'authentication_error', message: `invalid x-api-key: ${KEY}` });
      const messages = spyMessages();
      let summary;
      try {
        // Another prompt than the test before, so that no chunk comes from the result cache.
        summary = await runOnFiles({ glob: 'corpus/**', prompt: `${PROMPT} Again.`, modelId: 'claude' });
      } finally {
        messages.restore();
        anthropic.script = () => undefined;
      }
      assert.ok(summary?.fatal, 'a refused key ends the run');
      assert.ok(anthropic.requests.some((r) => r.headers['x-api-key'] === KEY), 'the stored key was sent');
      const log = (await extensionApi()).log.recent();
      assert.ok(log.some((l) => l.includes('***')), 'the echoed key was redacted in the log');
      assert.ok(!log.some((l) => l.includes(KEY)), 'no log line holds the key');
      assert.ok(!messages.shown.some((m) => m.message.includes(KEY)), 'no message holds the key');
      const run = RunFolder.of(summary);
      for (const f of run.files()) assert.ok(!run.read(f).includes(KEY), `${f} does not contain the key`);
    });
  });
});
