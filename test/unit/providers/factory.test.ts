import * as assert from 'assert';
import { ConfigError } from '../../../src/core/execute/errors';
import { AnthropicModel } from '../../../src/providers/anthropic';
import type { EndpointConfig } from '../../../src/providers/endpoint';
import { createModel, defaultBaseUrl, isLoopbackUrl, needsApiKey } from '../../../src/providers/factory';
import { OllamaModel } from '../../../src/providers/ollama';
import { OpenAICompatibleModel } from '../../../src/providers/openaiCompatible';
import { AnthropicServer } from '../../support/anthropicServer';
import { ModelServer } from '../../support/modelServer';
import { OllamaServer } from '../../support/ollamaServer';

const KEY = 'sk-factory-SECRET-0011223344';
const cfg = (c: Partial<EndpointConfig> & Pick<EndpointConfig, 'provider'>): EndpointConfig => ({ id: `ep-${c.provider}`, model: 'm', ...c });

describe('provider factory', () => {
  it('defaultBaseUrl per provider (Azure has none)', () => {
    assert.strictEqual(defaultBaseUrl('openai'), 'https://api.openai.com/v1');
    assert.strictEqual(defaultBaseUrl('anthropic'), 'https://api.anthropic.com');
    assert.strictEqual(defaultBaseUrl('ollama'), 'http://127.0.0.1:11434');
    assert.strictEqual(defaultBaseUrl('azure'), undefined);
  });

  it('needsApiKey: openai, azure and anthropic do, except openai on loopback; ollama never', () => {
    assert.strictEqual(needsApiKey(cfg({ provider: 'openai' })), true);
    assert.strictEqual(needsApiKey(cfg({ provider: 'openai', baseUrl: 'https://openrouter.ai/api/v1' })), true);
    for (const url of ['http://localhost:1234/v1', 'http://127.0.0.1:8000/v1', 'http://127.3.2.1/v1', 'http://[::1]:8080/v1', 'http://llm.localhost/v1']) {
      assert.strictEqual(needsApiKey(cfg({ provider: 'openai', baseUrl: url })), false, url);
    }
    assert.strictEqual(needsApiKey(cfg({ provider: 'openai', baseUrl: 'http://localhost.example.com/v1' })), true);
    assert.strictEqual(needsApiKey(cfg({ provider: 'openai', baseUrl: 'http://10.0.0.5:1234/v1' })), true);
    assert.strictEqual(needsApiKey(cfg({ provider: 'azure', baseUrl: 'http://127.0.0.1:1' })), true);
    assert.strictEqual(needsApiKey(cfg({ provider: 'anthropic', baseUrl: 'http://127.0.0.1:1' })), true);
    assert.strictEqual(needsApiKey(cfg({ provider: 'ollama', baseUrl: 'https://ollama.example.com' })), false);
    assert.strictEqual(isLoopbackUrl('not a url'), false);
  });

  it('createModel builds each provider with the endpoint id, window and output limit', () => {
    const o = createModel(cfg({ provider: 'openai', contextWindow: 8000, maxOutputTokens: 500 }), KEY);
    assert.ok(o instanceof OpenAICompatibleModel);
    assert.strictEqual(o.id, 'ep-openai');
    assert.strictEqual(o.contextWindow, 8000);
    assert.strictEqual(o.maxOutputTokens, 500);
    assert.ok(createModel(cfg({ provider: 'azure', baseUrl: 'https://r.openai.azure.com' }), KEY) instanceof OpenAICompatibleModel);
    assert.ok(createModel(cfg({ provider: 'anthropic' }), KEY) instanceof AnthropicModel);
    assert.ok(createModel(cfg({ provider: 'ollama' }), undefined) instanceof OllamaModel);
    assert.ok(createModel(cfg({ provider: 'openai', baseUrl: 'http://localhost:1234/v1' }), undefined) instanceof OpenAICompatibleModel);
  });

  it('refuses, with a fatal config error and before any request, a missing key, an Azure endpoint without URL, an unknown provider', () => {
    for (const c of [cfg({ provider: 'openai' }), cfg({ provider: 'anthropic' }), cfg({ provider: 'azure', baseUrl: 'https://r.openai.azure.com' })]) {
      assert.throws(() => createModel(c, undefined), (e: unknown) => ConfigError.is(e) && e.fatal && /needs an API key/.test(e.message));
      assert.throws(() => createModel(c, ''), ConfigError);
    }
    assert.throws(() => createModel(cfg({ provider: 'azure' }), KEY), (e: unknown) => ConfigError.is(e) && /resource URL/.test(e.message) && !e.message.includes(KEY));
    assert.throws(() => createModel({ id: 'x', model: 'm', provider: 'bedrock' as never }, KEY), (e: unknown) => ConfigError.is(e) && /Unknown provider "bedrock"/.test(e.message));
  });

  describe('the built models talk to their servers', () => {
    const openai = new ModelServer();
    const anthropic = new AnthropicServer();
    const ollama = new OllamaServer();
    const urls: Record<string, string> = {};
    before(async () => {
      urls.openai = await openai.start();
      urls.anthropic = await anthropic.start();
      urls.ollama = await ollama.start();
    });
    after(async () => {
      await openai.stop();
      await anthropic.stop();
      await ollama.stop();
    });
    const messages = [
      { role: 'system' as const, content: 'p' },
      { role: 'user' as const, content: '<chunk id="1.1" path="a" lines="1-1">\nx\n</chunk>' },
    ];

    it('openai, azure, anthropic and ollama each answer the protocol, passing headers and the token counter through', async () => {
      const counted: string[] = [];
      const models = [
        createModel(cfg({ provider: 'openai', baseUrl: urls.openai, headers: { 'x-team': 't' } }), KEY),
        createModel(cfg({ provider: 'azure', baseUrl: urls.openai.replace(/\/v1$/, ''), apiVersion: '2024-06-01' }), KEY),
        createModel(cfg({ provider: 'anthropic', baseUrl: urls.anthropic }), KEY),
        createModel(cfg({ provider: 'ollama', baseUrl: urls.ollama, model: 'llama3.2' }), undefined, { tokenCounter: (t) => (counted.push(t), Math.ceil(t.length / 4)) }),
      ];
      for (const m of models) {
        const res = await m.complete({ messages }, { signal: new AbortController().signal });
        assert.match(res.text, /<result id="1\.1">\nOUT\[1\.1\]\nX\n<\/result>/, m.id);
      }
      assert.strictEqual(openai.requests[0].headers['x-team'], 't');
      assert.strictEqual(openai.requests[1].url, '/openai/deployments/m/chat/completions?api-version=2024-06-01');
      assert.strictEqual(anthropic.requests[0].headers['x-api-key'], KEY);
      assert.ok(counted.length > 0, 'the Ollama model counted with the given counter');
    });
  });
});
