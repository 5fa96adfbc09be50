import * as path from 'path';
import pLimit from 'p-limit';
import { pendingJob } from '../../core/jobs/job';
import type { ErrorKind } from '../../core/execute/errors';
import type { ChunkOutcome } from '../../core/execute/events';
import { journalNewerThanSummary, peekRunMeta, peekSummary, runFolderNames } from '../../core/store/runFolders';
import { readRecords, recordOf, type RunMeta, type RunRecord } from '../../core/store/runStore';

/**
 * The Failed Chunks view's data, with no `vscode` import (unit-tested in plain Node): every chunk of
 * the run folders under the runs root whose latest outcome is not `succeeded`, grouped run → file →
 * chunk. Read from disk lazily (`ensureLoaded`), then kept current from the run service's outcomes
 * (`applyOutcome`) and by re-reading a run when it ends (`refreshRun`).
 *
 * "Clear" hides what is listed at that moment and survives a reload: the state store keeps, per run
 * id, the time of the clearing; an outcome recorded at or before that time stays hidden, a later one
 * (a retry that fails again) shows. Entries of run folders that were deleted are pruned on load.
 */

/** `interrupted`: planned in a run that has no summary and is not running here (window closed, crash). */
export type FailureStatus = 'failed' | 'canceled' | 'interrupted';

export interface FailedChunk {
  readonly runId: string;
  /** The run folder. */
  readonly dir: string;
  readonly chunkId: string;
  /** Path relative to the run's root, forward slashes ("folder/rel" in a multi-root workspace). */
  readonly path: string;
  /** UTF-16 offsets `[start, end)` into the file as it was planned. */
  readonly start: number;
  readonly end: number;
  readonly startLine: number;
  readonly endLine: number;
  readonly status: FailureStatus;
  readonly error?: { kind: ErrorKind; message: string };
  readonly attempts: number;
  /** When the outcome was recorded (ISO 8601); absent for interrupted chunks. */
  readonly at?: string;
}

export interface FailedFile {
  readonly runId: string;
  readonly dir: string;
  readonly path: string;
  readonly chunks: readonly FailedChunk[];
}

export interface FailureCounts {
  failed: number;
  canceled: number;
  interrupted: number;
  total: number;
}

export interface FailedRun {
  readonly id: string;
  readonly dir: string;
  /** Folder the run's paths are relative to. */
  readonly root?: string;
  readonly createdAt?: string;
  /** First line of the prompt, shortened. */
  readonly promptLabel?: string;
  readonly model?: RunMeta['model'];
  readonly files: readonly FailedFile[];
  readonly counts: FailureCounts;
}

/** The subset of `vscode.Memento` the model needs (workspace state in the extension, a map in tests). */
export interface StateStore {
  get(key: string): unknown;
  update(key: string, value: unknown): PromiseLike<void>;
}

export interface FailuresModelOptions {
  /** The folder holding the run folders (`undefined` when there is no workspace). */
  runsRoot: () => string | undefined;
  /** Where cleared runs are remembered. */
  state: StateStore;
  /** True for a run folder whose run is going on in this window (its unrecorded chunks are pending, not interrupted). */
  isActive?: (dir: string) => boolean;
  /** The clock of clearings and of outcomes applied in memory (tests set it). */
  now?: () => Date;
}

export interface Disposable {
  dispose(): void;
}

/** workspaceState key: `{ [runId]: ISO time of the last "Clear Failures" }`. */
export const CLEARED_KEY = 'batchPrompt.failures.cleared';

/** Run folders read at once while loading. */
const READ_CONCURRENCY = 8;

interface RunInfo {
  root?: string;
  createdAt?: string;
  promptLabel?: string;
  model?: RunMeta['model'];
  /** Plan order of the files, for sorting. */
  fileOrder: Map<string, number>;
}

interface RunState {
  id: string;
  dir: string;
  info?: RunInfo;
  /** Latest non-succeeded outcome per chunk id. */
  entries: Map<string, FailedChunk>;
}

export type LoadState = 'unloaded' | 'loading' | 'loaded';

export class FailuresModel implements Disposable {
  private readonly runsByDir = new Map<string, RunState>();
  private readonly listeners = new Set<() => void>();
  private cleared: Record<string, string>;
  private loading?: Promise<void>;
  private loadState: LoadState = 'unloaded';
  /** Disk work runs one step at a time, in order. */
  private chain: Promise<void> = Promise.resolve();
  /** Outcomes that arrived while the disk was being read; replayed on top of what was read. */
  private replay?: { dir: string; outcome: ChunkOutcome; at: string }[];
  private readonly queuedRefresh = new Set<string>();
  private snapshot?: FailedRun[];
  private disposed = false;

