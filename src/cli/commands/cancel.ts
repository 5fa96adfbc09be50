import { cancelJob } from '../../core/jobs/job';
import { guard, openJob } from '../jobs';
import type { Io } from '../io';
import { configuredEndpoints } from '../trust';
import type { CliOptions } from '../options';

/** `batch-prompt cancel DIR`: asks the provider to cancel; `collect` then records what finished. */
export async function cancelCommand(opts: CliOptions, io: Io): Promise<number> {
  const dirArg = opts.inputs[0];
  const opened = await openJob('cancel', dirArg, io, () => configuredEndpoints(opts, io.env, io.cwd));
  if (typeof opened === 'number') return opened;
  const api = opened.api!;
  const job = await guard(() => cancelJob(opened.dir, api, io.signal), io, opened.keyVar);
  if (typeof job === 'number') return job;
  io.stdout.write(job.cancelRequestedAt ? `Cancel requested for job ${job.jobId} (${job.state.providerStatus}); "batch-prompt collect ${dirArg}" records what finished once it has ended.\n` : `Job ${job.jobId} had already ended (${job.state.providerStatus}); nothing to cancel.\n`);
  return 0;
}
