import { promises as fs } from 'fs';
import * as path from 'path';
import { collectFiles, type SkippedFile } from '../core/input/files';
import { Planner, type Plan } from '../core/plan/plan';
import type { Tokenizer } from '../core/plan/tokenizer';
import { resendRefusal } from '../core/session/prepare';
import { RUN_FILE } from '../core/store/runStore';
import type { Io } from './io';
import { UsageError, type CliOptions } from './options';

// The steps `plan`, `run` and `submit` share before anything is sent: the prompt, the run folder
// named by --out, and the plan of the files named (read one at a time, never held in memory).

/** The files named, planned for `prompt` into requests that fit `window`; the files skipped are listed on stderr. */
export async function planFiles(opts: CliOptions, io: Io, prompt: string, tokenizer: Tokenizer, window: { contextWindow?: number; maxOutputTokens?: number }): Promise<{ plan: Plan; skipped: SkippedFile[] }> {
  const planner = new Planner({
    prompt,
    tokenizer,
    chunk: { chunkTokens: opts.chunkTokens, overlapTokens: opts.overlap },
    pack: { chunksPerBatch: opts.chunksPerBatch, maxBatchTokens: opts.maxBatchTokens, ...window },
  });
  // Files stream into the planner one at a time: the corpus is never held in memory.
  const collected = await collectFiles(opts.inputs, { cwd: io.cwd, maxFileBytes: opts.maxFileBytes, respectGitignore: opts.respectGitignore, signal: io.signal, onFile: (f) => planner.add(f) });
  reportSkipped(collected.skipped, io);
  return { plan: planner.finish(), skipped: collected.skipped };
}

/** True, after saying so, when the plan has nothing to send (`run`, `submit`). */
export function nothingToSend(plan: Plan, io: Io): boolean {
  if (plan.totals.chunks > 0) return false;
  io.stderr.write('batch-prompt: no text to send: every file named was skipped or empty (see above).\n');
  return true;
}

/**
 * True, after saying what to do instead, when `--out DIR` already holds a run: the user most likely
 * meant to continue it (an interrupted run is resumed, a batch job collected), not to start over.
 */
export async function heldRun(out: string, io: Io): Promise<boolean> {
  const dir = path.resolve(io.cwd, out);
  if (!(await fs.access(path.join(dir, RUN_FILE)).then(() => true, () => false))) return false;
  const next = (await resendRefusal(dir))?.refused === 'uncollected-job' ? `check its batch job with "batch-prompt status ${out}" and "batch-prompt collect ${out}"` : `continue it with "batch-prompt resume ${out}" and this command's endpoint options (chunks that succeeded are not sent again)`;
  io.stderr.write(`batch-prompt: ${out} already holds a run; ${next}, or choose another --out.\n`);
  return true;
}

export async function readPrompt(opts: CliOptions, cwd: string): Promise<string> {
  const text = opts.prompt ?? (await fs.readFile(path.resolve(cwd, opts.promptFile!), 'utf8').catch(() => {
    throw new UsageError(`Cannot read the prompt file ${opts.promptFile}.`);
  }));
  if (!text.trim()) throw new UsageError('The prompt is empty.');
  return text;
}

function reportSkipped(skipped: SkippedFile[], io: Io): void {
  if (!skipped.length) return;
  io.stderr.write(`Skipped ${skipped.length} file(s), never sent:\n`);
  for (const s of skipped.slice(0, 20)) io.stderr.write(`  ${s.path}: ${s.reason} (${s.detail})\n`);
  if (skipped.length > 20) io.stderr.write(`  … and ${skipped.length - 20} more\n`);
}
