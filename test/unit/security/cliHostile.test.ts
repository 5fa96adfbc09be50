// A run folder may come from anywhere (a cloned repository): its run.json / job.json name an endpoint,
// but never choose where a key goes nor which variable it is read from. Each folder here is crafted as
// an attacker would: a foreign base URL (a local server standing for the attacker, recording every
// request) and an `apiKeyEnv` naming another variable of the user's environment, set to a secret.
import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as path from 'path';
import type { RunMeta } from '../../../src/core/store/runStore';
import { runCli as cli, type CliResult } from '../../support/cli';
import { BatchServer } from '../../support/batchServer';
import { useServer } from '../../support/localServer';
import { ModelServer } from '../../support/modelServer';
import { forgetLastRecords, readTree } from '../../support/runFolder';
import { useWorkspace } from '../../support/tempWorkspace';

const KEY = 'sk-user-OWN-KEY-1234567890';
const ANT_KEY = 'sk-ant-user-OWN-KEY-0987654321';
/** Another variable of the user's environment, which a crafted folder names as its key variable. */
const STOLEN = 'STOLEN_VAR';
const SECRET = 'aws-SECRET-never-sent-5555555555';
const ENV = { OPENAI_API_KEY: KEY, ANTHROPIC_API_KEY: ANT_KEY, [STOLEN]: SECRET };

const FILES = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`src/f${i}.ts`, `export const v${i} = ${i};\n`]));

/** `s` with the characters a RegExp treats specially escaped. */
const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Rewrites run.json of `dir` through `change`. */
async function craft(dir: string, change: (meta: RunMeta) => void): Promise<void> {
  const file = path.join(dir, 'run.json');
  const meta = JSON.parse(await fs.readFile(file, 'utf8')) as RunMeta;
  change(meta);
  await fs.writeFile(file, JSON.stringify(meta, null, 2));
}

/** The refusal's common ground: exit 1, nothing on stdout, the secret printed nowhere. */
function refused(r: CliResult, label: string): void {
  assert.strictEqual(r.code, 1, `${label}: ${r.stderr}`);
  assert.strictEqual(r.stdout, '', label);
  assert.ok(!r.stderr.includes(SECRET) && !r.stdout.includes(SECRET), `${label}: the secret is printed`);
}

/** The folder's files, byte for byte, none holding the secret. */
async function snapshot(dir: string): Promise<string> {
  const files = await readTree(dir);
  for (const f of files) assert.ok(!f.text.includes(SECRET) && !f.text.includes(KEY), `${f.file} holds a key`);
  return JSON.stringify(files);
}

