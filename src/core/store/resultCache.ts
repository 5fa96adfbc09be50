import { createHash } from 'crypto';
import { EntryFolder } from './entryFolder';
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

/** The output of an entry read for `key`, or undefined when it is not one (untrusted input). */
function outputOf(entry: unknown, key: string): string | undefined {
  const e = entry as Entry | undefined;
  return e?.v === CACHE_FORMAT && e.key === key && typeof e.output === 'string' ? e.output : undefined;
}

export const DEFAULT_CACHE_MAX_ENTRIES = 20_000;
export const DEFAULT_CACHE_MAX_BYTES = 256 * 1024 * 1024;

/**
 * Chunk results on disk, one JSON file per key (`ab/abcdef….json`), written atomically, so several
 * processes can share the folder without a lock. A hit refreshes the entry's time (at most once an hour); `prune()` (after a
 * run) deletes the least recently used entries beyond the bounds. Holds outputs only: no prompt, no
 * chunk text, no key. A `.gitignore` of `*` keeps it out of git and out of a run's own file selection.
 */
export class ResultCache {
  private readonly folder: EntryFolder;

  constructor(
    readonly dir: string,
    options: ResultCacheOptions = {},
  ) {
    this.folder = new EntryFolder(dir, 'result cache', options.maxEntries ?? DEFAULT_CACHE_MAX_ENTRIES, options.maxBytes ?? DEFAULT_CACHE_MAX_BYTES);
  }

  get maxEntries(): number {
    return this.folder.maxEntries;
  }

  get maxBytes(): number {
    return this.folder.maxBytes;
  }

  /** The cached output, or undefined (a missing, unreadable or foreign entry is a miss). A hit refreshes the entry's time. */
  async get(key: string): Promise<string | undefined> {
    const read = await this.folder.readUsed(key);
    const output = outputOf(read?.entry, key);
    if (output !== undefined) await this.folder.touchStale(key, read!.usedAt);
    return output;
  }

  /** As `get`, without refreshing the entry's time (an estimate looks, it does not use). */
  async peek(key: string): Promise<string | undefined> {
    return outputOf(await this.folder.read(key), key);
  }

  async put(key: string, output: string): Promise<void> {
    const entry: Entry = { v: CACHE_FORMAT, key, output, at: new Date().toISOString() };
    await this.folder.write(key, entry);
  }

  /** Deletes the least recently used entries beyond the bounds, and temporary files of dead writers. */
  prune(): Promise<{ entries: number; bytes: number; evicted: number }> {
    return this.folder.prune();
  }

  /** Number of entries and their bytes. */
  stats(): Promise<{ entries: number; bytes: number }> {
    return this.folder.stats();
  }

  /** Deletes every entry (the folder itself goes too). Returns how many entries there were. */
  clear(): Promise<number> {
    return this.folder.clear();
  }
}
