// #17 "Sending starts at once" in the editor: a run that asks before it sends much (batchPrompt.confirmAbove)
// sends while it plans as long as fewer than `holdAt` requests are planned; from the `holdAt`-th batch on,
// sending waits for the complete plan's confirmation. Declined, the rest ends canceled ("not confirmed")
// and a resume sends it. Proved by the order of events (requests, the question), never by time.
import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as path from 'path';
import type { ChunkOutcome } from '../../../src/core/execute/events';
import type { ChatModel, ChatRequest, ChatResponse } from '../../../src/core/execute/model';
import { NOT_CONFIRMED, runPlanning, type PlanningRunOptions } from '../../../src/core/session/planning';
import { resumeRun, type RunParameters } from '../../../src/core/session/run';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { SourceFile } from '../../../src/core/plan/types';
import { RunStore } from '../../../src/core/store/runStore';
import { chunksOf, taggedReply } from '../../support/scriptedModel';
import { settle, turnsUntil } from '../../support/turns';
import { treeOf, useWorkspace } from '../../support/tempWorkspace';


/** Answers at once, and writes each request's files into `events`. */
class LoggingModel implements ChatModel {
  readonly id = 'logging';
  readonly supportsSystemMessage = true;
  readonly structuredOutput = false;
  requests = 0;
  constructor(private readonly events: string[]) {}

  async complete(request: ChatRequest): Promise<ChatResponse> {
    this.requests++;
    const chunks = chunksOf(request);
    this.events.push(`request ${chunks.map((c) => c.path).join(',')}`);
    return { text: taggedReply(chunks, (c) => c.body.toUpperCase()), finishReason: 'stop', usage: { inputTokens: 10, outputTokens: 10 } };
  }
}

const files: SourceFile[] = Array.from({ length: 6 }, (_, i) => ({ path: `f${i}.txt`, text: `file ${i}\n` }));
const parameters: RunParameters = { maxConcurrency: 1, maxRetries: 0, requestTimeoutMs: 60_000, chunkTokens: 200, overlapTokens: 0, chunksPerBatch: 1, maxBatchTokens: 32768 };

