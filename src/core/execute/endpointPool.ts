import type { ErrorKind } from './errors';
import type { EndpointSummary, RunEvent } from './events';
import type { ChatModel } from './model';
import { AdaptiveConcurrency, RequestGate, type Clock } from './rateLimit';

/** Limits of one endpoint; each falls back to the run's own value when left out. */
export interface EndpointLimits {
  maxConcurrency?: number;
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

/** One endpoint serving a run: its model and its own limits. */
export interface ExecutorEndpoint extends EndpointLimits {
  model: ChatModel;
}

export interface PoolOptions {
  clock: Clock;
  /** The run's limits, for endpoints that set none of their own. */
  defaults: EndpointLimits;
  /** Consecutive transient failures (5xx, timeouts, resets) after which an endpoint is dropped (default 3). */
  dropAfterFailures?: number;
  /** A 429 asking to wait longer than this drops the endpoint (default 60 s). */
  dropAfterRetryAfterMs?: number;
  emit: (event: RunEvent) => void;
}

/** One endpoint's live state: its slots, its budget, its health. */
export class EndpointState {
  readonly id: string;
  readonly concurrency: AdaptiveConcurrency;
  readonly gate: RequestGate;
  /** Units handed to it and not yet finished. */
  inFlight = 0;
  dropped?: { kind: ErrorKind; message: string };
  /** Exponentially weighted latency of recent replies (undefined before the first). */
  latencyEwma?: number;
  private consecutiveFailures = 0;
  readonly stats = { requests: 0, failures: 0, inputTokens: 0, outputTokens: 0, replies: 0, latencyTotal: 0 };

  constructor(
    readonly model: ChatModel,
    limits: EndpointLimits,
    clock: Clock,
    emit: (event: RunEvent) => void,
    /** True when the run has one endpoint: events keep their single-endpoint form. */
    single: boolean,
  ) {
    this.id = model.id;
    const tag = single ? {} : { endpoint: model.id };
    this.concurrency = new AdaptiveConcurrency(limits.maxConcurrency ?? 4, (from, to, reason) => emit({ type: 'concurrency-changed', from, to, reason, ...tag }));
    this.gate = new RequestGate({
      requestsPerMinute: limits.requestsPerMinute,
      tokensPerMinute: limits.tokensPerMinute,
      clock,
      onWait: (delayMs, reason) => emit({ type: 'waiting', delayMs, reason, ...tag }),
    });
  }

  /** Has a free slot (its adaptive concurrency counts the units handed to it). */
  get free(): boolean {
    return !this.dropped && this.inFlight < this.concurrency.current;
  }

  onReply(latencyMs: number, inputTokens: number, outputTokens: number): void {
    this.consecutiveFailures = 0;
    this.stats.replies++;
    this.stats.latencyTotal += latencyMs;
    this.stats.inputTokens += inputTokens;
    this.stats.outputTokens += outputTokens;
    this.latencyEwma = this.latencyEwma === undefined ? latencyMs : this.latencyEwma * 0.7 + latencyMs * 0.3;
  }

  /** Counts a failed request; returns the consecutive transient failures so far. */
  onFailure(transient: boolean, latencyMs: number): number {
    this.stats.failures++;
    // A timeout counts as slow: the pump prefers the others.
    this.latencyEwma = this.latencyEwma === undefined ? latencyMs : this.latencyEwma * 0.7 + latencyMs * 0.3;
    if (transient) return ++this.consecutiveFailures;
    return this.consecutiveFailures;
  }

  summary(): EndpointSummary {
    const s = this.stats;
    return {
      id: this.id,
      requests: s.requests,
      failures: s.failures,
      inputTokens: s.inputTokens,
      outputTokens: s.outputTokens,
      meanLatencyMs: s.replies ? Math.round(s.latencyTotal / s.replies) : 0,
      ...(this.dropped ? { dropped: this.dropped } : {}),
    };
  }
}

/**
 * The endpoints of a run and the choice of which one takes the next unit: a live endpoint with a free
 * slot whose budget is not paused, the one with the lowest observed latency first (an endpoint not yet
 * measured counts as fastest, so every endpoint gets tried). Fast endpoints free their slots sooner and
 * so pull more work; a slow, paused or dropped one pulls less or none. An endpoint that keeps failing is
 * dropped for the rest of the run, never the last one for a transient failure.
 */
export class EndpointPool {
  readonly all: EndpointState[];
  private readonly dropAfterFailures: number;
  private readonly dropAfterRetryAfterMs: number;

