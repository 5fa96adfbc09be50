/**
 * The spend cap (#17): `--max-cost USD` / `batchPrompt.maxCostPerRun` (needs the endpoints' prices) and
 * `--max-tokens N` / `batchPrompt.maxTokensPerRun` (input plus output tokens, for endpoints without prices).
 *
 * The executor asks the gate before it sends each request (a batch, a retry, a part of a split chunk):
 * the request goes only when what is spent (measured usage of the requests that got a reply, each priced
 * at the prices of the endpoint that served it) plus the worst case of every request in flight plus the
 * worst case of this one stays within the cap. A request's worst case is its input tokens (counted with
 * the run's tokenizer, scaled up by the largest ratio of reported to counted input seen so far in the
 * run) plus its output limit. When it would pass the cap but only because of requests in flight, it
 * waits for them to end; when it would pass the cap alone, the cap is reached: no request is sent any
 * more and every chunk not yet sent ends `canceled` with the reason `budget`.
 *
 * The cap is for the whole run, not one invocation: a resume starts from the spend its run folder
 * records, so resuming with the same cap sends nothing more, and resuming with a raised one goes on.
 */
import type { ErrorKind } from './errors';

export interface SpendCap {
  /** Most dollars the run may spend, at its endpoints' prices. */
  maxCostUsd?: number;
  /** Most tokens (input plus output) the run may spend. */
  maxTokens?: number;
}

/** What a run has spent: dollars (when priced) and tokens, input plus output. */
export interface Spend {
  costUsd: number;
  tokens: number;
}

/** An endpoint's prices, in dollars per million tokens (the shape of core/store/report's `Prices`). */
export interface TokenPrices {
  inputCostPerMTok?: number;
  outputCostPerMTok?: number;
}

/** The executor's spend cap: the cap, each endpoint's prices by endpoint id, and what the run spent before. */
export interface BudgetOptions {
  cap: SpendCap;
  /** Prices of the endpoint with this id (undefined: none known). */
  pricesOf: (endpointId: string) => TokenPrices | undefined;
  /** Spend recorded by earlier invocations of the same run (a resume); counts toward the cap. */
  spent?: Spend;
}

/** What a summary says about the cap of a run that had one. */
export interface BudgetSummary {
  cap: SpendCap;
  /** The run's spend so far (earlier invocations included). */
  spent: Spend;
  /** True when a request was held back because it could have passed the cap. */
  reached: boolean;
}

/** The reason given to chunks left unsent when the cap is reached. */
export const BUDGET_KIND: ErrorKind = 'budget';

/** The output limit a capped request is sent with when its endpoint sets none: the worst case must be finite. */
export const CAPPED_MAX_OUTPUT_TOKENS = 4096;

export function hasCap(cap: SpendCap | undefined): cap is SpendCap {
  return !!cap && (cap.maxCostUsd !== undefined || cap.maxTokens !== undefined);
}

/** Dollars for the tokens at these prices; undefined when there are none. */
export function priced(inputTokens: number, outputTokens: number, prices: TokenPrices | undefined): number | undefined {
  if (!prices || (prices.inputCostPerMTok === undefined && prices.outputCostPerMTok === undefined)) return undefined;
  return (inputTokens * (prices.inputCostPerMTok ?? 0) + outputTokens * (prices.outputCostPerMTok ?? 0)) / 1e6;
}

/**
 * Why a cost cap cannot be kept (an endpoint without prices), in words both front ends show; undefined
 * when it can. `endpoints` are the run's endpoints with their prices.
 */
export function capRefusal(cap: SpendCap | undefined, endpoints: readonly { id: string; prices?: TokenPrices }[], how: { cost: string; tokens: string }): string | undefined {
  if (cap?.maxCostUsd === undefined) return undefined;
  const unpriced = endpoints.filter((e) => priced(0, 0, e.prices) === undefined).map((e) => e.id);
  if (!unpriced.length) return undefined;
  return `${how.cost} needs the endpoint's prices, and ${unpriced.join(', ')} ha${unpriced.length === 1 ? 's' : 've'} none; give its prices, or cap the tokens with ${how.tokens} instead.`;
}

/** `$1.23 of $5.00`, `12,345 of 50,000 tokens`: the spend against each limit of the cap. */
export function describeSpend(spent: Spend, cap: SpendCap): string {
  const parts: string[] = [];
  if (cap.maxCostUsd !== undefined) parts.push(`${dollars(spent.costUsd)} of ${dollars(cap.maxCostUsd)}`);
  if (cap.maxTokens !== undefined) parts.push(`${spent.tokens.toLocaleString('en-US')} of ${cap.maxTokens.toLocaleString('en-US')} tokens`);
  return parts.join(', ');
}

/** The one line a front end shows after a capped run (undefined when the cap was not reached). */
export function budgetLine(b: BudgetSummary | undefined, canceled: number): string | undefined {
  if (!b?.reached) return undefined;
  return `Spend cap reached at ${describeSpend(b.spent, b.cap)}: ${canceled} chunk${canceled === 1 ? '' : 's'} not sent (canceled, reason budget); resume with a higher cap to finish them.`;
}

function dollars(n: number): string {
  return n < 0.01 && n > 0 ? `$${n.toFixed(4)}` : `$${n.toFixed(2)}`;
}

