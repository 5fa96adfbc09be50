import { promises as fs } from 'fs';
import * as path from 'path';
import { writeFileAtomic } from './atomicFile';
import type { ErrorKind } from './errors';
import { joinOutputs } from './text';
import type { ChunkOutcome, ExecutionSummary } from './events';
import type { ChunkRef, ChunkStatus } from './types';

/** What a run folder says about the run, enough to show, retry or resume it without the settings. */
export interface RunMeta {
  runId: string;
  createdAt: string;
  /** Folder the file paths are relative to. */
  root: string;
  prompt: string;
  model: { id: string; provider?: string; model?: string; baseUrl?: string };
  encoding: string;
  protocolVersion: number;
  parameters: Record<string, number | string | boolean | undefined>;
  /** Every planned file with its text's sha256 and its chunks in order (ids and ranges, no text). */
  files: { path: string; hash: string; chunks: ChunkRef[] }[];
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
  at: string;
}

export type FileStatus = 'complete' | 'incomplete';

export interface RunSummary extends ExecutionSummary {
  runId: string;
  status: 'succeeded' | 'partial' | 'canceled' | 'failed';
  files: { path: string; status: FileStatus; output: string }[];
  finishedAt: string;
}

export const RUN_FILE = 'run.json';
export const RECORDS_FILE = 'run.jsonl';
export const SUMMARY_FILE = 'summary.json';
const CHUNKS_DIR = 'chunks';
const OUTPUTS_DIR = 'outputs';
const INCOMPLETE_SUFFIX = '.incomplete';

interface FileState {
  path: string;
  chunks: ChunkRef[];
  /** Latest status per chunk id. */
  status: Map<string, ChunkStatus>;
  errors: Map<string, { kind: ErrorKind; message: string }>;
  /** This file's output writes, one at a time: a retry records its chunks concurrently. */
  writing: Promise<void>;
}

/**
 * A run's folder, written as results arrive: `run.json` (the plan and parameters), `run.jsonl` (one
 * line per chunk outcome, append-only), `chunks/ID.out` (each chunk's output, atomically), one file
 * per input under `outputs/` once all its chunks have ended (`.incomplete` beside the name, with a
 * marker for every missing chunk, when one failed), and `summary.json`. Outputs live on disk, not in
 * memory, so memory stays bounded however many chunks a run has.
 */
