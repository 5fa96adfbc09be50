// VS Code's Language Model API as a Batch Prompt model: the adapter against a fake LanguageModelChat,
// then whole runs through `vscode.lm.selectChatModels` against a chat provider the test registers.
import * as assert from 'assert';
import * as vscode from 'vscode';
import { LanguageModelApiModel, mapLanguageModelError } from '../../src/providers/languageModelApi';
import { defaultOutput } from '../support/modelServer';
import { activateExtension, HANG_GUARD_MS, runOnFiles, settlesWithin, until } from './support/extension';
import { resetSettings, setSettings } from './support/settings';
import { COMPANION_ID, deferred, TestChatModel } from './support/testChatModel';
import { removeTree, RunFolder, writeTree } from './support/workspace';

const PROMPT = 'Upper-case every chunk.';

/** A LanguageModelChat whose sendRequest the test scripts. */
function fakeChat(sendRequest: (messages: vscode.LanguageModelChatMessage[], token: vscode.CancellationToken) => Promise<string[]>): vscode.LanguageModelChat {
  return {
    id: 'fake-1',
    name: 'Fake',
    vendor: 'fake',
    family: 'fake-family',
    version: '1',
    maxInputTokens: 1000,
    countTokens: async (text: string | vscode.LanguageModelChatMessage) => (typeof text === 'string' ? text.length : 0),
    sendRequest: async (messages: vscode.LanguageModelChatMessage[], _options?: vscode.LanguageModelChatRequestOptions, token?: vscode.CancellationToken) => {
      const parts = await sendRequest(messages, token ?? new vscode.CancellationTokenSource().token);
      async function* text() {
        for (const p of parts) yield p;
      }
      return { text: text(), stream: (async function* () {})() } as unknown as vscode.LanguageModelChatResponse;
    },
  } as unknown as vscode.LanguageModelChat;
}

function kindOf(e: Error): string {
  return (e as { kind?: string }).kind ?? 'none';
}

