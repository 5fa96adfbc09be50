import { promises as fs } from 'fs';
import * as path from 'path';
import type { Tokenizer } from '../core/plan/tokenizer';
import { describeNotIncluded } from '../core/reduce/answer';
import { reduceRun, type ReduceResult } from '../core/reduce/reduce';
import { reduceSpecOfFile, reduceSpecOfFront, reduceSpecOfText, ReduceSpecError, type ReduceSpec } from '../core/reduce/spec';
import { ReduceRefusedError } from '../core/reduce/tree';
import { parameterOverrides } from '../core/session/prepare';
import type { RunEndpoint } from '../core/session/run';
import { UntrustedRootError, UnsafePathError } from '../core/store/pathGuard';
import { RunLockedError } from '../core/store/runStore';
import { formatDuration } from '../util/format';
import type { Io } from './io';
import { UsageError, type CliOptions } from './options';
import { ProgressDisplay, quietIo } from './runOutput';
import { cacheOf } from './userCache';

// The reduce step of the command line (#16): which combining prompt (--reduce, --reduce-file, a prompt
// file's `reduce:` / `reduceFile:`), and running it on a run folder with the progress on stderr and the
// answer on stdout (`--quiet`: the answer only).

/** The combining prompt and its output (`json` from a reduce file's front matter), or undefined when none is asked for. */
export type { ReduceSpec };

/**
 * The reduce asked for: `--reduce TEXT` or `--reduce-file FILE` (against the working folder), else the
 * run prompt file's `reduce:` or `reduceFile:` (relative to that file, inside the working folder). An
 * empty prompt, a missing or unreadable file, or an unusable front matter is refused (`UsageError`)
 * before anything is read or sent (the rules are core's: core/reduce/spec.ts).
 */
export async function readReduceSpec(opts: CliOptions, cwd: string, front?: { file: string; reduce?: string; reduceFile?: string }): Promise<ReduceSpec | undefined> {
  const read = (p: string) => fs.readFile(p, 'utf8');
  try {
    if (opts.reduce !== undefined) return reduceSpecOfText(opts.reduce, '--reduce');
    if (opts.reduceFile !== undefined) {
      const file = path.resolve(cwd, opts.reduceFile);
      const text = await read(file).catch((e: NodeJS.ErrnoException) => {
        throw new UsageError(`Cannot read the reduce file ${opts.reduceFile}: ${e.code === 'ENOENT' ? 'it does not exist' : e.message}.`);
      });
      return await reduceSpecOfFile(text, file, opts.reduceFile, read, cwd);
    }
    if (!front) return undefined;
    const rel = path.relative(cwd, front.file) || front.file;
    return await reduceSpecOfFront(front, front.file, rel, read, cwd);
  } catch (e) {
    if (ReduceSpecError.is(e)) throw new UsageError(e.message);
    throw e;
  }
}

/**
 * Runs the reduce on `dir` (`spec` undefined: finishes the one it records), with the progress on stderr,
 * then prints the answer on stdout (`--quiet`: only it). Returns the exit code: 0 answered with
 * nothing missing, 2 answered with something not included (or no answer: a group failed), 1 refused
 * or stopped by a fatal error.
 */
export async function runReduceStep(dir: string, spec: ReduceSpec | undefined, c: { opts: CliOptions; io: Io; model: RunEndpoint['model']; endpoints?: RunEndpoint[]; tokenizer: Tokenizer; keyVars?: ReadonlyMap<string, string | undefined> }): Promise<number> {
  const { opts, io } = c;
  const chatter = quietIo(opts, io);
  const progress = new ProgressDisplay(chatter, c.keyVars, opts.quiet);
  let result: ReduceResult;
  const started = Date.now();
  try {
    result = await reduceRun(dir, {
      ...(spec ? { prompt: spec.prompt, ...(spec.output ? { output: spec.output } : {}) } : {}),
      model: c.model,
      ...(c.endpoints && c.endpoints.length > 1 ? { endpoints: c.endpoints } : {}),
      tokenizer: c.tokenizer,
      parameters: parameterOverrides(opts.explicit),
      roots: { allowed: [io.cwd], hint: 'Run the reduce from the folder the run was made in, if you made it there.' },
      cache: cacheOf(opts, io),
      signal: io.signal,
      onEvent: (e) => progress.onEvent(e),
      onLevel: (level, groups, final) => {
        if (!opts.quiet) io.stderr.write(`${io.stderr.isTTY ? '\r\x1b[K' : ''}Reduce level ${level}: ${groups} group${groups === 1 ? '' : 's'}${final ? ' (the final request)' : ''}\n`);
      },
    });
  } catch (e) {
    progress.end();
    if (!ReduceRefusedError.isRefusal(e) && !RunLockedError.is(e) && !UntrustedRootError.is(e) && !UnsafePathError.is(e)) throw e;
    io.stderr.write(`batch-prompt: ${e.message}\n`);
    return 1;
  }
  progress.end();
  const s = result.shape;
  chatter.stdout.write(`Reduce: ${s.levels.map((l) => `level ${l.level} ${l.groups} group${l.groups === 1 ? '' : 's'}`).join(', ')}; ${s.requests} requests, ${s.inputTokens} input / ${s.outputTokens} output tokens in ${formatDuration(Date.now() - started)}\n`);
  if (result.status === 'interrupted') {
    io.stderr.write(`batch-prompt: the reduce stopped: ${result.message ?? 'interrupted'} Finish it with "batch-prompt resume ${opts.inputs[0] ?? dir}" (finished groups are not sent again).\n`);
    return 1;
  }
  if (result.status === 'failed') {
    io.stderr.write(`batch-prompt: ${result.message}\n`);
    return 2;
  }
  if (result.notIncluded.length) {
    io.stderr.write(`batch-prompt: the answer does not include ${result.notIncluded.length} result(s): ${result.notIncluded.slice(0, 5).map(describeNotIncluded).join('; ')}${result.notIncluded.length > 5 ? '; …' : ''} (named at its top)\n`);
  }
  chatter.stdout.write(`Answer: ${result.answerFile}\n\n`);
  io.stdout.write(result.answer ?? (await fs.readFile(result.answerFile!, 'utf8')));
  return result.notIncluded.length ? 2 : 0;
}
