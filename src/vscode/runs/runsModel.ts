import * as path from 'path';
import pLimit from 'p-limit';
import { costOf, type Prices } from '../../core/store/report';
import { peekRunMeta, peekSummary, runFolders } from '../../core/store/runFolders';
import { readRecords, type RunMeta, type RunSummary } from '../../core/store/runStore';

/**
 * The Runs view's data, with no `vscode` import (unit-tested in plain Node): the run folders under the
 * runs root, newest first, each with a status in a few words. `run.json`, `summary.json` and `run.jsonl`
 * are untrusted: only fields of the expected type are shown, never used to reach outside the folder
 * (the actions go through the run service, which checks the folder before writing in it).
 */

export type RunState = 'running' | 'succeeded' | 'failed' | 'canceled' | 'cached' | 'interrupted';

export interface RunCounts {
  total: number;
  succeeded: number;
  failed: number;
  canceled: number;
  cached: number;
}

export interface RunEntry {
  readonly id: string;
  readonly dir: string;
  readonly createdAt?: string;
  readonly finishedAt?: string;
  readonly promptLabel?: string;
  readonly modelId?: string;
  readonly state: RunState;
  readonly counts: RunCounts;
  /** The status in a few words: "running · 12/600", "succeeded", "3 failed, 2 canceled", "cached". */
  readonly status: string;
  readonly durationMs?: number;
  readonly inputTokens?: number;
  readonly outputTokens?: number;
  /** Dollars at the endpoint's prices; undefined without prices (or before the summary). */
  readonly cost?: number;
  /** An edit run (#15): its proposals can be reviewed. */
  readonly edit: boolean;
  /** Chunks left to send again (failed, canceled, or never recorded in an interrupted run). */
  readonly unfinished: number;
}

/** What a running run reports (the run service's tracker). */
export interface LiveProgress {
  done: number;
  total: number;
}

/** How many runs the view reads (newest first). */
export const RUNS_LISTED = 50;
const READ_CONCURRENCY = 8;

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

/**
 * A run's state and status words from what its folder says. `live` is set while the run goes on in this
 * window; `recorded` (an interrupted run's chunks with an outcome) is used only when there is no summary.
 */
export function summarizeRun(summary: Partial<RunSummary> | undefined, planned: number, live?: LiveProgress, recorded?: Omit<RunCounts, 'total'>): { state: RunState; status: string; counts: RunCounts } {
  if (live) {
    const total = live.total || planned;
    return { state: 'running', status: `running · ${live.done}/${total}`, counts: { total, succeeded: 0, failed: 0, canceled: 0, cached: 0 } };
  }
  if (!summary) {
    const r = recorded ?? { succeeded: 0, failed: 0, canceled: 0, cached: 0 };
    return { state: 'interrupted', status: `interrupted · ${r.succeeded}/${planned} done`, counts: { total: planned, ...r } };
  }
  const succeeded = num(summary.succeeded);
  const failed = num(summary.failed);
  const canceled = num(summary.canceled);
  const cached = Math.min(num(summary.cached), succeeded);
  const counts = { total: succeeded + failed + canceled, succeeded, failed, canceled, cached };
  if (failed > 0 || summary.fatal || summary.status === 'failed') {
    const parts = [`${failed} failed`, canceled ? `${canceled} canceled` : ''].filter(Boolean);
    return { state: 'failed', status: parts.join(', '), counts };
  }
  if (canceled > 0 || summary.status === 'canceled') return { state: 'canceled', status: `${canceled} canceled`, counts };
  if (succeeded > 0 && cached === succeeded) return { state: 'cached', status: 'cached', counts };
  return { state: 'succeeded', status: cached ? `succeeded · ${cached} from cache` : 'succeeded', counts };
}

