import { promises as fs } from 'fs';
import * as path from 'path';
import { formatDuration } from '../../util/format';

/**
 * A run's passes (`passes.jsonl` in its folder, one line each): the first run, then every resume and
 * retry, each with its scope and what it cost. `summary.json` holds the latest pass's figures only; the
 * report's history is read from here. The file is untrusted like the rest of the folder: a line that
 * is not a pass is left out and named; a folder from before this file has no history (its report shows
 * the summary alone).
 */
export const PASSES_FILE = 'passes.jsonl';

export type PassKind = 'run' | 'resume' | 'retry';
export const PASS_KINDS: readonly PassKind[] = ['run', 'resume', 'retry'];

export interface RunPass {
  kind: PassKind;
  /** ISO time the pass ended. */
  at: string;
  /** Chunks the pass set out to finish (all of a run; the unfinished or named ones of a retry). */
  chunks: number;
  succeeded: number;
  failed: number;
  canceled: number;
  /** Of `succeeded`: answered from the result cache, nothing sent. */
  cached: number;
  /** Sends of its chunks' requests (a chunk sent twice in one request counts once per send). */
  attempts: number;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  durationMs: number;
  /** The error that ended the pass early, if one did. */
  fatal?: string;
}

const COUNTS = ['chunks', 'succeeded', 'failed', 'canceled', 'cached', 'attempts', 'requests', 'inputTokens', 'outputTokens', 'durationMs'] as const;

/** The pass a line holds, or why not (for the message naming the line). */
export function checkPass(value: unknown): RunPass | string {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'not an object';
  const v = value as Record<string, unknown>;
  if (!PASS_KINDS.includes(v.kind as PassKind)) return `"kind" must be one of ${PASS_KINDS.join(', ')}`;
  if (typeof v.at !== 'string' || Number.isNaN(Date.parse(v.at))) return '"at" must be an ISO time';
  for (const k of COUNTS) {
    const n = v[k];
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return `"${k}" must be a number of at least 0`;
  }
  if (v.fatal !== undefined && typeof v.fatal !== 'string') return '"fatal" must be text';
  const pass: RunPass = { kind: v.kind as PassKind, at: v.at, ...(Object.fromEntries(COUNTS.map((k) => [k, v[k] as number])) as Omit<RunPass, 'kind' | 'at' | 'fatal'>) };
  if (typeof v.fatal === 'string') pass.fatal = v.fatal.slice(0, 500);
  return pass;
}

/**
 * Reads a folder's passes, oldest first. Missing file: none. A torn last line (a crash mid-append) is
 * skipped silently; any other line that is not a pass is left out and said in `problems`
 * ("passes.jsonl line 3: "requests" must be a number of at least 0").
 */
export async function readPasses(dir: string): Promise<{ passes: RunPass[]; problems: string[] }> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, PASSES_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { passes: [], problems: [] };
    throw e;
  }
  const passes: RunPass[] = [];
  const problems: string[] = [];
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (!line.trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      if (i !== lines.length - 1) problems.push(`${PASSES_FILE} line ${i + 1}: not JSON`);
      continue;
    }
    const pass = checkPass(value);
    if (typeof pass === 'string') problems.push(`${PASSES_FILE} line ${i + 1}: ${pass}`);
    else passes.push(pass);
  }
  return { passes, problems };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** "4 succeeded, 2 failed" of a pass's chunks; for a pass of one chunk, its one status ("succeeded"). */
function outcomeWords(p: Pick<RunPass, 'chunks' | 'succeeded' | 'failed' | 'canceled' | 'cached'>): string {
  const ended = p.succeeded + p.failed + p.canceled;
  if (ended === 1) return p.succeeded ? (p.cached ? 'succeeded (from the cache)' : 'succeeded') : p.failed ? 'failed' : 'canceled';
  const parts = [`${p.succeeded} succeeded`];
  if (p.cached) parts.push(`${p.cached} from the cache`);
  if (p.failed) parts.push(`${p.failed} failed`);
  if (p.canceled) parts.push(`${p.canceled} canceled`);
  return parts.join(', ');
}

/**
 * What a pass did, in its own scope, for the end-of-run notification and the CLI:
 * "6 of 6 chunks succeeded, 6 from the cache", "4 of 6 chunks succeeded, 2 failed (12 s)",
 * "retried 1 chunk: succeeded (3 s)", "resumed 4 chunks: 3 succeeded, 1 failed (40 s)". The duration is
 * left out when nothing was sent (a pass answered from the cache took no time worth saying).
 */