  constructor(private readonly options: FailuresModelOptions) {
    this.cleared = { ...((options.state.get(CLEARED_KEY) as Record<string, string> | undefined) ?? {}) };
  }

  get state(): LoadState {
    return this.loadState;
  }

  /** Calls `listener` after every change of what `runs()` returns. */
  onDidChange(listener: () => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  dispose(): void {
    this.disposed = true;
    this.listeners.clear();
  }

  /** Reads every run folder once; later calls return the same promise. */
  ensureLoaded(): Promise<void> {
    this.loading ??= this.enqueue(() => this.load());
    return this.loading;
  }

  /** Reads every run folder again (for example after runs were deleted on disk). */
  reload(): Promise<void> {
    if (this.loadState === 'unloaded') return this.ensureLoaded();
    return this.enqueue(() => this.load());
  }

  /** Reads one run folder again, once the run (or a retry) ended. Ignored until the model is loaded. */
  refreshRun(dir: string): Promise<void> {
    if (this.loadState === 'unloaded' || this.queuedRefresh.has(dir)) return this.flush();
    this.queuedRefresh.add(dir);
    return this.enqueue(async () => {
      this.queuedRefresh.delete(dir);
      this.replay = [];
      const state = await this.readRun(dir);
      if (state) this.runsByDir.set(dir, state);
      else this.runsByDir.delete(dir);
      this.replayOutcomes();
      this.changed();
    });
  }

  /** Resolves once the disk work queued so far is done. */
  flush(): Promise<void> {
    return this.chain;
  }

  /** One chunk's outcome as the run service records it: a failure shows, a success removes it. */
  applyOutcome(dir: string, outcome: ChunkOutcome): void {
    if (this.loadState === 'unloaded') return; // the load reads it from disk
    const at = this.now();
    this.replay?.push({ dir, outcome, at });
    if (this.apply(dir, outcome, at)) this.changed();
  }

  /** Runs with something to show, newest first; files in plan order, chunks in file order. */
  runs(): readonly FailedRun[] {
    this.snapshot ??= this.build();
    return this.snapshot;
  }

  counts(): FailureCounts {
    const total: FailureCounts = { failed: 0, canceled: 0, interrupted: 0, total: 0 };
    for (const r of this.runs()) {
      total.failed += r.counts.failed;
      total.canceled += r.counts.canceled;
      total.interrupted += r.counts.interrupted;
      total.total += r.counts.total;
    }
    return total;
  }

  /** Hides what is listed now (of the runs named, or of all runs); remembered in the state store. */
  async clear(runIds?: readonly string[]): Promise<void> {
    const now = this.now();
    const ids = runIds ?? this.runs().map((r) => r.id);
    if (ids.length === 0) return;
    for (const id of ids) this.cleared[id] = now;
    this.changed();
    await this.options.state.update(CLEARED_KEY, { ...this.cleared });
  }

  private now(): string {
    return (this.options.now?.() ?? new Date()).toISOString();
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.chain.then(step);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async load(): Promise<void> {
    if (this.loadState === 'unloaded') this.loadState = 'loading';
    this.replay = [];
    const root = this.options.runsRoot();
    // No runs yet (or an unreadable folder): nothing to show.
    const names = root ? await runFolderNames(root) : undefined;
    const limit = pLimit(READ_CONCURRENCY);
    const read = await Promise.all((names ?? []).map((n) => limit(() => this.readRun(path.join(root!, n)).catch(() => undefined))));
    this.runsByDir.clear();
    for (const s of read) if (s) this.runsByDir.set(s.dir, s);
    // Forget clearings of run folders that are gone (only when the folder could be listed).
    let pruned = false;
    if (names) {
      const present = new Set(names);
      const kept = Object.fromEntries(Object.entries(this.cleared).filter(([id]) => present.has(id)));
      pruned = Object.keys(kept).length !== Object.keys(this.cleared).length;
      this.cleared = kept;
    }
    this.loadState = 'loaded';
    this.replayOutcomes();
    this.changed();
    if (pruned) await this.options.state.update(CLEARED_KEY, { ...this.cleared });
  }

  private replayOutcomes(): void {
    const pending = this.replay ?? [];
    this.replay = undefined;
    for (const p of pending) this.apply(p.dir, p.outcome, p.at);
  }

  /** A run folder's state, or undefined when it is not a run folder or has nothing that failed. */
  private async readRun(dir: string): Promise<RunState | undefined> {
    const summary = await peekSummary(dir);
    if (summary?.status === 'succeeded' && !(await journalNewerThanSummary(dir))) {
      // Every chunk succeeded and nothing was recorded since: nothing to read.
      return undefined;
    }
    const meta = await peekRunMeta(dir);
    if (!meta || !Array.isArray(meta.files)) return undefined;
    const id = path.basename(dir);
    const latest = new Map<string, RunRecord>();
    for (const r of await readRecords(dir)) {
      if (typeof r.chunkId === 'string') latest.set(r.chunkId, r);
    }
    const entries = new Map<string, FailedChunk>();
    for (const r of latest.values()) {
      if (r.status === 'succeeded') continue;
      entries.set(r.chunkId, entryOf(id, dir, r));
    }
    // A batch job not collected yet is running at the provider, not interrupted.
    if (!summary && !this.options.isActive?.(dir) && !(await pendingJob(dir))) {
      for (const f of meta.files) {
        for (const c of f.chunks) {
          if (latest.has(c.id)) continue;
          entries.set(c.id, { runId: id, dir, chunkId: c.id, path: c.path, start: c.start, end: c.end, startLine: c.startLine, endLine: c.endLine, status: 'interrupted', attempts: 0 });
        }
      }
    }
    return { id, dir, info: infoOf(meta), entries };
  }

  /** Applies one outcome in memory; true when what is shown may have changed. */
  private apply(dir: string, outcome: ChunkOutcome, at: string): boolean {
    const c = outcome.chunk;
    let run = this.runsByDir.get(dir);
    if (outcome.status === 'succeeded') return run ? run.entries.delete(c.id) : false;
    if (!run) {
      run = { id: path.basename(dir), dir, entries: new Map() };
      this.runsByDir.set(dir, run);
      void this.enqueue(() => this.readInfo(dir));
    }
    run.entries.set(c.id, entryOf(run.id, dir, { ...recordOf(outcome), at }));
    return true;
  }

  private async readInfo(dir: string): Promise<void> {
    if (this.runsByDir.get(dir)?.info) return;
    const meta = await peekRunMeta(dir);
    const run = this.runsByDir.get(dir);
    if (!meta || !run || run.info) return;
    run.info = infoOf(meta);
    this.changed();
  }

  private hidden(c: FailedChunk): boolean {
    const cleared = this.cleared[c.runId];
    return cleared !== undefined && (c.at === undefined || c.at <= cleared);
  }

  private build(): FailedRun[] {
    const out: FailedRun[] = [];
    for (const run of this.runsByDir.values()) {
      const byPath = new Map<string, FailedChunk[]>();
      const counts: FailureCounts = { failed: 0, canceled: 0, interrupted: 0, total: 0 };
      for (const c of run.entries.values()) {
        if (this.hidden(c)) continue;
        const list = byPath.get(c.path) ?? [];
        list.push(c);
        byPath.set(c.path, list);
        counts[c.status]++;
        counts.total++;
      }
      if (counts.total === 0) continue;
      const order = run.info?.fileOrder;
      const files = [...byPath]
        .sort(([a], [b]) => (order?.get(a) ?? Infinity) - (order?.get(b) ?? Infinity) || a.localeCompare(b))
        .map(([p, chunks]) => ({ runId: run.id, dir: run.dir, path: p, chunks: chunks.sort((x, y) => x.start - y.start || x.startLine - y.startLine) }));
      const info = run.info;
      out.push({ id: run.id, dir: run.dir, root: info?.root, createdAt: info?.createdAt, promptLabel: info?.promptLabel, model: info?.model, files, counts });
    }
    // Run ids start with their time (yyyymmdd-hhmmss-xxxx), so they sort by age.
    return out.sort((a, b) => (b.createdAt ?? b.id).localeCompare(a.createdAt ?? a.id) || b.id.localeCompare(a.id));
  }

  private changed(): void {
    this.snapshot = undefined;
    if (this.disposed) return;
    for (const l of [...this.listeners]) l();
  }
}

/** A short label of a prompt: its first line that says something, without Markdown heading marks. */
export function promptLabelOf(prompt: string, max = 60): string {
  const line = prompt.split('\n').map((l) => l.replace(/^#+\s*/, '').trim()).find((l) => l && l !== '---') ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** The reason of a failure in a word or two, for the tree's description. */
export function shortReason(c: Pick<FailedChunk, 'status' | 'error'>): string {
  if (c.status === 'interrupted') return 'interrupted';
  if (c.status === 'canceled') return c.error?.kind === 'budget' ? 'spend cap reached' : 'canceled';
  const kind = c.error?.kind;
  return kind ? (REASONS[kind] ?? kind) : 'failed';
}

const REASONS: Partial<Record<ErrorKind, string>> = {
  'rate-limited': 'rate limited',
  'context-overflow': 'too large',
  transient: 'server error',
  timeout: 'timed out',
  'bad-reply': 'bad reply',
  'invalid-output': 'invalid output',
  truncated: 'reply cut off',
  'invalid-request': 'request refused',
  'source-changed': 'file changed',
  'model-not-found': 'model not found',
  'no-permission': 'no permission',
};

/** The view's entry for a recorded outcome that did not succeed (the same shape from disk and live). */
function entryOf(runId: string, dir: string, r: RunRecord): FailedChunk {
  return {
    runId,
    dir,
    chunkId: r.chunkId,
    path: r.path,
    start: r.start,
    end: r.end,
    startLine: r.startLine,
    endLine: r.endLine,
    status: r.status === 'canceled' ? 'canceled' : 'failed',
    ...(r.error ? { error: r.error } : {}),
    attempts: r.attempts,
    at: r.at,
  };
}

function infoOf(meta: RunMeta): RunInfo {
  return {
    root: meta.root,
    createdAt: meta.createdAt,
    promptLabel: typeof meta.prompt === 'string' ? promptLabelOf(meta.prompt) : undefined,
    model: meta.model,
    fileOrder: new Map(meta.files.map((f, i) => [f.path, i])),
  };
}

/** A run's unfinished chunks that share a reason ("server error", "canceled"), by file. */
export interface ReasonGroup {
  readonly runId: string;
  readonly dir: string;
  readonly reason: string;
  readonly status: FailureStatus;
  readonly files: readonly FailedFile[];
  readonly chunks: number;
}

const STATUS_ORDER: Record<FailureStatus, number> = { failed: 0, interrupted: 1, canceled: 2 };

/** A run's chunks grouped by reason (failures first, then interrupted, then canceled; larger groups first), each by file in plan order. */
export function groupByReason(run: FailedRun): ReasonGroup[] {
  const groups = new Map<string, { status: FailureStatus; files: Map<string, FailedChunk[]>; chunks: number }>();
  for (const file of run.files) {
    for (const c of file.chunks) {
      const reason = shortReason(c);
      const g = groups.get(reason) ?? { status: c.status, files: new Map<string, FailedChunk[]>(), chunks: 0 };
      const list = g.files.get(file.path) ?? [];
      list.push(c);
      g.files.set(file.path, list);
      g.chunks++;
      groups.set(reason, g);
    }
  }
  return [...groups]
    .map(([reason, g]) => ({ runId: run.id, dir: run.dir, reason, status: g.status, chunks: g.chunks, files: [...g.files].map(([p, chunks]) => ({ runId: run.id, dir: run.dir, path: p, chunks })) }))
    .sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || b.chunks - a.chunks || a.reason.localeCompare(b.reason));
}

/** Rows the view shows expanded at most; a node whose rows do not fit in what is left stays collapsed. */
export const EXPANDED_ROWS = 50;

/**
 * Which nodes start expanded: walking runs, then reasons, then files in order, a node is expanded when
 * all the rows under it fit in what is left of `budget`, and those rows are then counted. 452 canceled
 * one-chunk files give one collapsed run (or reason) row, not 900 rows. Keys: `run:ID`,
 * `reason:ID/REASON`, `file:ID/REASON/PATH`.
 */
export function expandedNodes(runs: readonly FailedRun[], budget = EXPANDED_ROWS): Set<string> {
  const out = new Set<string>();
  let left = budget - runs.length; // the run rows themselves always show
  for (const run of runs) {
    const groups = groupByReason(run);
    const rowsOf = (g: ReasonGroup) => g.files.length + g.chunks;
    const runRows = groups.reduce((n, g) => n + 1 + rowsOf(g), 0);
    if (runRows <= left) {
      // Everything under the run fits: all expanded.
      out.add(`run:${run.id}`);
      for (const g of groups) {
        out.add(`reason:${run.id}/${g.reason}`);
        for (const f of g.files) out.add(`file:${run.id}/${g.reason}/${f.path}`);
      }
      left -= runRows;
      continue;
    }
    if (groups.length > left) continue; // not even the reason rows fit
    out.add(`run:${run.id}`);
    left -= groups.length;
    for (const g of groups) {
      if (g.files.length > left) continue;
      // The group's file rows fit: expanded, with as many of its files expanded as fit.
      out.add(`reason:${run.id}/${g.reason}`);
      left -= g.files.length;
      for (const f of g.files) {
        if (f.chunks.length > left) continue;
        out.add(`file:${run.id}/${g.reason}/${f.path}`);
        left -= f.chunks.length;
      }
    }
  }
  return out;
}
