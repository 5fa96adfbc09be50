import { describeSpend, priced, type Spend, type SpendCap, type TokenPrices } from '../execute/budget';
import type { PlanEstimate } from './planEstimate';

/**
 * The estimate's warning when a run would pass its spend cap (#17), in words both front ends show
 * (`plan`, Estimate Run…); undefined when it stays within, or there is no cap. The cost side uses the
 * estimate's dearest figure (over several endpoints, the range's top); a cost cap without a priced
 * estimate says so.
 */
export function capWarning(e: Pick<PlanEstimate, 'toSend' | 'cost'>, cap: SpendCap | undefined, names: { cost: string; tokens: string }): string | undefined {
  if (!cap || (cap.maxCostUsd === undefined && cap.maxTokens === undefined)) return undefined;
  const tokens = e.toSend.inputTokens + e.toSend.outputTokens;
  const dollars = e.cost.range?.max ?? e.cost.dollars;
  const over: string[] = [];
  if (cap.maxCostUsd !== undefined && dollars === undefined) over.push(`${names.cost} needs the endpoint's prices, which this estimate has none of`);
  if (cap.maxCostUsd !== undefined && dollars !== undefined && dollars > cap.maxCostUsd) over.push(`the estimated cost ${describeSpend({ costUsd: dollars, tokens }, { maxCostUsd: cap.maxCostUsd })}`);
  if (cap.maxTokens !== undefined && tokens > cap.maxTokens) over.push(`the estimated ${describeSpend({ costUsd: 0, tokens }, { maxTokens: cap.maxTokens })}`);
  if (!over.length) return undefined;
  return `Spend cap: ${over.join('; ')}. The run stops sending when the cap would be passed; the chunks left end canceled (reason budget), to finish with a resume under a higher cap.`;
}

/**
 * The worst case of requests sent as one provider batch job (each its input plus its whole output limit),
 * at `prices`; and why it is refused under `cap` (undefined: it fits).
 */
export function batchJobOverCap(requests: readonly { tokens: number }[], maxOutputTokens: number, prices: TokenPrices | undefined, cap: SpendCap | undefined, names: { cost: string; tokens: string }): string | undefined {
  if (!cap || (cap.maxCostUsd === undefined && cap.maxTokens === undefined)) return undefined;
  const input = requests.reduce((n, r) => n + r.tokens, 0);
  const output = requests.length * maxOutputTokens;
  const worst: Spend = { tokens: input + output, costUsd: priced(input, output, prices) ?? Infinity };
  const over = (cap.maxCostUsd !== undefined && worst.costUsd > cap.maxCostUsd) || (cap.maxTokens !== undefined && worst.tokens > cap.maxTokens);
  if (!over) return undefined;
  const figures = describeSpend(worst, cap).replace(/ of /g, ' against ');
  return `the batch job's worst case (${requests.length} requests: ${input.toLocaleString('en-US')} input tokens plus ${maxOutputTokens.toLocaleString('en-US')} output tokens each) is ${figures}, over the spend cap; a job cannot be stopped midway, so nothing was submitted. Raise ${cap.maxCostUsd !== undefined ? names.cost : names.tokens}, lower --max-output-tokens, or send fewer files.`;
}
