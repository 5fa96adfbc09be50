// The reduce step from the command line (#16), against the local fake server whose combine answer lists
// the input ids it was given: run --reduce prints the answer after the progress (--quiet: only it); a
// kill during level 2 is finished by resume without resending level-1 groups (the server's log shows
// it); a canceled run is reduced over what succeeded; bad input is refused before any request.
import * as assert from 'assert';
import type { ChildProcess } from 'child_process';
import { promises as fs } from 'fs';
import * as path from 'path';
import type { ChatRequest } from '../../../src/core/execute/model';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import { reduceOverhead } from '../../../src/core/reduce/framing';
import { readReduceState } from '../../../src/core/reduce/journal';
import { runCli } from '../../support/cli';
import { ModelServer, type ServedRequest } from '../../support/modelServer';
import { combineReply, groupIdOf, idsInAnswer } from '../../support/reduceModel';
import { useServer } from '../../support/localServer';
import { useWorkspace } from '../../support/tempWorkspace';

const PROMPT = 'Which files mention billing?';
const FILES = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`src/f${i + 1}.ts`, `export const f${i + 1} = ${i}; // billing ${i}\n`]));
/** Room for about three level-0 inputs a request: a tree of 2 or more levels. */
const BUDGET = String(reduceOverhead(PROMPT, getTokenizer(), undefined) + 100);

const asRequest = (q: ServedRequest): ChatRequest => ({ messages: (q.body.messages ?? []) as ChatRequest['messages'] });
const userOf = (q: ServedRequest) => (q.body.messages ?? []).filter((m) => m.role === 'user').map((m) => m.content).join('\n');

