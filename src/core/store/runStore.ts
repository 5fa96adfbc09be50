/**
 * The run folder's on-disk format, writer and readers in one module: run.json, run.jsonl, chunks/,
 * outputs/, summary.json and the run lock. Over 400 lines because a format change (a field, a file, a
 * recovery rule) must be made where both sides see it; the path checks live in pathGuard.ts, the
 * folder listing in runFolders.ts, the report in runReport.ts.
 */
import { PASSES_FILE, type RunPass } from './passes';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { processAlive, removeStaleTempFiles, writeFileAtomic } from '../../util/atomicFile';
import type { ErrorKind } from '../execute/errors';
import { joinOutputs } from '../../util/text';
import type { EndpointLimits } from '../execute/endpointPool';
import type { ChunkOutcome, ExecutionSummary } from '../execute/events';
import { checkRecord, checkRunMeta, checkRunRoot, checkStoredFile, PathGuard, type RootPolicy, type StoredNames } from './pathGuard';
import { redactUrlCredentials } from '../../util/redact';
import type { ChunkRef, ChunkStatus } from '../plan/types';
import { exists } from '../../util/fs';
import { isEdit, isStructured, type OutputSpec } from '../output/spec';
import { ARTIFACT_FILES, readEntries, renderFileOutput, type FileChunkPart } from '../output/artifacts';
import { EDIT_FILES } from '../output/edits';
import { fenced, legacyOutputNameOf, outputNameOf } from '../output/names';

/** How a run folder names an endpoint (never a key, never a header's value: at most the names of a CLI config's headers). */
export interface EndpointInfo {
  id: string;
  provider?: string;
  model?: string;
  baseUrl?: string;
  contextWindow?: number;
  maxOutputTokens?: number;
  apiVersion?: string;
  /** The CLI's environment variable holding the key (its name only), so that a resume finds it again. */
  apiKeyEnv?: string;
  /**
   * Names (never values) of the custom headers a CLI config file gave the endpoint: a resume needs the
   * file again (`resume --config FILE`) and says so when it is not given.
   */
  headerNames?: string[];
}

/** What a run folder says about the run, enough to show, retry or resume it without the settings. */
export interface RunMeta {
  runId: string;
  createdAt: string;
  /** Folder the file paths are relative to. */
  root: string;
  prompt: string;
  /**
   * The endpoint, enough to rebuild the model without the settings (never a key, never headers, which
   * may hold one): `provider` is `openai`, `azure`, `anthropic`, `ollama` or `vscode-lm`.
   * `contextWindow`, `maxOutputTokens` and `apiVersion` are absent from runs made before resume existed.
   */
  model: EndpointInfo;
  /**
   * Every endpoint of a run made with several (the first is `model`, the primary), each with the limits
   * it was given; absent for a one-endpoint run.
   */
  endpoints?: (EndpointInfo & EndpointLimits)[];
  encoding: string;
  protocolVersion: number;
  /**
   * The output kind (#14) with the `json` kind's item schema; absent means `text`. Untrusted like the
   * rest of the folder: checked (kind known, schema a valid JSON Schema) when the folder is opened.
   */
  output?: OutputSpec;
  parameters: Record<string, number | string | boolean | undefined>;
  /** Every planned file with its text's sha256 and its chunks in order (ids and ranges, no text). */
  files: { path: string; hash: string; chunks: ChunkRef[] }[];
  /** Files the plan left out before any request, with why (an edit run's file with a line over the budget, #15). */
  skipped?: { path: string; reason: string }[];
  /**
   * Present while the run is still planned (it sends as it plans, core/session `runPlanning`): how its
   * files are found again, so that a resume finishes the plan. Meanwhile `files` grows in `plan.jsonl`
   * (one planned file a line, written before any of its chunks is sent) and readers see both; once the
   * plan is complete, `run.json` is written again whole, without this field.
   */
  planning?: PlanningSpec;
}

/** How a run that sends while it plans finds its files again (the CLI's inputs and filters), relative to `root`. */
export interface PlanningSpec {
  inputs: string[];
  respectGitignore: boolean;
  maxFileBytes: number;
  /** `--shard K/N`: only the files of shard `k` of `n`. */
  shard?: { k: number; n: number };
}

