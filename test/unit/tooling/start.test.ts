import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chunkFile, DEFAULT_CHUNK_OPTIONS } from '../../../src/core/plan/chunker';
import { parsePromptFile } from '../../../src/core/input/promptFile';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import { defaultBaseUrl, needsApiKey as extensionNeedsApiKey } from '../../../src/providers/factory';
import {
  chooseModels,
  DEFAULT_BASE_URLS,
  generateLargeFile,
  LARGE_FILE_PATH,
  needsApiKey,
  parseJsonc,
  parseStartArgs,
  planWorkspaceSync,
  PROVIDERS,
  updateUserSettings,
  UsageError,
  vsixContentId,
  type StartEndpoint,
} from '../../../scripts/startOptions.js';
import { MODEL as SAMPLE_MODEL, sampleEndpoint } from '../../../scripts/sampleModel.js';
import { copySampleWorkspace } from '../../../scripts/sampleWorkspace.js';

const root = path.resolve(__dirname, '../../../..');
const NO_OLLAMA = { answered: false, models: [] };

describe('npm start: arguments', () => {
  it('needs none: no endpoint, default port, no fresh profile', () => {
    assert.deepStrictEqual(parseStartArgs([]), { help: false, fresh: false });
    assert.deepStrictEqual(parseStartArgs(['--fresh', '--port', '9000']), { help: false, fresh: true, port: 9000 });
    assert.strictEqual(parseStartArgs(['-h']).help, true);
  });

  it('turns --base-url and --model into a batchPrompt.models entry, guessing the provider from the URL', () => {
    assert.deepStrictEqual(parseStartArgs(['--base-url', 'https://api.openai.com/v1/', '--model', 'gpt-4o-mini']).endpoint, {
      id: 'openai-api.openai.com',
      provider: 'openai',
      baseUrl: 'https://api.openai.com/v1',
      model: 'gpt-4o-mini',
    });
    assert.strictEqual(parseStartArgs(['--base-url=https://api.anthropic.com', '--model=claude-sonnet-4-5']).endpoint?.provider, 'anthropic');
    const ollama = parseStartArgs(['--base-url', 'http://127.0.0.1:11434', '--model', 'llama3.2']).endpoint;
    assert.deepStrictEqual(ollama, { id: 'ollama-127.0.0.1-11434', provider: 'ollama', baseUrl: 'http://127.0.0.1:11434', model: 'llama3.2' });
    assert.strictEqual(parseStartArgs(['--base-url', 'http://localhost:1234/v1', '--model', 'qwen']).endpoint?.provider, 'openai');
    assert.strictEqual(parseStartArgs(['--base-url', 'https://proxy.example/anthropic', '--model', 'm', '--provider', 'anthropic']).endpoint?.provider, 'anthropic');
  });

  it('writes entries the manifest schema of batchPrompt.models accepts', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    const items = manifest.contributes.configuration.properties['batchPrompt.models'].items;
    const idPattern = new RegExp(items.properties.id.pattern);
    for (const url of ['https://api.openai.com/v1', 'http://[::1]:8000/v1', 'https://user@host.example:8443/x', 'http://127.0.0.1:11434']) {
      const e = parseStartArgs(['--base-url', url, '--model', 'm']).endpoint!;
      assert.match(e.id, idPattern, url);
      assert.ok(items.properties.provider.enum.includes(e.provider));
      for (const key of Object.keys(e)) assert.ok(key in items.properties, key);
      for (const key of items.required) assert.ok(key in e, key);
    }
  });

  it('refuses incomplete or malformed options with a UsageError that says what to do', () => {
    const cases: [string[], RegExp][] = [
      [['--model', 'gpt-4o'], /--model goes with --base-url/],
      [['--base-url', 'https://api.openai.com/v1'], /--model NAME/],
      [['--base-url', 'https://api.openai.com/v1', '--model', '  '], /--model NAME/],
      [['--base-url', 'not a url', '--model', 'x'], /not a URL/],
      [['--base-url', 'ftp://host/v1', '--model', 'x'], /http\(s\)/],
      [['--base-url', 'https://h/v1', '--model', 'x', '--provider', 'azure'], /openai, anthropic, ollama/],
      [['--provider', 'openai'], /--provider goes with/],
      [['--port', '0'], /port number/],
      [['--port', '80a'], /port number/],
      [['--port', '70000'], /port number/],
      [['--key', 'sk-x'], /Unknown option/],
      [['extra'], /positional/i],
    ];
    for (const [argv, message] of cases) {
      assert.throws(() => parseStartArgs(argv), (e: unknown) => e instanceof UsageError && message.test(e.message), argv.join(' '));
    }
  });

  it('agrees with the extension on which endpoints need a key and on default base URLs', () => {
    const urls = [undefined, 'https://api.openai.com/v1', 'http://127.0.0.1:1234/v1', 'http://localhost:8000', 'http://[::1]:8080', 'http://lm.localhost/v1', 'http://192.168.1.5:1234/v1', 'https://127.0.0.1.nip.io/v1'];
    for (const provider of PROVIDERS) {
      assert.strictEqual(DEFAULT_BASE_URLS[provider], defaultBaseUrl(provider), provider);
      for (const baseUrl of urls) {
        assert.strictEqual(needsApiKey({ provider, baseUrl }), extensionNeedsApiKey({ provider, baseUrl }), `${provider} ${baseUrl}`);
      }
    }
  });
});

