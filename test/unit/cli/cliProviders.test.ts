import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as path from 'path';
import { AnthropicServer } from '../../support/anthropicServer';
import { ModelServer } from '../../support/modelServer';
import { CONFUSED_REPLY, OllamaServer } from '../../support/ollamaServer';
import { runCli as cli } from '../../support/cli';
import { readTree } from '../../support/runFolder';
import { useWorkspace } from '../../support/tempWorkspace';

const ANTHROPIC_KEY = 'sk-ant-api03-CLI-SECRET-a1b2c3d4e5f6';
const AZURE_KEY = 'azure0cli0SECRET0key0123456789';


describe('batch-prompt CLI providers', function () {
  this.timeout(90_000);
  const anthropic = new AnthropicServer();
  const ollama = new OllamaServer();
  const openai = new ModelServer();
  const urls = { anthropic: '', ollama: '', azure: '' };
  let ws = '';
  before(async () => {
    urls.anthropic = await anthropic.start();
    urls.ollama = await ollama.start();
    urls.azure = (await openai.start()).replace(/\/v1$/, '');
  });
  after(async () => {
    await anthropic.stop();
    await ollama.stop();
    await openai.stop();
  });
  beforeEach(async () => {
    for (const s of [anthropic, ollama, openai]) {
      s.script = () => undefined;
      s.requests.length = 0;
    }
    ollama.maxNumCtx = Infinity;
  });
  useWorkspace('bp-cli-prov-', { 'src/a.ts': 'export const a = 1;\n'.repeat(30), 'src/c.md': '# Title\n\nSome prose.\n' }, (dir) => (ws = dir));

  it('runs with --provider anthropic end to end: x-api-key, top-level system prompt, outputs, provider recorded', async () => {
    const r = await cli(['run', '--provider', 'anthropic', '--base-url', urls.anthropic, '--model', 'claude-test', '--prompt', 'Upper-case it.', '--out', 'o', 'src'], ws, { ANTHROPIC_API_KEY: ANTHROPIC_KEY });
    assert.strictEqual(r.code, 0, r.stderr);
    assert.ok(anthropic.requests.length > 0);
    for (const q of anthropic.requests) {
      assert.strictEqual(q.headers['x-api-key'], ANTHROPIC_KEY);
      assert.strictEqual(q.body.system?.includes('Upper-case it.'), true);
      assert.ok(q.body.messages!.every((m) => m.role !== 'system'));
    }
    assert.ok((await fs.readFile(path.join(ws, 'o/outputs/src/a.ts.md'), 'utf8')).startsWith('OUT[1.1]\nEXPORT CONST A = 1;'));
    const meta = JSON.parse(await fs.readFile(path.join(ws, 'o/run.json'), 'utf8')) as { model: { provider: string; model: string } };
    assert.deepStrictEqual([meta.model.provider, meta.model.model], ['anthropic', 'claude-test']);
  });

  it('runs with --provider ollama end to end, no key, sending num_ctx sized above the request', async () => {
    const r = await cli(['run', '--provider', 'ollama', '--base-url', urls.ollama, '--model', 'llama3.2', '--prompt', 'Upper-case it.', '--out', 'o', 'src'], ws);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.ok(ollama.requests.length > 0);
    for (const q of ollama.requests) {
      assert.ok(q.body.options!.num_ctx! > q.tokens, `num_ctx ${q.body.options!.num_ctx} above ${q.tokens}`);
      assert.strictEqual(q.body.stream, false);
    }
    assert.ok((await fs.readFile(path.join(ws, 'o/outputs/src/c.md.md'), 'utf8')).startsWith('OUT[2.1]\n# TITLE'));
  });

  it('never records a reply Ollama gave to a cut prompt: the batch is split until it fits', async () => {
    ollama.maxNumCtx = 2048; // the model holds less than the num_ctx sent: Ollama cuts silently, answering 200
    await fs.writeFile(path.join(ws, 'src/long.md'), 'The quick brown fox jumps over the lazy dog near the river bank.\n'.repeat(400));
    const r = await cli(['run', '--provider', 'ollama', '--base-url', urls.ollama, '--model', 'llama3.2', '--prompt', 'Upper-case it.', '--out', 'o', '--chunk-tokens', '512', '--overlap', '0', '--chunks-per-batch', '16', 'src/long.md'], ws);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.ok(ollama.requests.some((q) => q.tokens > 2048), 'a first request was cut');
    const out = await fs.readFile(path.join(ws, 'o/outputs/src/long.md.md'), 'utf8');
    assert.ok(!out.includes(CONFUSED_REPLY), 'no reply to a cut prompt is used');
    assert.ok(out.includes('THE QUICK BROWN FOX'));
  });

  const missing: [string, string[], string][] = [
    ['anthropic', ['--base-url', 'http://127.0.0.1:9/unused'], 'ANTHROPIC_API_KEY'],
    ['azure', ['--base-url', 'https://r.openai.azure.com'], 'AZURE_OPENAI_API_KEY'],
    ['openai', ['--base-url', 'https://openrouter.ai/api/v1'], 'OPENAI_API_KEY'],
  ];
  for (const [provider, extra, envVar] of missing) {
    it(`stops a ${provider} run without its key before any request, with one line naming ${envVar}`, async () => {
      const r = await cli(['run', '--provider', provider, ...extra, '--model', 'm', '--prompt', 'x', '--out', 'o', 'src'], ws, { OTHER: 'x' });
      assert.strictEqual(r.code, 1);
      assert.strictEqual(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^batch-prompt: set ${envVar} in the environment`));
      await assert.rejects(fs.stat(path.join(ws, 'o')), 'no run folder');
    });
  }

  it('refuses a bad --provider, --api-version without azure, and azure without an endpoint', async () => {
    const bad = await cli(['run', '--provider', 'bedrock', '--model', 'm', '--prompt', 'x', 'src'], ws);
    assert.strictEqual(bad.code, 1);
    assert.match(bad.stderr, /--provider must be one of openai, azure, anthropic, ollama/);
    const version = await cli(['run', '--provider', 'anthropic', '--api-version', '2024-10-21', '--model', 'm', '--prompt', 'x', 'src'], ws);
    assert.match(version.stderr, /--api-version is for --provider azure only/);
    const azure = await cli(['run', '--provider', 'azure', '--model', 'dep', '--prompt', 'x', 'src'], ws, { AZURE_OPENAI_API_KEY: AZURE_KEY });
    assert.strictEqual(azure.code, 1);
    assert.match(azure.stderr, /AZURE_OPENAI_ENDPOINT/);
  });

  const withKey: [string, string[], Record<string, string>, string, () => void][] = [
    [
      'anthropic',
      ['--provider', 'anthropic', '--base-url', '<anthropic>'],
      { ANTHROPIC_API_KEY: ANTHROPIC_KEY },
      ANTHROPIC_KEY,
      () => (anthropic.script = (q) => (q.chunks.some((c) => c.path === 'src/c.md') ? { kind: 'error', status: 400, type: 'invalid_request_error', message: `bad request for key ${ANTHROPIC_KEY}` } : undefined)),
    ],
    [
      'azure',
      ['--provider', 'azure', '--base-url', '<azure>', '--api-version', '2024-06-01'],
      { AZURE_OPENAI_API_KEY: AZURE_KEY },
      AZURE_KEY,
      () => (openai.script = (q) => (q.chunks.some((c) => c.path === 'src/c.md') ? { kind: 'status', status: 400, body: { error: { code: 'content_filter', message: `filtered; key ${AZURE_KEY}` } } } : undefined)),
    ],
  ];
  for (const [provider, args, env, key, script] of withKey) {
    it(`a ${provider} run with a known key never writes it: not in any file of the run folder, stdout or stderr`, async () => {
      script();
      const resolved = args.map((a) => (a === '<anthropic>' ? urls.anthropic : a === '<azure>' ? urls.azure : a));
      const r = await cli(['run', ...resolved, '--model', 'm', '--prompt', 'Upper-case it.', '--out', 'o', '--chunks-per-batch', '1', 'src'], ws, env);
      assert.strictEqual(r.code, 2, r.stderr); // one file failed, with the key in the provider's message
      const files = await readTree(path.join(ws, 'o'));
      assert.ok(files.some((f) => f.file.endsWith('.incomplete.md')), 'the failure was recorded');
      assert.ok(files.some((f) => f.file === 'run.jsonl' && f.text.includes('***')), 'the key was redacted where the message was recorded');
      for (const f of files) assert.ok(!f.text.includes(key), `${f.file} holds the key`);
      assert.ok(!r.stdout.includes(key) && !r.stderr.includes(key), 'the key is not printed');
    });
  }
});
