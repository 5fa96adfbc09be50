import { describeCounts, refreshJob } from '../../core/jobs/job';
import { guard, openJob } from '../jobs';
import type { Io } from '../io';
import { configuredEndpoints } from '../trust';
import type { CliOptions } from '../options';

/** `batch-prompt status DIR`: asks the provider, prints the job's state and request counts. */
export async function statusCommand(opts: CliOptions, io: Io): Promise<number> {
  const dirArg = opts.inputs[0];
  const opened = await openJob('status', dirArg, io, () => configuredEndpoints(opts, io.env, io.cwd), true);
  if (typeof opened === 'number') return opened;
  let job = opened.job;
  const api = opened.api;
  if (api) {
    const failed = await guard(() => refreshJob(opened.dir, api, io.signal), io, opened.keyVar);
    if (typeof failed === 'number') return failed;
    job = failed;
  }
  const s = job.state;
  io.stdout.write(`Job ${job.jobId} (${job.provider}, endpoint ${job.endpointId}): ${s.providerStatus}${job.cancelRequestedAt ? ', cancel requested' : ''}\n`);
  io.stdout.write(`Requests: ${describeCounts(s.counts)} done, ${s.counts.succeeded} succeeded, ${s.counts.failed} failed, ${s.counts.processing} processing\n`);
  if (s.failure) io.stdout.write(`The provider refused the job: ${s.failure}\n`);
  io.stdout.write(job.collectedAt ? `Collected at ${job.collectedAt}; results in ${opened.dir}\n` : s.ended ? `Ended: run "batch-prompt collect ${dirArg}" to write the results.\n` : 'Still running at the provider.\n');
  return 0;
}
