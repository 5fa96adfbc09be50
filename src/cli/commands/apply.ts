import { promises as fs } from 'fs';
import * as path from 'path';
import { applyProposals, PROPOSALS_FILE, ProposalsError, type ApplyResult } from '../../core/output/edits';
import { checkRunRoot, UnsafePathError, UntrustedRootError } from '../../core/store/pathGuard';
import { checkRunFolder, runLockHolder, type RunMeta } from '../../core/store/runStore';
import type { Io } from '../io';
import type { CliOptions } from '../options';
import { shown } from '../trust';

/** Exit code of `apply` when some file was skipped (as `run`'s "some chunks failed"). */
export const EXIT_SKIPPED = 2;

/**
 * `batch-prompt apply DIR [--only GLOB]`: writes an edit run's proposals into the files of its root (which
 * must be this working folder), each atomically and only while the file's current sha256 is the one the
 * run planned; prints what happened to each file; exit 2 when any file was skipped, 1 when nothing could
 * be applied at all (not an edit run, an unsafe folder, another root, a run still being written).
 */
export async function applyCommand(opts: CliOptions, io: Io): Promise<number> {
  const dirArg = opts.inputs[0];
  const dir = path.resolve(io.cwd, dirArg);
  const fail = (message: string) => {
    io.stderr.write(`batch-prompt: ${message}\n`);
    return 1;
  };
  let meta: RunMeta;
  try {
    // The folder is untrusted (a clone, a download): checked whole before anything is read from it.
    meta = await checkRunFolder(dir);
  } catch (e) {
    if (UnsafePathError.is(e)) return fail(`${dirArg}: ${e.message} Nothing was applied.`);
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return fail(`${dirArg} is not a run folder (no run.json); nothing was applied.`);
    return fail(`${e instanceof Error ? e.message : String(e)} Nothing was applied.`);
  }
  if (meta.output?.kind !== 'edit') {
    return fail(`${dirArg} is not an edit run (its output is ${shown(meta.output?.kind ?? 'text')}): only a run made with --output edit (or "output: edit") has proposals to apply. Nothing was applied.`);
  }
  const holder = await runLockHolder(dir);
  if (holder) return fail(`run ${shown(meta.runId)} is still being written by process ${holder.pid}; apply it once it has ended. Nothing was applied.`);
  try {
    // The proposals are written into the run's root only, and only when that is this working folder.
    await checkRunRoot(meta.root, [io.cwd], 'Run "batch-prompt apply" from the folder the run was made in.');
  } catch (e) {
    if (!UntrustedRootError.is(e)) throw e;
    return fail(e.message);
  }
  let result: ApplyResult;
  try {
    result = await applyProposals(io.cwd, dir, opts.only !== undefined ? { only: opts.only } : {});
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !(await exists(path.join(dir, PROPOSALS_FILE)))) {
      return fail(`${dirArg} has no ${PROPOSALS_FILE} yet (the run did not finish): resume it with "batch-prompt resume ${dirArg}", then apply. Nothing was applied.`);
    }
    if (UnsafePathError.is(e) || ProposalsError.is(e)) return fail(`${dirArg}: ${e.message} Nothing was applied.`);
    throw e;
  }
  io.stdout.write(applyReport(result, opts.only));
  return result.skipped > 0 ? EXIT_SKIPPED : 0;
}

/** The per-file lines and the count line `apply` prints. */
export function applyReport(result: ApplyResult, only?: string): string {
  const lines: string[] = [];
  for (const f of result.files) {
    if (f.outcome === 'applied') lines.push(`applied    ${shown(f.path)}`);
    else if (f.outcome === 'unchanged') lines.push(`unchanged  ${shown(f.path)} (the model left it as it was)`);
    else lines.push(`skipped    ${shown(f.path)}: ${shown(f.reason ?? 'no proposal')}`);
  }
  const unchanged = result.files.length - result.applied - result.skipped;
  if (!result.files.length) lines.push(only !== undefined ? `No file of the run matches --only ${shown(only)}.` : 'The run has no files.');
  lines.push(`${result.applied} applied, ${result.skipped} skipped, ${unchanged} unchanged.${result.skipped ? ' Skipped files were left as they are.' : ''}`);
  return `${lines.join('\n')}\n`;
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}
