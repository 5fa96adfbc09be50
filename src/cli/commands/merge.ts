import * as path from 'path';
import { MergeError, mergeRuns } from '../../core/store/mergeRuns';
import { RUN_FILE } from '../../core/store/runStore';
import { ConfigError } from '../../core/execute/errors';
import { promises as fs } from 'fs';
import type { Io } from '../io';
import type { CliOptions } from '../options';
import { ciOutcome, printProposals, finished, writeReport } from '../runOutput';

/**
 * `batch-prompt merge OUT DIR…`: the shard run folders of a `--shard K/N` run merged into the new run
 * folder OUT (see `mergeRuns`), with its report and findings; exit codes as `run` (and `--fail-on`).
 */
export async function mergeCommand(opts: CliOptions, io: Io): Promise<number> {
  const [outArg, ...dirArgs] = opts.inputs;
  const out = path.resolve(io.cwd, outArg);
  if (await fs.access(path.join(out, RUN_FILE)).then(() => true, () => false)) {
    io.stderr.write(`batch-prompt: ${outArg} already holds a run; name a new folder to merge into.\n`);
    return 1;
  }
  let summary;
  try {
    ({ summary } = await mergeRuns(out, dirArgs.map((d) => path.resolve(io.cwd, d))));
  } catch (e) {
    if (!MergeError.is(e) && !ConfigError.is(e)) throw e;
    io.stderr.write(`batch-prompt: merge refused: ${e.message}\n`);
    return 1;
  }
  io.stdout.write(`Merged ${dirArgs.length} run folder${dirArgs.length === 1 ? '' : 's'} into ${out}\n`);
  const artifacts = await writeReport(out, opts, summary, io);
  const code = finished(summary, out, io);
  await printProposals(out, io);
  return ciOutcome(code, out, opts, io, artifacts);
}
