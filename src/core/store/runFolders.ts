import { promises as fs } from 'fs';
import * as path from 'path';
import { pendingJob } from '../jobs/job';
import { readRecords, RECORDS_FILE, RUN_FILE, runLockHolder, SUMMARY_FILE, type RunMeta, type RunSummary } from './runStore';
import { readJson } from '../../util/fs';

/** A run folder that can be resumed: no summary (interrupted), or chunks that did not succeed. */
export interface UnfinishedRun {
  dir: string;
  runId: string;
  createdAt: string;
  prompt: string;
  modelId: string;
  chunks: number;
  succeeded: number;
  /** True when the run never wrote its summary (a crash, a closed window, `kill -9`). */
  interrupted: boolean;
  /** The live process writing it right now, if any (it cannot be resumed meanwhile). */
  lockedBy?: number;
}

/** What a runs folder's own `.gitignore` says: nothing in it is the user's to commit (as tool caches do). */
export const RUNS_GITIGNORE = '# Written by Batch Prompt: run results are not source. Delete this file to commit them.\n*\n';

/**
 * Creates the folder runs are written to (`.batch-prompt/runs` by default) with its own `.gitignore`
 * (`*`) when it has none. Never overwrites: an existing `.gitignore`, or a link in its place (a cloned
 * folder), is left as it is (`wx` does not follow it).
 */
export async function ensureRunsFolder(root: string): Promise<void> {
  await fs.mkdir(root, { recursive: true });
  try {
    await fs.writeFile(path.join(root, '.gitignore'), RUNS_GITIGNORE, { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

/** The names of the folders under `root`, unsorted; undefined when `root` cannot be listed (no runs yet). */
export async function runFolderNames(root: string): Promise<string[] | undefined> {
  try {
    return (await fs.readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return undefined;
  }
}

/** The run folders under `root`, newest first (run ids sort by time), at most `limit`. */
export async function runFolders(root: string, limit = 50): Promise<string[]> {
  return ((await runFolderNames(root)) ?? [])
    .sort()
    .reverse()
    .slice(0, limit)
    .map((n) => path.join(root, n));
}

/**
 * A folder's `summary.json` as written, for a quick look (lists, views): undefined when it is missing,
 * unreadable or not JSON. Unchecked: use `readSummary` / `checkRunFolder` before acting on a folder.
 */
export function peekSummary(dir: string): Promise<RunSummary | undefined> {
  return readJson<RunSummary>(path.join(dir, SUMMARY_FILE));
}

/** A folder's `run.json` as written, for a quick look: undefined when missing or not JSON. Unchecked (see `readRunMeta`). */
export function peekRunMeta(dir: string): Promise<RunMeta | undefined> {
  return readJson<RunMeta>(path.join(dir, RUN_FILE));
}

/** True when the folder's journal (`run.jsonl`) was written after its summary (or there is a journal and no summary): a retry since. */
export async function journalNewerThanSummary(dir: string): Promise<boolean> {
  const [journal, summary] = await Promise.all([fs.stat(path.join(dir, RECORDS_FILE)).catch(() => undefined), fs.stat(path.join(dir, SUMMARY_FILE)).catch(() => undefined)]);
  if (!journal) return false;
  return !summary || journal.mtimeMs > summary.mtimeMs;
}

/**
 * Run folders that did not finish: interrupted ones first cheaply (a folder with `run.json` and no
 * `summary.json`), then, unless `interruptedOnly`, finished ones with chunks that did not succeed.
 * Reads one journal per candidate, so keep `limit` small for a quick look.
 */
export async function unfinishedRuns(root: string, options: { limit?: number; interruptedOnly?: boolean } = {}): Promise<UnfinishedRun[]> {
  const out: UnfinishedRun[] = [];
  for (const dir of await runFolders(root, options.limit)) {
    const summary = await peekSummary(dir);
    if (summary && (options.interruptedOnly || summary.status === 'succeeded')) continue;
    // A batch job not collected yet runs at the provider: sending its chunks again would pay twice.
    if (!summary && (await pendingJob(dir))) continue;
    const meta = await peekRunMeta(dir);
    if (!meta || !Array.isArray(meta.files)) continue;
    const latest = new Map<string, string>();
    for (const r of await readRecords(dir)) latest.set(r.chunkId, r.status);
    const chunks = meta.files.reduce((n, f) => n + f.chunks.length, 0);
    const succeeded = meta.files.reduce((n, f) => n + f.chunks.filter((c) => latest.get(c.id) === 'succeeded').length, 0);
    if (summary && succeeded === chunks) continue;
    const holder = await runLockHolder(dir);
    out.push({
      dir,
      runId: meta.runId ?? path.basename(dir),
      createdAt: meta.createdAt ?? '',
      prompt: meta.prompt ?? '',
      modelId: meta.model?.id ?? '',
      chunks,
      succeeded,
      interrupted: !summary,
      ...(holder ? { lockedBy: holder.pid } : {}),
    });
  }
  return out;
}
