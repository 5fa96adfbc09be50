import * as path from 'path';
import { ensureRunsFolder } from '../../core/store/runFolders';
import { getTokenizer } from '../../core/plan/tokenizer';
import { modelInfoOf, runParameters } from '../../core/session/prepare';
import { newRunId, runPlanning } from '../../core/session/run';
import { specFiles } from '../../core/session/planning';
import type { ProviderKind } from '../../providers/endpoint';
import type { Io } from '../io';
import { keyVarOf } from '../keyHints';
import { endpointOf, fromSpecs, runEndpoints } from '../models';
import { runSettingsOf, type CliOptions } from '../options';
import { heldRun, nothingToSend, planningSpecOf, readRunPrompt, reportSkipped } from '../planning';
import { readReduceSpec, runReduceStep } from '../reducing';
import { ciOutcome, findingsOptionsProblem, finished, printProposals, ProgressDisplay, quietIo, StreamPrinter, writeReport } from '../runOutput';
import { cacheOf, planCacheOf } from '../userCache';
import { sharedChunkPool } from '../../core/plan/chunkPool';
import { cliBudget, printBudget } from '../spendCap';

/** `batch-prompt run FILES…`: sends the prompt over the files, prints progress and the outcome (exit 0, 2 some failed, 1 fatal). */
export async function runCommand(opts: CliOptions, io: Io): Promise<number> {
  const { prompt, output, front } = await readRunPrompt(opts, io.cwd);
  // A reduce asked for is read (and refused when empty or missing) before any file is read or request sent.
  const reduce = await readReduceSpec(opts, io.cwd, front);
  const refused = findingsOptionsProblem(opts, output.kind);
  if (refused) {
    io.stderr.write(`batch-prompt: ${refused}\n`);
    return 1;
  }
  const tokenizer = getTokenizer(opts.encoding);
  // The models are chosen before any file is read: a missing key stops the run at once.
  const endpoints = await runEndpoints(opts, tokenizer, io);
  if (!endpoints) return 1;
  const model = endpoints[0].model;
  const budget = cliBudget(opts, endpoints, io);
  if (budget === true) return 1;
  if (opts.out && (await heldRun(opts.out, io))) return 1;
  const dir = path.resolve(io.cwd, opts.out ?? path.join('.batch-prompt', 'runs', newRunId()));
  // The default runs folder gets its own .gitignore; a folder named by --out is the user's to place.
  if (!opts.out) await ensureRunsFolder(path.dirname(dir));
  // Each endpoint's key variable, named when the provider refuses its key.
  const keyVars = new Map(fromSpecs(opts) ? endpoints.map((e) => [e.info.id, keyVarOf(e.info.provider as ProviderKind, e.info.apiKeyEnv, io.env)]) : [[model.id, keyVarOf(opts.provider, undefined, io.env)]]);
  const chatter = quietIo(opts, io);
  const progress = new ProgressDisplay(chatter, keyVars, opts.quiet);
  const printer = opts.stream ? new StreamPrinter(chatter) : undefined;
  // Sent as it is planned (no confirmation is asked here): the first request leaves with the first batch.
  const planning = planningSpecOf(opts, io.cwd);
  const { plan, collected, summary } = await runPlanning({
    planning,
    files: specFiles(io.cwd, planning, io.signal, io.beforePlanningFile),
    // Chunking runs in worker threads, each file's chunking kept in the user's plan cache (#17).
    // Texts waiting to be chunked: little is needed ahead of the requests, the feed holds 32 batches (#17).
    planServices: { pool: sharedChunkPool(), helpInThread: true, maxPendingChars: 4 * 1024 * 1024, ...(opts.useCache ? { cache: planCacheOf(io) } : {}) },
    root: io.cwd,
    dir,
    prompt,
    ...(output.kind !== 'text' ? { output } : {}),
    model,
    modelInfo: fromSpecs(opts) ? endpoints[0].info : modelInfoOf(endpointOf(opts)),
    ...(fromSpecs(opts) ? { endpoints } : {}),
    tokenizer,
    parameters: runParameters(runSettingsOf(opts)),
    signal: io.signal,
    onEvent: (e) => (printer?.onEvent(e), progress.onEvent(e)),
    onText: printer && ((batchId, _chunkIds, delta) => printer.onText(batchId, delta)),
    cache: cacheOf(opts, io),
    ...(budget ? { budget } : {}),
  });
  printer?.end();
  progress.end();
  if (collected) reportSkipped(collected.skipped, io);
  if (!summary) {
    if (opts.shard && plan.totals.chunks === 0) {
      io.stderr.write(`batch-prompt: shard ${opts.shard.k}/${opts.shard.n} holds none of the files named; nothing to run, no run folder written.\n`);
      return 0;
    }
    nothingToSend(plan, io);
    return 1;
  }
  let code = finished(summary, dir, chatter, keyVars);
  let artifacts: Awaited<ReturnType<typeof writeReport>>;
  try {
    // A canceled run is combined over what succeeded (the answer names the rest); a fatal error stops here.
    // A run stopped by its spend cap sends no reduce either (the reduce would spend past it).
    if (reduce && summary.budget?.reached) chatter.stderr.write(`batch-prompt: the reduce was not sent: the spend cap was reached; resume the run with a higher cap, then "batch-prompt reduce".\n`);
    else if (reduce && code !== 1 && !io.signal?.aborted) code = Math.max(code, await runReduceStep(dir, reduce, { opts, io, model, ...(fromSpecs(opts) ? { endpoints } : {}), tokenizer, keyVars }));
  } finally {
    artifacts = await writeReport(dir, opts, summary, io);
  }
  await printProposals(dir, chatter);
  code = await ciOutcome(code, dir, opts, chatter, artifacts);
  printBudget(summary, opts, io);
  return code;
}
