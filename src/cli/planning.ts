import { promises as fs } from 'fs';
import * as path from 'path';
import { collectFiles, type SkippedFile } from '../core/input/files';
import { parsePromptFile } from '../core/input/promptFile';
import type { JsonSchema } from '../core/output/kind';
import { loadItemSchema, parseSchemaText, SchemaError } from '../core/output/schemaFile';
import { TEXT_OUTPUT, type OutputSpec } from '../core/output/spec';
import { sharedChunkPool } from '../core/plan/chunkPool';
import { ParallelPlanner } from '../core/plan/parallelPlan';
import type { Plan } from '../core/plan/plan';
import type { Tokenizer } from '../core/plan/tokenizer';
import { resendRefusal } from '../core/session/prepare';
import { shardOf } from '../core/session/planning';
import type { PlanningSpec } from '../core/store/runStore';
import { RUN_FILE } from '../core/store/runStore';
import type { Io } from './io';
import { planCacheOf } from './userCache';
import { UsageError, type CliOptions } from './options';

// The steps `plan`, `run` and `submit` share before anything is sent: the prompt, the run folder
// named by --out, and the plan of the files named (read one at a time, never held in memory).

/** The files named, planned for `prompt` into requests that fit `window`; the files skipped are listed on stderr. */
export async function planFiles(opts: CliOptions, io: Io, prompt: string, tokenizer: Tokenizer, window: { contextWindow?: number; maxOutputTokens?: number }, output?: OutputSpec): Promise<{ plan: Plan; skipped: SkippedFile[] }> {
  // Chunking runs in worker threads, each file's chunking kept in the user's plan cache (#17).
  const planner = new ParallelPlanner({
    prompt,
    tokenizer,
    ...(output && output.kind !== 'text' ? { output } : {}),
    chunk: { chunkTokens: opts.chunkTokens, overlapTokens: opts.overlap },
    pack: { chunksPerBatch: opts.chunksPerBatch, maxBatchTokens: opts.maxBatchTokens, ...window },
  }, { pool: sharedChunkPool(), helpInThread: true, ...(opts.useCache ? { cache: planCacheOf(io) } : {}) });
  // Files stream into the planner one at a time: the corpus is never held in memory.
  const known = planner.known;
  const collected = await collectFiles(opts.inputs, { cwd: io.cwd, maxFileBytes: opts.maxFileBytes, respectGitignore: opts.respectGitignore, signal: io.signal, ...(known ? { known } : {}), onFile: (f) => {
    return !opts.shard || shardOf(f.path, opts.shard.n) === opts.shard.k ? planner.add(f) : undefined;
  } });
  reportSkipped(collected.skipped, io);
  const plan = await planner.finish();
  if (planner.counts.inThread + planner.counts.pooled > 0) await planner.cache?.prune().catch(() => undefined);
  return { plan, skipped: collected.skipped };
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

export { shardOf };

/**
 * How `run` records its files for a resume that finishes its plan (`RunMeta.planning`): the inputs
 * relative to the working folder (an input outside it names no file the run may read, so it is left out).
 */
export function planningSpecOf(opts: CliOptions, cwd: string): PlanningSpec {
  const inputs = opts.inputs
    .map((i) => (path.isAbsolute(i) ? path.relative(cwd, i) : i).split(path.sep).join('/') || '.')
    .filter((i) => !i.split('/').includes('..') && !path.isAbsolute(i));
  return { inputs, respectGitignore: opts.respectGitignore, maxFileBytes: opts.maxFileBytes, ...(opts.shard ? { shard: opts.shard } : {}) };
}

/** The prompt (a prompt file's body, its front matter read) and the run's output spec (see `resolveOutput`). */
export async function readPrompt(opts: CliOptions, cwd: string): Promise<string> {
  return (await readRunPrompt(opts, cwd)).prompt;
}

/**
 * The prompt and the output spec: `--output`/`--schema` win over a prompt file's front matter
 * (`output:`, `schema:`), which wins over text. A front matter `problem`, a schema that is missing or
 * not a valid JSON Schema, and `--output json` without a schema are refused (`UsageError`) before any
 * file is read or request sent.
 */
export async function readRunPrompt(opts: CliOptions, cwd: string): Promise<{ prompt: string; output: OutputSpec; front?: { file: string; reduce?: string; reduceFile?: string } }> {
  if (opts.prompt !== undefined) {
    if (!opts.prompt.trim()) throw new UsageError('The prompt is empty.');
    return { prompt: opts.prompt, output: await resolveOutput(opts, cwd) };
  }
  const file = path.resolve(cwd, opts.promptFile!);
  const text = await fs.readFile(file, 'utf8').catch(() => {
    throw new UsageError(`Cannot read the prompt file ${opts.promptFile}.`);
  });
  const parsed = parsePromptFile(text);
  if (parsed.problem) throw new UsageError(`The prompt file ${opts.promptFile}: ${parsed.problem}`);
  if (!parsed.body.trim()) throw new UsageError('The prompt is empty.');
  const output = await resolveOutput(opts, cwd, { file, kind: parsed.output, schema: parsed.schema });
  // `front` only when the file asks for a reduce (#16): what `readReduceSpec` reads.
  if (parsed.reduce === undefined && parsed.reduceFile === undefined) return { prompt: parsed.body, output };
  return { prompt: parsed.body, output, front: { file, reduce: parsed.reduce, reduceFile: parsed.reduceFile } };
}

export async function resolveOutput(opts: CliOptions, cwd: string, front?: { file: string; kind?: OutputSpec['kind']; schema?: Parameters<typeof loadItemSchema>[0] }): Promise<OutputSpec> {
  const kind = opts.output ?? (opts.schema !== undefined ? 'json' : front?.kind) ?? 'text';
  if (kind !== 'json') return kind === 'text' ? TEXT_OUTPUT : { kind };
  let schema: JsonSchema;
  try {
    if (opts.schema !== undefined) {
      const file = path.resolve(cwd, opts.schema);
      const text = await fs.readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
        throw new SchemaError(`Schema ${file} cannot be read: ${e.code === 'ENOENT' ? 'the file does not exist' : e.message}.`);
      });
      schema = parseSchemaText(text, file);
    } else if (front?.schema) {
      // A prompt file may come from a cloned repository: its schema is read from the working folder only.
      schema = await loadItemSchema(front.schema, front.file, (p) => fs.readFile(p, 'utf8'), cwd);
    } else {
      throw new UsageError('--output json needs a schema: --schema FILE, or "schema:" in the prompt file\'s front matter.');
    }
  } catch (e) {
    if (SchemaError.is(e)) throw new UsageError(e.message);
    throw e;
  }
  return { kind: 'json', schema };
}

export function reportSkipped(skipped: SkippedFile[], io: Io): void {
  if (!skipped.length) return;
  io.stderr.write(`Skipped ${skipped.length} file(s), never sent:\n`);
  for (const s of skipped.slice(0, 20)) io.stderr.write(`  ${s.path}: ${s.reason} (${s.detail})\n`);
  if (skipped.length > 20) io.stderr.write(`  … and ${skipped.length - 20} more\n`);
}