export function describePass(p: RunPass): string {
  const took = p.requests > 0 ? ` (${formatDuration(p.durationMs)})` : '';
  if (p.kind === 'run') {
    // "1 of 1 chunks": the form the notification has always had ("of N chunks").
    const parts = [`${p.succeeded} of ${p.chunks} chunks succeeded`];
    if (p.cached) parts.push(`${p.cached} from the cache`);
    if (p.failed) parts.push(`${p.failed} failed`);
    if (p.canceled) parts.push(`${p.canceled} canceled`);
    return `${parts.join(', ')}${took}`;
  }
  return `${p.kind === 'retry' ? 'retried' : 'resumed'} ${plural(p.chunks, 'chunk')}: ${p.chunks === 0 ? 'nothing left to send' : outcomeWords(p)}${took}`;
}

/** The run as a whole after a retry or resume: "the run now has 6 of 6 chunks succeeded". */
export function describeRunState(s: { succeeded: number; failed: number; canceled: number }): string {
  const total = s.succeeded + s.failed + s.canceled;
  const rest = [s.failed && `${s.failed} failed`, s.canceled && `${s.canceled} canceled`].filter(Boolean).join(', ');
  return `the run now has ${s.succeeded} of ${total} chunks succeeded${rest ? `, ${rest}` : ''}`;
}

/** The counts of a finished pass and of its run (a `RunSummary`). */
export interface OutcomeCounts {
  succeeded: number;
  failed: number;
  canceled: number;
  cached?: number;
  requests: number;
  durationMs: number;
  pass?: RunPass;
  planStopped?: { files: number };
}

/**
 * What a finished pass did, in its own scope, for the end-of-run notification: "6 of 6 chunks
 * succeeded, 6 from the cache", "retried 1 chunk: succeeded (2 s); the run now has 6 of 6 chunks
 * succeeded". A summary without its pass (a batch job collected, a merge, an older folder) says the
 * run's counts.
 */
export function describeOutcome(s: OutcomeCounts): string {
  const stopped = s.planStopped ? `; ${planStoppedNote(s.planStopped)}` : '';
  if (s.pass?.kind === 'run') return describePass(s.pass) + stopped;
  if (s.pass) return `${describePass(s.pass)}; ${describeRunState(s)}${stopped}`;
  const took = s.requests > 0 ? ` (${formatDuration(s.durationMs)})` : '';
  const parts = [`${s.succeeded} of ${s.succeeded + s.failed + s.canceled} chunks succeeded`, s.cached && `${s.cached} from the cache`, s.failed && `${s.failed} failed`, s.canceled && `${s.canceled} canceled`];
  return `${parts.filter(Boolean).join(', ')}${took}${stopped}`;
}

/** "planning stopped after 38 files: a resume plans and sends the rest" (a run canceled while it planned). */
export function planStoppedNote(p: { files: number }): string {
  return `planning stopped after ${plural(p.files, 'file')}: a resume plans and sends the rest`;
}

/** The report's history: one row per pass, with its scope, outcome, attempts, requests, tokens and duration. */
export function passLines(passes: readonly RunPass[], problems: readonly string[] = []): string[] {
  if (!passes.length && !problems.length) return [];
  const lines = ['## Passes', '', 'Every pass over this run folder, oldest first: the run, then each resume and retry.', ''];
  if (passes.length) {
    lines.push('| # | Pass | Ended | Chunks | Succeeded | From the cache | Failed | Canceled | Attempts | Requests | Tokens (in / out) | Duration |', '|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|');
    passes.forEach((p, i) => {
      lines.push(`| ${i + 1} | ${p.kind}${p.fatal ? ' (stopped)' : ''} | ${p.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z')} | ${p.chunks} | ${p.succeeded} | ${p.cached} | ${p.failed} | ${p.canceled} | ${p.attempts} | ${p.requests} | ${p.inputTokens} / ${p.outputTokens} | ${p.requests > 0 ? formatDuration(p.durationMs) : '—'} |`);
    });
    lines.push('');
  }
  for (const problem of problems) lines.push(`> Left out: ${problem.replace(/\|/g, '\\|')}.`, '');
  return lines;
}
