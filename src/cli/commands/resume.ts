import * as path from 'path';
import { parameterOverrides, resendRefusal, tokenizerOf } from '../../core/session/prepare';
import { resumeRun } from '../../core/session/run';
import { UntrustedRootError } from '../../core/store/pathGuard';
import { RunLockedError, type RunSummary } from '../../core/store/runStore';
import type { Io } from '../io';
import type { CliOptions } from '../options';
import { readRunFolderMeta, recordedEndpoints } from '../recordedEndpoints';
import { unfinishedReduce } from '../../core/reduce/reduce';
import { runReduceStep } from '../reducing';
import { ciOutcome, findingsOptionsProblem, finished, printProposals, ProgressDisplay, quietIo, writeReport } from '../runOutput';
import { shown } from '../trust';
import { cacheOf } from '../userCache';
import { cliBudget, printBudget } from '../spendCap';

/** `batch-prompt resume DIR`: the run's own prompt, endpoint, parameters and plan; the key from the environment. */
export async function resumeCommand(opts: CliOptions, io: Io): Promise<number> {
  const dir = path.resolve(io.cwd, opts.inputs[0]);
  const meta = await readRunFolderMeta(dir, io);
  if (!meta) return 1;
  const refused = findingsOptionsProblem(opts, (meta.output as { kind?: string } | undefined)?.kind);
  if (refused) {
    io.stderr.write(`batch-prompt: ${refused}\n`);
    return 1;
  }
  const refusal = await resendRefusal(dir);
  if (refusal) {
    const { job } = refusal;
    io.stderr.write(`batch-prompt: run ${shown(meta.runId)} is batch job ${shown(job.jobId)} at ${shown(job.provider)}, not collected yet; use "batch-prompt collect" (resuming would send its chunks twice).\n`);
    return 1;
  }
  const tokenizer = tokenizerOf(meta);
  const named = await recordedEndpoints(opts, io, meta, tokenizer, 'resume');
  if (!named) return 1;
  const { endpoints, keyVars } = named;
  const model = endpoints[0].model;
  const budget = cliBudget(opts, endpoints, io);
  if (budget === true) return 1;
  const chatter = quietIo(opts, io);
  const progress = new ProgressDisplay(chatter, keyVars, opts.quiet);
  let summary: RunSummary;
  try {
    // The run's files are read from this working folder only: a cloned run.json may name any folder.
    const roots = { allowed: [io.cwd], hint: `Run "batch-prompt resume" from the folder the run was made in, if you made it there.` };
    ({ summary } = await resumeRun(dir, { model, ...(meta.endpoints?.length ? { endpoints } : {}), tokenizer, parameters: parameterOverrides(opts.explicit), signal: io.signal, onEvent: (e) => progress.onEvent(e), cache: cacheOf(opts, io), roots, ...(budget ? { budget } : {}) }));
  } catch (e) {
    if (!RunLockedError.is(e) && !UntrustedRootError.is(e)) throw e;
    progress.end();
    io.stderr.write(`batch-prompt: ${e.message}\n`);
    return 1;
  }
  progress.end();
  let code = finished(summary, dir, chatter, keyVars);
  let artifacts: Awaited<ReturnType<typeof writeReport>>;
  try {
    // An interrupted reduce (#16) is finished over the run's latest results, its finished groups kept.
    if (code !== 1 && !io.signal?.aborted && (await unfinishedReduce(dir))) {
      code = Math.max(code, await runReduceStep(dir, undefined, { opts, io, model, ...(meta.endpoints?.length ? { endpoints } : {}), tokenizer, keyVars }));
    }
  } finally {
    artifacts = await writeReport(dir, opts, summary, io);
  }
  await printProposals(dir, chatter);
  code = await ciOutcome(code, dir, opts, chatter, artifacts);
  printBudget(summary, opts, io);
  return code;
}