describe('hostile run folders (CLI): a folder never chooses an endpoint or a key', function () {
  this.timeout(60_000);
  const real = new ModelServer();
  const attacker = new ModelServer();
  let realUrl = '';
  let attackerUrl = '';
  let ws = '';
  useServer(real, (url) => (realUrl = url));
  useServer(attacker, (url) => (attackerUrl = url));
  useWorkspace('bp-cli-hostile-', FILES, (dir) => (ws = dir));

  /** A run of the user's own on the real server, made to look interrupted (two chunks left). */
  async function interruptedRun(out: string, extra: string[] = ['--base-url', realUrl, '--model', 'm'], env: Record<string, string> = ENV): Promise<{ dir: string; lost: string[] }> {
    const r = await cli(['run', '--prompt', 'Upper-case it.', '--chunks-per-batch', '1', '--no-cache', '--out', out, ...extra, 'src'], ws, env);
    assert.strictEqual(r.code, 0, r.stderr);
    const dir = path.join(ws, out);
    const lost = await forgetLastRecords(dir, 2);
    real.reset();
    return { dir, lost };
  }

  it('resume refuses a run.json naming a foreign URL and another key variable, whatever else is configured: no request, nothing written, the way forward said', async () => {
    const { dir } = await interruptedRun('o');
    await craft(dir, (m) => Object.assign(m.model, { baseUrl: attackerUrl, apiKeyEnv: STOLEN }));
    const before = await snapshot(dir);
    await fs.writeFile(path.join(ws, 'mine.json'), JSON.stringify([{ id: 'mine', provider: 'openai', model: 'm', baseUrl: realUrl, apiKeyEnv: STOLEN }]));
    const attackerOrigin = new URL(attackerUrl).origin;
    for (const args of [
      [],
      ['--base-url', realUrl],
      ['--endpoint', `openai:m@${realUrl}`],
      // The variable named, but for the user's own URL: the folder's URL is still not configured.
      ['--endpoint', `openai:m@${realUrl},key-env=${STOLEN}`],
      ['--config', 'mine.json'],
      // The attacker's URL named, but not the folder's variable: the secret is never read for it.
      ['--base-url', attackerUrl],
    ]) {
      const label = `resume o ${args.join(' ')}`;
      const r = await cli(['resume', 'o', '--no-cache', ...args], ws, ENV);
      refused(r, label);
      assert.match(
        r.stderr,
        new RegExp(`^batch-prompt: run\\.json of run \\S+ names the endpoint "[^"]+" at ${literal(attackerOrigin)} \\(openai, key from \\$${STOLEN}\\), which is not one you configured; nothing was sent\\. To resume on it, name it: batch-prompt resume o --endpoint openai:m@${literal(attackerUrl)},key-env=${STOLEN} \\(or --config FILE\\)\\.\\n$`),
        label,
      );
      assert.strictEqual(attacker.requests.length, 0, `${label}: the attacker's server got a request`);
      assert.strictEqual(real.requests.length, 0, `${label}: nothing is sent anywhere`);
      assert.strictEqual(await snapshot(dir), before, `${label}: the folder changed`);
    }
  });

  it('a run.json whose root is another folder (the user\'s home) is refused: none of its files is read or sent; from its own folder it resumes', async () => {
    const { dir, lost } = await interruptedRun('o');
    const home = path.dirname(ws);
    await craft(dir, (m) => (m.root = home));
    const before = await snapshot(dir);
    const r = await cli(['resume', 'o', '--no-cache', '--base-url', realUrl], ws, ENV);
    refused(r, 'resume with a foreign root');
    assert.match(r.stderr, new RegExp(`^batch-prompt: run\\.json: root ${literal(JSON.stringify(home))} is not ${literal(JSON.stringify(ws))}, so its files are not read; nothing was written or sent\\. Run "batch-prompt resume" from the folder the run was made in, if you made it there\\.\\n$`));
    assert.strictEqual(real.requests.length, 0, 'nothing is sent');
    assert.strictEqual(await snapshot(dir), before, 'the folder is unchanged');
    // Put back, the same folder resumes from its workspace and sends exactly the chunks left.
    await craft(dir, (m) => (m.root = ws));
    const ok = await cli(['resume', 'o', '--no-cache', '--base-url', realUrl], ws, ENV);
    assert.strictEqual(ok.code, 0, ok.stderr);
    assert.deepStrictEqual(real.sentChunkIds().sort(), [...lost].sort());
  });

  it('a folder naming the user\'s own URL with another key variable is refused; the variable is read only once the user names it', async () => {
    const { dir, lost } = await interruptedRun('o');
    await craft(dir, (m) => (m.model.apiKeyEnv = STOLEN));
    const before = await snapshot(dir);
    for (const args of [[], ['--base-url', realUrl], ['--endpoint', `openai:m@${realUrl}`]]) {
      const r = await cli(['resume', 'o', ...args], ws, ENV);
      refused(r, args.join(' '));
      assert.match(r.stderr, new RegExp(`at ${literal(new URL(realUrl).origin)} \\(openai, key from \\$${STOLEN}\\), which is not one you configured`));
      assert.strictEqual(real.requests.length, 0);
      assert.strictEqual(await snapshot(dir), before);
    }
    // Named on the command line, it is the user's choice: the real server gets that key, and no file holds it.
    const named = await cli(['resume', 'o', '--no-cache', '--endpoint', `openai:m@${realUrl},key-env=${STOLEN}`], ws, ENV);
    assert.strictEqual(named.code, 0, named.stderr);
    assert.deepStrictEqual(real.sentChunkIds().sort(), [...lost].sort());
    assert.ok(real.requests.every((q) => q.headers.authorization === `Bearer ${SECRET}`));
    await snapshot(dir);
    assert.ok(!named.stdout.includes(SECRET) && !named.stderr.includes(SECRET));
  });

  it('the user\'s own folder: a run on --base-url resumes once that URL is named again (--base-url or --endpoint), with the configured key', async () => {
    const { dir, lost } = await interruptedRun('o');
    const bare = await cli(['resume', 'o'], ws, ENV);
    refused(bare, 'bare resume of a loopback run');
    assert.match(bare.stderr, new RegExp(`name it: batch-prompt resume o --endpoint openai:m@${literal(realUrl)} \\(or --config FILE\\)`), 'no key-env= for the provider\'s own variable');
    assert.strictEqual(real.requests.length, 0, 'a loopback URL is not chosen by the folder either');
    const r = await cli(['resume', 'o', '--no-cache', '--endpoint', `openai:m@${realUrl}`], ws, ENV);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.deepStrictEqual(real.sentChunkIds().sort(), [...lost].sort(), 'only the unfinished chunks');
    assert.ok(real.requests.every((q) => q.headers.authorization === `Bearer ${KEY}` && q.body.model === 'm'));
    await snapshot(dir);
  });

  it('a run on the provider\'s default URL resumes with a bare "resume DIR"; moving the default elsewhere refuses it', async () => {
    // $OPENAI_BASE_URL is the user's default for openai: the run and the resume take it when no URL is named.
    const env = { ...ENV, OPENAI_BASE_URL: realUrl };
    const { dir, lost } = await interruptedRun('d', ['--model', 'm'], env);
    const meta = JSON.parse(await fs.readFile(path.join(dir, 'run.json'), 'utf8')) as RunMeta;
    assert.strictEqual(meta.model.baseUrl, realUrl);
    const moved = await cli(['resume', 'd', '--no-cache'], ws, { ...ENV, OPENAI_BASE_URL: attackerUrl });
    refused(moved, 'another default');
    assert.strictEqual(real.requests.length + attacker.requests.length, 0);
    const r = await cli(['resume', 'd', '--no-cache'], ws, env);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.deepStrictEqual(real.sentChunkIds().sort(), [...lost].sort());
    assert.ok(real.requests.every((q) => q.headers.authorization === `Bearer ${KEY}`));
  });

  it('a several-endpoint run goes on with the endpoints matched and names the others; none matched: refused whole', async () => {
    const { dir, lost } = await interruptedRun('s', ['--endpoint', `openai:m@${realUrl},id=a`, '--endpoint', `openai:m@${realUrl},id=b`]);
    await craft(dir, (m) => {
      Object.assign(m.endpoints![1], { baseUrl: attackerUrl, apiKeyEnv: STOLEN });
    });
    const none = await cli(['resume', 's', '--no-cache'], ws, ENV);
    refused(none, 'no endpoint matched');
    assert.match(none.stderr, /names the endpoint "a" at .*which is not one you configured\.\n/);
    assert.match(none.stderr, new RegExp(`names the endpoint "b" at ${literal(new URL(attackerUrl).origin)} \\(openai, key from \\$${STOLEN}\\), which is not one you configured\\.\\n`));
    assert.match(none.stderr, new RegExp(`nothing was sent\\. To resume run \\S+, name its endpoints: batch-prompt resume s --endpoint openai:m@${literal(realUrl)} --endpoint openai:m@${literal(attackerUrl)},key-env=${STOLEN} \\(or --config FILE\\)`));
    assert.strictEqual(real.requests.length + attacker.requests.length, 0);
    const some = await cli(['resume', 's', '--no-cache', '--endpoint', `openai:m@${realUrl},id=a`], ws, ENV);
    assert.strictEqual(some.code, 0, some.stderr);
    assert.match(some.stderr, new RegExp(`names the endpoint "b" at .*which is not one you configured; resuming without it \\(to resume on it too, add --endpoint openai:m@${literal(attackerUrl)},key-env=${STOLEN}\\)`));
    assert.strictEqual(attacker.requests.length, 0);
    assert.deepStrictEqual(real.sentChunkIds().sort(), [...lost].sort(), 'a took every unfinished chunk');
    assert.ok(real.requests.every((q) => q.headers.authorization === `Bearer ${KEY}`));
    await snapshot(dir);
  });
});

