// "Resume Run" and the result cache through the real commands, against a local model server.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { RunSummary } from '../../src/core/store/runStore';
import { ModelServer } from '../support/modelServer';
import { activateExtension, runOnFiles } from './support/extension';
import { stubQuickPick } from './support/messages';
import { useLocalEndpoint, useModelServerEachTest } from './support/settings';
import { listFiles, removeTree, RunFolder, workspaceRoot, writeTree } from './support/workspace';

const PROMPT = 'Upper-case every chunk.';
const CORPUS: Record<string, string> = {
  'a.txt': 'alpha\n',
  'b.txt': 'beta\nbeta\n',
  'c.txt': 'gamma\n',
  'd.txt': 'delta\n',
};

function resumeRun(dir?: vscode.Uri): Thenable<RunSummary | undefined> {
  return vscode.commands.executeCommand<RunSummary | undefined>('batchPrompt.resumeRun', dir);
}

describe('Resume Run and the result cache (extension host, local model server)', function () {
  let server: ModelServer;
  let baseUrl: string;

  before(async () => {
    await activateExtension();
    writeTree('resume-corpus', CORPUS);
  });
  after(() => removeTree('resume-corpus'));

  useModelServerEachTest((s, url) => {
    server = s;
    baseUrl = url;
  });

  /** A finished run of the corpus, one chunk per request. */
  async function fullRun(): Promise<RunFolder> {
    const summary = await runOnFiles({ glob: 'resume-corpus/**', prompt: PROMPT, modelId: 'local' });
    assert.ok(summary && summary.status === 'succeeded', JSON.stringify(summary));
    return RunFolder.of(summary);
  }

  /** Makes a finished run look like one a window reload stopped after its first `kept` chunks. */
  function interrupt(run: RunFolder, kept: number): string[] {
    const lines = run.read('run.jsonl').trimEnd().split('\n');
    const lost = lines.slice(kept).map((l) => JSON.parse(l) as { chunkId: string; path: string });
    // The last journal line torn mid-write, no summary, outputs of unfinished files not written yet,
    // and the lock of the extension host that died.
    fs.writeFileSync(path.join(run.dir, 'run.jsonl'), `${lines.slice(0, kept).join('\n')}\n{"chunkId":"${lost[0].chunkId}","sta`);
    fs.rmSync(path.join(run.dir, 'summary.json'));
    fs.rmSync(path.join(run.dir, 'report.md'), { force: true });
    for (const r of lost) {
      fs.rmSync(path.join(run.dir, 'chunks', `${r.chunkId}.out`));
      fs.rmSync(path.join(run.dir, 'outputs', ...`${r.path}.md`.split('/')));
    }
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    fs.writeFileSync(path.join(run.dir, 'run.lock'), JSON.stringify({ pid: dead, hostname: os.hostname(), at: '' }));
    return lost.map((r) => r.chunkId).sort();
  }

  it('continues an interrupted run: only the chunks not done are sent, the outputs are those of a run never interrupted', async () => {
    await useLocalEndpoint(baseUrl, { chunksPerBatch: 1, maxConcurrency: 1 });
    const run = await fullRun();
    const outputs = Object.fromEntries(listFiles(path.join(run.dir, 'outputs')).map((f) => [f, run.read(`outputs/${f}`)]));
    const lost = interrupt(run, 2);
    server.requests.length = 0;

    const summary = await resumeRun(vscode.Uri.file(run.dir));
    assert.ok(summary, 'the command resolves with the summary');
    assert.strictEqual(summary.status, 'succeeded');
    assert.strictEqual(summary.succeeded, Object.keys(CORPUS).length);
    assert.deepStrictEqual(server.sentChunkIds().sort(), lost, 'only the chunks that had not succeeded are sent');
    assert.deepStrictEqual(Object.fromEntries(listFiles(path.join(run.dir, 'outputs')).map((f) => [f, run.read(`outputs/${f}`)])), outputs);
    assert.ok(!run.files().some((f) => f.includes('.tmp-') || f === 'run.lock'), run.files().join(', '));
    const latest = new Map(run.records().map((r) => [r.chunkId, r.status])); // every line whole: the torn one was cut off
    assert.ok([...latest.values()].every((s) => s === 'succeeded') && latest.size === Object.keys(CORPUS).length);
  });

  it('without a folder, offers the unfinished runs only; nothing is sent when none is picked', async () => {
    await useLocalEndpoint(baseUrl, { chunksPerBatch: 1, maxConcurrency: 1 });
    const finished = await fullRun();
    const broken = await fullRun();
    interrupt(broken, 1);
    server.requests.length = 0;
    const pick = stubQuickPick(() => undefined);
    try {
      assert.strictEqual(await resumeRun(), undefined);
    } finally {
      pick.restore();
    }
    const labels = pick.asked[0].map((i) => i.label);
    assert.ok(labels.includes(path.basename(broken.dir)), labels.join(', '));
    assert.ok(!labels.includes(path.basename(finished.dir)), 'a finished run is not offered');
    assert.strictEqual(server.requests.length, 0);

    const again = stubQuickPick((items) => items.find((i) => i.label === path.basename(broken.dir)));
    let summary;
    try {
      summary = await resumeRun();
    } finally {
      again.restore();
    }
    assert.strictEqual(summary?.status, 'succeeded');
    assert.strictEqual(server.sentChunkIds().length, Object.keys(CORPUS).length - 1);
  });

  it('a re-run takes unchanged chunks from the cache (outside the workspace); Clear Cache empties it', async () => {
    await useLocalEndpoint(baseUrl, { useCache: true });
    const cleared = await vscode.commands.executeCommand<number>('batchPrompt.clearCache');
    assert.strictEqual(typeof cleared, 'number');
    const before = new Set(listFiles(workspaceRoot()));
    const first = await fullRun();
    const sent = server.sentChunkIds().length;
    assert.ok(sent > 0);

    server.requests.length = 0;
    const second = await fullRun();
    assert.strictEqual(server.requests.length, 0, 'nothing is sent again');
    assert.ok(second.records().every((r) => r.cached === true && r.status === 'succeeded'));
    assert.strictEqual(second.summary().cached, Object.keys(CORPUS).length);
    for (const f of Object.keys(CORPUS)) assert.strictEqual(second.output(`resume-corpus/${f}`), first.output(`resume-corpus/${f}`));
    const created = listFiles(workspaceRoot()).filter((f) => !before.has(f));
    assert.ok(created.every((f) => f.startsWith('.batch-prompt/runs/')), `only run folders are written in the workspace: ${created.join(', ')}`);

    assert.strictEqual(await vscode.commands.executeCommand<number>('batchPrompt.clearCache'), Object.keys(CORPUS).length);
    server.requests.length = 0;
    await fullRun();
    assert.strictEqual(server.sentChunkIds().length, sent, 'after Clear Cache every chunk is sent');
  });
});