describe('Language Model API adapter (fake LanguageModelChat)', () => {
  it('maps LanguageModelError codes and cancellation to the engine\'s typed errors', () => {
    assert.strictEqual(kindOf(mapLanguageModelError(vscode.LanguageModelError.Blocked('too many'))), 'rate-limited');
    assert.strictEqual(kindOf(mapLanguageModelError(vscode.LanguageModelError.NoPermissions('no'))), 'no-permission');
    assert.strictEqual(kindOf(mapLanguageModelError(vscode.LanguageModelError.NotFound('gone'))), 'model-not-found');
    assert.strictEqual(kindOf(mapLanguageModelError(new vscode.CancellationError())), 'canceled');
    assert.strictEqual(kindOf(mapLanguageModelError(new Error('boom'))), 'transient');
    const aborted = new AbortController();
    aborted.abort();
    assert.strictEqual(kindOf(mapLanguageModelError(vscode.LanguageModelError.Blocked('x'), aborted.signal)), 'canceled', 'an abort wins over the error');
    // Fatal ones end the run; a rate limit does not.
    assert.strictEqual((mapLanguageModelError(vscode.LanguageModelError.NoPermissions('no')) as { fatal?: boolean }).fatal, true);
    assert.strictEqual((mapLanguageModelError(vscode.LanguageModelError.Blocked('x')) as { fatal?: boolean }).fatal, false);
  });

  it('sends one user message (no system role), joins the streamed text, and counts tokens with the model', async () => {
    let sent: vscode.LanguageModelChatMessage[] = [];
    const model = new LanguageModelApiModel(fakeChat(async (messages) => {
      sent = messages;
      return ['<result id="a">', 'done', '</result>'];
    }));
    assert.strictEqual(model.id, 'vscode-lm:fake-1');
    assert.strictEqual(model.supportsSystemMessage, false);
    assert.strictEqual(model.contextWindow, 900, '90% of maxInputTokens');
    const reply = await model.complete({ messages: [{ role: 'user', content: 'PROMPT' }, { role: 'user', content: 'CHUNKS' }] }, { signal: new AbortController().signal });
    assert.strictEqual(reply.text, '<result id="a">done</result>');
    assert.deepStrictEqual(reply.usage, { inputTokens: 'PROMPT\n\nCHUNKS'.length, outputTokens: reply.text.length }, 'usage counted by the model, as strings');
    assert.strictEqual(sent.length, 1);
    assert.strictEqual(sent[0].role, vscode.LanguageModelChatMessageRole.User);
    const text = sent[0].content.map((p) => (p instanceof vscode.LanguageModelTextPart ? p.value : '')).join('');
    assert.ok(text.indexOf('PROMPT') >= 0 && text.indexOf('PROMPT') < text.indexOf('CHUNKS'), 'the prompt leads the message');
    assert.strictEqual(await model.countTokens('abcdef'), 6);
  });

  it('with onText, passes each fragment of the stream on as it arrives; the reply is the same', async () => {
    const model = new LanguageModelApiModel(fakeChat(async () => ['<result id="a">', 'do', 'ne', '</result>']));
    const deltas: string[] = [];
    const reply = await model.complete({ messages: [{ role: 'user', content: 'x' }] }, { signal: new AbortController().signal, onText: (d) => deltas.push(d) });
    assert.deepStrictEqual(deltas, ['<result id="a">', 'do', 'ne', '</result>']);
    assert.strictEqual(reply.text, deltas.join(''));
  });

  it('an abort cancels the request\'s token and rejects as canceled; Blocked rejects as a rate limit', async () => {
    const controller = new AbortController();
    let token: vscode.CancellationToken | undefined;
    const model = new LanguageModelApiModel(fakeChat((_m, t) => {
      token = t;
      return new Promise((_, reject) => t.onCancellationRequested(() => reject(new vscode.CancellationError())));
    }));
    const pending = model.complete({ messages: [{ role: 'user', content: 'x' }] }, { signal: controller.signal });
    await until(() => token !== undefined, HANG_GUARD_MS, 'sendRequest');
    controller.abort();
    await assert.rejects(settlesWithin(pending, HANG_GUARD_MS, 'complete() after the abort'), (e: Error) => kindOf(e) === 'canceled');
    assert.strictEqual(token!.isCancellationRequested, true);

    const blocked = new LanguageModelApiModel(fakeChat(async () => {
      throw vscode.LanguageModelError.Blocked('slow down');
    }));
    await assert.rejects(blocked.complete({ messages: [{ role: 'user', content: 'x' }] }, { signal: new AbortController().signal }), (e: Error) => kindOf(e) === 'rate-limited');
  });
});