describe('hostile job folders (CLI): status, collect and cancel never ask where job.json says', function () {
  this.timeout(60_000);
  const real = new BatchServer();
  const attacker = new BatchServer();
  let realUrl = '';
  let attackerUrl = '';
  let ws = '';
  useServer(real, (url) => (realUrl = url));
  useServer(attacker, (url) => (attackerUrl = url));
  useWorkspace('bp-cli-hostile-job-', FILES, (dir) => (ws = dir));

  async function submitted(): Promise<string> {
    real.pollsBeforeEnd = 100;
    const r = await cli(['submit', '--prompt', 'Upper-case it.', '--provider', 'anthropic', '--base-url', realUrl, '--model', 'claude-x', '--max-output-tokens', '100', '--out', 'job', 'src'], ws, ENV);
    assert.strictEqual(r.code, 0, r.stderr);
    return path.join(ws, 'job');
  }

  it('refuses a job folder naming a foreign URL and another key variable: no request, nothing written, the way forward said', async () => {
    const dir = await submitted();
    const calls = real.calls.length;
    await craft(dir, (m) => Object.assign(m.model, { baseUrl: attackerUrl, apiKeyEnv: STOLEN }));
    const before = await snapshot(dir);
    const jobId = (JSON.parse(await fs.readFile(path.join(dir, 'job.json'), 'utf8')) as { jobId: string }).jobId;
    for (const command of ['status', 'collect', 'cancel']) {
      for (const args of [[], ['--provider', 'anthropic', '--base-url', realUrl], ['--endpoint', `anthropic:claude-x@${realUrl},key-env=${STOLEN}`], ['--provider', 'anthropic', '--base-url', attackerUrl]]) {
        const label = `${command} job ${args.join(' ')}`;
        const r = await cli([command, 'job', ...args], ws, ENV);
        refused(r, label);
        assert.match(
          r.stderr,
          new RegExp(`^batch-prompt: job\\.json of run \\S+ \\(batch job ${literal(jobId)}\\) names the endpoint "[^"]+" at ${literal(new URL(attackerUrl).origin)} \\(anthropic, key from \\$${STOLEN}\\), which is not one you configured; nothing was sent\\. To .*, name it: batch-prompt ${command} job --endpoint anthropic:claude-x@${literal(attackerUrl)},key-env=${STOLEN} \\(or --config FILE\\)\\.\\n$`),
          label,
        );
        assert.strictEqual(attacker.calls.length, 0, `${label}: the attacker's server got a request`);
        assert.strictEqual(real.calls.length, calls, `${label}: nothing is sent anywhere`);
        assert.strictEqual(await snapshot(dir), before, `${label}: the folder changed`);
      }
    }
  });

  it('the user\'s own job answers once its endpoint is named; a job collected earlier still answers from its folder alone', async () => {
    const dir = await submitted();
    const bare = await cli(['status', 'job'], ws, ENV);
    refused(bare, 'bare status of a job on a loopback URL');
    assert.match(bare.stderr, new RegExp(`name it: batch-prompt status job --endpoint anthropic:claude-x@${literal(realUrl)} \\(or --config FILE\\)`));
    const status = await cli(['status', 'job', '--endpoint', `anthropic:claude-x@${realUrl}`], ws, ENV);
    assert.strictEqual(status.code, 0, status.stderr);
    assert.match(status.stdout, /in_progress/);
    assert.ok(real.calls.slice(-1)[0].headers['x-api-key'] === ANT_KEY, 'the configured key variable');
    real.pollsBeforeEnd = 0;
    const collected = await cli(['collect', 'job', '--provider', 'anthropic', '--base-url', realUrl], ws, ENV);
    assert.strictEqual(collected.code, 0, collected.stderr);
    // Crafted afterwards: a collected job is answered from its folder, asking no one.
    await craft(dir, (m) => Object.assign(m.model, { baseUrl: attackerUrl, apiKeyEnv: STOLEN }));
    const calls = real.calls.length;
    const again = await cli(['collect', 'job'], ws, ENV);
    assert.strictEqual(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing written again/);
    assert.strictEqual(attacker.calls.length, 0);
    assert.strictEqual(real.calls.length, calls);
    await snapshot(dir);
  });
});
