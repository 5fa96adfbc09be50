import * as path from 'path';
import { ensureRunsFolder } from '../../core/store/runFolders';
import { getTokenizer } from '../../core/plan/tokenizer';
import { modelInfoOf, runParameters } from '../../core/session/prepare';
import { newRunId, runPlan, smallestWindow } from '../../core/session/run';
import type { ProviderKind } from '../../providers/endpoint';
import type { Io } from '../io';
import { keyVarOf } from '../keyHints';
import { endpointOf, fromSpecs, runEndpoints } from '../models';
import { runSettingsOf, type CliOptions } from '../options';
import { heldRun, nothingToSend, planFiles, readRunPrompt } from '../planning';
import { readReduceSpec, runReduceStep } from '../reducing';
import { ciOutcome, findingsOptionsProblem, finished, printProposals, ProgressDisplay, quietIo, StreamPrinter, writeReport } from '../runOutput';
import { cacheOf } from '../userCache';

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
  if (opts.out && (await heldRun(opts.out, io))) return 1;
  const { plan } = await planFiles(opts, io, prompt, tokenizer, fromSpecs(opts) ? smallestWindow(endpoints.map((e) => e.model)) : { contextWindow: opts.contextWindow, maxOutputTokens: opts.maxOutputTokens }, output);
  if (opts.shard && plan.totals.chunks === 0) {
    io.stderr.write(`batch-prompt: shard ${opts.shard.k}/${opts.shard.n} holds none of the files named; nothing to run, no run folder written.\n`);
    return 0;
  }
  if (nothingToSend(plan, io)) return 1;
  const dir = path.resolve(io.cwd, opts.out ?? path.join('.batch-prompt', 'runs', newRunId()));
  // The default runs folder gets its own .gitignore; a folder named by --out is the user's to place.
  if (!opts.out) await ensureRunsFolder(path.dirname(dir));
  // Each endpoint's key variable, named when the provider refuses its key.
  const keyVars = new Map(fromSpecs(opts) ? endpoints.map((e) => [e.info.id, keyVarOf(e.info.provider as ProviderKind, e.info.apiKeyEnv, io.env)]) : [[model.id, keyVarOf(opts.provider, undefined, io.env)]]);
  const chatter = quietIo(opts, io);
  const progress = new ProgressDisplay(chatter, keyVars, opts.quiet);
  const printer = opts.stream ? new StreamPrinter(chatter) : undefined;
  const { summary } = await runPlan(plan, {
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
  });
  printer?.end();
  progress.end();
  let code = finished(summary, dir, chatter, keyVars);
  let artifacts: Awaited<ReturnType<typeof writeReport>>;
  try {
    // A canceled run is combined over what succeeded (the answer names the rest); a fatal error stops here.
    if (reduce && code !== 1 && !io.signal?.aborted) code = Math.max(code, await runReduceStep(dir, reduce, { opts, io, model, ...(fromSpecs(opts) ? { endpoints } : {}), tokenizer, keyVars }));
  } finally {
    artifacts = await writeReport(dir, opts, summary, io);
  }
  await printProposals(dir, chatter);
  return ciOutcome(code, dir, opts, chatter, artifacts);
}
