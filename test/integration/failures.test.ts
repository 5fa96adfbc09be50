// The Failed Chunks view in the real extension host: a run against a local OpenAI-compatible server
// that fails the chunks of one file, the tree that lists them, Reveal Chunk, Retry once the server
// recovers (the view empties, the output is completed in place), canceled chunks, and Clear Failures.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { RunSummary } from '../../src/core/store/runStore';
import type { FailureNode, FailuresApi } from '../../src/vscode/failures/failuresView';
import { ModelServer } from '../support/modelServer';

const EXTENSION_ID = 'batch-prompt.batch-prompt';
const MODEL_ID = 'failures-test';
const PROMPT = 'Upper-case every chunk.';
/** Fixture folder inside the test workspace, removed afterwards. */
const FIXTURE = `bp-failures-${process.pid}`;
const SETTINGS: Record<string, unknown> = {
  confirmAbove: 100000,
  maxRetries: 0,
  chunksPerBatch: 1,
  chunkTokens: 256,
  overlapTokens: 0,
  // Every run sends its chunks: a file retried into success would otherwise come from the result cache.
  useCache: false,
};

function workspaceRoot(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the integration tier opens a workspace folder');
  return folder.uri.fsPath;
}

/** Waits (bounded) until `check` holds; the failure names what did not happen. */
async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** About `lines` lines of ~12 tokens each: with chunkTokens 256, 60 lines make three chunks or more. */
function text(name: string, lines: number): string {
  return Array.from({ length: lines }, (_, i) => `${name} line ${i + 1}: the quick brown fox jumps over the lazy dog again.`).join('\n') + '\n';
}

