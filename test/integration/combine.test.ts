// "Combine Results…" (#16) in the real extension host: a finished run combined into answer.md, which
// opens beside the report (a visible text editor) and which the report links; the pickers (run, typed
// prompt); a run with no successful result refused with nothing sent or written; a prompt file's
// `reduce:` combining after its run; an interrupted combine finished by the same command.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { CombineOutcome } from '../../src/vscode/reduce/combine';
import { groupIdOf, idsInAnswer, listedIds } from '../support/reduceModel';
import { ModelServer, type ServedRequest } from '../support/modelServer';
import { activateExtension, runOnFiles } from './support/extension';
import { spyMessages, stubInputBox, stubQuickPick } from './support/messages';
import { resetSettings, useLocalEndpoint } from './support/settings';
import { removeTree, RunFolder, workspaceRoot, writeTree } from './support/workspace';

const FOLDER = 'combine-corpus';
const CORPUS: Record<string, string> = {
  'a.txt': 'alpha\n',
  'b.txt': 'beta\nbeta\n',
  'c.txt': 'gamma\n',
};
const COMBINE = 'Summarise what every file says, in one paragraph.';

function userOf(req: ServedRequest): string {
  return (req.body.messages ?? []).filter((m) => m.role === 'user').map((m) => m.content).join('\n');
}

/** Reduce requests answer with the ids they were given (test/support/reduceModel); map requests by default. */
function combining(req: ServedRequest) {
  const content = userOf(req);
  const id = groupIdOf(content);
  return id ? { kind: 'ok' as const, reply: `<result id="${id}">\nids: ${listedIds(content).join(' ')}\n</result>` } : undefined;
}

function combine(dir?: unknown, args?: { prompt?: string }): Thenable<CombineOutcome | undefined> {
  return vscode.commands.executeCommand<CombineOutcome | undefined>('batchPrompt.combineResults', dir, args);
}

const reduceRequests = (server: ServedRequest[]) => server.filter((r) => groupIdOf(userOf(r)));
const visible = (file: string) => vscode.window.visibleTextEditors.some((e) => e.document.uri.fsPath === file);

