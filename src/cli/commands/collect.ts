import { collectJob } from '../../core/jobs/collect';
import { describeCounts } from '../../core/jobs/job';
import * as path from 'path';
import type { RunArtifacts } from '../../core/output/artifacts';
import { runArtifactsOf } from '../../core/store/runReport';
import { readRunMeta, readSummary, type RunSummary } from '../../core/store/runStore';
import { EXIT_STILL_RUNNING, guard, openJob, type Configured } from '../jobs';
import { ciOutcome, findingsOptionsProblem, finished, printProposals } from '../runOutput';
import type { Io } from '../io';
import { configuredEndpoints } from '../trust';
import type { CliOptions } from '../options';

/**
 * `batch-prompt collect DIR`: when the job has ended, downloads and maps its results into the run
 * folder and prints its summary as `run` does. Still running: a line, exit 3.
 */
export async function collectCommand(opts: CliOptions, io: Io): Promise<number> {
  if (opts.sarif !== undefined || opts.failOn !== undefined) {
    const meta = await readRunMeta(path.resolve(io.cwd, opts.inputs[0])).catch(() => undefined);
    const refused = meta && findingsOptionsProblem(opts, meta.output?.kind);
    if (refused) {
      io.stderr.write(`batch-prompt: ${refused}\n`);
      return 1;
    }
  }
  const collected = await collect(opts.inputs[0], io, () => configuredEndpoints(opts, io.env, io.cwd));
  if (typeof collected === 'number') return collected;
  const code = finished(collected.summary, collected.dir, io);
  await printProposals(collected.dir, io);
  if (opts.sarif === undefined && opts.failOn === undefined) return code;
  // collectJob wrote the folder's files; the findings are read back from it (a collect answered from the folder too).
  let artifacts: RunArtifacts | undefined;
  try {
    artifacts = await runArtifactsOf(collected.dir, await readRunMeta(collected.dir));
  } catch (e) {
    io.stderr.write(`batch-prompt: ${e instanceof Error ? e.message : String(e)}\n`);
  }
  return ciOutcome(code, collected.dir, opts, io, artifacts);
}

async function collect(dirArg: string, io: Io, configured: Configured): Promise<{ summary: RunSummary; dir: string } | number> {
  // A job collected earlier is answered from its folder: no key, no request.
  const opened = await openJob('collect', dirArg, io, configured, true);
  if (typeof opened === 'number') return opened;
  const api = opened.api;
  if (!api) {
    io.stdout.write(`Job ${opened.job.jobId} was collected at ${opened.job.collectedAt}; nothing written again.\n`);
    return { summary: await readSummary(opened.dir), dir: opened.dir };
  }
  const result = await guard(() => collectJob(opened.dir, api, { signal: io.signal }), io, opened.keyVar);
  if (typeof result === 'number') return result;
  if (result.status === 'pending') {
    io.stdout.write(`Job ${result.job.jobId} is still running (${result.job.state.providerStatus}, ${describeCounts(result.job.state.counts)} requests done); nothing written. Collect again later.\n`);
    return EXIT_STILL_RUNNING;
  }
  if (result.status === 'already-collected') io.stdout.write(`Job ${result.job.jobId} was collected at ${result.job.collectedAt}; nothing written again.\n`);
  return { summary: result.summary, dir: opened.dir };
}
