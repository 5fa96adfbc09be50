import * as assert from 'assert';
import { parseCli } from '../../../src/cli/options';
import { configuredEndpoints, describeRecorded, endpointOptionFor, matchRecorded, shown } from '../../../src/cli/trust';

/** The endpoints `resume ARGS DIR` configures, with `env`. */
const configured = (args: string[], env: NodeJS.ProcessEnv = {}) => configuredEndpoints(parseCli(['resume', ...args, 'dir'], env), env, process.cwd());

describe('CLI: which configured endpoint a run folder\'s recorded one stands for', () => {
  it('without --endpoint or --config, the providers\' default URLs with their default key variables', async () => {
    const c = await configured([]);
    const match = (recorded: Parameters<typeof matchRecorded>[0]) => matchRecorded(recorded, c);
    assert.strictEqual(match({ id: 'x', provider: 'openai', model: 'gpt', baseUrl: 'https://api.openai.com/v1' })?.baseUrl, 'https://api.openai.com/v1');
    assert.strictEqual(match({ id: 'x', provider: 'openai', model: 'gpt', baseUrl: 'https://API.openai.com/other', apiKeyEnv: 'OPENAI_API_KEY' })?.apiKeyEnv, undefined, 'same origin, the default variable spelled out');
    assert.strictEqual(match({ id: 'x', provider: 'anthropic', model: 'c' })?.baseUrl, 'https://api.anthropic.com', 'no URL recorded: the provider default');
    assert.ok(match({ id: 'x', provider: 'ollama', model: 'l', baseUrl: 'http://127.0.0.1:11434' }));
    // Refused: another variable, another origin (even loopback), another provider at that origin, no usable URL.
    assert.strictEqual(match({ id: 'x', provider: 'openai', model: 'gpt', baseUrl: 'https://api.openai.com/v1', apiKeyEnv: 'AWS_SECRET_ACCESS_KEY' }), undefined);
    assert.strictEqual(match({ id: 'x', provider: 'openai', model: 'gpt', baseUrl: 'https://evil.example:8443/v1' }), undefined);
    assert.strictEqual(match({ id: 'x', provider: 'openai', model: 'gpt', baseUrl: 'http://127.0.0.1:8080/v1' }), undefined);
    assert.strictEqual(match({ id: 'x', provider: 'ollama', model: 'l', baseUrl: 'http://127.0.0.1:9999' }), undefined);
    assert.strictEqual(match({ id: 'x', provider: 'anthropic', model: 'c', baseUrl: 'https://api.openai.com' }), undefined);
    assert.strictEqual(match({ id: 'x', provider: 'azure', model: 'd', baseUrl: 'https://r.openai.azure.com' }), undefined, 'azure has no default URL');
    assert.strictEqual(match({ id: 'x', provider: 'openai', model: 'gpt', baseUrl: 'file:///etc/passwd' }), undefined);
  });

  it('the environment\'s default URLs, and --provider/--base-url, are configured; --endpoint or --config alone replace them all', async () => {
    const env = { OPENAI_BASE_URL: 'http://127.0.0.1:8080/v1', AZURE_OPENAI_ENDPOINT: 'https://r.openai.azure.com' };
    const fromEnv = await configured([], env);
    assert.ok(matchRecorded({ id: 'x', provider: 'openai', model: 'm', baseUrl: 'http://127.0.0.1:8080/v1' }, fromEnv));
    assert.strictEqual(matchRecorded({ id: 'x', provider: 'openai', model: 'm', baseUrl: 'https://api.openai.com/v1' }, fromEnv), undefined, '$OPENAI_BASE_URL is the openai default');
    assert.strictEqual(matchRecorded({ id: 'x', provider: 'azure', model: 'd', baseUrl: 'https://r.openai.azure.com/' }, fromEnv)?.baseUrl, 'https://r.openai.azure.com');
    const named = await configured(['--provider', 'anthropic', '--base-url', 'https://gw.example/anthropic']);
    assert.ok(matchRecorded({ id: 'x', provider: 'anthropic', model: 'c', baseUrl: 'https://gw.example/v1' }, named));
    assert.ok(matchRecorded({ id: 'x', provider: 'openai', model: 'm', baseUrl: 'https://api.openai.com/v1' }, named), 'the defaults stay configured');
    const spec = await configured(['--endpoint', 'openai:m@https://gw.example/v1,key-env=GW_KEY']);
    assert.strictEqual(matchRecorded({ id: 'x', provider: 'openai', model: 'm', baseUrl: 'https://api.openai.com/v1' }, spec), undefined, 'only what --endpoint names');
    assert.strictEqual(matchRecorded({ id: 'x', provider: 'openai', model: 'm', baseUrl: 'https://gw.example/v1' }, spec), undefined, 'another key variable');
    assert.strictEqual(matchRecorded({ id: 'x', provider: 'openai', model: 'm', baseUrl: 'https://gw.example/v2', apiKeyEnv: 'GW_KEY' }, spec)?.baseUrl, 'https://gw.example/v1', 'the configured URL is used');
  });

  it('messages name a recorded endpoint without its credentials or control characters, and the --endpoint that would allow it', () => {
    const recorded = { id: 'evil\u001b[2J', provider: 'openai', model: 'gpt', baseUrl: 'https://user:pa55@evil.example:8443/v1?key=abc#x', apiKeyEnv: 'STOLEN' };
    const text = `${describeRecorded(recorded)} ${endpointOptionFor(recorded)!}`;
    assert.strictEqual(text, '"evil?[2J" at https://evil.example:8443 (openai, key from $STOLEN) --endpoint openai:gpt@https://evil.example:8443/v1,key-env=STOLEN');
    assert.strictEqual(endpointOptionFor({ id: 'x', provider: 'openai', model: 'm', apiKeyEnv: 'not a var\nX' }), '--endpoint openai:m@https://api.openai.com/v1', 'a variable name that is none is not repeated');
    assert.strictEqual(endpointOptionFor({ id: 'x', provider: 'openai', model: 'm', baseUrl: 'ftp://x' }), undefined);
    assert.strictEqual(shown('a\nb\u009bc'), 'a?b?c');
  });
});
