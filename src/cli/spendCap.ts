import { budgetLine, capRefusal, hasCap, type SpendCap, type TokenPrices } from '../core/execute/budget';
import type { RunEndpoint, RunOptions } from '../core/session/run';
import type { RunSummary } from '../core/store/runStore';
import type { CliEndpoint } from './endpoints';
import type { Io } from './io';
import type { CliOptions } from './options';

// The spend cap on the command line (#17): --max-cost USD, --max-tokens N (run, resume, submit; plan warns).

export const CAP_FLAGS = { cost: '--max-cost', tokens: '--max-tokens' } as const;

/** The cap this command line sets, if any. */
export function capOf(opts: Pick<CliOptions, 'maxCostUsd' | 'maxTokens'>): SpendCap | undefined {
  const cap: SpendCap = { ...(opts.maxCostUsd !== undefined ? { maxCostUsd: opts.maxCostUsd } : {}), ...(opts.maxTokens !== undefined ? { maxTokens: opts.maxTokens } : {}) };
  return hasCap(cap) ? cap : undefined;
}

/** --input-cost / --output-cost, when given. */
export function flagPrices(opts: Pick<CliOptions, 'inputCostPerMTok' | 'outputCostPerMTok'>): TokenPrices | undefined {
  return opts.inputCostPerMTok === undefined && opts.outputCostPerMTok === undefined ? undefined : { inputCostPerMTok: opts.inputCostPerMTok, outputCostPerMTok: opts.outputCostPerMTok };
}

/** A --config entry's own prices, when it has some. */
export function entryPrices(c: Pick<CliEndpoint, 'inputCostPerMTok' | 'outputCostPerMTok'>): TokenPrices | undefined {
  return c.inputCostPerMTok === undefined && c.outputCostPerMTok === undefined ? undefined : { inputCostPerMTok: c.inputCostPerMTok, outputCostPerMTok: c.outputCostPerMTok };
}

/**
 * The run's `budget` for core/session, or refused (true) after saying why on stderr: a --max-cost with an
 * endpoint that has no prices (its --config entry's, else --input-cost/--output-cost) sends nothing.
 */
export function cliBudget(opts: CliOptions, endpoints: readonly Pick<RunEndpoint, 'model' | 'prices'>[], io: Io): RunOptions['budget'] | true {
  const cap = capOf(opts);
  if (!cap) return undefined;
  const prices = flagPrices(opts);
  const refused = capRefusal(cap, endpoints.map((e) => ({ id: e.model.id, prices: e.prices ?? prices })), { cost: '--max-cost', tokens: '--max-tokens' });
  if (refused) {
    io.stderr.write(`batch-prompt: ${refused.replace('give its prices', 'give its prices (--input-cost and --output-cost, or inputCostPerMTok/outputCostPerMTok in --config)')} Nothing was sent.\n`);
    return true;
  }
  // One endpoint: its --config entry's prices, else the flags'.
  const own = endpoints.length === 1 ? (endpoints[0].prices ?? prices) : prices;
  return { cap, ...(own ? { prices: own } : {}) };
}

/** The last line of a capped run that reached its cap: at what spend, and how to finish (stdout; stderr under --quiet). */
export function printBudget(summary: RunSummary, opts: Pick<CliOptions, 'quiet'>, io: Io): void {
  const line = budgetLine(summary.budget, summary.canceled);
  if (line) (opts.quiet ? io.stderr : io.stdout).write(`${line}\n`);
}
