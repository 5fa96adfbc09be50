import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { ChunkParams, FileChunking } from './fileChunks';
import type { EncodingName } from './tokenizer';
import { setImmediate as nextTurn } from 'timers/promises';

/** Where a file's chunks go in a run: their ids and wrapper lines depend on it. */
export interface ChunkPlace {
  path: string;
  /** The file's place among the run's files, from 0. */
  fileIndex: number;
}

/**
 * A task posted to a worker: a text to chunk (with `place`, the tokens of each chunk's opener line are
 * counted too, so that packing needs no tokenizer in the caller's thread), or texts to count.
 */
export type ChunkTask =
  | { id: number; kind: 'chunk'; text: string; params: ChunkParams; place?: ChunkPlace; shared?: SharedArrayBuffer }
  | { id: number; kind: 'count'; texts: string[]; encoding: EncodingName };

/**
 * A large text's UTF-16 code units in shared memory, written in slices with a turn of the event loop
 * between them: posting a string copies it in one go (a 9 MB file held the thread ~200 ms); a
 * SharedArrayBuffer is posted without a copy. The worker reads it back with `textOfShared`.
 */
export async function sharedText(text: string | readonly string[], sliceChars = 256 * 1024): Promise<SharedArrayBuffer> {
  const pieces = typeof text === 'string' ? [text] : text;
  const shared = new SharedArrayBuffer(pieces.reduce((n, p) => n + p.length, 0) * 2);
  const bytes = Buffer.from(shared);
  let at = 0;
  for (const piece of pieces) {
    for (let start = 0; start < piece.length; start += sliceChars) {
      if (at > 0) await nextTurn();
      // utf16le writes code units as they are (a lone surrogate too), so the text comes back unchanged.
      at += bytes.write(piece.slice(start, Math.min(start + sliceChars, piece.length)), at, 'utf16le');
    }
  }
  return shared;
}

/** The text `sharedText` wrote. */
export function textOfShared(shared: SharedArrayBuffer): string {
  return Buffer.from(shared).toString('utf16le');
}

/** A text's chunking, with the tokens of each chunk's opener when it was asked with a place. */
export interface PlacedChunking {
  chunking: FileChunking;
  openerTokens?: number[];
}

/** What a worker answers a `ChunkTask` with: a `PlacedChunking`, or the counts. */
export type ChunkResult = PlacedChunking | number[];

/** A worker's answer to a `ChunkTask`. */
export type ChunkReply = { id: number; result: ChunkResult; error?: undefined } | { id: number; result?: undefined; error: string };

/** The bundled worker entry's file name (esbuild.js builds it next to extension.js and cli.js). */
export const PLAN_WORKER_FILE = 'planWorker.js';

/**
 * Where the worker entry is: next to the running bundle (dist/extension.js, dist/cli.js), else in the
 * dist folder of an ancestor (tests and benchmarks run from out/). Undefined when there is none.
 */
export function findWorkerFile(from: string = __dirname): string | undefined {
  const candidates = [path.join(from, PLAN_WORKER_FILE)];
  for (let dir = from, i = 0; i < 6; i++, dir = path.dirname(dir)) candidates.push(path.join(dir, 'dist', PLAN_WORKER_FILE));
  return candidates.find((f) => fs.existsSync(f));
}

/** Worker threads for a machine: its cores minus the one the caller runs on, at least 1. */
export function defaultPoolSize(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, cores - 1);
}

export interface ChunkPoolOptions {
  /** Most worker threads (default `defaultPoolSize()`). */
  size?: number;
  /** The workers end after this long without work (default 5 s); the next task starts them again. */
  idleMs?: number;
  /** The worker entry (default `findWorkerFile()`). */
  workerFile?: string;
  /** Texts longer than this many UTF-16 units go to a worker through shared memory (default 1 Mi; see `sharedText`). */
  sharedTextChars?: number;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

interface Slot {
  worker: Worker;
  /** Ids of the tasks it holds, oldest first. */
  busy: number[];
}

interface Waiting {
  task: ChunkTask;
  resolve: (r: ChunkResult) => void;
  reject: (e: Error) => void;
}

/** Tasks a worker holds at once: the next is queued while it answers the last, so it never waits on the main thread. */
const TASKS_PER_WORKER = 2;

/**
 * Worker threads that chunk texts (`chunkText`) off the caller's thread. Plain `worker_threads`, not
 * piscina: the bundle ships one worker entry (dist/planWorker.js) that the pool starts by path, with
 * no second entry of a library's own to ship and no optional native module. Workers start on demand
 * (lazily, one per waiting task up to `size`), hold the process open only while they work, and end
 * after `idleMs` without work. A worker that dies fails its tasks; the next task starts a new one.
 */
export class ChunkPool {
  readonly size: number;
  private readonly idleMs: number;
  private readonly workerFile: string | undefined;
  private readonly sharedTextChars: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Waiting[] = [];
  private readonly inFlight = new Map<number, Waiting & { slot: Slot }>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Workers started over the pool's life (for tests and benchmarks). */
  started = 0;

  constructor(options: ChunkPoolOptions = {}) {
    this.size = Math.max(1, Math.floor(options.size ?? defaultPoolSize()));
    this.idleMs = options.idleMs ?? 5000;
    this.workerFile = options.workerFile ?? findWorkerFile();
    this.sharedTextChars = options.sharedTextChars ?? 1024 * 1024;
  }