describe('npm start: models for the try-out', () => {
  const remote: StartEndpoint = { id: 'openai-api.openai.com', provider: 'openai', baseUrl: 'https://api.openai.com/v1', model: 'gpt-4o-mini' };
  const KEY = 'sk-test-SECRET-1234567890';

  it('an endpoint passed with --base-url comes first, even with Ollama answering', () => {
    const c = chooseModels({ endpoint: remote, env: {}, ollama: { answered: true, models: ['llama3.2'] } });
    assert.strictEqual(c.source, 'endpoint');
    assert.deepStrictEqual(c.models, [remote]);
  });

  it('never passes a key on: it asks for "Set API Key" once, naming the variable the key is in', () => {
    const withKey = chooseModels({ endpoint: remote, env: { OPENAI_API_KEY: KEY }, ollama: NO_OLLAMA });
    const text = withKey.lines.join('\n');
    assert.ok(!text.includes(KEY));
    assert.match(text, /Batch Prompt: Set API Key/);
    assert.match(text, /\$OPENAI_API_KEY/);
    assert.match(text, /never written to settings/);
    assert.ok(!JSON.stringify(withKey.models).includes(KEY));
    const anthropic: StartEndpoint = { id: 'anthropic-api.anthropic.com', provider: 'anthropic', baseUrl: 'https://api.anthropic.com', model: 'claude' };
    assert.match(chooseModels({ endpoint: anthropic, env: {}, ollama: NO_OLLAMA }).lines.join('\n'), /\$ANTHROPIC_API_KEY is not set/);
  });

  it('asks for no key for an endpoint on this machine or Ollama', () => {
    const local: StartEndpoint = { id: 'openai-127.0.0.1-1234', provider: 'openai', baseUrl: 'http://127.0.0.1:1234/v1', model: 'qwen' };
    const text = chooseModels({ endpoint: local, env: {}, ollama: NO_OLLAMA }).lines.join('\n');
    assert.match(text, /none needed/);
    assert.doesNotMatch(text, /Set API Key/);
    const ollama: StartEndpoint = { id: 'ollama-gpu-box-11434', provider: 'ollama', baseUrl: 'http://gpu-box:11434', model: 'llama3.2' };
    assert.match(chooseModels({ endpoint: ollama, env: {}, ollama: NO_OLLAMA }).lines.join('\n'), /Ollama needs none/);
  });

  it('then a local Ollama, which the extension offers by itself (nothing written)', () => {
    const c = chooseModels({ env: {}, ollama: { answered: true, models: ['llama3.2', 'qwen2.5-coder'] } });
    assert.strictEqual(c.source, 'ollama');
    assert.deepStrictEqual(c.models, []);
    assert.match(c.lines.join('\n'), /llama3\.2, qwen2\.5-coder/);
  });

  it('then the Language Model API; with nothing at all it does not fail but says what the window will do', () => {
    const none = chooseModels({ env: {}, ollama: NO_OLLAMA });
    assert.strictEqual(none.source, 'language-model-api');
    assert.deepStrictEqual(none.models, []);
    assert.match(none.lines.join('\n'), /Language Model API/);
    assert.match(none.lines.join('\n'), /--base-url URL --model NAME/);
    const empty = chooseModels({ env: {}, ollama: { answered: true, models: [] } });
    assert.strictEqual(empty.source, 'language-model-api');
    assert.match(empty.lines.join('\n'), /ollama pull/);
  });

  it("keeps endpoints the user added to the profile's settings ahead of Ollama", () => {
    const c = chooseModels({ env: {}, ollama: { answered: true, models: ['llama3.2'] }, userEndpoints: 2 });
    assert.strictEqual(c.source, 'user-settings');
    assert.deepStrictEqual(c.models, []);
  });
});

