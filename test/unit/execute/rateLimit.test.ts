import * as assert from 'assert';
import { AdaptiveConcurrency, backoffDelay, RequestGate, type Clock } from '../../../src/core/execute/rateLimit';

/** A virtual clock: sleeping advances time at once, so tests assert order and amounts, not speed. */
export function virtualClock(): Clock & { slept: number[] } {
  let t = 1_000_000;
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    sleep: async (ms: number) => {
      slept.push(ms);
      t += Math.max(0, ms);
      await Promise.resolve();
    },
  };
}

describe('rate limiting', () => {
  it('backoff uses full jitter under an exponential ceiling and honours retry-after', () => {
    assert.strictEqual(backoffDelay(1, 0, () => 0.999999), 999);
    assert.strictEqual(backoffDelay(3, 0, () => 0.5), 2000);
    assert.strictEqual(backoffDelay(20, 0, () => 0.999999), 59_999);
    assert.strictEqual(backoffDelay(1, 5000, () => 0.1), 5000);
    assert.strictEqual(backoffDelay(2, 0, () => 0), 0);
  });

  it('halves concurrency on a rate limit and raises it by one after a run of successes', () => {
    const changes: string[] = [];
    const c = new AdaptiveConcurrency(8, (from, to, why) => changes.push(`${from}->${to} ${why}`));
    c.onRateLimited();
    c.onRateLimited();
    assert.strictEqual(c.current, 2);
    for (let i = 0; i < 2; i++) c.onSuccess();
    assert.strictEqual(c.current, 3);
    for (let i = 0; i < 100; i++) c.onSuccess();
    assert.strictEqual(c.current, 8, 'never above the setting');
    c.onRateLimited();
    c.onRateLimited();
    c.onRateLimited();
    c.onRateLimited();
    assert.strictEqual(c.current, 1, 'never below one');
    assert.deepStrictEqual(changes.slice(0, 3), ['8->4 rate-limited', '4->2 rate-limited', '2->3 recovered']);
  });

  it('a pause holds every request until it ends', async () => {
    const clock = virtualClock();
    const waits: string[] = [];
    const gate = new RequestGate({ clock, onWait: (ms, why) => waits.push(`${ms} ${why}`) });
    const start = clock.now();
    gate.pause(1500);
    await gate.acquire(10);
    assert.ok(clock.now() - start >= 1500);
    assert.deepStrictEqual(waits, ['1500 rate-limited']);
    await gate.acquire(10);
    assert.strictEqual(waits.length, 1, 'no wait once the pause is over');
  });

  it('keeps a run under a requests-per-minute budget', async () => {
    const clock = virtualClock();
    const gate = new RequestGate({ clock, requestsPerMinute: 3 });
    const starts: number[] = [];
    for (let i = 0; i < 7; i++) {
      await gate.acquire(1);
      starts.push(clock.now());
    }
    for (let i = 3; i < starts.length; i++) assert.ok(starts[i] - starts[i - 3] >= 60_000, `request ${i} started too early`);
  });

  it('keeps a run under a tokens-per-minute budget, and lets an oversized request through alone', async () => {
    const clock = virtualClock();
    const gate = new RequestGate({ clock, tokensPerMinute: 1000 });
    const log: [number, number][] = [];
    for (const t of [400, 400, 400, 300, 5000, 100]) {
      await gate.acquire(t);
      log.push([clock.now(), t]);
    }
    for (const [at] of log) {
      const inWindow = log.filter(([t2]) => t2 <= at && t2 > at - 60_000).reduce((n, [, tok]) => n + tok, 0);
      const alone = log.filter(([t2]) => t2 <= at && t2 > at - 60_000).length === 1;
      assert.ok(inWindow <= 1000 || alone, `window ending ${at} holds ${inWindow} tokens`);
    }
  });

  it('waits for the reset when rate-limit headers say the budget is spent', async () => {
    const clock = virtualClock();
    const gate = new RequestGate({ clock });
    gate.observe({ remainingRequests: 0, resetRequestsMs: 2000 });
    const t0 = clock.now();
    await gate.acquire(1);
    assert.ok(clock.now() - t0 >= 2000);
    gate.observe({ remainingTokens: 50, resetTokensMs: 700 });
    const t1 = clock.now();
    await gate.acquire(40);
    assert.strictEqual(clock.now(), t1, 'fits in what is left');
    await gate.acquire(40);
    assert.ok(clock.now() - t1 >= 700, 'waits for the token reset');
  });

  it('stops waiting when the signal aborts', async () => {
    const gate = new RequestGate();
    gate.pause(60_000);
    const ac = new AbortController();
    const p = gate.acquire(1, ac.signal);
    ac.abort();
    await assert.rejects(p, (e: Error) => e.name === 'CanceledError');
  });
});