describe('Failed Chunks view (extension host, local model server)', function () {
  let api: FailuresApi;
  let server: ModelServer;
  let failBad = true;
  /** Chunks of slow.txt hang (for the cancel test) while set. */
  let hangSlow = false;
  const runIds: string[] = [];
  let root = '';

  const runOnFiles = async (glob: string): Promise<RunSummary> => {
    const summary = await vscode.commands.executeCommand<RunSummary | undefined>('batchPrompt.runOnFiles', { glob, prompt: PROMPT, modelId: MODEL_ID });
    assert.ok(summary, 'the run started and ended');
    runIds.push(summary.runId);
    await api.model.flush();
    return summary;
  };
  const runsRoot = () => path.join(root, '.batch-prompt', 'runs');
  const runNodeOf = async (runId: string): Promise<(FailureNode & { kind: 'run' }) | undefined> => {
    await api.model.flush();
    const nodes = await api.provider.getChildren();
    return nodes.find((n): n is FailureNode & { kind: 'run' } => n.kind === 'run' && n.run.id === runId);
  };

  const getChildrenOf = (node: FailureNode) => api.provider.getChildren(node);
  /** The file rows of a run: under its reasons. */
  const filesOf = async (run: FailureNode) => (await Promise.all((await api.provider.getChildren(run)).map((r) => api.provider.getChildren(r)))).flat();

  before(async () => {
    const ext = vscode.extensions.getExtension<{ failures: FailuresApi }>(EXTENSION_ID);
    assert.ok(ext);
    api = (await ext.activate()).failures;
    assert.ok(api?.model && api.provider && api.view, 'activate() returns the Failed Chunks API');
    root = workspaceRoot();
    server = new ModelServer();
    server.script = (req) => {
      if (failBad && req.chunks.some((c) => c.path.endsWith('/bad.txt'))) {
        return { kind: 'status', status: 500, body: { error: { message: 'upstream overloaded', type: 'server_error', code: null } } };
      }
      if (hangSlow && req.chunks.some((c) => c.path.endsWith('/slow.txt'))) return { kind: 'hang' };
      return undefined;
    };
    const baseUrl = await server.start();
    const config = vscode.workspace.getConfiguration('batchPrompt');
    await config.update('models', [{ id: MODEL_ID, provider: 'openai', baseUrl, model: 'm' }], vscode.ConfigurationTarget.Global);
    for (const [k, v] of Object.entries(SETTINGS)) await config.update(k, v, vscode.ConfigurationTarget.Global);
    fs.mkdirSync(path.join(root, FIXTURE), { recursive: true });
    fs.writeFileSync(path.join(root, FIXTURE, 'good.txt'), text('good', 5));
    fs.writeFileSync(path.join(root, FIXTURE, 'bad.txt'), text('bad', 60));
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const config = vscode.workspace.getConfiguration('batchPrompt');
    for (const k of ['models', ...Object.keys(SETTINGS)]) await config.update(k, undefined, vscode.ConfigurationTarget.Global);
    await server?.stop();
    fs.rmSync(path.join(root, FIXTURE), { recursive: true, force: true });
    for (const id of runIds) fs.rmSync(path.join(runsRoot(), id), { recursive: true, force: true });
    // The runs folder too when this suite created it (rmdir refuses a folder that holds other runs).
    for (const dir of [runsRoot(), path.dirname(runsRoot())]) {
      try {
        fs.rmdirSync(dir);
      } catch {
        // not empty, or already gone
      }
    }
    await api?.model.reload();
  });

  let failedRun = '';

  it('lists the chunks of the file the server failed, with their reasons, and badges the view', async () => {
    const summary = await runOnFiles(`${FIXTURE}/{good,bad}.txt`);
    assert.ok(summary.failed >= 3, `bad.txt's chunks failed (${JSON.stringify(summary)})`);
    assert.ok(summary.succeeded >= 1, 'good.txt succeeded');
    failedRun = summary.runId;

    const run = await runNodeOf(failedRun);
    assert.ok(run, 'the run is listed');
    const runItem = api.provider.getTreeItem(run);
    assert.strictEqual(runItem.contextValue, 'run');
    // A short label (the time); the counts and the model in the description, the prompt in the tooltip.
    assert.ok(!String(runItem.label).includes('Upper-case'), String(runItem.label));
    assert.match(String(runItem.description), new RegExp(`^${summary.failed} failed · ${MODEL_ID}$`));
    assert.ok(runItem.tooltip instanceof vscode.MarkdownString && runItem.tooltip.value.replace(/\\/g, '').replace(/&nbsp;/g, ' ').includes('Upper-case every chunk.'));
    assert.strictEqual(runItem.collapsibleState, vscode.TreeItemCollapsibleState.Expanded, 'a small run shows expanded');

    // Run → reason → file → chunk.
    const reasons = await getChildrenOf(run);
    assert.deepStrictEqual(reasons.map((r) => r.kind === 'reason' && r.group.reason), ['server error']);
    const reasonItem = api.provider.getTreeItem(reasons[0]);
    assert.strictEqual(reasonItem.contextValue, 'reason');
    assert.strictEqual(reasonItem.description, `${summary.failed} chunks in 1 file`);
    const files = await api.provider.getChildren(reasons[0]);
    assert.deepStrictEqual(files.map((f) => f.kind === 'file' && f.file.path), [`${FIXTURE}/bad.txt`], 'only the failing file is listed');
    const fileItem = api.provider.getTreeItem(files[0]);
    assert.strictEqual(fileItem.contextValue, 'file');
    assert.strictEqual(fileItem.description, `${summary.failed} chunks`);
    assert.strictEqual(fileItem.resourceUri?.fsPath, path.join(root, FIXTURE, 'bad.txt'));

    const chunks = await api.provider.getChildren(files[0]);
    assert.strictEqual(chunks.length, summary.failed);
    let previousEnd = 0;
    for (const node of chunks) {
      const item = api.provider.getTreeItem(node);
      assert.strictEqual(item.contextValue, 'chunk');
      assert.match(String(item.label), /^lines \d+–\d+$/);
      assert.strictEqual(item.description, 'server error');
      assert.ok(item.tooltip instanceof vscode.MarkdownString);
      assert.ok(item.tooltip.value.includes('The endpoint failed (HTTP 500): upstream overloaded'), item.tooltip.value);
      assert.strictEqual(item.command?.command, 'batchPrompt.revealChunk');
      assert.ok(node.kind === 'chunk' && node.chunk.start >= previousEnd, 'chunks in file order');
      previousEnd = node.kind === 'chunk' ? node.chunk.end : 0;
    }
    await until(() => (api.view.badge?.value ?? 0) >= summary.failed, 'the view shows a badge with the failed chunks');
  });

  it('Reveal Chunk opens the file with the chunk selected', async () => {
    const run = await runNodeOf(failedRun);
    assert.ok(run);
    const [file] = await filesOf(run);
    const chunks = await api.provider.getChildren(file);
    const node = chunks[1];
    assert.ok(node?.kind === 'chunk');
    await vscode.commands.executeCommand('batchPrompt.revealChunk', node);
    const editor = vscode.window.activeTextEditor;
    assert.ok(editor, 'an editor is open');
    assert.strictEqual(editor.document.uri.fsPath, path.join(root, FIXTURE, 'bad.txt'));
    assert.strictEqual(editor.document.offsetAt(editor.selection.start), node.chunk.start);
    assert.strictEqual(editor.document.offsetAt(editor.selection.end), node.chunk.end);
    assert.strictEqual(editor.selection.start.line + 1, node.chunk.startLine);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('Retry on the run, once the server recovers, empties the view and completes the output in place', async () => {
    const run = await runNodeOf(failedRun);
    assert.ok(run);
    const failedIds = run.run.files.flatMap((f) => f.chunks.map((c) => c.chunkId));
    const dir = path.join(runsRoot(), failedRun);
    const output = path.join(dir, 'outputs', FIXTURE, 'bad.txt.md');
    assert.ok(fs.existsSync(output.replace(/\.md$/, '.incomplete.md')), 'the failed file is marked incomplete');
    assert.ok(!fs.existsSync(output));

    failBad = false;
    const sentBefore = server.sentChunkIds().length;
    const summary = await vscode.commands.executeCommand<RunSummary | undefined>('batchPrompt.retry', run);
    assert.ok(summary, 'the retry ran');
    assert.strictEqual(summary.failed, 0);
    assert.strictEqual(summary.status, 'succeeded');
    assert.deepStrictEqual(server.sentChunkIds().slice(sentBefore).sort(), [...failedIds].sort(), 'only the failed chunks were sent again');

    assert.strictEqual(await runNodeOf(failedRun), undefined, 'the run left the view');
    assert.ok(!api.model.runs().some((r) => r.id === failedRun));
    assert.ok(fs.existsSync(output), `outputs/<path> exists (${fs.readdirSync(dir, { recursive: true }).join(', ')})`);
    assert.ok(!fs.existsSync(output.replace(/\.md$/, '.incomplete.md')), 'the .incomplete form is gone');
    const joined = fs.readFileSync(output, 'utf8');
    for (const id of failedIds) assert.ok(joined.includes(`OUT[${id}]`), `the output holds chunk ${id}`);
    assert.ok(!joined.includes('<<<batch-prompt'), 'no marker of a missing chunk is left');
  });

  it('Retry on a chunk that fails again keeps it listed; Retry All Failed sends what is listed', async () => {
    failBad = true;
    const summary = await runOnFiles(`${FIXTURE}/bad.txt`);
    const run = await runNodeOf(summary.runId);
    assert.ok(run);
    const [file] = await filesOf(run);
    const [first] = await api.provider.getChildren(file);
    assert.ok(first.kind === 'chunk');

    const again = await vscode.commands.executeCommand<RunSummary | undefined>('batchPrompt.retry', first);
    assert.strictEqual(again?.failed, summary.failed, 'the chunk failed again');
    assert.strictEqual(server.requests[server.requests.length - 1].chunks.map((c) => c.id).join(), first.chunk.chunkId, 'only that chunk was sent');
    const still = (await runNodeOf(summary.runId))?.run.files[0].chunks.find((c) => c.chunkId === first.chunk.chunkId);
    assert.ok(still, 'still listed');
    assert.ok(still.at! > first.chunk.at!, 'with its new outcome');

    failBad = false;
    const all = await vscode.commands.executeCommand<RunSummary[]>('batchPrompt.retryAll');
    const mine = all.find((s) => s.runId === summary.runId);
    assert.strictEqual(mine?.status, 'succeeded');
    assert.strictEqual(await runNodeOf(summary.runId), undefined, 'the run left the view');
  });

  it('lists canceled chunks, and Clear Failures hides them, also after the folders are read again', async () => {
    fs.writeFileSync(path.join(root, FIXTURE, 'slow.txt'), text('slow', 5));
    hangSlow = true;
    const running = runOnFiles(`${FIXTURE}/slow.txt`);
    try {
      await until(() => server.requests.some((r) => r.chunks.some((c) => c.path.endsWith('/slow.txt'))), 'the request of slow.txt arrives');
      await vscode.commands.executeCommand('batchPrompt.cancelRun');
    } finally {
      hangSlow = false;
    }
    const summary = await running;
    assert.ok(summary.canceled >= 1, `a chunk was canceled (${JSON.stringify(summary)})`);

    const run = await runNodeOf(summary.runId);
    assert.ok(run, 'the canceled run is listed');
    const [reason] = await api.provider.getChildren(run);
    assert.ok(reason.kind === 'reason' && reason.group.reason === 'canceled' && reason.group.status === 'canceled', 'under "canceled", not a failure');
    const [file] = await api.provider.getChildren(reason);
    const [chunk] = await api.provider.getChildren(file);
    assert.strictEqual(api.provider.getTreeItem(chunk).description, 'canceled');
    assert.match(String(api.provider.getTreeItem(run).description), /^\d+ canceled · /);
    await until(() => (api.view.badge?.value ?? 0) >= 1, 'the badge counts the canceled chunk');

    await vscode.commands.executeCommand('batchPrompt.clearFailures');
    assert.deepStrictEqual(await api.provider.getChildren(), [], 'the view is empty (its welcome text shows)');
    await until(() => api.view.badge === undefined, 'the badge is gone');
    await api.model.reload();
    assert.strictEqual(await runNodeOf(summary.runId), undefined, 'still hidden after reading the run folders again');
  });
});
