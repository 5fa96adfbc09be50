import type { Plan } from '../plan/plan';
import type { Tokenizer } from '../plan/tokenizer';
import type { OutputSpec } from '../output/spec';
import { inputCost, reduceOverhead } from './framing';
import { estimateReduce, type ReduceEstimate } from './tree';

/**
 * The reduce of a planned run (#16), for `plan` and the editor's Estimate Run…: each file's result is
 * expected to be `outputRatio` tokens per token of the file (the map stage's own assumption, measured
 * from recent runs when there are some), packed and combined as a real reduce does (`estimateReduce`).
 */
export function estimatePlanReduce(plan: Pick<Plan, 'files'>, o: { prompt: string; output?: OutputSpec; tokenizer: Tokenizer; outputRatio: number; maxBatchTokens: number; contextWindow?: number; maxOutputTokens?: number; answerTokens?: number }): ReduceEstimate {
  const sample = plan.files[0]?.path ?? 'src/example.ts';
  const inputWrapper = inputCost({ id: `F${plan.files.length || 1}`, path: sample, lines: '1-9999', tokens: 0 }, o.tokenizer);
  const estimate = estimateReduce({
    resultTokens: plan.files.map((f) => Math.max(1, Math.round(f.tokens * o.outputRatio))),
    overhead: reduceOverhead(o.prompt, o.tokenizer, o.output),
    inputWrapper,
    maxBatchTokens: o.maxBatchTokens,
    contextWindow: o.contextWindow,
    maxOutputTokens: o.maxOutputTokens,
    answerTokens: o.answerTokens,
  });
  estimate.assumptions.unshift(`Each file's result is ${o.outputRatio.toFixed(2)} tokens per token of the file (the map stage's output ratio), all files succeeding.`);
  return estimate;
}

/** One line per level and the totals, for a terminal or a document. */
export function reduceEstimateLines(e: ReduceEstimate): string[] {
  return [
    `Reduce (one combined answer): ${e.levels.length} level${e.levels.length === 1 ? '' : 's'}, ${e.requests} request${e.requests === 1 ? '' : 's'}, ${e.inputTokens} input / ${e.outputTokens} output tokens (estimated from the expected result sizes)`,
    ...e.levels.map((l) => `  level ${l.level}: ${l.groups} group${l.groups === 1 ? '' : 's'}, ${l.inputTokens} input / ${l.outputTokens} output tokens`),
    ...e.assumptions.map((a) => `  - ${a}`),
  ];
}

/** The same as a Markdown section (the editor's Estimate Run…): the totals, then a list of the levels and the assumptions. */
export function reduceEstimateMarkdown(e: ReduceEstimate): string {
  const [head, ...rest] = reduceEstimateLines(e);
  return ['## Reduce', '', `${head}.`, '', ...rest.map((l) => `- ${l.trim().replace(/^- /, '')}`), ''].join('\n');
}