describe('a run that asks before it sends much: held at holdAt, then confirmed or declined (#17)', function () {
  this.timeout(60_000);
  let ws = '';
  useWorkspace('bp-hold-', treeOf(files), (dir) => (ws = dir));

  /** A run of the six one-chunk files (six requests): the first two files, the rest once a request was sent. */
  function run(events: string[], model: LoggingModel, over: Partial<PlanningRunOptions>) {
    const outcomes: ChunkOutcome[] = [];
    const result = runPlanning({
      root: ws,
      dir: path.join(ws, 'run'),
      prompt: 'Upper-case it.',
      model,
      modelInfo: { id: 'logging' },
      tokenizer: getTokenizer(),
      parameters,
      planning: { inputs: files.map((f) => f.path), respectGitignore: false, maxFileBytes: 1 << 20 },
      files: async (add) => {
        // The first batch closes when the next chunk comes: two files, then the first request.
        await add(files[0]);
        await add(files[1]);
        events.push('planned f0, f1');
        // The plan goes on only once a request left: sending did not wait for the whole plan.
        if (over.holdAt !== 0) await turnsUntil(() => model.requests > 0, 'a request sent while the plan was not complete');
        for (const f of files.slice(2)) await add(f);
        events.push('planned all');
      },
      onOutcome: (o) => outcomes.push(o),
      ...over,
    });
    return { result, outcomes };
  }

  it('sends fewer than holdAt requests while planning, asks with the whole plan, then sends the rest', async () => {
    const events: string[] = [];
    const model = new LoggingModel(events);
    let asked: { requests: number; planned: number } | undefined;
    let settled: ChunkOutcome[] = [];
    const handle = run(events, model, {
      holdAt: 3,
      planned: async (plan) => {
        // The two requests not held end first (their outcomes written to disk, however slow the machine);
        // then the executor is free, and turns give a request that was wrongly not held the room to leave.
        await turnsUntil(() => settled.length >= 2, 'the two requests sent while planning');
        await settle(300);
        asked = { requests: model.requests, planned: plan.totals.requests };
        events.push('asked');
        return true;
      },
    });
    settled = handle.outcomes;
    const { summary, declined } = await handle.result;
    assert.deepStrictEqual(asked, { requests: 2, planned: 6 }, 'two requests (fewer than holdAt = 3) went out before the answer; the question saw all six');
    assert.ok(events.indexOf('request f0.txt') < events.indexOf('planned all'), `the first request left while planning went on: ${events.join(' | ')}`);
    assert.deepStrictEqual(
      events.filter((e) => e.startsWith('request') || e === 'asked'),
      ['request f0.txt', 'request f1.txt', 'asked', 'request f2.txt', 'request f3.txt', 'request f4.txt', 'request f5.txt'],
    );
    assert.strictEqual(declined, undefined);
    assert.strictEqual(summary?.status, 'succeeded');
    assert.strictEqual(summary?.succeeded, 6);
  });

  it('declined: what was sent stays, the rest ends canceled as not confirmed, and a resume sends only the rest', async () => {
    const events: string[] = [];
    const model = new LoggingModel(events);
    const { result, outcomes } = run(events, model, { holdAt: 3, planned: () => settle(300).then(() => false) });
    const { summary, declined } = await result;
    assert.strictEqual(declined, true);
    assert.strictEqual(model.requests, 2, 'nothing was sent after the question was declined');
    assert.strictEqual(summary?.succeeded, 2);
    assert.strictEqual(summary?.canceled, 4);
    const canceled = outcomes.filter((o) => o.status === 'canceled');
    assert.deepStrictEqual(canceled.map((o) => o.chunk.path).sort(), ['f2.txt', 'f3.txt', 'f4.txt', 'f5.txt']);
    for (const o of canceled) assert.strictEqual(o.error?.message, NOT_CONFIRMED);
    const store = await RunStore.open(path.join(ws, 'run'));
    assert.strictEqual(store.meta.planning, undefined, 'the plan is complete in run.json: a resume re-plans nothing');
    const resumed = new LoggingModel(events);
    const { summary: after } = await resumeRun(path.join(ws, 'run'), { roots: { allowed: [ws], hint: '' }, model: resumed, tokenizer: getTokenizer() });
    assert.strictEqual(resumed.requests, 4, 'the resume sent the four chunks not confirmed, not the two that succeeded');
    assert.strictEqual(after.status, 'succeeded');
    assert.strictEqual(after.succeeded, 6);
    const out = await fs.readFile(path.join(ws, 'run', 'outputs', 'f5.txt.md'), 'utf8').catch(() => fs.readFile(path.join(ws, 'run', 'outputs', 'f5.txt'), 'utf8'));
    assert.match(out, /FILE 5/);
  });

  it('holdAt 0 (ask before every run): nothing is sent before the answer', async () => {
    const events: string[] = [];
    const model = new LoggingModel(events);
    const { result } = run(events, model, { holdAt: 0, planned: () => settle(300).then(() => (events.push('asked'), false)) });
    const { summary, declined } = await result;
    assert.strictEqual(declined, true);
    assert.strictEqual(model.requests, 0);
    assert.deepStrictEqual(events, ['planned f0, f1', 'planned all', 'asked']);
    assert.strictEqual(summary?.canceled, 6);
    assert.strictEqual(summary?.requests, 0);
  });

  it('a plan under holdAt is never held: the answer to planned does not stop it', async () => {
    const events: string[] = [];
    const model = new LoggingModel(events);
    let told = 0;
    const { result } = run(events, model, { holdAt: 7, planned: (plan) => ((told = plan.totals.requests), false) });
    const { summary, declined } = await result;
    assert.strictEqual(told, 6, 'told the plan (the editor opens its live document from it)');
    assert.strictEqual(declined, undefined, 'an answer only matters when sending was held');
    assert.strictEqual(summary?.succeeded, 6);
  });
});