describe('npm start: user settings', () => {
  const ours = { id: 'openai-127.0.0.1-5000', provider: 'openai', baseUrl: 'http://127.0.0.1:5000/v1', model: 'demo' };
  const baseline = { 'workbench.startupEditor': 'readme', 'telemetry.telemetryLevel': 'off' };

  it('reads VS Code settings with comments and trailing commas', () => {
    const text = '{\n  // a comment\n  "a": "http://x/y", /* block */ "b": [1, 2,],\n  "c": "/* not a comment */",\n  "d": "quote \\" // still a string",\n}\n';
    assert.deepStrictEqual(parseJsonc(text), { a: 'http://x/y', b: [1, 2], c: '/* not a comment */', d: 'quote " // still a string' });
    assert.deepStrictEqual(parseJsonc('  \n'), {});
    assert.throws(() => parseJsonc('{ "a": }'));
  });

  it('adds the baseline where the user has no value, and keeps the user\'s values', () => {
    const { settings } = updateUserSettings({ 'workbench.startupEditor': 'none', 'editor.fontSize': 16 }, { baseline, models: [] });
    assert.deepStrictEqual(settings, { 'workbench.startupEditor': 'none', 'editor.fontSize': 16, 'telemetry.telemetryLevel': 'off' });
  });

  it('writes the endpoint of this start and removes it again on a start without one', () => {
    const first = updateUserSettings({}, { baseline, models: [ours] }).settings;
    assert.deepStrictEqual(first['batchPrompt.models'], [ours]);
    const second = updateUserSettings(first, { baseline, models: [], previous: [ours] });
    assert.ok(!('batchPrompt.models' in second.settings));
    assert.strictEqual(second.userEndpoints, 0);
    const other = { ...ours, id: 'openai-127.0.0.1-6000', baseUrl: 'http://127.0.0.1:6000/v1' };
    assert.deepStrictEqual(updateUserSettings(first, { baseline, models: [other], previous: [ours] }).settings['batchPrompt.models'], [other]);
  });

  it("keeps endpoints the user added or edited, and replaces the user's entry with the same id as this start's", () => {
    const mine = { id: 'work', provider: 'anthropic', model: 'claude' };
    const editedOurs = { ...ours, model: 'renamed-by-user' };
    const current = { 'batchPrompt.models': [editedOurs, mine] };
    const off = updateUserSettings(current, { baseline: {}, models: [], previous: [ours] });
    assert.deepStrictEqual(off.settings['batchPrompt.models'], [editedOurs, mine]);
    assert.strictEqual(off.userEndpoints, 2);
    const on = updateUserSettings(current, { baseline: {}, models: [ours], previous: [ours] });
    assert.deepStrictEqual(on.settings['batchPrompt.models'], [ours, mine]);
    assert.strictEqual(on.userEndpoints, 1);
  });
});

describe('npm start: the try-out workspace', () => {
  it('copies missing files and sample updates, and keeps files the user changed in the copy', () => {
    const sample = { 'a.ts': 'A2', 'b.py': 'B1', 'c.go': 'C2', 'd.md': 'D1', 'new.md': 'N1' };
    const copy = { 'a.ts': 'A1', 'b.py': 'B1', 'c.go': 'Cuser', 'd.md': undefined, 'new.md': undefined };
    const recorded = { 'a.ts': 'A1', 'b.py': 'B1', 'c.go': 'C1', 'd.md': 'D1' };
    const plan = planWorkspaceSync(sample, copy, recorded);
    assert.deepStrictEqual(plan.copy, ['a.ts', 'd.md', 'new.md']);
    assert.deepStrictEqual(plan.kept, ['c.go']);
    assert.deepStrictEqual(plan.recorded, { 'a.ts': 'A2', 'b.py': 'B1', 'c.go': 'C1', 'd.md': 'D1', 'new.md': 'N1' });
    // Once the user's copy matches the sample again, it is tracked again.
    assert.deepStrictEqual(planWorkspaceSync({ 'c.go': 'C2' }, { 'c.go': 'C2' }, plan.recorded).recorded, { 'c.go': 'C2' });
  });

  it('ships a sample in several languages with a prompt file in Copilot\'s format', () => {
    const sample = path.join(root, 'sample');
    for (const f of ['src/pricing.ts', 'scripts/report.py', 'server/health.go', 'docs/architecture.md', 'README.md']) {
      assert.ok(fs.existsSync(path.join(sample, f)), f);
    }
    const explain = parsePromptFile(fs.readFileSync(path.join(sample, '.github/prompts/explain.prompt.md'), 'utf8'));
    assert.strictEqual(explain.description, 'Explain a file');
    assert.ok(explain.body.length > 40);
    assert.ok(!fs.existsSync(path.join(sample, LARGE_FILE_PATH)), 'the large file is generated at start, not committed');
  });

  it('generates the same large file every time, large enough for several chunks of 8,192 tokens', () => {
    const a = generateLargeFile();
    assert.strictEqual(a.path, LARGE_FILE_PATH);
    assert.strictEqual(generateLargeFile().text, a.text);
    assert.ok(a.text.length > 100_000 && a.text.length < 160_000, `${a.text.length} characters`);
    const chunks = chunkFile({ path: a.path, text: a.text }, 0, getTokenizer('o200k_base'), DEFAULT_CHUNK_OPTIONS);
    assert.ok(chunks.length >= 3 && chunks.length <= 8, `${chunks.length} chunks`);
  });
});