  /** Whether the pool can start workers (the worker entry exists). */
  get available(): boolean {
    return this.workerFile !== undefined;
  }

  /** Live worker threads. */
  get workers(): number {
    return this.slots.length;
  }

  /** True when every worker is started and holds all the tasks it takes (more would only wait). */
  get saturated(): boolean {
    return this.queue.length > 0 || (this.slots.length >= this.size && this.slots.every((s) => s.busy.length >= TASKS_PER_WORKER));
  }

  /** `text`'s chunking by a worker; rejects when the chunker throws or the worker dies. */
  async chunk(text: string, params: ChunkParams, pieces?: readonly string[]): Promise<FileChunking> {
    return ((await this.post(await this.chunkTask(text, params, pieces))) as PlacedChunking).chunking;
  }

  /**
   * `text`'s chunking as the file at `place`, with each chunk's opener counted (see `ChunkTask`).
   * `pieces`: the text in pieces (`SourceFile.pieces`), posted without joining them.
   */
  async chunkPlaced(text: string, params: ChunkParams, place: ChunkPlace, pieces?: readonly string[]): Promise<PlacedChunking> {
    return (await this.post({ ...(await this.chunkTask(text, params, pieces)), place })) as PlacedChunking;
  }

  private async chunkTask(text: string, params: ChunkParams, pieces?: readonly string[]): Promise<Omit<Extract<ChunkTask, { kind: 'chunk' }>, 'id'>> {
    if (text.length <= this.sharedTextChars || !this.workerFile) return { kind: 'chunk', text, params };
    return { kind: 'chunk', text: '', params, shared: await sharedText(pieces ?? text) };
  }

  /** Each text's tokens (`Tokenizer.count` of `encoding`), counted by a worker. */
  async count(texts: readonly string[], encoding: EncodingName): Promise<number[]> {
    if (texts.length === 0) return [];
    return (await this.post({ kind: 'count', texts: [...texts], encoding })) as number[];
  }

  private post(task: DistributiveOmit<ChunkTask, 'id'>): Promise<ChunkResult> {
    if (!this.workerFile) return Promise.reject(new Error(`the planning worker ${PLAN_WORKER_FILE} is missing`));
    this.cancelIdle();
    return new Promise((resolve, reject) => {
      this.queue.push({ task: { ...task, id: this.nextId++ } as ChunkTask, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length) {
      let slot = this.slots.find((s) => s.busy.length === 0);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      slot ??= this.slots.find((s) => s.busy.length < TASKS_PER_WORKER);
      if (!slot) return;
      const w = this.queue.shift()!;
      if (slot.busy.length === 0) slot.worker.ref();
      slot.busy.push(w.task.id);
      this.inFlight.set(w.task.id, { ...w, slot });
      slot.worker.postMessage(w.task);
    }
  }

  private spawn(): Slot {
    // A small young generation: a worker's garbage is collected sooner, so its heap does not add up with the others' (#17).
    const worker = new Worker(this.workerFile!, { resourceLimits: { maxYoungGenerationSizeMb: 8 } });
    this.started++;
    const slot: Slot = { worker, busy: [] };
    worker.on('message', (reply: ChunkReply) => {
      const w = this.inFlight.get(reply.id);
      if (!w) return;
      this.inFlight.delete(reply.id);
      slot.busy = slot.busy.filter((id) => id !== reply.id);
      if (slot.busy.length === 0) slot.worker.unref();
      if (reply.error !== undefined) w.reject(new Error(reply.error));
      else w.resolve(reply.result);
      this.dispatch();
      this.maybeIdle();
    });
    const fail = (e: Error): void => {
      const i = this.slots.indexOf(slot);
      if (i < 0) return;
      this.slots.splice(i, 1);
      for (const id of slot.busy) {
        const w = this.inFlight.get(id);
        this.inFlight.delete(id);
        w?.reject(e);
      }
      slot.busy = [];
      this.dispatch();
      this.maybeIdle();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`a planning worker exited (code ${code})`)));
    this.slots.push(slot);
    return slot;
  }

  private cancelIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private maybeIdle(): void {
    if (this.queue.length || this.inFlight.size || this.idleTimer || this.slots.length === 0) return;
    this.idleTimer = setTimeout(() => void this.close(), this.idleMs);
    this.idleTimer.unref();
  }

  /**
   * Ends the workers that hold no task now (their heaps go with them); busy ones go on, and the next
   * task starts new ones. For a caller that chunks in its own thread for a while (the CLI, while its
   * requests are behind).
   */
  trim(): void {
    for (const s of this.slots.filter((x) => x.busy.length === 0)) {
      this.slots.splice(this.slots.indexOf(s), 1);
      void s.worker.terminate();
    }
    if (this.slots.length === 0) this.cancelIdle();
  }

  /** Ends every worker (waiting tasks are rejected); the pool starts new ones on the next task. */
  async close(): Promise<void> {
    this.cancelIdle();
    const slots = this.slots.splice(0);
    for (const w of this.queue.splice(0)) w.reject(new Error('the planning pool was closed'));
    for (const s of slots) {
      for (const id of s.busy) {
        this.inFlight.get(id)?.reject(new Error('the planning pool was closed'));
        this.inFlight.delete(id);
      }
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}

// A cache, not state: one pool per process, shared by every plan (its workers end when idle).
let shared: ChunkPool | undefined;

/** The process's planning pool, made on first use. */
export function sharedChunkPool(): ChunkPool {
  return (shared ??= new ChunkPool());
}
