// Settings read at run time: chunk size and chunks per request change what the server sees; an output
// folder outside the workspace is refused before anything is sent or written.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ModelServer } from '../support/modelServer';
import { activateExtension, runOnFiles } from './support/extension';
import { spyMessages } from './support/messages';
import { resetSettings, useLocalEndpoint } from './support/settings';
import { listFiles, removeTree, RunFolder, workspaceRoot, writeTree } from './support/workspace';

const PROMPT = 'Summarise.';

/** About 3,000 tokens of plain lines. */
const LONG = Array.from({ length: 250 }, (_, i) => `line ${i + 1}: the quick brown fox jumps over the lazy dog`).join('\n') + '\n';

describe('Settings honoured by runs (extension host)', () => {
  let server: ModelServer;
  let baseUrl: string;

  before(async () => {
    await activateExtension();
    writeTree('sized', { 'long.txt': LONG });
  });

  after(() => removeTree('sized'));

  beforeEach(async () => {
    server = new ModelServer();
    baseUrl = await server.start();
  });

  afterEach(async () => {
    await resetSettings();
    await server.stop();
  });

  async function run(settings: Record<string, unknown>) {
    server.requests.length = 0;
    await useLocalEndpoint(baseUrl, settings);
    const summary = await runOnFiles({ glob: 'sized/**', prompt: PROMPT, modelId: 'local' });
    assert.ok(summary, 'the command resolves with the run summary');
    assert.strictEqual(summary.status, 'succeeded');
    return { summary, requests: server.requests.map((r) => r.chunks.map((c) => c.id)) };
  }

  it('batchPrompt.chunkTokens and chunksPerBatch change the requests the server sees', async () => {
    const whole = await run({ chunkTokens: 8192 });
    assert.deepStrictEqual(whole.requests.map((r) => r.length), [1], 'the file fits one chunk of 8192 tokens: one request');

    const single = await run({ chunkTokens: 256, overlapTokens: 0, chunksPerBatch: 1 });
    const chunks = single.requests.flat();
    assert.ok(chunks.length >= 8, `256-token chunks: the file is cut into many (${chunks.length})`);
    assert.ok(single.requests.every((r) => r.length === 1), 'chunksPerBatch 1: one chunk per request');
    assert.strictEqual(single.summary.succeeded, chunks.length);

    const packed = await run({ chunkTokens: 256, overlapTokens: 0, chunksPerBatch: 4 });
    assert.ok(packed.requests.every((r) => r.length <= 4), `chunksPerBatch 4: at most 4 per request (${packed.requests.map((r) => r.length).join(', ')})`);
    assert.strictEqual(packed.requests.length, Math.ceil(chunks.length / 4), 'the same chunks in a quarter of the requests');
    assert.deepStrictEqual(packed.requests.flat().sort(), [...chunks].sort(), 'the same chunks');

    const meta = JSON.parse(RunFolder.of(packed.summary).read('run.json')) as { parameters: Record<string, unknown> };
    assert.strictEqual(meta.parameters.chunkTokens, 256);
    assert.strictEqual(meta.parameters.chunksPerBatch, 4);
  });

  it('batchPrompt.outputDirectory inside the workspace: runs go there', async () => {
    const { summary } = await run({ outputDirectory: 'custom/out-runs' });
    const run2 = RunFolder.of(summary, 'custom/out-runs');
    assert.ok(run2.files().includes('summary.json'), `${run2.dir} holds the run`);
    removeTree('custom');
  });

  const elsewhere = path.join(os.tmpdir(), `batch-prompt-escape-${process.pid}`);
  const escapes: { label: string; outputDirectory: string; setup?: () => void; target: () => string }[] = [
    { label: 'a relative path that climbs out', outputDirectory: '../escaped-runs', target: () => path.resolve(workspaceRoot(), '../escaped-runs') },
    { label: 'an absolute path elsewhere', outputDirectory: elsewhere, target: () => elsewhere },
    {
      label: 'a folder of the workspace that links elsewhere',
      outputDirectory: 'linked-out/runs',
      setup: () => {
        fs.mkdirSync(elsewhere, { recursive: true });
        fs.symlinkSync(elsewhere, path.join(workspaceRoot(), 'linked-out'), 'dir');
      },
      target: () => path.join(elsewhere, 'runs'),
    },
  ];
  afterEach(() => {
    fs.rmSync(path.join(workspaceRoot(), 'linked-out'), { force: true });
    fs.rmSync(elsewhere, { recursive: true, force: true });
  });
  for (const { label, outputDirectory, setup, target: targetOf } of escapes) {
    it(`batchPrompt.outputDirectory outside the workspace (${label}) is refused: no request, nothing written`, async () => {
      const target = targetOf();
      fs.rmSync(target, { recursive: true, force: true });
      setup?.();
      const before = listFiles(workspaceRoot());
      await useLocalEndpoint(baseUrl, { outputDirectory });
      const messages = spyMessages();
      let summary;
      try {
        summary = await runOnFiles({ glob: 'sized/**', prompt: PROMPT, modelId: 'local' });
      } finally {
        messages.restore();
      }
      assert.strictEqual(summary, undefined, 'no run');
      assert.strictEqual(server.requests.length, 0, 'no request sent');
      assert.strictEqual(fs.existsSync(target), false, `${target} was not created`);
      assert.deepStrictEqual(listFiles(workspaceRoot()), before, 'nothing written in the workspace');
      const error = messages.shown.find((m) => m.kind === 'error');
      assert.ok(error && /outputDirectory/.test(error.message), `the user is told which setting to fix (saw ${JSON.stringify(messages.shown)})`);
    });
  }
});
