import * as path from 'path';
import { resendRefusal, tokenizerOf } from '../../core/session/prepare';
import { readSummary } from '../../core/store/runStore';
import type { Io } from '../io';
import type { CliOptions } from '../options';
import { readRunFolderMeta, recordedEndpoints } from '../recordedEndpoints';
import { readReduceSpec, runReduceStep } from '../reducing';
import { writeReport } from '../runOutput';
import { shown } from '../trust';

/**
 * `batch-prompt reduce DIR --reduce TEXT | --reduce-file FILE` (#16): combines the results of an existing
 * run folder into one answer, on the endpoints the folder records as resume matches them (never the
 * folder's URL or key variable), from the folder the run was made in.
 */
export async function reduceCommand(opts: CliOptions, io: Io): Promise<number> {
  const spec = await readReduceSpec(opts, io.cwd);
  const dir = path.resolve(io.cwd, opts.inputs[0]);
  const meta = await readRunFolderMeta(dir, io);
  if (!meta) return 1;
  const refusal = await resendRefusal(dir);
  if (refusal) {
    io.stderr.write(`batch-prompt: run ${shown(meta.runId)} is batch job ${shown(refusal.job.jobId)} at ${shown(refusal.job.provider)}, not collected yet; collect it first ("batch-prompt collect"), then combine its results.\n`);
    return 1;
  }
  const tokenizer = tokenizerOf(meta);
  const named = await recordedEndpoints(opts, io, meta, tokenizer, 'reduce');
  if (!named) return 1;
  const code = await runReduceStep(dir, spec, { opts, io, model: named.endpoints[0].model, ...(meta.endpoints?.length ? { endpoints: named.endpoints } : {}), tokenizer, keyVars: named.keyVars });
  const summary = await readSummary(dir).catch(() => undefined);
  if (summary) await writeReport(dir, opts, summary, io);
  return code;
}