/** One line of `run.jsonl`: one chunk outcome. A later line for the same chunk (a retry) supersedes it. */
export interface RunRecord {
  chunkId: string;
  path: string;
  start: number;
  end: number;
  startLine: number;
  endLine: number;
  tokens: number;
  status: ChunkStatus;
  attempts: number;
  error?: { kind: ErrorKind; message: string };
  inputTokens: number;
  outputTokens: number;
  latencyMs: number;
  batchId: string;
  /** The endpoint that served it, in a run with several endpoints. */
  endpoint?: string;
  /** Milliseconds from sending its request to the first streamed text (streamed runs only). */
  firstTokenMs?: number;
  at: string;
  /** Taken from the result cache: nothing was sent (0 tokens, 0 attempts). */
  cached?: true;
  /** Found as `chunks/ID.out` by a resume after a crash between the output and its journal line. */
  recovered?: true;
  /** Edit runs (#15): `['suspicious']` when the rewritten part shrank to under half its lines or to nothing. */
  flags?: string[];
  /** Why the flags were set. */
  note?: string;
}

export type FileStatus = 'complete' | 'incomplete';

export interface RunSummary extends ExecutionSummary {
  runId: string;
  status: 'succeeded' | 'partial' | 'canceled' | 'failed';
  files: { path: string; status: FileStatus; output: string }[];
  finishedAt: string;
  /** Chunks whose latest result came from the result cache. */
  cached?: number;
  /** This pass alone (the run, a resume or a retry): its scope and outcome; also a line of `passes.jsonl`. */
  pass?: RunPass;
  /**
   * The run ended before its plan was complete (canceled while it sent as it planned, #17): `files`
   * files were planned; a resume plans the rest and sends them.
   */
  planStopped?: { files: number };
}

export const RUN_FILE = 'run.json';
export const RECORDS_FILE = 'run.jsonl';
export const SUMMARY_FILE = 'summary.json';
/** Present while a process writes the run folder: `{ pid, hostname, at }`. */
export const LOCK_FILE = 'run.lock';
/** The files planned so far of a run still planned (see `RunMeta.planning`), one JSON line each. */
export const PLAN_JOURNAL = 'plan.jsonl';
const CHUNKS_DIR = 'chunks';
const OUTPUTS_DIR = 'outputs';
/** Raw replies of chunks that failed `invalid-output` (#14). */
export const INVALID_DIR = 'invalid';
/** Files a run folder's writers put beside `run.json` (a batch job's `job.json`, the report). */
const FOLDER_FILES = [RECORDS_FILE, PASSES_FILE, SUMMARY_FILE, LOCK_FILE, PLAN_JOURNAL, 'job.json', 'report.md', ...ARTIFACT_FILES, ...EDIT_FILES, 'reduce.jsonl', 'answer.md', 'answer.json'];

interface FileState {
  path: string;
  chunks: ChunkRef[];
  /** Latest status per chunk id. */
  status: Map<string, ChunkStatus>;
  errors: Map<string, { kind: ErrorKind; message: string }>;
  /** Chunks whose latest result came from the cache. */
  cached: Set<string>;
  /** This file's output writes, one at a time: a retry records its chunks concurrently. */
  writing: Promise<void>;
}

/**
 * A run's folder, written as results arrive: `run.json` (the plan and parameters), `run.jsonl` (one
 * line per chunk outcome, append-only), `chunks/ID.out` (each chunk's output, atomically), one file
 * per input under `outputs/` once all its chunks have ended (`<path>.md`, `.json` for a json run, never
 * the source's own name: see output/names.ts; `<path>.incomplete.md`, with a marker for every missing
 * chunk, when one failed), and `summary.json`. Outputs live on disk, not in
 * memory, so memory stays bounded however many chunks a run has.
 */
export class RunStore {
  private readonly files = new Map<string, FileState>();
  /** Tokens of every record (read and written), by the endpoint that served it (undefined: the one model): the run's spend (#17). */
  private readonly usage = new Map<string | undefined, { inputTokens: number; outputTokens: number }>();
  private appendChain: Promise<void> = Promise.resolve();
  private planChain: Promise<void> = Promise.resolve();
  /** The paths and chunk ids of the run's files, once a file is added while planning (`addPlannedFile`). */
  private names?: StoredNames;
  private locked = false;
  /** Every write into the folder is checked against the real path of what is on disk. */
  private readonly guard: PathGuard;

  private constructor(
    readonly dir: string,
    readonly meta: RunMeta,
  ) {
    this.guard = new PathGuard(dir, 'the run folder');
    for (const f of meta.files) this.files.set(f.path, { path: f.path, chunks: f.chunks, status: new Map(), errors: new Map(), cached: new Set(), writing: Promise.resolve() });
  }