describe('batch-prompt reduce (#16)', function () {
  this.timeout(60_000);
  const server = new ModelServer();
  let baseUrl = '';
  let ws = '';
  useServer(server, (url) => (baseUrl = url));
  useWorkspace('bp-cli-reduce-', FILES, (dir) => (ws = dir));
  /** Reduce requests are answered by the fake combiner; `hold` (a group id) hangs instead. */
  let onReduce: (group: string, q: ServedRequest) => 'hang' | undefined = () => undefined;
  beforeEach(() => {
    server.reset();
    onReduce = () => undefined;
    server.script = (q) => {
      const group = groupIdOf(userOf(q));
      if (!group) return undefined;
      if (onReduce(group, q) === 'hang') return { kind: 'hang' };
      return { kind: 'ok', reply: combineReply(asRequest(q)) };
    };
  });
  const common = () => ['--base-url', baseUrl, '--model', 'm', '--no-cache', '--max-batch-tokens', BUDGET, '--chunks-per-batch', '2'];
  const cli = (args: string[], onStart?: (c: ChildProcess) => void) => runCli(args, ws, {}, onStart);
  const reduceGroups = (from = 0) => server.requests.slice(from).map((q) => groupIdOf(userOf(q))).filter((g): g is string => !!g);

  async function assertEveryFileOnce(dir: string, answer: string, missing: readonly string[] = []): Promise<void> {
    const inputs = (await readReduceState(dir))!.inputs!.inputs;
    const listed = idsInAnswer(answer);
    assert.deepStrictEqual([...listed].sort(), inputs.map((i) => i.id).sort(), 'every successful file exactly once');
    assert.strictEqual(inputs.length + missing.length, Object.keys(FILES).length);
    for (const p of missing) assert.ok(answer.includes(`- ${p} lines`), `${p} named at the top`);
  }

  it('run --reduce prints the answer after the progress; --quiet prints only it; report.md links it and shows the tree', async () => {
    const r = await cli(['run', '--prompt', 'Summarise.', '--reduce', PROMPT, '--out', 'runs/a', ...common(), 'src']);
    assert.strictEqual(r.code, 0, r.stderr);
    const dir = path.join(ws, 'runs/a');
    const answer = await fs.readFile(path.join(dir, 'answer.md'), 'utf8');
    assert.ok(r.stdout.endsWith(answer), r.stdout);
    assert.ok(r.stdout.indexOf('Run ') < r.stdout.indexOf(answer), 'the run summary first, then the answer');
    assert.match(r.stderr, /Reduce level 2: \d+ group/);
    await assertEveryFileOnce(dir, answer);
    const report = await fs.readFile(path.join(dir, 'report.md'), 'utf8');
    assert.ok(report.includes('[answer.md](answer.md)'));
    assert.match(report, /\| [2-9] \(final\) \| 1 \|/);

    const q = await cli(['run', '--prompt', 'Summarise.', '--reduce', PROMPT, '--quiet', '--out', 'runs/q', ...common(), 'src']);
    assert.strictEqual(q.code, 0, q.stderr);
    assert.strictEqual(q.stdout, await fs.readFile(path.join(ws, 'runs/q/answer.md'), 'utf8'));
    assert.strictEqual(q.stderr, '');
  });

  it('a kill during level 2: resume finishes the reduce without resending any level-1 group', async () => {
    let killed = false;
    const r = await cli(['run', '--prompt', 'Summarise.', '--reduce', PROMPT, '--out', 'runs/k', ...common(), 'src'], (child) => {
      onReduce = (group) => {
        if (!group.startsWith('R2.')) return undefined;
        if (!killed) child.kill('SIGKILL');
        killed = true;
        return 'hang';
      };
    });
    assert.strictEqual(r.signal, 'SIGKILL', r.stderr);
    const dir = path.join(ws, 'runs/k');
    const level1 = (await readReduceState(dir))!.levels[0].groups.map((g) => g.id);
    assert.ok(level1.length >= 2);
    const before = reduceGroups();
    assert.deepStrictEqual([...new Set(before.filter((g) => g.startsWith('R1.')))].sort(), [...level1].sort(), 'every level-1 group was sent before the kill');
    onReduce = () => undefined;
    const mark = server.requests.length;
    const resumed = await cli(['resume', 'runs/k', '--base-url', baseUrl, '--no-cache']);
    assert.strictEqual(resumed.code, 0, resumed.stderr);
    const after = reduceGroups(mark);
    assert.deepStrictEqual(after.filter((g) => g.startsWith('R1.')), [], `no level-1 group resent (sent: ${after.join(', ')})`);
    assert.ok(after.some((g) => g.startsWith('R2.')));
    assert.strictEqual(server.requests.slice(mark).filter((q) => q.chunks.length).length, 0, 'no chunk of the run resent');
    const answer = await fs.readFile(path.join(dir, 'answer.md'), 'utf8');
    assert.ok(resumed.stdout.endsWith(answer));
    await assertEveryFileOnce(dir, answer);
  });

  it('a canceled run is reduced over what succeeded, naming what is missing (reduce DIR)', async () => {
    const held = new Set(['src/f3.ts', 'src/f7.ts']);
    const r = await cli(['run', '--prompt', 'Summarise.', '--out', 'runs/c', '--concurrency', '1', ...common().filter((a) => a !== '2' && a !== '--chunks-per-batch'), '--chunks-per-batch', '1', 'src'], (child) => {
      server.script = (q) => {
        if (q.chunks.some((c) => held.has(c.path))) {
          setTimeout(() => child.kill('SIGKILL'), 50);
          return { kind: 'hang' };
        }
        return undefined;
      };
    });
    assert.strictEqual(r.signal, 'SIGKILL');
    server.script = (q) => (groupIdOf(userOf(q)) ? { kind: 'ok', reply: combineReply(asRequest(q)) } : undefined);
    const red = await cli(['reduce', 'runs/c', '--reduce', PROMPT, '--base-url', baseUrl, '--no-cache']);
    assert.strictEqual(red.code, 2, red.stderr);
    const dir = path.join(ws, 'runs/c');
    const answer = await fs.readFile(path.join(dir, 'answer.md'), 'utf8');
    assert.ok(answer.startsWith('Not included ('), answer);
    const st = (await readReduceState(dir))!;
    const missing = Object.keys(FILES).filter((p) => !st.inputs!.inputs.some((i) => i.path === p));
    assert.ok(missing.length >= 1 && missing.includes('src/f3.ts'), missing.join(', '));
    await assertEveryFileOnce(dir, answer, missing);
  });

  it('answer.json from a reduce file with output: json and its schema, the value checked', async () => {
    // A json reduce's words quote the schema: a larger budget than the text tests'.
    await cli(['run', '--prompt', 'Summarise.', '--out', 'runs/j', ...common().map((a) => (a === BUDGET ? '4000' : a)), 'src']);
    await fs.writeFile(path.join(ws, 'combine.prompt.md'), '---\noutput: json\nschema: { type: object, properties: { ids: { type: string } }, required: [ids] }\n---\nList the ids.\n');
    server.script = (q) => {
      const group = groupIdOf(userOf(q));
      if (!group) return undefined;
      const value = { ids: idsInAnswer(combineReply(asRequest(q))).join(' ') };
      // The server has a structured-output mode: the answer comes as {"results": [{id, value}]}.
      assert.strictEqual((q.body.response_format as { type?: string } | undefined)?.type, 'json_schema');
      return { kind: 'ok', reply: JSON.stringify({ results: [{ id: group, value }] }) };
    };
    const r = await cli(['reduce', 'runs/j', '--reduce-file', 'combine.prompt.md', '--base-url', baseUrl, '--no-cache', '--quiet']);
    assert.strictEqual(r.code, 0, r.stderr);
    const json = JSON.parse(await fs.readFile(path.join(ws, 'runs/j/answer.json'), 'utf8')) as { notIncluded: unknown[]; answer: { ids: string } };
    assert.deepStrictEqual(json.notIncluded, []);
    assert.strictEqual(json.answer.ids.split(' ').length, Object.keys(FILES).length);
    assert.strictEqual(r.stdout, await fs.readFile(path.join(ws, 'runs/j/answer.json'), 'utf8'));
  });

  it('plan counts the reduce: its levels, requests and tokens from the expected result sizes, and says so', async () => {
    const text = await cli(['plan', '--prompt', 'Summarise.', '--reduce', PROMPT, '--max-batch-tokens', BUDGET, 'src']);
    assert.strictEqual(text.code, 0, text.stderr);
    assert.match(text.stdout, /Reduce \(one combined answer\): [2-9] levels, \d+ requests, \d+ input \/ \d+ output tokens \(estimated from the expected result sizes\)/);
    const json = await cli(['plan', '--prompt', 'Summarise.', '--reduce', PROMPT, '--json', 'src']);
    const reduce = (JSON.parse(json.stdout) as { reduce: { levels: unknown[]; requests: number } }).reduce;
    assert.deepStrictEqual([reduce.levels.length, reduce.requests], [1, 1], 'the default budget holds every result in one request');
    assert.strictEqual(server.requests.length, 0);
  });

  it('refuses an empty reduce prompt, a missing reduce file and a run with no successful result, before any request', async () => {
    const empty = await cli(['run', '--prompt', 'Summarise.', '--reduce', ' ', '--out', 'runs/e', ...common(), 'src']);
    assert.strictEqual(empty.code, 1);
    assert.match(empty.stderr, /reduce prompt \(--reduce\) is empty/);
    const missing = await cli(['run', '--prompt', 'Summarise.', '--reduce-file', 'nope.md', '--out', 'runs/m', ...common(), 'src']);
    assert.strictEqual(missing.code, 1);
    assert.match(missing.stderr, /Cannot read the reduce file nope\.md: it does not exist/);
    await fs.writeFile(path.join(ws, 'p.prompt.md'), '---\nreduceFile: ./gone.prompt.md\n---\nSummarise.\n');
    const front = await cli(['run', '--prompt-file', 'p.prompt.md', '--out', 'runs/f', ...common(), 'src']);
    assert.strictEqual(front.code, 1);
    assert.match(front.stderr, /gone\.prompt\.md/);
    assert.strictEqual(server.requests.length, 0, 'nothing sent');
    await assert.rejects(fs.access(path.join(ws, 'runs/e')));

    server.script = (q) => (groupIdOf(userOf(q)) ? undefined : { kind: 'status', status: 400, body: { error: { message: 'bad', type: 'invalid_request_error' } } });
    const failed = await cli(['run', '--prompt', 'Summarise.', '--out', 'runs/n', ...common(), 'src']);
    assert.strictEqual(failed.code, 2, failed.stderr);
    const mark = server.requests.length;
    const none = await cli(['reduce', 'runs/n', '--reduce', PROMPT, '--base-url', baseUrl]);
    assert.strictEqual(none.code, 1);
    assert.match(none.stderr, /has no successful result to combine/);
    assert.strictEqual(server.requests.length, mark);
  });
});
