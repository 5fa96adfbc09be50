import * as assert from 'assert';
import { budgetLine, capRefusal, recordedSpend, SpendGate, type BudgetOptions } from '../../../src/core/execute/budget';
import { TransientError } from '../../../src/core/execute/errors';
import type { ChunkOutcome, RunEvent } from '../../../src/core/execute/events';
import { executeRequests, type ExecutorOptions } from '../../../src/core/execute/executor';
import type { ChatModel, ChatRequest, ChatResponse } from '../../../src/core/execute/model';
import { chunkFile } from '../../../src/core/plan/chunker';
import { packRequests } from '../../../src/core/plan/packer';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { Chunk, PackedRequest } from '../../../src/core/plan/types';
import { chunksOf, taggedReply } from '../../support/scriptedModel';

const tokenizer = getTokenizer('o200k_base');

/** `n` files of one chunk each, one chunk per request. */
function batches(n: number): PackedRequest<Chunk>[] {
  const chunks = Array.from({ length: n }, (_, f) =>
    chunkFile({ path: `src/f${f}.ts`, text: Array.from({ length: 6 }, (_, l) => `export const v${f}_${l} = ${l};`).join('\n') + '\n' }, f, tokenizer, { chunkTokens: 4096, overlapTokens: 0 }),
  ).flat();
  return packRequests(chunks, 'Upper-case it.', tokenizer, { chunksPerBatch: 1, maxBatchTokens: 32768 });
}

interface Pending {
  request: ChatRequest;
  answer: (r?: Partial<ChatResponse> | Error) => void;
}

/** A model whose replies the test releases one by one; each reply reports `usage`. */
class HeldModel implements ChatModel {
  readonly supportsSystemMessage = true;
  readonly pending: Pending[] = [];
  readonly requests: ChatRequest[] = [];
  private arrived?: () => void;

  constructor(
    readonly id: string,
    readonly maxOutputTokens: number | undefined,
    private readonly usage = { inputTokens: 40, outputTokens: 20 },
  ) {}

  complete(request: ChatRequest): Promise<ChatResponse> {
    this.requests.push(request);
    return new Promise((resolve, reject) => {
      this.pending.push({
        request,
        answer: (r) => (r instanceof Error ? reject(r) : resolve({ text: taggedReply(chunksOf(request), (c) => `OUT ${c.id}`), finishReason: 'stop', usage: this.usage, ...r })),
      });
      this.arrived?.();
    });
  }

  /** Resolves when `n` requests have arrived in all. */
  async until(n: number): Promise<void> {
    while (this.requests.length < n) await new Promise<void>((r) => (this.arrived = r));
  }

  /** Answers the oldest request still waiting. */
  next(r?: Partial<ChatResponse> | Error): void {
    const p = this.pending.shift();
    assert.ok(p, 'a request is waiting');
    p.answer(r);
  }
}

/**
 * Checks, at each request sent, that the spend measured so far plus the worst case of every request in
 * flight (counted input + the output limit) stays within `maxTokens`; returns the events.
 */
function spendWatcher(maxTokens: number, maxOutput: number): { events: RunEvent[]; onEvent: (e: RunEvent) => void; spent: () => number } {
  const events: RunEvent[] = [];
  const inFlight = new Map<string, number>();
  let spent = 0;
  return {
    events,
    spent: () => spent,
    onEvent: (e) => {
      events.push(e);
      if (e.type === 'batch-started') {
        inFlight.set(e.batchId, e.tokens + maxOutput);
        const worst = spent + [...inFlight.values()].reduce((a, b) => a + b, 0);
        assert.ok(worst <= maxTokens, `at ${e.batchId}: spent ${spent} + in flight worst ${worst - spent} passes the cap ${maxTokens}`);
      } else if (e.type === 'batch-finished') {
        inFlight.delete(e.batchId);
        spent += e.inputTokens + e.outputTokens;
      }
    },
  };
}

async function run(model: ChatModel, planned: PackedRequest<Chunk>[], extra: Partial<ExecutorOptions>) {
  const outcomes: ChunkOutcome[] = [];
  const summary = await executeRequests(planned, { prompt: 'Upper-case it.', model, tokenizer, random: () => 0, onOutcome: (o) => void outcomes.push(o), ...extra });
  assert.strictEqual(outcomes.length, planned.length, 'every chunk ends exactly once');
  return { summary, outcomes };
}