/** A zip's central directory and end record (all vsixContentId reads), with the given entries. */
function zipDirectory(entries: { name: string; crc: number; size: number; time: number }[]): Buffer {
  const records = entries.map((e) => {
    const name = Buffer.from(e.name);
    const r = Buffer.alloc(46);
    r.writeUInt32LE(0x02014b50, 0);
    r.writeUInt16LE(e.time, 12);
    r.writeUInt32LE(e.crc, 16);
    r.writeUInt32LE(e.size, 20);
    r.writeUInt32LE(e.size, 24);
    r.writeUInt16LE(name.length, 28);
    return Buffer.concat([r, name]);
  });
  const dir = Buffer.concat(records);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(16, 16);
  return Buffer.concat([Buffer.alloc(16), dir, end]);
}

describe('npm start: reinstalling the .vsix', () => {
  it('sees two packages of the same files as the same, whatever their timestamps', () => {
    const files = [
      { name: 'extension/package.json', crc: 0x1234abcd, size: 900 },
      { name: 'extension/dist/extension.js', crc: 0xdeadbeef, size: 4000 },
    ];
    const a = vsixContentId(zipDirectory(files.map((f) => ({ ...f, time: 1 }))));
    const b = vsixContentId(zipDirectory([...files].reverse().map((f) => ({ ...f, time: 999 }))));
    assert.strictEqual(a, b);
    const changed = vsixContentId(zipDirectory([{ ...files[0], time: 1 }, { ...files[1], crc: 0xdeadbeee, time: 1 }]));
    assert.notStrictEqual(changed, a);
    assert.throws(() => vsixContentId(Buffer.from('not a zip at all, just some text')), /not a zip/);
  });
});

describe('npm start: the sample copy (shared with the sample README scenario)', () => {
  it('copies every file of sample/, prompt files included, and the generated module, into an emptied folder', () => {
    const target = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-sample-copy-'));
    try {
      fs.mkdirSync(path.join(target, '.batch-prompt', 'runs'), { recursive: true });
      fs.writeFileSync(path.join(target, 'stale.txt'), 'from an earlier copy');
      const written = copySampleWorkspace(path.join(root, 'sample'), target);
      assert.ok(written.includes('.github/prompts/find-bugs.prompt.md') && written.includes('src/pricing.ts'), written.join(', '));
      assert.ok(written.includes(LARGE_FILE_PATH));
      assert.strictEqual(fs.readFileSync(path.join(target, LARGE_FILE_PATH), 'utf8'), generateLargeFile().text);
      assert.strictEqual(fs.readFileSync(path.join(target, 'src/pricing.ts'), 'utf8'), fs.readFileSync(path.join(root, 'sample/src/pricing.ts'), 'utf8'));
      assert.ok(!fs.existsSync(path.join(target, 'stale.txt')) && !fs.existsSync(path.join(target, '.batch-prompt')), 'nothing of an earlier copy is left');
    } finally {
      fs.rmSync(target, { recursive: true, force: true });
    }
  });

  it("the sample model's endpoint: an OpenAI-compatible loopback URL that needs no key", () => {
    const e = sampleEndpoint('http://127.0.0.1:4321/v1');
    assert.deepStrictEqual(e, { id: 'sample-model', provider: 'openai', baseUrl: 'http://127.0.0.1:4321/v1', model: SAMPLE_MODEL });
    assert.strictEqual(needsApiKey(e), false);
  });
});
