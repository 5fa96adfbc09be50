import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as path from 'path';
import { parseCli, UsageError } from '../../../src/cli/options';
import { inProcessCli as cli } from '../../support/cli';
import { useServer } from '../../support/localServer';
import { ModelServer } from '../../support/modelServer';
import { useWorkspace } from '../../support/tempWorkspace';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** Eight files of one chunk each; single letters count about one token per two characters (more than the server's chars/4). */
const FILES = Object.fromEntries(
  Array.from({ length: 8 }, (_, f) => [`src/f${f}.txt`, Array.from({ length: 12 }, (_, l) => `${'abcdefghijklmnopqrstuvwxyz'.slice(f, f + 20).split('').join(' ')} ${l}`).join('\n') + '\n']),
);

const PRICES = { input: 2, output: 10 }; // dollars per million tokens
const dollars = (input: number, output: number) => (input * PRICES.input + output * PRICES.output) / 1e6;

async function jsonl(file: string): Promise<Json[]> {
  return (await fs.readFile(file, 'utf8')).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/**
 * Replays the server's log: at each request's arrival, what was spent (usage of the requests answered
 * before it) plus the worst case of every request in flight (its input as the server counts it plus its
 * max_tokens) stays within `cap`. Returns what was spent in all.
 */
function replaySpend(server: ModelServer, cap: number): number {
  let spent = 0;
  const inFlight = new Map<number, number>();
  for (const e of server.log) {
    const req = server.requests[e.n - 1];
    if (e.event === 'received') {
      assert.ok(typeof req.body.max_tokens === 'number', 'a capped request carries its output limit');
      inFlight.set(e.n, dollars(Math.ceil(req.chars / 4), req.body.max_tokens));
      const worst = spent + [...inFlight.values()].reduce((a, b) => a + b, 0);
      assert.ok(worst <= cap + 1e-12, `at request ${e.n}: spent + worst case in flight $${worst} passes the cap $${cap}`);
    } else {
      inFlight.delete(e.n);
      spent += dollars(e.usage.prompt_tokens, e.usage.completion_tokens);
    }
  }
  return spent;
}

describe('batch-prompt CLI: the spend cap (--max-cost, --max-tokens)', function () {
  this.timeout(60_000);
  let ws = '';
  useWorkspace('bp-cli-cap-', FILES, (dir) => (ws = dir));
  const server = new ModelServer();
  let baseUrl = '';
  useServer(server, (url) => (baseUrl = url));

  const runArgs = (out: string, cap: string[]) => ['run', '--prompt', 'Upper-case it.', '--base-url', baseUrl, '--model', 'm', '--no-cache', '--chunks-per-batch', '1', '--concurrency', '3', '--max-output-tokens', '400', '--input-cost', String(PRICES.input), '--output-cost', String(PRICES.output), '--out', out, ...cap, 'src'];

  it('acceptance: with concurrency 3 the spend never passes the cap, worst case included; the rest end canceled (budget); a resume with the same cap sends nothing, one with a higher cap finishes them', async () => {
    const cap = 0.012;
    // The first two replies wait until both requests are in flight (two worst cases fit the cap, three do not).
    let bothIn!: () => void;
    const both = new Promise<void>((resolve) => (bothIn = resolve));
    server.script = (req) => {
      if (req.n === 2) bothIn();
      return req.n <= 2 ? { kind: 'ok', after: both } : undefined;
    };
    const r = await cli(runArgs('runs/capped', ['--max-cost', String(cap)]), ws);
    assert.strictEqual(r.code, 2, r.stderr);
    const spent = replaySpend(server, cap);
    assert.ok(spent <= cap);
    assert.ok(server.peakInFlight > 1, 'requests went concurrently');
    const dir = path.join(ws, 'runs/capped');
    const records = await jsonl(path.join(dir, 'run.jsonl'));
    const canceled = records.filter((x) => x.status === 'canceled');
    const sentIds = server.sentChunkIds();
    assert.ok(sentIds.length > 0 && canceled.length > 0, `sent ${sentIds.length}, canceled ${canceled.length}`);
    assert.strictEqual(sentIds.length + canceled.length, 8);
    assert.ok(canceled.every((x) => x.error?.kind === 'budget'), JSON.stringify(canceled.map((x) => x.error)));
    assert.deepStrictEqual(records.filter((x) => x.status === 'succeeded').map((x) => x.chunkId).sort(), [...sentIds].sort());
    const summary = JSON.parse(await fs.readFile(path.join(dir, 'summary.json'), 'utf8'));
    assert.strictEqual(summary.budget.reached, true);
    assert.ok(Math.abs(summary.budget.spent.costUsd - spent) < 1e-9, `recorded ${summary.budget.spent.costUsd}, served ${spent}`);
    const last = r.stdout.trim().split('\n').pop()!;
    assert.match(last, new RegExp(`^Spend cap reached at \\$0\\.0\\d+ of \\$0\\.01: ${canceled.length} chunks? not sent \\(canceled, reason budget\\); resume with a higher cap`));

    // The cap counts the run's whole spend: the same cap again sends nothing.
    server.reset();
    const same = await cli(['resume', 'runs/capped', '--base-url', baseUrl, '--no-cache', '--input-cost', String(PRICES.input), '--output-cost', String(PRICES.output), '--max-cost', String(cap)], ws);
    assert.strictEqual(same.code, 2, same.stderr);
    assert.strictEqual(server.requests.length, 0);
    assert.match(same.stdout.trim().split('\n').pop()!, /^Spend cap reached at/);

    // A higher cap finishes them: only the canceled chunks are sent.
    const higher = await cli(['resume', 'runs/capped', '--base-url', baseUrl, '--no-cache', '--input-cost', String(PRICES.input), '--output-cost', String(PRICES.output), '--max-cost', '1'], ws);
    assert.strictEqual(higher.code, 0, higher.stderr + higher.stdout);
    assert.deepStrictEqual(server.sentChunkIds().sort(), canceled.map((x) => x.chunkId).sort());
    const after = JSON.parse(await fs.readFile(path.join(dir, 'summary.json'), 'utf8'));
    assert.strictEqual(after.status, 'succeeded');
    assert.strictEqual(after.budget.reached, false);
    assert.ok(after.budget.spent.costUsd > spent, 'the spend counts both invocations');
    assert.doesNotMatch(higher.stdout, /Spend cap reached/);
  });

  it('--max-tokens caps an endpoint without prices; the tokens spent stay within it', async () => {
    const r = await cli(['run', '--prompt', 'Upper-case it.', '--base-url', baseUrl, '--model', 'm', '--no-cache', '--chunks-per-batch', '1', '--concurrency', '3', '--max-output-tokens', '400', '--out', 'runs/t', '--max-tokens', '3000', 'src'], ws);
    assert.strictEqual(r.code, 2, r.stderr);
    const summary = JSON.parse(await fs.readFile(path.join(ws, 'runs/t/summary.json'), 'utf8'));
    assert.ok(summary.budget.reached);
    assert.ok(summary.budget.spent.tokens <= 3000);
    assert.ok(summary.canceled > 0 && summary.succeeded > 0);
    assert.match(r.stdout.trim().split('\n').pop()!, /^Spend cap reached at [\d,]+ of 3,000 tokens: /);
  });

  it('refuses --max-cost on an endpoint without prices before anything is sent, suggesting --max-tokens', async () => {
    const r = await cli(['run', '--prompt', 'p', '--base-url', baseUrl, '--model', 'm', '--no-cache', '--out', 'runs/x', '--max-cost', '5', 'src'], ws);
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /--max-cost needs the endpoint's prices, and .*#m has none; give its prices \(--input-cost and --output-cost.*\), or cap the tokens with --max-tokens instead\. Nothing was sent\./);
    assert.strictEqual(server.requests.length, 0);
    await assert.rejects(fs.access(path.join(ws, 'runs/x')), 'no run folder');
  });

  it('submit: a batch job whose worst case passes the cap is refused with the figures, before any upload', async () => {
    const r = await cli(['submit', '--prompt', 'p', '--base-url', baseUrl, '--model', 'm', '--no-cache', '--out', 'runs/j', '--max-output-tokens', '1000', '--max-tokens', '3000', 'src'], ws);
    assert.strictEqual(r.code, 1, r.stdout);
    assert.match(r.stderr, /the batch job's worst case \(\d+ requests: [\d,]+ input tokens plus 1,000 output tokens each\) is [\d,]+ against 3,000 tokens, over the spend cap; a job cannot be stopped midway, so nothing was submitted\./);
    assert.strictEqual(server.requests.length, 0);
    const noPrices = await cli(['submit', '--prompt', 'p', '--base-url', baseUrl, '--model', 'm', '--out', 'runs/k', '--max-cost', '1', 'src'], ws);
    assert.strictEqual(noPrices.code, 1);
    assert.match(noPrices.stderr, /--max-cost needs the endpoint's prices.*Nothing was submitted\./);
  });

  it('plan warns when the estimate passes the cap, and not when it fits', async () => {
    const over = await cli(['plan', '--prompt', 'p', '--model', 'm', '--base-url', baseUrl, '--no-cache', '--max-tokens', '100', 'src'], ws);
    assert.strictEqual(over.code, 0);
    assert.match(over.stderr, /Spend cap: the estimated [\d,]+ of 100 tokens\. The run stops sending when the cap would be passed/);
    const within = await cli(['plan', '--prompt', 'p', '--model', 'm', '--base-url', baseUrl, '--no-cache', '--max-tokens', '10000000', '--input-cost', '1', '--max-cost', '100', 'src'], ws);
    assert.doesNotMatch(within.stderr, /Spend cap/);
    const unpriced = await cli(['plan', '--prompt', 'p', '--model', 'm', '--base-url', baseUrl, '--no-cache', '--max-cost', '1', 'src'], ws);
    assert.match(unpriced.stderr, /Spend cap: --max-cost needs the endpoint's prices/);
  });

  it('parses --max-cost and --max-tokens on run, resume, submit and plan; refuses bad values and other commands', () => {
    const o = parseCli(['run', '--prompt', 'p', '--model', 'm', '--max-cost', '2.5', '--max-tokens', '100000', 'src'], {});
    assert.deepStrictEqual([o.maxCostUsd, o.maxTokens], [2.5, 100000]);
    assert.strictEqual(parseCli(['resume', 'dir', '--max-cost', '1'], {}).maxCostUsd, 1);
    const bad: [string[], RegExp][] = [
      [['run', '--prompt', 'p', '--model', 'm', '--max-cost', '0', 'src'], /--max-cost must be dollars \(a number above 0\), got "0"/],
      [['run', '--prompt', 'p', '--model', 'm', '--max-cost', 'ten', 'src'], /--max-cost must be dollars/],
      [['run', '--prompt', 'p', '--model', 'm', '--max-tokens', '1.5', 'src'], /--max-tokens must be a whole number of at least 1/],
      [['collect', 'dir', '--max-cost', '1'], /--max-cost is for "batch-prompt plan", "batch-prompt run", "batch-prompt resume", "batch-prompt submit"/],
      [['reduce', 'dir', '--reduce', 'x', '--max-tokens', '5'], /--max-tokens is for/],
    ];
    for (const [args, re] of bad) assert.throws(() => parseCli(args, {}), (e: Error) => e instanceof UsageError && re.test(e.message), re.source);
  });
});
