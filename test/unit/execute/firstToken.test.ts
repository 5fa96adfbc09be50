import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ChunkOutcome, RunEvent } from '../../../src/core/execute/events';
import { executeRequests } from '../../../src/core/execute/executor';
import type { ChatModel } from '../../../src/core/execute/model';
import type { Clock } from '../../../src/core/execute/rateLimit';
import { median } from '../../../src/core/estimate/estimate';
import type { PlanEstimate } from '../../../src/core/estimate/planEstimate';
import type { RunRecord } from '../../../src/core/store/runStore';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { PackedRequest, Chunk } from '../../../src/core/plan/types';
import { runCli } from '../../support/cli';
import { useServer } from '../../support/localServer';
import { ModelServer, parseChunks, replyFor } from '../../support/modelServer';

/** A clock that moves only when told (the model below moves it). */
function manualClock(): Clock & { advance(ms: number): void } {
  let t = 1_000;
  return { now: () => t, sleep: async (ms) => void (t += ms), advance: (ms) => void (t += ms) };
}

const chunk: Chunk = { id: '1.1', path: 'a.ts', index: 0, start: 0, end: 5, startLine: 1, endLine: 1, overlap: 0, tokens: 2, text: 'hello' };
const batches: PackedRequest<Chunk>[] = [{ id: 'b1', chunks: [chunk], tokens: 10 }];

describe('time to first token: recorded for streamed requests', () => {
  it('batch-finished and the outcome carry firstTokenMs, from sending to the first text (an empty delta is not text); not without streaming', async () => {
    const clock = manualClock();
    // The reply's first text comes 30 ms after the request is sent (an empty delta at 10 ms), the rest 70 ms later.
    const model: ChatModel = {
      id: 'stub',
      supportsSystemMessage: true,
      complete: async (req, o) => {
        const reply = replyFor(parseChunks(req.messages.map((m) => m.content).join('\n')));
        clock.advance(10);
        o.onText?.('');
        clock.advance(20);
        o.onText?.(reply.slice(0, 5));
        clock.advance(70);
        o.onText?.(reply.slice(5));
        return { text: reply, usage: { inputTokens: 10, outputTokens: 4 } };
      },
    };
    const run = async (streamed: boolean) => {
      const events: RunEvent[] = [];
      const outcomes: ChunkOutcome[] = [];
      await executeRequests(batches, { prompt: 'Upper-case it.', model, tokenizer: getTokenizer(), clock, onEvent: (e) => events.push(e), onOutcome: (o) => void outcomes.push(o), ...(streamed ? { onText: () => undefined } : {}) });
      const finished = events.find((e) => e.type === 'batch-finished') as Extract<RunEvent, { type: 'batch-finished' }>;
      return { finished, outcome: outcomes[0] };
    };
    const streamed = await run(true);
    assert.deepStrictEqual([streamed.finished.ok, streamed.finished.latencyMs, streamed.finished.firstTokenMs], [true, 100, 30]);
    assert.deepStrictEqual([streamed.outcome.status, streamed.outcome.firstTokenMs], ['succeeded', 30]);
    const whole = await run(false);
    assert.deepStrictEqual([whole.finished.ok, whole.finished.latencyMs, 'firstTokenMs' in whole.finished, 'firstTokenMs' in whole.outcome], [true, 100, false, false]);
  });
});

describe('time to first token: a streamed run, then the estimate (CLI, local model server)', function () {
  this.timeout(60_000);
  const server = new ModelServer();
  let baseUrl = '';
  let ws = '';
  useServer(server, (url) => (baseUrl = url));
  beforeEach(async () => {
    ws = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-first-token-'));
    await fs.mkdir(path.join(ws, 'src'));
    for (const n of ['a', 'b', 'c']) await fs.writeFile(path.join(ws, `src/${n}.txt`), `file ${n}\n`.repeat(3));
  });
  afterEach(() => fs.rm(ws, { recursive: true, force: true }));

  it('run --stream records firstTokenMs in run.jsonl; the next plan takes the median of them as the time to the first token and says so', async () => {
    // Pieces 15 ms apart: the first text arrives before the last piece is even written.
    server.script = () => ({ kind: 'ok', stream: { pieceDelayMs: 15 } });
    const common = ['--prompt', 'Upper-case it.', '--base-url', baseUrl, '--model', 'm', '--chunks-per-batch', '1'];
    const before = await runCli(['plan', ...common, '--json', 'src'], ws);
    assert.strictEqual(before.code, 0, before.stderr);
    const e0 = (JSON.parse(before.stdout) as { estimate: PlanEstimate }).estimate;
    assert.deepStrictEqual([e0.latency.ttftSeconds, e0.latency.ttftMeasured], [0.5, false]);

    const run = await runCli(['run', ...common, '--stream', 'src'], ws);
    assert.strictEqual(run.code, 0, run.stderr);
    const runs = path.join(ws, '.batch-prompt', 'runs');
    const [dir] = (await fs.readdir(runs, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
    const records = (await fs.readFile(path.join(runs, dir, 'run.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as RunRecord);
    assert.strictEqual(records.length, 3);
    for (const r of records) {
      assert.ok(typeof r.firstTokenMs === 'number' && r.firstTokenMs >= 0, JSON.stringify(r));
      // The server waits between pieces: the whole reply cannot have come with its first text.
      assert.ok(r.firstTokenMs < r.latencyMs, `first token ${r.firstTokenMs} ms, whole reply ${r.latencyMs} ms`);
    }

    const after = await runCli(['plan', ...common, '--json', 'src'], ws);
    assert.strictEqual(after.code, 0, after.stderr);
    const e = (JSON.parse(after.stdout) as { estimate: PlanEstimate }).estimate;
    assert.strictEqual(e.latency.ttftMeasured, true);
    assert.strictEqual(e.latency.ttftSeconds, Math.min(median(records.map((r) => r.firstTokenMs! / 1000)), median(records.map((r) => r.latencyMs / 1000))));
    assert.match(e.latency.source, /to the first token \(median of 3 streamed requests\), then \d+ output tokens\/s$/);
    const text = await runCli(['plan', ...common, 'src'], ws);
    assert.match(text.stdout, /\n {2}Latency +3 requests of 1 recent run of http:\/\/127\.0\.0\.1:\d+#m: median [\d.]+ s per request; modelled as [\d.]+ s to the first token \(median of 3 streamed requests\)/);
  });
});