  constructor(
    endpoints: readonly ExecutorEndpoint[],
    private readonly o: PoolOptions,
  ) {
    if (endpoints.length === 0) throw new Error('A run needs at least one endpoint.');
    const ids = new Set<string>();
    for (const e of endpoints) {
      if (ids.has(e.model.id)) throw new Error(`The endpoint "${e.model.id}" is named twice; give each endpoint its own id.`);
      ids.add(e.model.id);
    }
    const single = endpoints.length === 1;
    this.all = endpoints.map(
      (e) =>
        new EndpointState(
          e.model,
          { maxConcurrency: e.maxConcurrency ?? o.defaults.maxConcurrency, requestsPerMinute: e.requestsPerMinute ?? o.defaults.requestsPerMinute, tokensPerMinute: e.tokensPerMinute ?? o.defaults.tokensPerMinute },
          o.clock,
          o.emit,
          single,
        ),
    );
    this.dropAfterFailures = o.dropAfterFailures ?? 3;
    this.dropAfterRetryAfterMs = o.dropAfterRetryAfterMs ?? 60_000;
  }

  get primary(): EndpointState {
    return this.all[0];
  }

  /** More than one endpoint was named (records and events then say which one served). */
  get several(): boolean {
    return this.all.length > 1;
  }

  live(): number {
    let n = 0;
    for (const e of this.all) if (!e.dropped) n++;
    return n;
  }

  /** Sum of the live endpoints' concurrency (for progress). */
  concurrency(): number {
    let n = 0;
    for (const e of this.all) if (!e.dropped) n += e.concurrency.current;
    return n;
  }

  /**
   * The endpoint to take the next unit, or undefined when none can now. With a single live endpoint its
   * budget is not checked here: the unit waits in its gate, as a one-endpoint run always did.
   */
  pick(now: number): EndpointState | undefined {
    if (this.all.length === 1) return this.all[0].free ? this.all[0] : undefined;
    const checkGate = this.live() > 1;
    let best: EndpointState | undefined;
    for (const e of this.all) {
      if (!e.free || (checkGate && e.gate.waitMs(now) > 0)) continue;
      if (!best || rank(e) < rank(best)) best = e;
    }
    return best;
  }

  /** Milliseconds until a paused endpoint with a free slot could take a unit (undefined: none is paused). */
  nextOpening(now: number): number | undefined {
    let min: number | undefined;
    for (const e of this.all) {
      if (!e.free) continue;
      const w = e.gate.waitMs(now);
      if (w > 0 && (min === undefined || w < min)) min = w;
    }
    return min;
  }

  /**
   * Whether `consecutive` transient failures of an endpoint should take it out of the rotation
   * (never the last live endpoint: its chunks then fail by their retries, as with one endpoint).
   */
  shouldDropAfterTransient(consecutive: number): boolean {
    return this.live() > 1 && consecutive >= this.dropAfterFailures;
  }

  shouldDropAfterRateLimit(retryAfterMs: number | undefined): boolean {
    return this.live() > 1 && retryAfterMs !== undefined && retryAfterMs > this.dropAfterRetryAfterMs;
  }

  /** Takes `e` out of the rotation with a reason the user can act on. */
  drop(e: EndpointState, reason: { kind: ErrorKind; message: string }): void {
    if (e.dropped) return;
    e.dropped = reason;
    this.o.emit({ type: 'endpoint-dropped', endpoint: e.id, reason, remaining: this.live(), others: this.all.filter((x) => !x.dropped).map((x) => x.id) });
  }

  /** Why the run cannot go on: every endpoint dropped (the last one's reason first). */
  noneLeft(last: EndpointState, reason: { kind: ErrorKind; message: string }): { kind: ErrorKind; message: string } {
    const others = this.all.filter((e) => e !== last && e.dropped).map((e) => `${e.id} (${e.dropped!.message})`);
    return { kind: reason.kind, message: `No endpoint is left: ${last.id} failed with "${reason.message}"; dropped before: ${others.join('; ')}.` };
  }

  summaries(): EndpointSummary[] {
    return this.all.map((e) => e.summary());
  }
}

/** Lower is preferred: observed latency, then fewer units in flight. */
function rank(e: EndpointState): number {
  return (e.latencyEwma ?? 0) + e.inFlight * 1e-6;
}
