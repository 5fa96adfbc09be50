import pLimit, { type LimitFunction } from 'p-limit';
import { CanceledError } from './errors';
import type { RateLimitInfo } from './model';

/** Time source, injectable so tests never depend on the wall clock. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or rejects with `CanceledError` when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(new CanceledError());
      const onAbort = () => {
        clearTimeout(timer);
        reject(new CanceledError());
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/**
 * Exponential backoff with full jitter: a random delay in `[0, min(cap, base·2^attempt))`, but never
 * less than what the server asked for (`retryAfterMs`).
 */
export function backoffDelay(attempt: number, retryAfterMs = 0, random: () => number = Math.random, baseMs = 1000, capMs = 60_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(retryAfterMs, Math.floor(random() * ceiling));
}

/**
 * Concurrency that adapts: a rate limit halves it, a run of successes as long as the current
 * concurrency raises it by one, never above `max`. Backed by p-limit, whose concurrency can change
 * while tasks run.
 */
export class AdaptiveConcurrency {
  readonly limit: LimitFunction;
  private streak = 0;

  constructor(
    readonly max: number,
    private readonly onChange?: (from: number, to: number, reason: 'rate-limited' | 'recovered') => void,
  ) {
    this.limit = pLimit(Math.max(1, max));
  }

  get current(): number {
    return this.limit.concurrency;
  }

  onRateLimited(): void {
    this.streak = 0;
    this.set(Math.max(1, Math.floor(this.current / 2)), 'rate-limited');
  }

  onSuccess(): void {
    if (this.current >= this.max) return;
    if (++this.streak >= this.current) {
      this.streak = 0;
      this.set(this.current + 1, 'recovered');
    }
  }

  private set(to: number, reason: 'rate-limited' | 'recovered'): void {
    const from = this.current;
    if (to === from) return;
    this.limit.concurrency = to;
    this.onChange?.(from, to, reason);
  }
}

export interface GateOptions {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  clock?: Clock;
  /** Told whenever a request has to wait, and why. */
  onWait?: (delayMs: number, reason: WaitReason) => void;
}

export type WaitReason = 'rate-limited' | 'requests-per-minute' | 'tokens-per-minute';

const WINDOW_MS = 60_000;

/**
 * The gate every request passes before it is sent: a pause shared by all workers (after a 429 or
 * when headers say a budget is spent) and optional requests/tokens-per-minute budgets over a sliding
 * minute. Memory is bounded by the requests of one minute.
 */
export class RequestGate {
  private pausedUntil = 0;
  private pauseReason: WaitReason = 'rate-limited';
  private readonly starts: { at: number; tokens: number }[] = [];
  private windowTokens = 0;
  private tokensLeft?: { remaining: number; until: number };
  private readonly clock: Clock;

  constructor(private readonly options: GateOptions = {}) {
    this.clock = options.clock ?? realClock;
  }

  /** Pauses every request until `ms` from now (or longer, if already paused longer). */
  pause(ms: number, reason: WaitReason = 'rate-limited'): void {
    const until = this.clock.now() + ms;
    if (until > this.pausedUntil) {
      this.pausedUntil = until;
      this.pauseReason = reason;
    }
  }

  /** Feeds what the provider's rate-limit headers said, so that a spent budget waits before it 429s. */
  observe(info: RateLimitInfo): void {
    if (info.remainingRequests === 0 && info.resetRequestsMs !== undefined) this.pause(info.resetRequestsMs);
    if (info.remainingTokens !== undefined && info.resetTokensMs !== undefined) {
      this.tokensLeft = { remaining: info.remainingTokens, until: this.clock.now() + info.resetTokensMs };
    }
  }

  /** Waits until a request of `tokens` may start, then counts it. Rejects with `CanceledError` on abort. */
  async acquire(tokens: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (signal?.aborted) throw new CanceledError();
      const now = this.clock.now();
      this.expire(now);
      const [delay, reason] = this.delayFor(tokens, now);
      if (delay <= 0) {
        this.starts.push({ at: now, tokens });
        this.windowTokens += tokens;
        if (this.tokensLeft) this.tokensLeft.remaining -= tokens;
        return;
      }
      this.options.onWait?.(delay, reason);
      await this.clock.sleep(delay, signal);
    }
  }

  /**
   * Milliseconds before a request could start, without counting one: a pause, a spent request budget
   * or a spent token budget (0 when it could start now). Lets a run with several endpoints skip a paused one.
   */
  waitMs(now = this.clock.now()): number {
    this.expire(now);
    return Math.max(0, this.delayFor(0, now)[0]);
  }

  private delayFor(tokens: number, now: number): [number, WaitReason] {
    if (this.pausedUntil > now) return [this.pausedUntil - now, this.pauseReason];
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = this.options;
    if (rpm && this.starts.length >= rpm) {
      return [this.starts[this.starts.length - rpm].at + WINDOW_MS - now, 'requests-per-minute'];
    }
    // A request larger than the whole budget may start once the window is empty, or it would never start.
    if (tpm && this.starts.length > 0 && this.windowTokens + tokens > tpm) {
      let excess = this.windowTokens + tokens - tpm;
      for (const s of this.starts) {
        excess -= s.tokens;
        if (excess <= 0) return [s.at + WINDOW_MS - now, 'tokens-per-minute'];
      }
      return [this.starts[this.starts.length - 1].at + WINDOW_MS - now, 'tokens-per-minute'];
    }
    if (this.tokensLeft && now < this.tokensLeft.until && this.tokensLeft.remaining < tokens) {
      return [this.tokensLeft.until - now, 'tokens-per-minute'];
    }
    return [0, 'rate-limited'];
  }

  private expire(now: number): void {
    let drop = 0;
    while (drop < this.starts.length && this.starts[drop].at + WINDOW_MS <= now) {
      this.windowTokens -= this.starts[drop].tokens;
      drop++;
    }
    if (drop) this.starts.splice(0, drop);
    if (this.tokensLeft && now >= this.tokensLeft.until) this.tokensLeft = undefined;
  }

  /** Requests started in the last minute (for the status bar's "requests per minute"). */
  requestsLastMinute(): number {
    this.expire(this.clock.now());
    return this.starts.length;
  }
}
