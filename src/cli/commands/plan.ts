import type { SkippedFile } from '../../core/input/files';
import type { Plan } from '../../core/plan/plan';
import { getTokenizer } from '../../core/plan/tokenizer';
import { modelInfoOf } from '../../core/session/prepare';
import { smallestWindow } from '../../core/session/run';
import type { PlanEstimate } from '../../core/estimate/planEstimate';
import type { CliEndpoint } from '../endpoints';
import type { Io } from '../io';
import { endpointOf } from '../models';
import { UsageError, type CliOptions } from '../options';
import { estimateCliPlan, planEndpoints, renderEstimateText } from '../planOutput';
import { planFiles, readRunPrompt, resolveOutput } from '../planning';
import { cacheOf } from '../userCache';
import { estimatePlanReduce, reduceEstimateLines } from '../../core/reduce/estimate';
import type { ReduceEstimate } from '../../core/reduce/tree';
import { readReduceSpec } from '../reducing';
import { capWarning } from '../../core/estimate/capWarning';
import { CAP_FLAGS, capOf } from '../spendCap';

/** `batch-prompt plan FILES…`: the chunks and requests a run would send, and their estimate; nothing is sent. */
export async function planCommand(opts: CliOptions, io: Io): Promise<number> {
  // A plan given a prompt counts its tokens and looks its chunks up in the cache.
  const { prompt, output, front } = opts.prompt !== undefined || opts.promptFile !== undefined ? await readRunPrompt(opts, io.cwd) : { prompt: '', output: await resolveOutput(opts, io.cwd), front: undefined };
  const reduce = await readReduceSpec(opts, io.cwd, front);
  const tokenizer = getTokenizer(opts.encoding);
  let estimated: CliEndpoint[] | undefined;
  try {
    estimated = await planEndpoints(opts, io.cwd);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`batch-prompt: ${e.message}\n`);
    return 1;
  }
  const { plan, skipped } = await planFiles(opts, io, prompt, tokenizer, estimated ? smallestWindow(estimated) : { contextWindow: opts.contextWindow, maxOutputTokens: opts.maxOutputTokens }, output);
  const named = opts.model && opts.baseUrl ? endpointOf(opts) : undefined;
  const primary = estimated ? modelInfoOf(estimated[0]) : named && modelInfoOf(named);
  const estimate = await estimateCliPlan(plan, opts, { cwd: io.cwd, prompt, tokenizer, model: primary, endpoints: estimated, cache: cacheOf(opts, io), signal: io.signal });
  const window = estimated ? smallestWindow(estimated) : { contextWindow: opts.contextWindow, maxOutputTokens: opts.maxOutputTokens };
  const reduceEstimate = reduce && estimatePlanReduce(plan, { prompt: reduce.prompt, output: reduce.output, tokenizer, outputRatio: estimate.output.ratio, maxBatchTokens: opts.maxBatchTokens, ...window });
  printPlan(plan, skipped, opts, io, estimate, reduceEstimate);
  const overCap = capWarning(estimate, capOf(opts), CAP_FLAGS);
  if (overCap) io.stderr.write(`batch-prompt: ${overCap}\n`);
  return 0;
}

function printPlan(plan: Plan, skipped: SkippedFile[], opts: CliOptions, io: Io, estimate: PlanEstimate, reduce?: ReduceEstimate): void {
  if (opts.json) {
    io.stdout.write(
      `${JSON.stringify(
        {
          totals: plan.totals,
          chunkTokens: plan.chunkTokens,
          files: plan.files.map((f) => ({ path: f.path, tokens: f.tokens, chunks: f.chunks.map(({ id, start, end, startLine, endLine, tokens, overlap }) => ({ id, start, end, startLine, endLine, tokens, overlap })) })),
          batches: plan.batches.map((b) => ({ id: b.id, tokens: b.tokens, chunks: b.chunks.map((c) => c.id) })),
          empty: plan.empty,
          skipped,
          estimate,
          ...(reduce ? { reduce } : {}),
        },
        null,
        2,
      )}\n`,
    );
    return;
  }
  for (const f of plan.files) io.stdout.write(`${f.path}: ${f.tokens} tokens, ${f.chunks.length} chunk(s)\n`);
  for (const e of plan.empty) io.stdout.write(`${e}: empty, skipped\n`);
  const t = plan.totals;
  io.stdout.write(`\n${t.files} files, ${t.chunks} chunks, ${t.batches} batches = ${t.requests} requests, ${t.inputTokens} input tokens (prompt and wrapping included)\n`);
  io.stdout.write(`\n${renderEstimateText(estimate)}`);
  if (reduce) io.stdout.write(`\n${reduceEstimateLines(reduce).join('\n')}\n`);
}