export class RunStore {
  private readonly files = new Map<string, FileState>();
  private appendChain: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    readonly meta: RunMeta,
  ) {
    for (const f of meta.files) this.files.set(f.path, { path: f.path, chunks: f.chunks, status: new Map(), errors: new Map(), writing: Promise.resolve() });
  }

  /** Creates the run folder and writes `run.json`. Refuses a folder that already holds a run. */
  static async create(dir: string, meta: RunMeta): Promise<RunStore> {
    await fs.mkdir(dir, { recursive: true });
    try {
      await fs.access(path.join(dir, RUN_FILE));
      throw new Error(`${dir} already holds a run; choose another output folder.`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await writeFileAtomic(path.join(dir, RUN_FILE), JSON.stringify(meta, null, 2));
    return new RunStore(dir, meta);
  }

  /** Opens an existing run folder, with every chunk's latest recorded status. */
  static async open(dir: string): Promise<RunStore> {
    const meta = JSON.parse(await fs.readFile(path.join(dir, RUN_FILE), 'utf8')) as RunMeta;
    const store = new RunStore(dir, meta);
    for (const r of await readRecords(dir)) {
      const f = store.files.get(r.path);
      f?.status.set(r.chunkId, r.status);
      if (r.error) f?.errors.set(r.chunkId, r.error);
      else f?.errors.delete(r.chunkId);
    }
    return store;
  }

  /** Records one chunk's outcome; writes its file's output when that file has no chunk left pending. */
  async record(outcome: ChunkOutcome): Promise<void> {
    const c = outcome.chunk;
    if (outcome.status === 'succeeded') {
      await writeFileAtomic(this.chunkOutputPath(c.id), outcome.output ?? '');
    }
    const record: RunRecord = {
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
      at: new Date().toISOString(),
    };
    await this.append(record);
    const file = this.files.get(c.path);
    if (!file) return;
    file.status.set(c.id, outcome.status);
    if (outcome.error) file.errors.set(c.id, outcome.error);
    else file.errors.delete(c.id);
    if (file.status.size === file.chunks.length) {
      // Serialised: two overlapping writes could each remove the other's form (complete vs .incomplete),
      // leaving no output, or a stale one. Each write reads the statuses when its turn comes.
      const next = file.writing.then(() => this.writeOutput(file));
      file.writing = next.catch(() => undefined);
      await next;
    }
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

  /** Where a file's output is (or will be) written. */
  outputPath(p: string, status: FileStatus = 'complete'): string {
    return path.join(this.dir, OUTPUTS_DIR, ...p.split('/')) + (status === 'incomplete' ? INCOMPLETE_SUFFIX : '');
  }

  private chunkOutputPath(id: string): string {
    return path.join(this.dir, CHUNKS_DIR, `${id.replace(/[^\w.-]/g, '_')}.out`);
  }

  private append(record: RunRecord): Promise<void> {
    const line = `${JSON.stringify(record)}\n`;
    const next = this.appendChain.then(() => fs.appendFile(path.join(this.dir, RECORDS_FILE), line, 'utf8'));
    this.appendChain = next.catch(() => undefined);
    return next;
  }

  /** Joins a file's chunk outputs in chunk order, atomically; marks the missing ones, never silently short. */
  private async writeOutput(file: FileState): Promise<void> {
    const parts: string[] = [];
    let complete = true;
    for (const c of file.chunks) {
      if (file.status.get(c.id) === 'succeeded') {
        parts.push(await fs.readFile(this.chunkOutputPath(c.id), 'utf8'));
      } else {
        complete = false;
        const e = file.errors.get(c.id);
        parts.push(`<<<batch-prompt: chunk ${c.id} (lines ${c.startLine}-${c.endLine}) ${file.status.get(c.id) ?? 'pending'}${e ? `: ${e.message}` : ''}>>>`);
      }
    }
    const text = joinOutputs(parts);
    const status: FileStatus = complete ? 'complete' : 'incomplete';
    await writeFileAtomic(this.outputPath(file.path, status), text);
    // The other form, if an earlier attempt wrote it, is now stale.
    await fs.rm(this.outputPath(file.path, complete ? 'incomplete' : 'complete'), { force: true });
  }

  /** Writes `summary.json` after the run (or a retry) ends. */
  async finish(execution: ExecutionSummary): Promise<RunSummary> {
    await this.appendChain;
    const files = [...this.files.values()].map((f) => {
      const status = this.fileStatus(f.path) ?? 'incomplete';
      return { path: f.path, status, output: path.relative(this.dir, this.outputPath(f.path, status)).split(path.sep).join('/') };
    });
    let failed = 0;
    let canceled = 0;
    let succeeded = 0;
    for (const f of this.files.values()) {
      for (const c of f.chunks) {
        const s = f.status.get(c.id);
        if (s === 'succeeded') succeeded++;
        else if (s === 'failed') failed++;
        else canceled++;
      }
    }
    const status: RunSummary['status'] = execution.fatal ? 'failed' : failed === 0 && canceled === 0 ? 'succeeded' : failed === 0 ? 'canceled' : 'partial';
    const summary: RunSummary = { ...execution, succeeded, failed, canceled, runId: this.meta.runId, status, files, finishedAt: new Date().toISOString() };
    await writeFileAtomic(path.join(this.dir, SUMMARY_FILE), JSON.stringify(summary, null, 2));
    return summary;
  }
}

/** Reads `run.jsonl`, skipping a torn last line (a crash mid-append) and any line that is not JSON. */
export async function readRecords(dir: string): Promise<RunRecord[]> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, RECORDS_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: RunRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as RunRecord);
    } catch {
      // torn line
    }
  }
  return out;
}