  /**
   * Creates the run folder and writes `run.json`. Refuses a folder that already holds a run, and a
   * plan whose paths could not be read back safely (see `checkRunMeta`), before writing anything. Base
   * URLs are recorded without credentials (`redactUrlCredentials`).
   */
  static async create(dir: string, meta: RunMeta): Promise<RunStore> {
    checkRunMeta(meta);
    meta = withoutUrlCredentials(meta);
    await fs.mkdir(dir, { recursive: true });
    try {
      await fs.access(path.join(dir, RUN_FILE));
      throw new Error(`${dir} already holds a run; choose another output folder.`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await acquireRunLock(dir);
    try {
      await writeFileAtomic(path.join(dir, RUN_FILE), JSON.stringify(meta, null, 2));
    } catch (e) {
      await releaseRunLock(dir);
      throw e;
    }
    const store = new RunStore(dir, meta);
    store.locked = true;
    return store;
  }

  /**
   * Opens a run folder to write more into it (resume, retry). With `roots`, a folder whose `root` is
   * not one of `roots.allowed` is refused before anything is written (see `checkRunRoot`). Takes its lock (refused while another
   * live process holds it), then repairs what a crash can leave: temporary files are removed, a torn
   * last journal line is cut off so the next line stays whole, a chunk recorded `succeeded` whose
   * `chunks/ID.out` is missing goes back to pending, a `chunks/ID.out` without its journal line (a
   * crash between the two) is adopted as succeeded, and the outputs of files whose chunks have all
   * ended are rewritten when missing or stale. Call `finish()` (or `release()`) to drop the lock.
   */
  static async openForUpdate(dir: string, roots?: RootPolicy): Promise<RunStore> {
    await fs.access(path.join(dir, RUN_FILE));
    // Before the lock, the first write: a folder that could lead a write outside itself is refused whole,
    // and so is one whose files would be read from a folder the caller does not allow.
    const meta = await checkRunFolder(dir);
    if (roots) await checkRunRoot(meta.root, roots.allowed, roots.hint);
    await acquireRunLock(dir);
    try {
      await removeStaleTempFiles(dir, { all: true });
      await closeTornJournal(dir);
      const store = await RunStore.open(dir);
      store.locked = true;
      await store.recover();
      return store;
    } catch (e) {
      await releaseRunLock(dir);
      throw e;
    }
  }

  /**
   * A run still planned (`meta.planning`): records one more planned file in `plan.jsonl`, before any
   * of its chunks is sent, so that the folder names every chunk its journal can hold. Refused (before
   * anything is written) when its path or a chunk id is unsafe or already in the run.
   */
  async addPlannedFile(file: { path: string; hash: string; chunks: ChunkRef[] }): Promise<void> {
    if (!this.meta.planning) throw new Error(`${this.dir}: its plan is complete; no file can be added.`);
    // This file alone, against the names already in the run (not the whole list again: that was quadratic).
    const known = (this.names ??= storedNames(this.meta.files));
    checkStoredFile(file, this.meta.files.length, known, PLAN_JOURNAL);
    const entry = { path: file.path, hash: file.hash, chunks: file.chunks };
    const next = this.planChain.then(async () => fs.appendFile(await this.checked(path.join(this.dir, PLAN_JOURNAL)), `${JSON.stringify(entry)}\n`, 'utf8'));
    this.planChain = next.catch(() => undefined);
    try {
      await next;
    } catch (e) {
      known.paths.delete(file.path);
      for (const c of file.chunks) known.ids.delete(c.id);
      throw e;
    }
    this.meta.files.push(entry);
    this.files.set(file.path, { path: file.path, chunks: file.chunks, status: new Map(), errors: new Map(), cached: new Set(), writing: Promise.resolve() });
  }

  /** True when `p` is one of the run's planned files. */
  hasFile(p: string): boolean {
    return this.files.has(p);
  }

  /**
   * The plan is complete: `run.json` is written again whole (its files in `order`, the files left
   * out, the chunk budget used), without `planning`, and `plan.jsonl` is removed.
   */
  async completePlan(plan: { order: readonly string[]; skipped: { path: string; reason: string }[]; chunkTokens: number }): Promise<void> {
    await this.planChain;
    const rank = new Map(plan.order.map((p, i) => [p, i]));
    const files = [...this.meta.files].sort((a, b) => (rank.get(a.path) ?? Infinity) - (rank.get(b.path) ?? Infinity));
    const { planning: _p, ...rest } = this.meta;
    const meta: RunMeta = { ...rest, parameters: { ...rest.parameters, chunkTokens: plan.chunkTokens }, files, ...(plan.skipped.length ? { skipped: plan.skipped } : {}) };
    checkRunMeta(meta);
    await writeFileAtomic(await this.checked(path.join(this.dir, RUN_FILE)), JSON.stringify(meta, null, 2));
    (this as { meta: RunMeta }).meta = meta;
    await fs.rm(await this.checked(path.join(this.dir, PLAN_JOURNAL)), { force: true });
  }

  /** Drops the folder's lock (after `finish()`, or when a run ends by an exception). */
  async release(): Promise<void> {
    if (!this.locked) return;
    this.locked = false;
    await this.appendChain;
    await releaseRunLock(this.dir);
  }

  private async recover(): Promise<void> {
    let present: Set<string>;
    try {
      present = new Set(await fs.readdir(path.join(this.dir, CHUNKS_DIR)));
    } catch {
      present = new Set();
    }
    for (const f of this.files.values()) {
      for (const c of f.chunks) {
        const has = present.has(path.basename(this.chunkOutputPath(c.id)));
        const status = f.status.get(c.id);
        if (status === 'succeeded' && !has) {
          f.status.delete(c.id);
          f.errors.delete(c.id);
          f.cached.delete(c.id);
        } else if (status !== 'succeeded' && has) {
          await this.append(recordOf({ chunk: c, status: 'succeeded', attempts: 0, batchId: 'recovered', inputTokens: 0, outputTokens: 0, latencyMs: 0 }, { recovered: true }));
          f.status.set(c.id, 'succeeded');
          f.errors.delete(c.id);
          f.cached.delete(c.id);
        }
      }
      if (f.status.size !== f.chunks.length) continue;
      const complete = this.fileStatus(f.path) === 'complete';
      // A folder written before #18 has its outputs under the source's own names: rewritten under the new ones.
      const legacy = (await exists(this.legacyOutputPath(f.path, 'complete'))) || (await exists(this.legacyOutputPath(f.path, 'incomplete')));
      if (!complete || legacy || !(await exists(this.outputPath(f.path))) || (await exists(this.outputPath(f.path, 'incomplete')))) {
        await this.writeOutput(f);
      }
    }
  }

  /**
   * Opens an existing run folder, with every chunk's latest recorded status. Its paths and chunk ids
   * are checked (`UnsafePathError` naming the file and entry); links on disk are checked by the writes.
   */
  static async open(dir: string): Promise<RunStore> {
    const meta = await readRunMeta(dir);
    const store = new RunStore(dir, meta);
    for (const r of await readRecords(dir, { check: true })) {
      store.addUsage(r);
      const f = store.files.get(r.path);
      f?.status.set(r.chunkId, r.status);
      if (r.error) f?.errors.set(r.chunkId, r.error);
      else f?.errors.delete(r.chunkId);
      if (r.cached) f?.cached.add(r.chunkId);
      else f?.cached.delete(r.chunkId);
    }
    return store;
  }

  /** Records one chunk's outcome; writes its file's output when that file has no chunk left pending. */
  async record(outcome: ChunkOutcome): Promise<void> {
    const c = outcome.chunk;
    if (outcome.status === 'succeeded') {
      await writeFileAtomic(await this.checked(this.chunkOutputPath(c.id)), outcome.output ?? '');
    }
    if (outcome.rawReply !== undefined) {
      // An invalid structured answer (#14): kept for the user to see why, never counted as a result.
      const file = await this.checked(invalidReplyPathOf(this.dir, c.id));
      await fs.mkdir(path.dirname(file), { recursive: true });
      await writeFileAtomic(await this.checked(file), outcome.rawReply);
    } else if (outcome.status === 'succeeded') {
      await fs.rm(await this.checked(invalidReplyPathOf(this.dir, c.id)), { force: true });
    }
    await this.append(recordOf(outcome, outcome.cached ? { cached: true } : {}));
    this.addUsage(outcome);
    const file = this.files.get(c.path);
    if (!file) return;
    file.status.set(c.id, outcome.status);
    if (outcome.error) file.errors.set(c.id, outcome.error);
    else file.errors.delete(c.id);
    if (outcome.cached) file.cached.add(c.id);
    else file.cached.delete(c.id);
    if (file.status.size === file.chunks.length) {
      // Serialised: two overlapping writes could each remove the other's form (complete vs .incomplete),
      // leaving no output, or a stale one. Each write reads the statuses when its turn comes.
      const next = file.writing.then(() => this.writeOutput(file));
      file.writing = next.catch(() => undefined);
      await next;
    }
  }

  /** The tokens every record of the run carries, by endpoint (`endpoint` undefined: the run's one model). */
  recordedUsage(): { endpoint?: string; inputTokens: number; outputTokens: number }[] {
    return [...this.usage].map(([endpoint, u]) => ({ ...(endpoint !== undefined ? { endpoint } : {}), ...u }));
  }

  private addUsage(r: { endpoint?: string; inputTokens: number; outputTokens: number }): void {
    const u = this.usage.get(r.endpoint) ?? { inputTokens: 0, outputTokens: 0 };
    // A hand-edited journal must not lower the spend a cap counts.
    if (Number.isFinite(r.inputTokens) && r.inputTokens > 0) u.inputTokens += r.inputTokens;
    if (Number.isFinite(r.outputTokens) && r.outputTokens > 0) u.outputTokens += r.outputTokens;
    this.usage.set(r.endpoint, u);
  }

  /** Chunks whose latest status is not `succeeded` (for retry). */
  unfinishedChunks(): ChunkRef[] {
    const out: ChunkRef[] = [];
    for (const f of this.files.values()) {
      for (const c of f.chunks) if (f.status.get(c.id) !== 'succeeded') out.push(c);
    }
    return out;
  }

  fileStatus(p: string): FileStatus | undefined {
    const f = this.files.get(p);
    if (!f) return undefined;
    return f.chunks.every((c) => f.status.get(c.id) === 'succeeded') ? 'complete' : 'incomplete';
  }

  /** Where a file's output is (or will be) written (refuses a path that is not a safe relative one). */
  outputPath(p: string, status: FileStatus = 'complete'): string {
    return outputPathOf(this.guard, p, status, this.meta.output);
  }

  /** Where a run folder written before #18 put a file's output (`outputs/<path>`), read and removed only. */
  legacyOutputPath(p: string, status: FileStatus = 'complete'): string {
    return legacyOutputPathOf(this.guard, p, status);
  }

  private chunkOutputPath(id: string): string {
    return chunkOutputPathOf(this.dir, id);
  }

  /** `file` once the guard has checked that no link on its way leads outside the run folder. */
  private async checked(file: string): Promise<string> {
    await this.guard.checkReal(file, RUN_FILE, path.relative(this.dir, file).split(path.sep).join('/'));
    return file;
  }

  private append(record: RunRecord): Promise<void> {
    const line = `${JSON.stringify(record)}\n`;
    const next = this.appendChain.then(async () => fs.appendFile(await this.checked(path.join(this.dir, RECORDS_FILE)), line, 'utf8'));
    this.appendChain = next.catch(() => undefined);
    return next;
  }

  /**
   * Joins a file's chunk outputs in chunk order, atomically; marks the missing ones, never silently
   * short. A structured run's (#14) is rendered readable (`renderFileOutput`: findings as a Markdown
   * list, json as pretty JSON); a recorded output that cannot be read back is marked in place.
   */
  private async writeOutput(file: FileState): Promise<void> {
    const spec = this.meta.output;
    const parts: string[] = [];
    const structured: FileChunkPart[] = [];
    let complete = true;
    for (const c of file.chunks) {
      const where = { chunkId: c.id, startLine: c.startLine, endLine: c.endLine };
      if (file.status.get(c.id) === 'succeeded') {
        const text = await fs.readFile(this.chunkOutputPath(c.id), 'utf8');
        parts.push(text);
        if (spec && isStructured(spec)) {
          try {
            structured.push({ ...where, entries: readEntries(spec, { path: file.path, chunkId: c.id, text }) });
          } catch (e) {
            structured.push({ ...where, missing: `recorded output unreadable: ${e instanceof Error ? e.message : String(e)}` });
          }
        }
      } else {
        complete = false;
        const e = file.errors.get(c.id);
        const missing = `${file.status.get(c.id) ?? 'pending'}${e ? `: ${e.message}` : ''}`;
        parts.push(`<<<batch-prompt: chunk ${c.id} (lines ${c.startLine}-${c.endLine}) ${missing}>>>`);
        structured.push({ ...where, missing });
      }
    }
    // An edit run's parts replace the file's editable parts exactly: joined as they are (#15).
    // An edit run's joined parts are the new file's code: fenced in its language, the output being Markdown.
    const text = spec && isStructured(spec) ? renderFileOutput(spec, file.path, structured) : isEdit(spec) ? fenced(file.path, parts.join(complete ? '' : '\n')) : joinOutputs(parts);
    const status: FileStatus = complete ? 'complete' : 'incomplete';
    await writeFileAtomic(await this.checked(this.outputPath(file.path, status)), text);
    // The other form, if an earlier attempt wrote it, is now stale; so are the names of before #18.
    await fs.rm(await this.checked(this.outputPath(file.path, complete ? 'incomplete' : 'complete')), { force: true });
    for (const s of ['complete', 'incomplete'] as const) await fs.rm(await this.checked(this.legacyOutputPath(file.path, s)), { force: true });
  }

  /**
   * Writes `summary.json` after the run (or a retry) ends; with `pass`, first appends it to
   * `passes.jsonl` (the run's history, see passes.ts) and keeps it in the summary.
   */
  async finish(execution: ExecutionSummary, pass?: RunPass): Promise<RunSummary> {
    await this.appendChain;
    if (pass) await fs.appendFile(await this.checked(path.join(this.dir, PASSES_FILE)), `${JSON.stringify(pass)}\n`, 'utf8');
    const files = [...this.files.values()].map((f) => {
      const status = this.fileStatus(f.path) ?? 'incomplete';
      return { path: f.path, status, output: path.relative(this.dir, this.outputPath(f.path, status)).split(path.sep).join('/') };
    });
    let failed = 0;
    let canceled = 0;
    let succeeded = 0;
    let cached = 0;
    for (const f of this.files.values()) {
      for (const c of f.chunks) {
        const s = f.status.get(c.id);
        if (s === 'succeeded' && f.cached.has(c.id)) cached++;
        if (s === 'succeeded') succeeded++;
        else if (s === 'failed') failed++;
        else canceled++;
      }
    }
    const status: RunSummary['status'] = execution.fatal ? 'failed' : failed === 0 && canceled === 0 ? 'succeeded' : failed === 0 ? 'canceled' : 'partial';
    const planStopped = this.meta.planning ? { planStopped: { files: this.files.size } } : {};
    const summary: RunSummary = { ...execution, succeeded, failed, canceled, ...(cached ? { cached } : {}), ...(pass ? { pass } : {}), ...planStopped, runId: this.meta.runId, status, files, finishedAt: new Date().toISOString() };
    await writeFileAtomic(await this.checked(path.join(this.dir, SUMMARY_FILE)), JSON.stringify(summary, null, 2));
    await this.release();
    return summary;
  }
}

/** The `run.jsonl` line of an outcome, stamped now. */
export function recordOf(outcome: ChunkOutcome, extra: Pick<RunRecord, 'cached' | 'recovered'> = {}): RunRecord {
  const c = outcome.chunk;
  return {
    chunkId: c.id,
    path: c.path,
    start: c.start,
    end: c.end,
    startLine: c.startLine,
    endLine: c.endLine,
    tokens: c.tokens,
    status: outcome.status,
    attempts: outcome.attempts,
    ...(outcome.error ? { error: outcome.error } : {}),
    inputTokens: outcome.inputTokens,
    outputTokens: outcome.outputTokens,
    latencyMs: outcome.latencyMs,
    batchId: outcome.batchId,
    ...(outcome.endpoint ? { endpoint: outcome.endpoint } : {}),
    ...(outcome.firstTokenMs !== undefined ? { firstTokenMs: outcome.firstTokenMs } : {}),
    ...(outcome.flags?.length ? { flags: outcome.flags } : {}),
    ...(outcome.note !== undefined ? { note: outcome.note } : {}),
    at: new Date().toISOString(),
    ...extra,
  };
}

/**
 * A crash mid-append can leave a last line without its newline: the next line would join it and be
 * lost too. A whole record missing only its newline gets one; a torn fragment is cut off (every line
 * before it is whole, and readers skip such a fragment anyway).
 */
async function closeTornJournal(dir: string): Promise<void> {
  const file = path.join(dir, RECORDS_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (text === '' || text.endsWith('\n')) return;
  const lastBreak = text.lastIndexOf('\n');
  const tail = text.slice(lastBreak + 1);
  let whole = false;
  try {
    whole = typeof (JSON.parse(tail) as Partial<RunRecord>).chunkId === 'string';
  } catch {
    // torn
  }
  if (whole) await fs.appendFile(file, '\n', 'utf8');
  else await fs.truncate(file, Buffer.byteLength(text.slice(0, lastBreak + 1), 'utf8'));
}

/** Who holds a run folder's lock, when that process is still alive on this machine. */
export async function runLockHolder(dir: string): Promise<{ pid: number; hostname: string; at: string } | undefined> {
  let lock: { pid: number; hostname: string; at: string };
  try {
    lock = JSON.parse(await fs.readFile(path.join(dir, LOCK_FILE), 'utf8')) as typeof lock;
  } catch {
    return undefined;
  }
  // Another machine's process cannot be checked: its lock is taken as stale (a container rebuilt, a reboot).
  if (typeof lock?.pid !== 'number' || lock.hostname !== os.hostname()) return undefined;
  return processAlive(lock.pid) ? lock : undefined;
}

/** Thrown when a run folder is being written by another live process. */
export class RunLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(`${dir} is being written by process ${pid} (a run in progress); wait for it to end, or stop it first.`);
  }
  static readonly is = (e: unknown): e is RunLockedError => e instanceof RunLockedError;
}

/**
 * Takes a run folder's lock for a writer that is not a `RunStore` (the reduce step, core/reduce):
 * refused with `RunLockedError` while another live process holds it. Returns its release.
 */
export async function lockRunFolder(dir: string): Promise<() => Promise<void>> {
  await acquireRunLock(dir);
  let held = true;
  return async () => {
    if (!held) return;
    held = false;
    await releaseRunLock(dir);
  };
}

async function acquireRunLock(dir: string): Promise<void> {
  const file = path.join(dir, LOCK_FILE);
  const body = JSON.stringify({ pid: process.pid, hostname: os.hostname(), at: new Date().toISOString() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(file, body, { flag: 'wx' });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = await runLockHolder(dir);
    if (holder) throw new RunLockedError(dir, holder.pid);
    // A dead process's lock (kill -9, a crash, a closed window): take it over.
    await fs.rm(file, { force: true });
  }
  throw new RunLockedError(dir, -1);
}

async function releaseRunLock(dir: string): Promise<void> {
  await fs.rm(path.join(dir, LOCK_FILE), { force: true });
}

/** Reads a finished run's `summary.json`. */
export async function readSummary(dir: string): Promise<RunSummary> {
  return JSON.parse(await fs.readFile(path.join(dir, SUMMARY_FILE), 'utf8')) as RunSummary;
}

/**
 * Reads `run.jsonl`, skipping a torn last line (a crash mid-append) and any line that is not JSON.
 * With `check`, a record whose path or chunk id is unsafe is refused (`UnsafePathError` with its line).
 */
export async function readRecords(dir: string, options: { check?: boolean } = {}): Promise<RunRecord[]> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, RECORDS_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: RunRecord[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (!line.trim()) continue;
    let record: RunRecord;
    try {
      record = JSON.parse(line) as RunRecord;
    } catch {
      continue; // torn line
    }
    if (options.check) checkRecord(record, i + 1, RECORDS_FILE);
    out.push(record);
  }
  return out;
}

/** Reads and checks a folder's `run.json` (see `checkRunMeta`); a file that is not JSON is refused by name. */
export async function readRunMeta(dir: string): Promise<RunMeta> {
  const text = await fs.readFile(path.join(dir, RUN_FILE), 'utf8');
  let meta: unknown;
  try {
    meta = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path.join(dir, RUN_FILE)} is not valid JSON (${(e as Error).message}); it is not a run folder Batch Prompt can use.`);
  }
  checkRunMeta(meta, RUN_FILE);
  const planning = (meta as RunMeta).planning;
  if (planning === undefined) return meta as RunMeta;
  checkPlanningSpec(planning);
  // A run still planned: its files so far are in plan.jsonl (a torn last line is a file none of whose chunks was sent).
  const files = [...(meta as RunMeta).files, ...(await readPlanJournal(dir))];
  const merged = { ...(meta as RunMeta), files };
  checkRunMeta(merged, `${RUN_FILE} and ${PLAN_JOURNAL}`);
  return merged;
}

async function readPlanJournal(dir: string): Promise<RunMeta['files']> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, PLAN_JOURNAL), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const files: RunMeta['files'] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      files.push(JSON.parse(line) as RunMeta['files'][number]);
    } catch {
      // torn last line
    }
  }
  return files;
}

/** A `planning` entry a resume can follow: inputs relative to the run's root, never outside it. */
function checkPlanningSpec(spec: unknown): asserts spec is PlanningSpec {
  const bad = (entry: string, why: string) => new Error(`${RUN_FILE}: planning.${entry} ${why}; it is not a run folder Batch Prompt can use.`);
  const s = spec as Partial<PlanningSpec> | null;
  if (!s || typeof s !== 'object' || !Array.isArray(s.inputs)) throw bad('inputs', 'is not a list');
  s.inputs.forEach((input, i) => {
    if (typeof input !== 'string' || !input || path.isAbsolute(input) || /^[a-zA-Z]:/.test(input) || input.split(/[\\/]/).includes('..')) throw bad(`inputs[${i}]`, 'is not a path or pattern inside the run\'s root');
  });
  if (typeof s.respectGitignore !== 'boolean') throw bad('respectGitignore', 'is not true or false');
  if (typeof s.maxFileBytes !== 'number' || !(s.maxFileBytes > 0)) throw bad('maxFileBytes', 'is not a positive number');
  if (s.shard !== undefined && !(Number.isInteger(s.shard?.k) && Number.isInteger(s.shard?.n) && s.shard.k >= 1 && s.shard.k <= s.shard.n)) throw bad('shard', 'is not K of N');
}

/**
 * Checks a whole run folder before anything is written into it (resume, retry, collect): `run.json`'s
 * paths and chunk ids, every `run.jsonl` record, and, on disk, that no write it can lead to (outputs,
 * chunk files, the journal, summary, lock, job and report files) goes through a link to outside the
 * folder. Throws `UnsafePathError` naming the file and entry; reads only.
 */
export async function checkRunFolder(dir: string): Promise<RunMeta> {
  const meta = await readRunMeta(dir);
  await readRecords(dir, { check: true });
  const guard = new PathGuard(dir, 'the run folder');
  for (const name of FOLDER_FILES) await guard.checkReal(path.join(dir, name), name, name);
  for (const [i, f] of meta.files.entries()) {
    for (const status of ['complete', 'incomplete'] as const) {
      await guard.checkReal(outputPathOf(guard, f.path, status, meta.output), RUN_FILE, `files[${i}].path`, f.path);
      await guard.checkReal(legacyOutputPathOf(guard, f.path, status), RUN_FILE, `files[${i}].path`, f.path);
    }
    for (const [j, c] of f.chunks.entries()) {
      await guard.checkReal(chunkOutputPathOf(dir, c.id), RUN_FILE, `files[${i}].chunks[${j}].id`, c.id);
      await guard.checkReal(invalidReplyPathOf(dir, c.id), RUN_FILE, `files[${i}].chunks[${j}].id`, c.id);
    }
  }
  return meta;
}

function outputPathOf(guard: PathGuard, p: string, status: FileStatus, spec: OutputSpec | undefined): string {
  guard.join(`${OUTPUTS_DIR}/${p}`, RUN_FILE, 'a file path');
  return guard.join(`${OUTPUTS_DIR}/${outputNameOf(p, spec, status)}`, RUN_FILE, 'a file path');
}

function legacyOutputPathOf(guard: PathGuard, p: string, status: FileStatus): string {
  guard.join(`${OUTPUTS_DIR}/${p}`, RUN_FILE, 'a file path');
  return guard.join(`${OUTPUTS_DIR}/${legacyOutputNameOf(p, status)}`, RUN_FILE, 'a file path');
}

function chunkOutputPathOf(dir: string, id: string): string {
  return path.join(dir, CHUNKS_DIR, `${id.replace(/[^\w.-]/g, '_')}.out`);
}

/** Where a chunk's invalid structured answer is kept: `invalid/<chunk id>.txt`. */
export function invalidReplyPathOf(dir: string, id: string): string {
  return path.join(dir, INVALID_DIR, `${id.replace(/[^\w.-]/g, '_')}.txt`);
}

/** `meta` with every recorded base URL stripped of credentials (userinfo, key-like query parameters). */
function withoutUrlCredentials(meta: RunMeta): RunMeta {
  const clean = <T extends { baseUrl?: string }>(e: T): T => (e.baseUrl === undefined ? e : { ...e, baseUrl: redactUrlCredentials(e.baseUrl) });
  return { ...meta, model: clean(meta.model), ...(meta.endpoints ? { endpoints: meta.endpoints.map(clean) } : {}) };
}

/** The names of files already checked (`checkRunMeta` passed on them when the folder was made or read). */
function storedNames(files: readonly { path: string; chunks: readonly { id: string }[] }[]): StoredNames {
  const names: StoredNames = { paths: new Set(), ids: new Set() };
  for (const f of files) {
    names.paths.add(f.path);
    for (const c of f.chunks) names.ids.add(c.id);
  }
  return names;
}