/** A short label of a prompt: its first line that says something, without Markdown heading marks. */
function promptLabelOf(prompt: unknown, max = 60): string | undefined {
  if (typeof prompt !== 'string') return undefined;
  const line = prompt.split('\n').map((l) => l.replace(/^#+\s*/, '').trim()).find((l) => l && l !== '---') ?? '';
  return !line ? undefined : line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function plannedChunks(meta: RunMeta | undefined): { planned: number; ids: Set<string> } {
  const ids = new Set<string>();
  if (!meta || !Array.isArray(meta.files)) return { planned: 0, ids };
  for (const f of meta.files) {
    if (!f || !Array.isArray(f.chunks)) continue;
    for (const c of f.chunks) if (c && typeof c.id === 'string') ids.add(c.id);
  }
  return { planned: ids.size, ids };
}

export interface ReadRunsOptions {
  /** The progress of a run going on in this window, by folder. */
  live?: (dir: string) => LiveProgress | undefined;
  /** The prices of an endpoint by id (the user's settings), for the cost. */
  prices?: (modelId: string) => Prices | undefined;
  limit?: number;
}

/** One run folder as the view shows it; undefined when it is not a run folder (no readable `run.json`). */
export async function readRunEntry(dir: string, options: ReadRunsOptions = {}): Promise<RunEntry | undefined> {
  const meta = await peekRunMeta(dir);
  if (!meta || typeof meta !== 'object') return undefined;
  const live = options.live?.(dir);
  const summary = live ? undefined : await peekSummary(dir);
  const { planned, ids } = plannedChunks(meta);
  let recorded: Omit<RunCounts, 'total'> | undefined;
  if (!live && (!summary || typeof summary !== 'object')) {
    // Interrupted: count what was recorded (the latest outcome of each planned chunk).
    const latest = new Map<string, { status: unknown; cached?: unknown }>();
    for (const r of await readRecords(dir).catch(() => [])) if (r && typeof r.chunkId === 'string' && ids.has(r.chunkId)) latest.set(r.chunkId, r);
    recorded = { succeeded: 0, failed: 0, canceled: 0, cached: 0 };
    for (const r of latest.values()) {
      if (r.status === 'succeeded') {
        recorded.succeeded++;
        if (r.cached) recorded.cached++;
      } else if (r.status === 'failed') recorded.failed++;
      else if (r.status === 'canceled') recorded.canceled++;
    }
  }
  const s = summary && typeof summary === 'object' ? summary : undefined;
  const { state, status, counts } = summarizeRun(s, planned, live, recorded);
  const modelId = str(meta.model?.id);
  const inputTokens = s ? num(s.inputTokens) : undefined;
  const outputTokens = s ? num(s.outputTokens) : undefined;
  const prices = modelId ? options.prices?.(modelId) : undefined;
  const unfinished = state === 'running' ? 0 : state === 'interrupted' ? Math.max(0, planned - counts.succeeded) : counts.failed + counts.canceled;
  return {
    id: path.basename(dir),
    dir,
    createdAt: str(meta.createdAt),
    finishedAt: s ? str(s.finishedAt) : undefined,
    promptLabel: promptLabelOf(meta.prompt),
    modelId,
    state,
    counts,
    status,
    durationMs: s ? num(s.durationMs) : undefined,
    inputTokens,
    outputTokens,
    cost: s && prices ? costOf(inputTokens ?? 0, outputTokens ?? 0, prices) : undefined,
    edit: (meta.output as { kind?: unknown } | undefined)?.kind === 'edit',
    unfinished,
  };
}

/** The run folders under `root`, newest first (at most `limit`); folders that are not runs are left out. */
export async function readRuns(root: string, options: ReadRunsOptions = {}): Promise<RunEntry[]> {
  const dirs = await runFolders(root, options.limit ?? RUNS_LISTED);
  const limit = pLimit(READ_CONCURRENCY);
  const read = await Promise.all(dirs.map((d) => limit(() => readRunEntry(d, options).catch(() => undefined))));
  const runs = read.filter((r): r is RunEntry => !!r);
  // Run ids start with their time (yyyymmdd-hhmmss-xxxx); createdAt when both have it.
  return runs.sort((a, b) => (b.createdAt ?? b.id).localeCompare(a.createdAt ?? a.id) || b.id.localeCompare(a.id));
}

/** True when `dir` is a folder directly under `root` with a plain name (what Delete Run may remove). */
export function isRunFolderOf(root: string, dir: string): boolean {
  const name = path.basename(dir);
  return path.resolve(path.dirname(dir)) === path.resolve(root) && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) && name !== '..';
}