/** What one request may cost at worst, or did cost: tokens in and out on an endpoint. */
interface Usage {
  inputTokens: number;
  outputTokens: number;
}

/** A request's place in the gate while it is in flight. */
export interface Reservation {
  readonly endpoint: string;
  readonly worst: Spend;
  /** The input tokens counted with the run's tokenizer (to learn the provider's ratio from its reply). */
  readonly countedInput: number;
}

export type GateDecision = { go: true; reservation: Reservation } | { go: false; wait: boolean };

/**
 * The cap's bookkeeping, synchronous so that a check and its reservation are one step: spent (measured),
 * reserved (the worst case of requests in flight) and whether the cap was reached. Decisions depend
 * on the order of events only (no clock).
 */
export class SpendGate {
  private readonly spent: Spend;
  private readonly reserved: Spend = { costUsd: 0, tokens: 0 };
  private inFlight = 0;
  private reachedCap = false;
  /** The largest reported/counted input ratio seen (at least 1): providers count with their own tokenizers. */
  private inputRatio = 1;
  private waiters: (() => void)[] = [];

  constructor(private readonly o: BudgetOptions) {
    this.spent = { costUsd: o.spent?.costUsd ?? 0, tokens: o.spent?.tokens ?? 0 };
  }

  get reached(): boolean {
    return this.reachedCap;
  }

  summary(): BudgetSummary {
    return { cap: { ...this.o.cap }, spent: { ...this.spent }, reached: this.reachedCap };
  }

  /** The worst case of a request of `inputTokens` counted tokens whose reply may reach `maxOutputTokens`. */
  worstCase(endpoint: string, inputTokens: number, maxOutputTokens: number): Spend {
    const input = Math.ceil(inputTokens * this.inputRatio);
    return { tokens: input + maxOutputTokens, costUsd: priced(input, maxOutputTokens, this.o.pricesOf(endpoint)) ?? (this.o.cap.maxCostUsd !== undefined ? Infinity : 0) };
  }

  /**
   * May a request go? `go` reserves its worst case until `settle`; `wait` means it fits once requests in
   * flight end (call again after `changed()`); neither means the cap is reached, now and for the rest of the run.
   */
  tryReserve(endpoint: string, inputTokens: number, maxOutputTokens: number): GateDecision {
    if (this.reachedCap) return { go: false, wait: false };
    const worst = this.worstCase(endpoint, inputTokens, maxOutputTokens);
    if (this.within(this.reserved, worst)) {
      this.reserved.costUsd += worst.costUsd;
      this.reserved.tokens += worst.tokens;
      this.inFlight++;
      return { go: true, reservation: { endpoint, worst, countedInput: inputTokens } };
    }
    if (this.inFlight > 0 && this.within({ costUsd: 0, tokens: 0 }, worst)) return { go: false, wait: true };
    this.reachedCap = true;
    this.wake();
    return { go: false, wait: false };
  }

  /**
   * A request ended: its reservation is dropped and its measured usage (none for a request that got no
   * reply) is spent, priced at its endpoint's prices.
   */
  settle(r: Reservation, usage?: Usage): void {
    this.reserved.costUsd -= r.worst.costUsd;
    this.reserved.tokens -= r.worst.tokens;
    this.inFlight--;
    if (this.inFlight === 0) {
      // No drift from floating point sums: nothing is in flight.
      this.reserved.costUsd = 0;
      this.reserved.tokens = 0;
    }
    if (usage) {
      this.spent.tokens += usage.inputTokens + usage.outputTokens;
      this.spent.costUsd += priced(usage.inputTokens, usage.outputTokens, this.o.pricesOf(r.endpoint)) ?? 0;
      if (r.countedInput > 0 && usage.inputTokens > r.countedInput) this.inputRatio = Math.max(this.inputRatio, usage.inputTokens / r.countedInput);
    }
    this.wake();
  }

  /** Resolves at the next settle (or when the cap is reached): a waiting request checks again then. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** spent + in flight + `next` within every limit of the cap. */
  private within(inFlight: Spend, next: Spend): boolean {
    const cap = this.o.cap;
    if (cap.maxCostUsd !== undefined && this.spent.costUsd + inFlight.costUsd + next.costUsd > cap.maxCostUsd + 1e-12) return false;
    if (cap.maxTokens !== undefined && this.spent.tokens + inFlight.tokens + next.tokens > cap.maxTokens) return false;
    return true;
  }
}

/**
 * What a run folder's journal says was spent: every record's tokens (each chunk's share of the usage
 * of the requests it was in), priced by the endpoint that served it (`primary` when a record names none).
 */
export function recordedSpend(records: Iterable<{ inputTokens: number; outputTokens: number; endpoint?: string }>, primary: string, pricesOf: (endpointId: string) => TokenPrices | undefined): Spend {
  const spend: Spend = { costUsd: 0, tokens: 0 };
  for (const r of records) {
    const input = Number.isFinite(r.inputTokens) && r.inputTokens > 0 ? r.inputTokens : 0;
    const output = Number.isFinite(r.outputTokens) && r.outputTokens > 0 ? r.outputTokens : 0;
    spend.tokens += input + output;
    spend.costUsd += priced(input, output, pricesOf(r.endpoint ?? primary)) ?? 0;
  }
  return spend;
}
