import { budgetLine, CAPPED_MAX_OUTPUT_TOKENS, capRefusal, hasCap, type SpendCap, type TokenPrices } from '../../core/execute/budget';
import { batchJobOverCap } from '../../core/estimate/capWarning';
import type { ChatModel } from '../../core/execute/model';
import type { RunEndpoint, RunOptions } from '../../core/session/run';
import type { RunSummary } from '../../core/store/runStore';
import type { Settings } from '../base/settingsSchema';

// The spend cap in the editor (#17): batchPrompt.maxCostPerRun and batchPrompt.maxTokensPerRun, for
// runs, resumes, retries and batch jobs. The rules are core's (core/execute/budget); this only names
// the settings in what it says.

export const CAP_SETTING_NAMES = { cost: 'batchPrompt.maxCostPerRun', tokens: 'batchPrompt.maxTokensPerRun' } as const;

/** The cap the settings set (0 is none). */
export function capOfSettings(s: Pick<Settings, 'maxCostPerRun' | 'maxTokensPerRun'>): SpendCap | undefined {
  const cap: SpendCap = { ...(s.maxCostPerRun > 0 ? { maxCostUsd: s.maxCostPerRun } : {}), ...(s.maxTokensPerRun > 0 ? { maxTokens: s.maxTokensPerRun } : {}) };
  return hasCap(cap) ? cap : undefined;
}

/**
 * The run's `budget` for core/session, or why the run is refused (a cost cap on a model without prices).
 * `endpoints` are the run's (each with its own prices when its entry has some), else its one `model` at `prices`.
 */
export function editorBudget(settings: Settings, prices: TokenPrices, model: ChatModel, endpoints?: readonly RunEndpoint[]): { budget?: RunOptions['budget']; refused?: string } {
  const cap = capOfSettings(settings);
  if (!cap) return {};
  const list = endpoints?.length ? endpoints.map((e) => ({ id: e.model.id, prices: e.prices ?? prices })) : [{ id: model.id, prices }];
  const refused = capRefusal(cap, list, CAP_SETTING_NAMES);
  if (refused) return { refused: `${refused.replace('give its prices', 'give its prices (inputCostPerMTok and outputCostPerMTok in its batchPrompt.models entry)')} Nothing was sent.` };
  return { budget: { cap, prices } };
}

/** The output limit of a batch job's requests under a cap (a finite worst case), and why the job is refused (undefined: it fits). */
export function batchJobCap(settings: Settings, prices: TokenPrices, requests: readonly { tokens: number }[], maxOutputTokens: number | undefined): { maxOutputTokens?: number; refused?: string } {
  const cap = capOfSettings(settings);
  if (!cap) return { maxOutputTokens };
  const limit = maxOutputTokens ?? CAPPED_MAX_OUTPUT_TOKENS;
  const refused = capRefusal(cap, [{ id: 'the model', prices }], CAP_SETTING_NAMES) ?? batchJobOverCap(requests, limit, prices, cap, CAP_SETTING_NAMES);
  return refused ? { refused: refused.replace('lower --max-output-tokens', 'lower maxOutputTokens') } : { maxOutputTokens: limit };
}

/** The end-of-run notification's sentence about the cap, with a leading space ('' when it was not reached). */
export function budgetNote(summary: RunSummary): string {
  const line = budgetLine(summary.budget, summary.canceled);
  return line ? ` ${line}` : '';
}
