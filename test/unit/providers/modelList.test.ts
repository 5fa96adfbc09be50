import * as assert from 'assert';
import * as http from 'http';
import type { AddressInfo } from 'net';
import { endpointIdOf, fetchModelList, modelListRequest, parseModelList } from '../../../src/providers/modelList';
import { modelIdProblem, normalizeModels } from '../../../src/vscode/base/settingsSchema';

describe('a server\'s list of models (Add Model…)', () => {
  it('asks each provider at its own address, with the key in its own header only when given', () => {
    assert.deepStrictEqual(modelListRequest('openai', 'http://127.0.0.1:1234/v1/'), { url: 'http://127.0.0.1:1234/v1/models', headers: {} });
    assert.deepStrictEqual(modelListRequest('openai', 'https://api.openai.com/v1', 'sk-test-key'), { url: 'https://api.openai.com/v1/models', headers: { authorization: 'Bearer sk-test-key' } });
    assert.deepStrictEqual(modelListRequest('ollama', 'http://127.0.0.1:11434'), { url: 'http://127.0.0.1:11434/api/tags', headers: {} });
    assert.deepStrictEqual(modelListRequest('anthropic', 'https://api.anthropic.com', 'sk-ant-key'), { url: 'https://api.anthropic.com/v1/models?limit=1000', headers: { 'anthropic-version': '2023-06-01', 'x-api-key': 'sk-ant-key' } });
    assert.strictEqual(modelListRequest('azure', 'https://x.openai.azure.com'), undefined);
  });

  it('reads the three shapes, sorted, without repeats, skipping entries that are not models', () => {
    assert.deepStrictEqual(parseModelList('openai', { object: 'list', data: [{ id: 'gpt-4o', object: 'model' }, { id: 'a-model' }, { id: 'gpt-4o' }, { id: 5 }, null, 'x'] }), [{ id: 'a-model' }, { id: 'gpt-4o' }]);
    assert.deepStrictEqual(parseModelList('ollama', { models: [{ name: 'llama3.2:latest', model: 'llama3.2:latest' }, { model: 'qwen2.5:7b' }] }), [{ id: 'llama3.2:latest' }, { id: 'qwen2.5:7b' }]);
    assert.deepStrictEqual(parseModelList('anthropic', { data: [{ type: 'model', id: 'claude-sonnet-4-5', display_name: 'Claude Sonnet 4.5' }], has_more: false }), [{ id: 'claude-sonnet-4-5', label: 'Claude Sonnet 4.5' }]);
    assert.deepStrictEqual(parseModelList('openai', { error: 'nope' }), []);
    assert.deepStrictEqual(parseModelList('ollama', undefined), []);
  });

  it('fetches the list and says what went wrong (status) without the key', async () => {
    let status = 200;
    const server = http.createServer((req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.url === '/v1/models' ? { data: [{ id: 'm1' }, { id: 'm0' }] } : {}));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    try {
      assert.deepStrictEqual(await fetchModelList('openai', base), [{ id: 'm0' }, { id: 'm1' }]);
      status = 401;
      await assert.rejects(fetchModelList('openai', base, 'sk-secret-123456'), (e: Error) => /HTTP 401 \(the key is missing or refused\)/.test(e.message) && !e.message.includes('sk-secret'));
    } finally {
      server.close();
    }
  });

  it('makes an entry id of a model name that batchPrompt.models accepts and that is not taken', () => {
    assert.strictEqual(endpointIdOf('llama3.2:latest'), 'llama3.2-latest');
    assert.strictEqual(endpointIdOf('ui-test-model', ['ui-test-model']), 'ui-test-model-2');
    assert.strictEqual(modelIdProblem(endpointIdOf('org/Model Name (8B)')), undefined);
  });
});

describe('invalid batchPrompt.models entries name the entry and the real problem', () => {
  it('a missing id says "missing id", naming the entry by provider and model', () => {
    const problems: string[] = [];
    const models = normalizeModels([{ provider: 'openai', model: 'gpt-4o' }, { id: 'ok', provider: 'ollama', model: 'x' }, { id: 'bad id', provider: 'ollama', model: 'y' }, { id: 3, provider: 'ollama', model: 'z' }, 'str'], problems);
    assert.deepStrictEqual(models.map((m) => m.id), ['ok']);
    assert.match(problems[0], /^batchPrompt\.models\[0\] \(openai · gpt-4o\): missing id/);
    assert.match(problems[1], /^batchPrompt\.models\[2\] \(ollama · y\): the id "bad id" may hold only letters/);
    assert.match(problems[2], /^batchPrompt\.models\[3\] \(ollama · z\): "id" must be a string, not a number/);
    assert.match(problems[3], /^batchPrompt\.models\[4\]: not an object/);
  });
});