describe('Language Model API runs (a chat provider registered by the test)', function () {
  let chat: TestChatModel;
  const files: Record<string, string> = {};
  for (let i = 1; i <= 6; i++) files[`f${i}.txt`] = `file number ${i}\nsecond line of ${i}\n`;

  before(async function () {
    await activateExtension();
    if (!vscode.extensions.getExtension(COMPANION_ID)) {
      // npm run test:electron loads the project alone: no manifest contributes the test vendor there.
      this.skip();
    }
    writeTree('lm-corpus', files);
  });

  after(() => removeTree('lm-corpus'));

  beforeEach(async () => {
    chat = new TestChatModel(`echo-${Date.now()}`);
    await chat.ready();
    // chunksPerBatch 1: one request per file, so the script can address requests one by one.
    await setSettings('batchPrompt', { models: [], confirmAbove: 100000, chunksPerBatch: 1 });
  });

  afterEach(async () => {
    chat.dispose();
    await resetSettings();
  });

  it('runs through selectChatModels with modelId vscode-lm:<id> and collects the answers', async () => {
    const summary = await runOnFiles({ glob: 'lm-corpus/**', prompt: PROMPT, modelId: chat.choiceId });
    assert.ok(summary, 'the command resolves with the run summary');
    assert.strictEqual(summary.status, 'succeeded');
    assert.strictEqual(summary.succeeded, 6);
    assert.strictEqual(chat.requests.length, 6);
    assert.ok(chat.requests.every((r) => r.text.includes(PROMPT)), 'the prompt reaches the model');
    const run = RunFolder.of(summary);
    for (const r of chat.requests) {
      for (const c of r.chunks) assert.strictEqual(run.output(c.path).trimEnd(), defaultOutput(c).trimEnd(), `output of ${c.path}`);
    }
    const meta = JSON.parse(run.read('run.json')) as { model: { id: string; provider: string } };
    assert.deepStrictEqual([meta.model.id, meta.model.provider], [chat.choiceId, 'vscode-lm']);
  });

  it('a Blocked error is a rate limit: the chunk is sent again and fewer requests run at once', async () => {
    await setSettings('batchPrompt', { maxConcurrency: 4 });
    const release = deferred();
    let blockedAt = 0;
    chat.script = (r) => {
      // The first four arrive together; the first is refused once all four are in flight, the other
      // three are held until a fifth request arrives (or half a second passes).
      if (r.n === 1) {
        const refused = until(() => chat.inFlight === 4, HANG_GUARD_MS, 'four requests in flight').then(() => {
          blockedAt = chat.requests.length;
          throw vscode.LanguageModelError.Blocked('too many requests');
        });
        return { kind: 'hold', until: refused };
      }
      if (r.n <= 4) return { kind: 'hold', until: Promise.race([release.promise, new Promise<void>((ok) => setTimeout(ok, 500))]) };
      release.resolve();
      return undefined;
    };
    const summary = await runOnFiles({ glob: 'lm-corpus/**', prompt: PROMPT, modelId: chat.choiceId });
    release.resolve();
    assert.ok(summary, 'the command resolves with the run summary');
    assert.strictEqual(summary.succeeded, 6, 'every chunk succeeded in the end');
    assert.strictEqual(summary.failed, 0);
    const first = chat.requests[0].chunks[0].id;
    assert.strictEqual(chat.requests.filter((r) => r.chunks.some((c) => c.id === first)).length, 2, 'the refused chunk was sent again');
    assert.strictEqual(Math.max(...chat.requests.slice(0, 4).map((r) => r.inFlightAtArrival)), 4, 'four at once before the refusal');
    const after = chat.requests.slice(blockedAt);
    assert.ok(after.length > 0);
    assert.ok(Math.max(...after.map((r) => r.inFlightAtArrival)) < 4, `fewer at once after it (${after.map((r) => r.inFlightAtArrival).join(', ')})`);
  });

  it('cancelRun stops a run on the Language Model API: the request is cancelled, finished results kept', async () => {
    await setSettings('batchPrompt', { maxConcurrency: 1 });
    chat.script = (r) => (r.n <= 2 ? undefined : { kind: 'hang' });
    const running = runOnFiles({ glob: 'lm-corpus/**', prompt: PROMPT, modelId: chat.choiceId });
    await until(() => chat.requests.length === 3, HANG_GUARD_MS, 'the third request (which hangs)');
    await vscode.commands.executeCommand('batchPrompt.cancelRun');
    const summary = await settlesWithin(running, HANG_GUARD_MS, 'the run after cancelRun');
    assert.ok(summary);
    assert.deepStrictEqual([summary.succeeded, summary.failed, summary.canceled, summary.status], [2, 0, 4, 'canceled']);
    await until(() => chat.requests[2].canceled, HANG_GUARD_MS, 'the provider to see the cancellation');
    assert.strictEqual(chat.requests.length, 3, 'nothing sent after the cancel');
    const run = RunFolder.of(summary);
    for (const r of chat.requests.slice(0, 2)) assert.strictEqual(run.output(r.chunks[0].path).trimEnd(), defaultOutput(r.chunks[0]).trimEnd());
  });
});
