import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as path from 'path';
import { parseEndpointSpec, resolveEndpoints } from '../../../src/cli/endpoints';
import { parseCli, UsageError } from '../../../src/cli/options';
import { readRecords, type RunMeta, type RunSummary } from '../../../src/core/store/runStore';
import { runCli as cli } from '../../support/cli';
import { BAD_KEY, failingAfter, SERVER_ERROR, slow } from '../../support/endpointScripts';
import { AnthropicServer } from '../../support/anthropicServer';
import { ModelServer } from '../../support/modelServer';
import { forgetLastRecords, readTree } from '../../support/runFolder';
import { useWorkspace } from '../../support/tempWorkspace';

const KEY_A = 'sk-endpoint-A-SECRET-1111111111';
const KEY_B = 'sk-endpoint-B-SECRET-2222222222';

describe('batch-prompt CLI: several endpoints', function () {
  this.timeout(90_000);
  const a = new ModelServer();
  const b = new ModelServer();
  let urlA = '';
  let urlB = '';
  let ws = '';
  before(async () => {
    urlA = await a.start();
    urlB = await b.start();
  });
  after(async () => {
    await a.stop();
    await b.stop();
  });
  beforeEach(() => {
    a.reset();
    b.reset();
  });
  useWorkspace('bp-cli-endpoints-', Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`src/f${i}.ts`, `export const v${i} = ${i};\n`])), (dir) => (ws = dir));

  it('runs on repeated --endpoint options, each with its own key variable and limits; records and prints per endpoint', async () => {
    a.script = slow(20);
    b.script = failingAfter(2, BAD_KEY, 20);
    const r = await cli(
      [
        'run', '--prompt', 'Upper-case it.', '--chunks-per-batch', '1', '--out', 'o',
        '--endpoint', `openai:m@${urlA},id=a,concurrency=2,key-env=KEY_A`,
        '--endpoint', `openai:m@${urlB},id=b,concurrency=3,rpm=1000,key-env=KEY_B`,
        'src',
      ],
      ws,
      { KEY_A, KEY_B },
    );
    assert.strictEqual(r.code, 0, r.stderr);
    assert.ok(a.requests.every((q) => q.headers.authorization === `Bearer ${KEY_A}`), 'a gets its own key');
    assert.ok(b.requests.every((q) => q.headers.authorization === `Bearer ${KEY_B}`), 'b gets its own key');
    assert.ok(a.peakInFlight <= 2 && b.peakInFlight <= 3);
    assert.match(r.stderr, /endpoint b dropped for the rest of the run \(auth: .*refused the API key.* \(the key came from \$KEY_B\)\); 1 left: a\n/);
    assert.match(r.stdout, /^ {2}a: \d+ requests, 0 failed/m);
    assert.match(r.stdout, /^ {2}b: \d+ requests, \d+ failed, .*dropped \(auth:/m);
    const dir = path.join(ws, 'o');
    const meta = JSON.parse(await fs.readFile(path.join(dir, 'run.json'), 'utf8')) as RunMeta;
    assert.deepStrictEqual(meta.endpoints!.map((e) => [e.id, e.baseUrl, e.apiKeyEnv, e.maxConcurrency, e.requestsPerMinute]), [['a', urlA, 'KEY_A', 2, undefined], ['b', urlB, 'KEY_B', 3, 1000]]);
    const summary = JSON.parse(await fs.readFile(path.join(dir, 'summary.json'), 'utf8')) as RunSummary;
    assert.deepStrictEqual(summary.endpoints!.map((e) => [e.id, e.requests]), [['a', a.requests.length], ['b', b.requests.length]]);
    const records = await readRecords(dir);
    assert.strictEqual(records.length, 16);
    assert.ok(records.every((x) => x.status === 'succeeded' && (x.endpoint === 'a' || x.endpoint === 'b')));
    for (const text of [r.stdout, r.stderr, JSON.stringify(meta), JSON.stringify(summary)]) {
      assert.ok(!text.includes(KEY_A) && !text.includes(KEY_B), 'no key anywhere');
    }
  });

  it('takes endpoints from --config (keys from each apiKeyEnv) and resumes on all of them', async () => {
    a.script = slow(10);
    b.script = slow(10);
    await fs.writeFile(
      path.join(ws, 'endpoints.json'),
      JSON.stringify({ endpoints: [{ id: 'one', provider: 'openai', model: 'm', baseUrl: urlA, apiKeyEnv: 'KEY_A', maxConcurrency: 1 }, { id: 'two', provider: 'openai', model: 'm', baseUrl: urlB, apiKeyEnv: 'KEY_B' }] }),
    );
    // A local OpenAI-compatible server needs no key; Anthropic does: refused before any request.
    await fs.writeFile(path.join(ws, 'missing.json'), JSON.stringify([{ id: 'one', provider: 'openai', model: 'm', baseUrl: urlA }, { id: 'two', provider: 'anthropic', model: 'c', baseUrl: urlB, apiKeyEnv: 'KEY_C' }]));
    const missing = await cli(['run', '--prompt', 'P', '--config', 'missing.json', '--out', 'm', 'src'], ws, { KEY_A });
    assert.strictEqual(missing.code, 1);
    assert.match(missing.stderr, /set KEY_C in the environment: the anthropic endpoint "two"/);
    assert.strictEqual(a.requests.length + b.requests.length, 0, 'no request without every key');

    const r = await cli(['run', '--prompt', 'P', '--config', 'endpoints.json', '--chunks-per-batch', '1', '--out', 'o', 'src'], ws, { KEY_A, KEY_B });
    assert.strictEqual(r.code, 0, r.stderr);
    assert.ok(a.requests.length > 0 && b.requests.length > 0, 'both served');
    const dropped = await forgetLastRecords(path.join(ws, 'o'), 4);
    a.reset();
    b.reset();
    a.script = slow(30);
    b.script = slow(30);
    // The run's endpoints are named again: --config FILE (run.json never chooses where a key goes).
    const resumed = await cli(['resume', '--no-cache', '--config', 'endpoints.json', 'o'], ws, { KEY_A, KEY_B });
    assert.strictEqual(resumed.code, 0, resumed.stderr);
    assert.deepStrictEqual([...a.sentChunkIds(), ...b.sentChunkIds()].sort(), [...dropped].sort(), 'only the unfinished chunks are sent');
    assert.ok(a.peakInFlight <= 1, 'the recorded concurrency of "one" holds');
    assert.ok(a.requests.every((q) => q.headers.authorization === `Bearer ${KEY_A}`) && b.requests.every((q) => q.headers.authorization === `Bearer ${KEY_B}`));
  });

  it('resumes without an endpoint whose key is gone, on the ones that can be rebuilt', async () => {
    const anthropic = new AnthropicServer();
    const urlC = await anthropic.start();
    try {
      a.script = slow(10);
      await fs.writeFile(path.join(ws, 'endpoints.json'), JSON.stringify([{ id: 'local', provider: 'openai', model: 'm', baseUrl: urlA }, { id: 'claude', provider: 'anthropic', model: 'c', baseUrl: urlC, apiKeyEnv: 'KEY_C' }]));
      const r = await cli(['run', '--prompt', 'P', '--config', 'endpoints.json', '--chunks-per-batch', '1', '--no-cache', '--out', 'o', 'src'], ws, { KEY_C: 'sk-ant-C-SECRET-333333' });
      assert.strictEqual(r.code, 0, r.stderr);
      assert.ok(anthropic.requests.length > 0, 'both served the run');
      const lost = await forgetLastRecords(path.join(ws, 'o'), 5);
      a.reset();
      anthropic.reset();
      const resumed = await cli(['resume', '--no-cache', '--config', 'endpoints.json', 'o'], ws, {});
      assert.strictEqual(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stderr, /set KEY_C in the environment[\s\S]*resuming without the endpoint claude/);
      assert.deepStrictEqual(a.sentChunkIds().sort(), [...lost].sort(), 'the local endpoint took every unfinished chunk');
      assert.strictEqual(anthropic.requests.length, 0);
    } finally {
      await anthropic.stop();
    }
  });

  it('sends the "headers" of --config entries (the provider\'s auth header wins), never prints or records their values; a resume needs the file again', async () => {
    const TOKEN = 'gw-TOKEN-SECRET-4444444444';
    const CUSTOM_AUTH = 'Bearer custom-AUTH-SECRET-5555555555';
    const headers = { 'X-Gateway-Token': TOKEN, 'X-Team': 'blue', authorization: CUSTOM_AUTH };
    await fs.writeFile(path.join(ws, 'endpoints.json'), JSON.stringify({ endpoints: [{ id: 'gw', provider: 'openai', model: 'm', baseUrl: urlA, apiKeyEnv: 'KEY_A', maxConcurrency: 1, headers }, { id: 'plain', provider: 'openai', model: 'm', baseUrl: urlB, apiKeyEnv: 'KEY_B' }] }));
    // The gateway refuses after two requests, quoting the token it was sent: gw leaves the run.
    a.script = (q) => (q.n > 2 ? { kind: 'status', status: 401, body: { error: { message: `gateway token ${String(q.headers['x-gateway-token'])} expired`, code: 'invalid_api_key' } } } : { kind: 'ok', delayMs: 10 });
    b.script = slow(10);
    const r = await cli(['run', '--prompt', 'P', '--config', 'endpoints.json', '--chunks-per-batch', '1', '--no-cache', '--out', 'o', 'src'], ws, { KEY_A, KEY_B });
    assert.strictEqual(r.code, 0, r.stderr);
    assert.ok(a.requests.length > 2);
    for (const q of a.requests) assert.deepStrictEqual([q.headers['x-gateway-token'], q.headers['x-team'], q.headers.authorization], [TOKEN, 'blue', `Bearer ${KEY_A}`]);
    assert.ok(b.requests.every((q) => q.headers['x-gateway-token'] === undefined), 'headers go to their own endpoint only');
    assert.match(r.stderr, /endpoint gw dropped for the rest of the run \(auth: .*gateway token \*\*\* expired/);
    const dir = path.join(ws, 'o');
    const meta = JSON.parse(await fs.readFile(path.join(dir, 'run.json'), 'utf8')) as RunMeta;
    assert.deepStrictEqual(meta.endpoints!.map((e) => e.headerNames), [['X-Gateway-Token', 'X-Team', 'authorization'], undefined], 'names only');
    for (const secret of [TOKEN, CUSTOM_AUTH.slice(7), 'blue']) {
      for (const f of await readTree(dir)) assert.ok(!f.text.includes(secret), `${f.file} holds a header value`);
      assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), 'a header value is printed');
    }

    // Named without the file, gw cannot get its headers back: the resume goes on without it and says how.
    const lost = await forgetLastRecords(dir, 4);
    a.reset();
    b.reset();
    a.script = slow(10);
    const bare = await cli(['resume', '--no-cache', '--endpoint', `openai:m@${urlA},id=gw,key-env=KEY_A`, '--endpoint', `openai:m@${urlB},key-env=KEY_B`, 'o'], ws, { KEY_A, KEY_B });
    assert.strictEqual(bare.code, 0, bare.stderr);
    assert.match(bare.stderr, /the endpoint gw was run with the headers X-Gateway-Token, X-Team, authorization from its config file.*resume with --config FILE[\s\S]*resuming without the endpoint gw/);
    assert.strictEqual(a.requests.length, 0);
    assert.deepStrictEqual(b.sentChunkIds().sort(), [...lost].sort());
    // With it, gw is rebuilt with its headers.
    const again = await forgetLastRecords(dir, 6);
    b.reset();
    b.script = slow(40);
    const full = await cli(['resume', '--no-cache', '--config', 'endpoints.json', 'o'], ws, { KEY_A, KEY_B });
    assert.strictEqual(full.code, 0, full.stderr);
    assert.ok(a.requests.length > 0, 'gw served the resume');
    for (const q of a.requests) assert.deepStrictEqual([q.headers['x-gateway-token'], q.headers.authorization], [TOKEN, `Bearer ${KEY_A}`]);
    assert.deepStrictEqual([...a.sentChunkIds(), ...b.sentChunkIds()].sort(), [...again].sort());
  });

  it('refuses bad "headers" in --config naming the header, never quoting a value or the file', async () => {
    const TOKEN = 'gw-TOKEN-SECRET-6666666666';
    const refused = async (text: string, pattern: RegExp) => {
      await fs.writeFile(path.join(ws, 'bad.json'), text);
      const e = await resolveEndpoints([], 'bad.json', ws).then(() => undefined, (x: Error) => x);
      assert.ok(e instanceof UsageError, `refused: ${text}`);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes(TOKEN) && !e.message.includes('6666'), e.message);
    };
    const entry = (headers: unknown) => JSON.stringify([{ id: 'x', provider: 'openai', model: 'm', baseUrl: urlA, headers }]);
    await refused(`{"endpoints": [{"id": "x", "headers": {"Authorization": Bearer ${TOKEN}}}]}`, /bad\.json is not valid JSON/);
    await refused(entry({ 'X-Token': [TOKEN] }), /the value of header "X-Token" must be a string/);
    await refused(entry({ 'X-Token': `${TOKEN}\r\nX-Evil: 1` }), /the value of header "X-Token" must be a string on one line/);
    await refused(entry({ 'X Token': TOKEN }), /"X Token" is not an HTTP header name/);
    await refused(entry([TOKEN]), /"headers" must be an object/);
    await fs.writeFile(path.join(ws, 'ok.json'), entry({ 'X-Team': 'blue' }));
    assert.deepStrictEqual((await resolveEndpoints([], 'ok.json', ws))[0].headers, { 'X-Team': 'blue' });
  });

  it('a retry line counts retries, not attempts: "retry N" never passes --max-retries, and no chunk is sent more than it allows', async () => {
    // The reviewer's case: one endpoint failing with 500s until it is dropped. The first request goes to a
    // and fails, so a retry line is always printed; it used to say "retry 2" with --max-retries 1.
    a.script = () => SERVER_ERROR;
    b.script = slow(40);
    const maxRetries = 1;
    const r = await cli(
      ['run', '--prompt', 'P', '--chunks-per-batch', '1', '--no-cache', '--max-retries', String(maxRetries), '--out', 'o', '--endpoint', `openai:m@${urlA},id=a`, '--endpoint', `openai:m@${urlB},id=b`, 'src'],
      ws,
    );
    const lines = [...r.stderr.matchAll(/^(\S+): transient, retry (\d+) \(attempt (\d+)\) in /gm)];
    assert.ok(lines.length >= 1, `a retry line is printed:\n${r.stderr}`);
    for (const [line, , retry, attempt] of lines) {
      assert.ok(Number(retry) >= 1 && Number(retry) <= maxRetries, line);
      assert.strictEqual(Number(attempt), Number(retry) + 1, line);
    }
    const sends = new Map<string, number>();
    for (const id of [...a.sentChunkIds(), ...b.sentChunkIds()]) sends.set(id, (sends.get(id) ?? 0) + 1);
    for (const [id, n] of sends) assert.ok(n <= maxRetries + 1, `${id} sent ${n} times`);
    for (const rec of await readRecords(path.join(ws, 'o'))) assert.strictEqual(rec.attempts, sends.get(rec.chunkId), `${rec.chunkId}: recorded attempts are its sends`);
  });

  it('--drop-after-failures and --drop-after-wait set when an endpoint leaves the run, recorded for a resume', async () => {
    a.script = slow(30);
    b.script = () => SERVER_ERROR;
    const args = ['run', '--prompt', 'P', '--chunks-per-batch', '1', '--no-cache', '--endpoint', `openai:m@${urlA},id=a`, '--endpoint', `openai:m@${urlB},id=b,concurrency=1`];
    const r = await cli([...args, '--drop-after-failures', '1', '--drop-after-wait', '5', '--out', 'o', 'src'], ws);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /endpoint b dropped for the rest of the run \(transient: 1 failure in a row/);
    assert.strictEqual(b.requests.length, 1);
    const meta = JSON.parse(await fs.readFile(path.join(ws, 'o', 'run.json'), 'utf8')) as RunMeta;
    assert.deepStrictEqual([meta.parameters.dropAfterFailures, meta.parameters.dropAfterRetryAfterMs], [1, 5000]);
    assert.throws(() => parseCli(['run', '--prompt', 'p', '--drop-after-failures', '0', '--endpoint', 'openai:m', 'src'], {}), /--drop-after-failures must be a whole number of at least 1/);
    assert.throws(() => parseCli(['run', '--prompt', 'p', '--drop-after-wait', 'soon', '--endpoint', 'openai:m', 'src'], {}), /--drop-after-wait must be a whole number/);
  });

  it('parses endpoint specs and refuses mistakes with a clear message', async () => {
    assert.deepStrictEqual(parseEndpointSpec('ollama:llama3.1:8b,concurrency=2'), { id: 'http://127.0.0.1:11434#llama3.1:8b', provider: 'ollama', model: 'llama3.1:8b', baseUrl: 'http://127.0.0.1:11434', maxConcurrency: 2 });
    assert.deepStrictEqual(parseEndpointSpec('azure:dep@https://r.openai.azure.com,id=eu,api-version=2024-10-21,tpm=90000'), { id: 'eu', provider: 'azure', model: 'dep', baseUrl: 'https://r.openai.azure.com', apiVersion: '2024-10-21', tokensPerMinute: 90000 });
    assert.throws(() => parseEndpointSpec('gpt-4o'), UsageError);
    assert.throws(() => parseEndpointSpec('openai:m,speed=2'), /unknown setting "speed=2"/);
    assert.throws(() => parseEndpointSpec('openai:m,rpm=0'), /at least 1/);
    assert.throws(() => parseEndpointSpec('azure:dep'), /Azure needs its resource URL/);
    assert.throws(() => parseEndpointSpec('openai:m,key-env=not a var'), /environment variable/);
    assert.throws(() => parseCli(['run', '--prompt', 'p', '--model', 'x', '--endpoint', 'openai:m', 'src'], {}), /--model names one endpoint/);
    const two = await resolveEndpoints(['openai:m@http://127.0.0.1:1/v1,key-env=A', 'openai:m@http://127.0.0.1:1/v1,key-env=B'], undefined, ws);
    assert.deepStrictEqual(two.map((e) => e.id), ['http://127.0.0.1:1#m', 'http://127.0.0.1:1#m~2'], 'two keys of one endpoint get distinct ids');
    await fs.writeFile(path.join(ws, 'bad.json'), JSON.stringify({ endpoints: [{ id: 'x', provider: 'openai', model: 'm', apiKey: 'sk-nope' }] }));
    await assert.rejects(resolveEndpoints([], 'bad.json', ws), /keys never go in the file/);
    await assert.rejects(resolveEndpoints(['nope'], undefined, ws), /write PROVIDER:MODEL/);
  });

  it('a --config entry without its key stops the run before any request, saying how to run without it', async () => {
    await fs.writeFile(path.join(ws, 'two.json'), JSON.stringify({ endpoints: [
      { id: 'a', provider: 'openai', model: 'm', baseUrl: urlA, apiKeyEnv: 'KEY_A' },
      { id: 'c', provider: 'anthropic', model: 'claude-x', baseUrl: 'https://api.anthropic.example', apiKeyEnv: 'KEY_C' },
    ] }));
    const r = await cli(['run', '--prompt', 'p', '--config', 'two.json', '--out', 'o', 'src'], ws, { KEY_A });
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /set KEY_C in the environment: .*"c".* needs an API key, or run without it: --endpoint a\.\n$/);
    assert.strictEqual(a.requests.length, 0);
    const without = await cli(['run', '--prompt', 'p', '--config', 'two.json', '--endpoint', 'a', '--out', 'o', 'src'], ws, { KEY_A });
    assert.strictEqual(without.code, 0, without.stderr);
  });

  it('names a bad --endpoint setting as the spec writes it (concurrency=, key-env=), a bad --config one by its JSON key', async () => {
    const spec = await cli(['run', '--prompt', 'p', '--endpoint', `openai:m@${urlA},concurrency=abc`, 'src'], ws, { OPENAI_API_KEY: KEY_A });
    assert.strictEqual(spec.code, 1);
    assert.match(spec.stderr, /concurrency= must be a whole number of at least 1, got "abc"/);
    assert.doesNotMatch(spec.stderr, /maxConcurrency/, 'the spec never wrote maxConcurrency');
    const keyEnv = await cli(['run', '--prompt', 'p', '--endpoint', `openai:m@${urlA},key-env=not-a-var`, 'src'], ws);
    assert.strictEqual(keyEnv.code, 1);
    assert.match(keyEnv.stderr, /key-env= must name an environment variable/);
    await fs.writeFile(path.join(ws, 'limits.json'), JSON.stringify({ endpoints: [{ id: 'x', provider: 'openai', model: 'm', baseUrl: urlA, maxConcurrency: 0 }] }));
    const config = await cli(['run', '--prompt', 'p', '--config', 'limits.json', 'src'], ws);
    assert.strictEqual(config.code, 1);
    assert.match(config.stderr, /"maxConcurrency" must be a whole number of at least 1, got "0"/);
    assert.strictEqual(a.requests.length, 0, 'nothing was sent');
  });
});
