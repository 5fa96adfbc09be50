import * as path from 'path';
import { ensureRunsFolder } from '../../core/store/runFolders';
import type { Plan } from '../../core/plan/plan';
import { getTokenizer, type Tokenizer } from '../../core/plan/tokenizer';
import { BatchTooLargeError, submitJob, type BatchApi } from '../../core/jobs/job';
import { modelInfoOf, runParameters } from '../../core/session/prepare';
import { newRunId, type RunParameters } from '../../core/session/run';
import type { EndpointConfig } from '../../providers/endpoint';
import type { OutputSpec } from '../../core/output/spec';
import type { Io } from '../io';
import { selectBatchApi } from '../jobs';
import { keyVarOf, withKeyHint } from '../keyHints';
import { endpointOf } from '../models';
import { runSettingsOf, type CliOptions } from '../options';
import { heldRun, nothingToSend, planFiles, readRunPrompt } from '../planning';
import { CAPPED_MAX_OUTPUT_TOKENS, capRefusal } from '../../core/execute/budget';
import { batchJobOverCap } from '../../core/estimate/capWarning';
import { CAP_FLAGS, capOf, flagPrices } from '../spendCap';

/** `batch-prompt submit FILES…`: the plan sent as one provider batch job (see `submitPlan`). */
export async function submitCommand(opts: CliOptions, io: Io): Promise<number> {
  const { prompt, output } = await readRunPrompt(opts, io.cwd);
  const tokenizer = getTokenizer(opts.encoding);
  const cap = capOf(opts);
  // Under a spend cap every request carries an output limit: the job's worst case must be finite.
  const endpoint = { ...endpointOf(opts), ...(cap && opts.maxOutputTokens === undefined ? { maxOutputTokens: CAPPED_MAX_OUTPUT_TOKENS } : {}) };
  const refused = capRefusal(cap, [{ id: endpoint.id, prices: flagPrices(opts) }], CAP_FLAGS);
  if (refused) {
    io.stderr.write(`batch-prompt: ${refused.replace('give its prices', 'give its prices (--input-cost and --output-cost)')} Nothing was submitted.\n`);
    return 1;
  }
  const api = selectBatchApi(endpoint, io);
  if (!api) return 1;
  if (opts.out && (await heldRun(opts.out, io))) return 1;
  const { plan } = await planFiles(opts, io, prompt, tokenizer, { contextWindow: opts.contextWindow, maxOutputTokens: endpoint.maxOutputTokens }, output);
  if (nothingToSend(plan, io)) return 1;
  const over = batchJobOverCap(plan.batches, endpoint.maxOutputTokens ?? CAPPED_MAX_OUTPUT_TOKENS, flagPrices(opts), cap, CAP_FLAGS);
  if (over) {
    io.stderr.write(`batch-prompt: ${over}\n`);
    return 1;
  }
  const dir = path.resolve(io.cwd, opts.out ?? path.join('.batch-prompt', 'runs', newRunId()));
  // The default runs folder gets its own .gitignore; a folder named by --out is the user's to place.
  if (!opts.out) await ensureRunsFolder(path.dirname(dir));
  return submitPlan(plan, { dir, prompt, endpoint, api, tokenizer, parameters: runParameters(runSettingsOf(opts)), output }, io);
}

/** `batch-prompt submit`: creates the run folder and the provider job, prints both, and exits (0; 1 when refused). */
export async function submitPlan(plan: Plan, options: { dir: string; prompt: string; endpoint: EndpointConfig; api: BatchApi; tokenizer: Tokenizer; parameters: RunParameters; output?: OutputSpec }, io: Io): Promise<number> {
  const e = options.endpoint;
  let submitted: Awaited<ReturnType<typeof submitJob>>;
  try {
    submitted = await submitJob(plan, {
      root: io.cwd,
      dir: options.dir,
      prompt: options.prompt,
      modelInfo: modelInfoOf(e),
      tokenizer: options.tokenizer,
      parameters: options.parameters,
      ...(options.output && options.output.kind !== 'text' ? { output: options.output } : {}),
      api: options.api,
      endpointId: e.id,
      maxOutputTokens: e.maxOutputTokens,
      chunksPerBatchName: '--chunks-per-batch',
      signal: io.signal,
    });
  } catch (err) {
    // Over the provider's limits: refused before anything was uploaded or written.
    if (!BatchTooLargeError.isTooLarge(err)) throw err;
    io.stderr.write(`batch-prompt: ${err.message}\n`);
    return 1;
  }
  const { job, summary, refused } = submitted;
  if (!job) {
    const why = refused ? withKeyHint(refused.message, refused.kind, keyVarOf(e.provider, undefined, io.env), io.env) : `${summary?.failed ?? 0} chunk(s) could not be read; see run.jsonl.`;
    io.stderr.write(`batch-prompt: no batch job was created: ${why}\n`);
    io.stdout.write(`Run folder: ${options.dir}\n`);
    return 1;
  }
  const chunks = job.requests.reduce((n, r) => n + r.chunkIds.length, 0);
  io.stdout.write(`Submitted batch job ${job.jobId} to ${job.provider}: ${job.requests.length} requests, ${chunks} chunks.\n`);
  io.stdout.write(`Run folder: ${options.dir}\n`);
  io.stdout.write(`Job id: ${job.jobId}\n`);
  io.stdout.write(`Check it with "batch-prompt status ${path.relative(io.cwd, options.dir) || '.'}", then "batch-prompt collect …" once it has ended (within 24 h).\n`);
  return 0;
}