describe('spend cap (executor gate)', function () {
  this.timeout(20_000);

  it('SpendGate: spent + in flight + next within the cap goes; over only because of requests in flight waits; over alone stops for good', () => {
    const gate = new SpendGate({ cap: { maxTokens: 1000 }, pricesOf: () => undefined });
    const a = gate.tryReserve('e', 200, 100);
    const b = gate.tryReserve('e', 200, 100);
    const c = gate.tryReserve('e', 200, 100);
    assert.ok(a.go && b.go && c.go);
    // 900 reserved: 300 more would pass 1000, but would fit once the in-flight ones end.
    assert.deepStrictEqual(gate.tryReserve('e', 200, 100), { go: false, wait: true });
    gate.settle(a.reservation, { inputTokens: 150, outputTokens: 50 }); // spent 200, reserved 600
    const d = gate.tryReserve('e', 100, 100);
    assert.ok(d.go, 'fits after a settle: 200 + 600 + 200 = 1000');
    gate.settle(b.reservation); // no reply: nothing spent
    gate.settle(c.reservation, { inputTokens: 200, outputTokens: 100 }); // spent 500, reserved 200
    gate.settle(d.reservation, { inputTokens: 100, outputTokens: 100 }); // spent 700, nothing in flight
    assert.deepStrictEqual(gate.tryReserve('e', 250, 100), { go: false, wait: false }, '700 + 350 > 1000 with nothing in flight: reached');
    assert.ok(gate.reached);
    assert.deepStrictEqual(gate.tryReserve('e', 1, 1), { go: false, wait: false }, 'once reached, nothing more goes');
    assert.deepStrictEqual(gate.summary(), { cap: { maxTokens: 1000 }, spent: { costUsd: 0, tokens: 700 }, reached: true });
  });

  it('SpendGate: prices each request by its endpoint, counts spend recorded before, and learns a provider counting more input', () => {
    const prices: Record<string, { inputCostPerMTok: number; outputCostPerMTok: number }> = { cheap: { inputCostPerMTok: 1, outputCostPerMTok: 2 }, dear: { inputCostPerMTok: 10, outputCostPerMTok: 20 } };
    const gate = new SpendGate({ cap: { maxCostUsd: 1 }, pricesOf: (id) => prices[id], spent: { costUsd: 0.5, tokens: 0 } });
    assert.deepStrictEqual(gate.worstCase('dear', 10_000, 1000), { tokens: 11_000, costUsd: 0.12 });
    const r = gate.tryReserve('cheap', 10_000, 1000);
    assert.ok(r.go);
    gate.settle(r.reservation, { inputTokens: 20_000, outputTokens: 1000 }); // the provider counted twice the input
    assert.ok(Math.abs(gate.summary().spent.costUsd - (0.5 + 0.022)) < 1e-9);
    assert.strictEqual(gate.worstCase('cheap', 10_000, 0).tokens, 20_000, 'later worst cases scale the counted input by the ratio seen');
    const unpriced = new SpendGate({ cap: { maxCostUsd: 1 }, pricesOf: () => undefined });
    assert.deepStrictEqual(unpriced.tryReserve('x', 1, 1), { go: false, wait: false }, 'a cost cap never sends to an endpoint without prices');
  });

  it('capRefusal, recordedSpend and budgetLine', () => {
    const how = { cost: '--max-cost', tokens: '--max-tokens' };
    assert.strictEqual(capRefusal({ maxTokens: 5 }, [{ id: 'a' }], how), undefined);
    assert.strictEqual(capRefusal({ maxCostUsd: 5 }, [{ id: 'a', prices: { inputCostPerMTok: 1 } }], how), undefined);
    assert.match(capRefusal({ maxCostUsd: 5 }, [{ id: 'a', prices: { inputCostPerMTok: 1 } }, { id: 'local' }], how)!, /--max-cost needs the endpoint's prices, and local has none; .*--max-tokens/);
    const spend = recordedSpend([{ inputTokens: 1e6, outputTokens: 0 }, { inputTokens: 0, outputTokens: 1e6, endpoint: 'b' }, { inputTokens: -5, outputTokens: Number.NaN }], 'a', (id) => (id === 'a' ? { inputCostPerMTok: 3 } : { outputCostPerMTok: 15 }));
    assert.deepStrictEqual(spend, { costUsd: 18, tokens: 2e6 });
    assert.strictEqual(budgetLine({ cap: { maxCostUsd: 2 }, spent: { costUsd: 1.5, tokens: 9 }, reached: false }, 0), undefined);
    assert.strictEqual(budgetLine({ cap: { maxCostUsd: 2, maxTokens: 20000 }, spent: { costUsd: 1.5, tokens: 12345 }, reached: true }, 3), 'Spend cap reached at $1.50 of $2.00, 12,345 of 20,000 tokens: 3 chunks not sent (canceled, reason budget); resume with a higher cap to finish them.');
  });

  it('with concurrency 3, never passes the cap counting the worst case in flight; the chunks left end canceled with reason budget', async () => {
    const planned = batches(12);
    const tokens = planned[0].tokens;
    // Each request spends about half its worst case; the cap has room for 5 worst cases.
    const model = new HeldModel('m', 100, { inputTokens: Math.floor(tokens / 2), outputTokens: 50 });
    const cap = 5 * (tokens + 100);
    const watch = spendWatcher(cap, 100);
    const done = run(model, planned, { maxConcurrency: 3, budget: { cap: { maxTokens: cap }, pricesOf: () => undefined }, onEvent: watch.onEvent });
    await model.until(3);
    assert.strictEqual(model.requests.length, 3, 'three in flight at once');
    // Answer in order of arrival until the run ends.
    let ended = false;
    void done.finally(() => (ended = true));
    while (!ended) {
      if (model.pending.length) model.next();
      await new Promise((r) => setImmediate(r));
    }
    const { summary, outcomes } = await done;
    assert.ok(watch.spent() <= cap);
    assert.ok(summary.budget?.reached);
    assert.strictEqual(summary.budget.spent.tokens, watch.spent());
    const sent = model.requests.length;
    assert.ok(sent > 5, `measured spend is less than the worst case, so more than 5 go (sent ${sent})`);
    assert.ok(sent < 12);
    const canceled = outcomes.filter((o) => o.status === 'canceled');
    assert.strictEqual(canceled.length, 12 - sent);
    assert.ok(canceled.every((o) => o.error?.kind === 'budget'), 'reason budget');
    assert.strictEqual(summary.canceled, canceled.length);
    assert.strictEqual(summary.succeeded, sent);
  });

  it('a request that fits only once requests in flight end waits for them instead of being canceled', async () => {
    const planned = batches(3);
    const tokens = planned[0].tokens;
    const model = new HeldModel('m', 100, { inputTokens: 1, outputTokens: 1 });
    const cap = 2 * (tokens + 100) + 10; // two worst cases fit, not three
    const watch = spendWatcher(cap, 100);
    const done = run(model, planned, { maxConcurrency: 3, budget: { cap: { maxTokens: cap }, pricesOf: () => undefined }, onEvent: watch.onEvent });
    await model.until(2);
    await new Promise((r) => setImmediate(r));
    assert.strictEqual(model.requests.length, 2, 'the third waits');
    model.next();
    await model.until(3);
    model.next();
    model.next();
    const { summary } = await done;
    assert.strictEqual(summary.succeeded, 3);
    assert.strictEqual(summary.budget?.reached, false);
    const order = watch.events.filter((e) => e.type === 'batch-started' || e.type === 'batch-finished').map((e) => e.type);
    assert.deepStrictEqual(order.slice(0, 4), ['batch-started', 'batch-started', 'batch-finished', 'batch-started']);
  });

  it('retries go through the gate too: a failed request spends nothing, its retry is checked', async () => {
    const planned = batches(2);
    const tokens = planned[0].tokens;
    const model = new HeldModel('m', 100);
    const cap = tokens + 100 + (tokens + 100) / 2; // one worst case fits, two do not
    const watch = spendWatcher(cap, 100);
    const done = run(model, planned, { maxConcurrency: 2, maxRetries: 2, budget: { cap: { maxTokens: cap }, pricesOf: () => undefined }, onEvent: watch.onEvent });
    await model.until(1);
    model.next(new TransientError('502'));
    await model.until(2); // the retry of the first (or the second batch): one at a time
    model.next();
    await model.until(3);
    model.next();
    const { summary, outcomes } = await done;
    assert.strictEqual(summary.succeeded, 2, `${JSON.stringify(outcomes.map((o) => o.error))}`);
    assert.strictEqual(model.requests.length, 3);
    assert.strictEqual(watch.events.filter((e) => e.type === 'retry-scheduled').length, 1);
  });

  it('prices each request by the endpoint that served it; without a cap the request carries no output limit of ours', async () => {
    const planned = batches(4);
    const cheap = new HeldModel('cheap', 50, { inputTokens: 1e5, outputTokens: 1e4 });
    const dear = new HeldModel('dear', 50, { inputTokens: 1e5, outputTokens: 1e4 });
    const prices: BudgetOptions['pricesOf'] = (id) => (id === 'cheap' ? { inputCostPerMTok: 1, outputCostPerMTok: 1 } : { inputCostPerMTok: 10, outputCostPerMTok: 10 });
    const done = run(cheap, planned, { endpoints: [{ model: cheap, maxConcurrency: 1 }, { model: dear, maxConcurrency: 1 }], budget: { cap: { maxCostUsd: 100 }, pricesOf: prices } });
    for (let i = 0; i < 2; i++) {
      await cheap.until(i + 1);
      await dear.until(i + 1);
      cheap.next();
      dear.next();
    }
    const { summary } = await done;
    assert.strictEqual(summary.succeeded, 4);
    assert.ok(Math.abs(summary.budget!.spent.costUsd - (2 * 0.11 + 2 * 1.1)) < 1e-9, `${summary.budget!.spent.costUsd}`);

    const unlimited = new HeldModel('u', undefined);
    const capped = new HeldModel('c', undefined);
    const a = run(unlimited, batches(1), {});
    await unlimited.until(1);
    unlimited.next();
    await a;
    const b = run(capped, batches(1), { budget: { cap: { maxTokens: 1e6 }, pricesOf: () => undefined } });
    await capped.until(1);
    capped.next();
    await b;
    assert.strictEqual(unlimited.requests[0].maxOutputTokens, undefined);
    assert.strictEqual(capped.requests[0].maxOutputTokens, 4096, 'a capped request has a finite worst case');
  });
});
