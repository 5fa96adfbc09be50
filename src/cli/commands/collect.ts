import { collectJob } from '../../core/jobs/collect';
import { describeCounts } from '../../core/jobs/job';
import { readSummary, type RunSummary } from '../../core/store/runStore';
import { EXIT_STILL_RUNNING, guard, openJob, type Configured } from '../jobs';
import { finished } from '../runOutput';
import type { Io } from '../io';
import { configuredEndpoints } from '../trust';
import type { CliOptions } from '../options';

/**
 * `batch-prompt collect DIR`: when the job has ended, downloads and maps its results into the run
 * folder and prints its summary as `run` does. Still running: a line, exit 3.
 */
export async function collectCommand(opts: CliOptions, io: Io): Promise<number> {
  const collected = await collect(opts.inputs[0], io, () => configuredEndpoints(opts, io.env, io.cwd));
  return typeof collected === 'number' ? collected : finished(collected.summary, collected.dir, io);
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
