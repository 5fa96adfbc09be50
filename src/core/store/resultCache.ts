import { createHash } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';
import { listFiles, removeStaleTempFiles, tempFileOwner, writeFileAtomic } from '../../util/atomicFile';
import { PathGuard } from './pathGuard';
import { PROTOCOL_VERSION } from '../plan/protocol';

/** What a chunk's result depends on. Never a key: the endpoint is named by provider, URL and model. */
export interface ResultKeyParts {
  prompt: string;
  model: { id: string; provider?: string; baseUrl?: string; model?: string };
  /** Generation parameters that change a reply (output limit, temperature). */
  generation: { maxOutputTokens?: number; temperature?: number };
  /** The chunk's file, run-relative: the model sees it in the chunk's wrapper. */
  path: string;
  /** The chunk's text, overlap included. */
  text: string;
  /**
   * A structured kind's part (#14): the kind and its item schema's hash, and the chunk's first line
   * (its answer cites absolute line numbers, and its recorded entries are placed on lines). Absent for
   * `text`, whose keys are as before.
   */
  output?: { kind: string; schemaHash: string; startLine: number };
}

const KEY_RE = /^[0-9a-f]{64}$/;

/** Bumped when the entry format or the key's recipe changes, so that old entries are never read. */
const CACHE_FORMAT = 1;

/**
 * The cache key of a chunk's result: a sha256 over the protocol version, the prompt, the model, the
 * generation parameters, the chunk's path and text. In text runs line numbers and chunk ids are left
 * out on purpose: an edit above a chunk (or a new file earlier in the selection) shifts them without
 * changing what the model is asked about that text. A structured kind's answer is placed on lines (and
 * findings cite them), so there the kind, the schema and the first line are part of the key.
 */
export function resultKey(parts: ResultKeyParts): string {
  const m = parts.model;
  const material = JSON.stringify([
    CACHE_FORMAT,
    PROTOCOL_VERSION,
    parts.prompt,
    [m.id, m.provider ?? null, m.baseUrl ?? null, m.model ?? null],
    [parts.generation.maxOutputTokens ?? null, parts.generation.temperature ?? null],
    parts.path,
    parts.text,
    ...(parts.output ? [[parts.output.kind, parts.output.schemaHash, parts.output.startLine]] : []),
  ]);
  return createHash('sha256').update(material).digest('hex');
}

export interface ResultCacheOptions {
  /** Most entries kept (default 20 000). */
  maxEntries?: number;
  /** Most bytes of entries kept (default 256 MB). */
  maxBytes?: number;
}

interface Entry {
  v: number;
  key: string;
  output: string;
  at: string;
}

export const DEFAULT_CACHE_MAX_ENTRIES = 20_000;
export const DEFAULT_CACHE_MAX_BYTES = 256 * 1024 * 1024;

/**
 * Chunk results on disk, one JSON file per key (`ab/abcdef….json`), written atomically, so several
 * processes can share the folder without a lock. A hit refreshes the entry's time; `prune()` (after a
 * run) deletes the least recently used entries beyond the bounds. Holds outputs only: no prompt, no
 * chunk text, no key. A `.gitignore` of `*` keeps it out of git and out of a run's own file selection.
 */
export class ResultCache {
  readonly maxEntries: number;
  readonly maxBytes: number;
  private ignored = false;
  private readonly guard: PathGuard;

  constructor(
    readonly dir: string,
    options: ResultCacheOptions = {},
  ) {
    this.maxEntries = options.maxEntries ?? DEFAULT_CACHE_MAX_ENTRIES;
    this.maxBytes = options.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
    this.guard = new PathGuard(dir, 'the result cache');
  }

  private entryPath(key: string): string {
    // Keys are sha256 digests (`resultKey`): nothing else may name a file of the cache.
    if (!KEY_RE.test(key)) throw new Error(`Not a result cache key: ${JSON.stringify(key.slice(0, 80))}.`);
    return path.join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  /** The cached output, or undefined (a missing, unreadable or foreign entry is a miss). A hit refreshes the entry's time. */
  async get(key: string): Promise<string | undefined> {
    const output = await this.peek(key);
    if (output === undefined) return undefined;
    const now = new Date();
    await fs.utimes(this.entryPath(key), now, now).catch(() => undefined);
    return output;
  }

  /** As `get`, without refreshing the entry's time (an estimate looks, it does not use). */
  async peek(key: string): Promise<string | undefined> {
    let entry: Entry;
    try {
      entry = JSON.parse(await fs.readFile(this.entryPath(key), 'utf8')) as Entry;
    } catch {
      return undefined;
    }
    if (entry?.v !== CACHE_FORMAT || entry.key !== key || typeof entry.output !== 'string') return undefined;
    return entry.output;
  }

  async put(key: string, output: string): Promise<void> {
    await this.ensureIgnored();
    const entry: Entry = { v: CACHE_FORMAT, key, output, at: new Date().toISOString() };
    const file = this.entryPath(key);
    // A folder of the cache that links elsewhere must not carry the write out of it.
    await this.guard.checkReal(file, 'the result cache', path.relative(this.dir, file));
    // Not flushed: after a power loss an entry may be empty, which reads as a miss.
    await writeFileAtomic(file, JSON.stringify(entry), { sync: false });
  }

  private async ensureIgnored(): Promise<void> {
    if (this.ignored) return;
    const file = path.join(this.dir, '.gitignore');
    try {
      await fs.access(file);
    } catch {
      await writeFileAtomic(file, '# Batch Prompt result cache\n*\n');
    }
    this.ignored = true;
  }

  /** Every entry with its size and last use, oldest first. */
  private async entries(): Promise<{ file: string; bytes: number; usedAt: number }[]> {
    const names = await listFiles(this.dir);
    const out: { file: string; bytes: number; usedAt: number }[] = [];
    for (const name of names) {
      if (!name.endsWith('.json') || tempFileOwner(name) !== undefined) continue;
      const file = path.join(this.dir, name);
      try {
        const st = await fs.lstat(file);
        if (st.isFile()) out.push({ file, bytes: st.size, usedAt: st.mtimeMs });
      } catch {
        // removed by another process meanwhile
      }
    }
    return out.sort((a, b) => a.usedAt - b.usedAt);
  }

  /** Deletes the least recently used entries beyond the bounds, and temporary files of dead writers. */
  async prune(): Promise<{ entries: number; bytes: number; evicted: number }> {
    await removeStaleTempFiles(this.dir);
    const all = await this.entries();
    let bytes = all.reduce((n, e) => n + e.bytes, 0);
    let count = all.length;
    let evicted = 0;
    for (const e of all) {
      if (count <= this.maxEntries && bytes <= this.maxBytes) break;
      await fs.rm(e.file, { force: true });
      count--;
      bytes -= e.bytes;
      evicted++;
    }
    return { entries: count, bytes, evicted };
  }

  /** Number of entries and their bytes. */
  async stats(): Promise<{ entries: number; bytes: number }> {
    const all = await this.entries();
    return { entries: all.length, bytes: all.reduce((n, e) => n + e.bytes, 0) };
  }

  /** Deletes every entry (the folder itself goes too). Returns how many entries there were. */
  async clear(): Promise<number> {
    const { entries } = await this.stats();
    await fs.rm(this.dir, { recursive: true, force: true });
    this.ignored = false;
    return entries;
  }
}