describe('Combine Results… (extension host, local model server)', function () {
  let server: ModelServer;

  before(async () => {
    await activateExtension();
    writeTree(FOLDER, CORPUS);
  });
  after(() => removeTree(FOLDER));
  beforeEach(async () => {
    server = new ModelServer();
    server.script = combining;
    await useLocalEndpoint(await server.start(), { stream: 'never' });
  });
  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await resetSettings('batchPrompt');
    await server.stop();
  });

  async function finishedRun(): Promise<RunFolder> {
    const summary = await runOnFiles({ glob: `${FOLDER}/**`, prompt: 'Upper-case every chunk.', modelId: 'local' });
    assert.ok(summary && summary.status === 'succeeded', JSON.stringify(summary));
    return RunFolder.of(summary);
  }

  it('from the palette (run picked, prompt typed): every file reaches answer.md once, which opens beside the report, and the report links it', async () => {
    const run = await finishedRun();
    const mapRequests = server.requests.length;
    const picks = stubQuickPick((items, n) => (n === 0 ? items.find((i) => i.label === path.basename(run.dir)) : items.find((i) => i.label.includes('Type a combining prompt'))));
    const typed = stubInputBox(COMBINE);
    const spy = spyMessages();
    let outcome: CombineOutcome | undefined;
    try {
      outcome = await combine();
    } finally {
      picks.restore();
      typed.restore();
      spy.restore();
    }
    assert.strictEqual(outcome?.status, 'succeeded', JSON.stringify(outcome));
    assert.strictEqual(picks.asked.length, 2, 'a run, then a prompt');
    assert.strictEqual(typed.asked.length, 1);
    const answerFile = path.join(run.dir, 'answer.md');
    assert.strictEqual(outcome.answerFile, answerFile);
    assert.deepStrictEqual(idsInAnswer(run.read('answer.md')).sort(), ['F1', 'F2', 'F3'], 'each file once');
    assert.ok(visible(answerFile), `answer.md is a visible editor: ${vscode.window.visibleTextEditors.map((e) => e.document.uri.fsPath).join(', ')}`);
    const reduce = reduceRequests(server.requests);
    assert.strictEqual(reduce.length, 1);
    assert.strictEqual(server.requests.length, mapRequests + 1);
    assert.ok(userOf(reduce[0]).includes(`${FOLDER}/b.txt`), 'inputs are headed by their paths');
    assert.match(run.read('report.md'), /\*\*Combined answer: \[answer\.md\]\(/);
    assert.ok(spy.shown.some((m) => m.kind === 'info' && m.message.startsWith(`Batch Prompt: combined answer of ${path.basename(run.dir)}, from 3 results in 1 level`)), spy.shown.map((m) => m.message).join('\n'));
  });

  it('refuses a run with no successful result, with the reason: nothing sent, nothing written', async () => {
    server.script = (req) => (groupIdOf(userOf(req)) ? combining(req) : { kind: 'status', status: 400, body: { error: { message: 'bad request', type: 'invalid_request_error' } } });
    const summary = await runOnFiles({ glob: `${FOLDER}/**`, prompt: 'Upper-case every chunk.', modelId: 'local' });
    assert.ok(summary && summary.succeeded === 0, JSON.stringify(summary));
    const run = RunFolder.of(summary);
    const before = run.files();
    const sent = server.requests.length;
    const spy = spyMessages();
    let outcome: CombineOutcome | undefined;
    try {
      // A path string, as a link or a view passes it.
      outcome = await combine(run.dir, { prompt: COMBINE });
    } finally {
      spy.restore();
    }
    assert.strictEqual(outcome?.status, 'refused');
    const error = spy.shown.find((m) => m.kind === 'error');
    assert.ok(error && /has no successful result to combine \(3 chunk\(s\) did not succeed/.test(error.message), spy.shown.map((m) => m.message).join('\n'));
    assert.strictEqual(server.requests.length, sent, 'nothing sent');
    assert.deepStrictEqual(run.files(), before, 'nothing written');

    const empty = spyMessages();
    try {
      assert.strictEqual((await combine(vscode.Uri.file(run.dir), { prompt: '  ' }))?.status, 'refused');
    } finally {
      empty.restore();
    }
    assert.ok(empty.shown.some((m) => m.kind === 'error' && /is empty/.test(m.message)), empty.shown.map((m) => m.message).join('\n'));
  });

  it('a prompt file with reduce: combines after its run, and answer.md opens', async () => {
    const promptFile = path.join(workspaceRoot(), FOLDER, 'summary.prompt.md');
    fs.writeFileSync(promptFile, `---\ndescription: Combine test prompt\nreduce: "${COMBINE}"\n---\nUpper-case every chunk.\n`);
    const picks = stubQuickPick((items) => items.find((i) => i.label.includes('Combine test prompt')));
    let summary;
    try {
      summary = await runOnFiles({ glob: `${FOLDER}/*.txt`, modelId: 'local' });
    } finally {
      picks.restore();
      fs.rmSync(promptFile);
    }
    assert.ok(summary && summary.status === 'succeeded', JSON.stringify(summary));
    const run = RunFolder.of(summary);
    assert.deepStrictEqual(idsInAnswer(run.read('answer.md')).sort(), ['F1', 'F2', 'F3']);
    assert.ok((reduceRequests(server.requests)[0].body.messages ?? []).some((m) => m.content.includes(COMBINE)), 'the reduce prompt of the front matter is sent');
    assert.ok(visible(path.join(run.dir, 'answer.md')), 'answer.md is open');
    assert.match(run.read('report.md'), /Combined answer: \[answer\.md\]/);
  });

  it('Estimate Run… of a prompt file with reduce: counts the reduce requests and tokens; without one it says nothing of a reduce', async () => {
    const promptFile = path.join(workspaceRoot(), FOLDER, 'estimate.prompt.md');
    fs.writeFileSync(promptFile, `---\ndescription: Estimate combine prompt\nreduce: "${COMBINE}"\n---\nUpper-case every chunk.\n`);
    const picks = stubQuickPick((items) => items.find((i) => i.label.includes('Estimate combine prompt')));
    let text = '';
    try {
      await vscode.commands.executeCommand('batchPrompt.estimateRun', { glob: `${FOLDER}/*.txt`, modelId: 'local' });
      text = vscode.window.activeTextEditor?.document.getText() ?? '';
    } finally {
      picks.restore();
      fs.rmSync(promptFile);
    }
    assert.match(text, /## Reduce\n\nReduce \(one combined answer\): 1 level, 1 request, \d+ input \/ \d+ output tokens/);
    assert.match(text, /- level 1: 1 group, \d+ input/);
    await vscode.commands.executeCommand('batchPrompt.estimateRun', { glob: `${FOLDER}/*.txt`, prompt: 'Upper-case every chunk.', modelId: 'local' });
    assert.doesNotMatch(vscode.window.activeTextEditor?.document.getText() ?? '', /## Reduce/);
    assert.strictEqual(server.requests.length, 0, 'an estimate sends nothing');
  });

  it('an interrupted combine is offered first and finished from its journal: only the request without an answer is sent', async () => {
    const run = await finishedRun();
    assert.strictEqual((await combine(vscode.Uri.file(run.dir), { prompt: COMBINE }))?.status, 'succeeded');
    // As a kill before the final answer leaves it: the final group's answer and the answer lines gone.
    const journal = run.read('reduce.jsonl').trimEnd().split('\n').filter((l) => !/"type":"(answer|group)"/.test(l));
    fs.writeFileSync(path.join(run.dir, 'reduce.jsonl'), `${journal.join('\n')}\n`);
    fs.rmSync(path.join(run.dir, 'reduce'), { recursive: true, force: true });
    fs.rmSync(path.join(run.dir, 'answer.md'));
    const sent = server.requests.length;
    const picks = stubQuickPick((items) => items.find((i) => i.label.includes('Finish the interrupted combine')));
    let outcome: CombineOutcome | undefined;
    try {
      outcome = await combine(vscode.Uri.file(run.dir));
    } finally {
      picks.restore();
    }
    assert.strictEqual(outcome?.status, 'succeeded', JSON.stringify(outcome));
    assert.ok(picks.asked[0][0].label.includes('Finish the interrupted combine'), 'offered first');
    assert.deepStrictEqual(idsInAnswer(run.read('answer.md')).sort(), ['F1', 'F2', 'F3']);
    assert.strictEqual(server.requests.length, sent + 1, 'only the group without an answer is sent');
  });
});
