import { promises as fs } from 'fs';
import * as path from 'path';
import { listFiles, removeStaleTempFiles, tempFileOwner, writeFileAtomic } from '../../util/atomicFile';
import { PathGuard } from './pathGuard';
import { readBytesAndTime } from '../../util/fs';

const KEY_RE = /^[0-9a-f]{64}$/;

/**
 * An entry used within this long is not touched again when used: the pruning order needs no finer
 * time, and a warm plan of thousands of files then writes nothing.
 */
export const TOUCH_AFTER_MS = 60 * 60 * 1000;

/**
 * A folder of JSON entries keyed by sha256 (`ab/abcdef….json`): the result cache and the plan cache.
 * Entries are written atomically (several processes share the folder without a lock), every write
 * checked against the real path of the folder (a linked sub-folder cannot carry it out), a `.gitignore`
 * of `*` keeps the folder out of git and out of a run's own file selection, and `prune()` deletes the
 * least recently used entries (a hit refreshes an entry's time with `touch`) beyond the bounds.
 */
export class EntryFolder {
  private ignored = false;
  private readonly guard: PathGuard;
  /** How messages name the folder ("the result cache"). */
  private readonly name: string;

  /** `label`: what the folder is ("result cache"). */
  constructor(
    readonly dir: string,
    private readonly label: string,
    readonly maxEntries: number,
    readonly maxBytes: number,
  ) {
    this.name = `the ${label}`;
    this.guard = new PathGuard(dir, this.name);
  }

  /** The file of `key`; a key that is not a sha256 digest names no file of the folder. */
  entryPath(key: string): string {
    if (!KEY_RE.test(key)) throw new Error(`Not a ${this.label} key: ${JSON.stringify(key.slice(0, 80))}.`);
    return path.join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  /** The entry's JSON, or undefined when it is missing or unreadable (untrusted: the caller checks it). */
  async read(key: string): Promise<unknown> {
    return (await this.readUsed(key))?.entry;
  }

  /** The entry's JSON and when it was last used (its file's time), or undefined as `read`. */
  async readUsed(key: string): Promise<{ entry: unknown; usedAt: number } | undefined> {
    try {
      // An entry larger than the whole folder's bound is no entry of it: not read.
      const { bytes, mtimeMs } = await readBytesAndTime(this.entryPath(key), this.maxBytes);
      return { entry: JSON.parse(bytes.toString('utf8')) as unknown, usedAt: mtimeMs };
    } catch {
      return undefined;
    }
  }

  /** `touch`, unless the entry was used within the last `TOUCH_AFTER_MS` (`usedAt`, from `readUsed`). */
  async touchStale(key: string, usedAt: number): Promise<void> {
    const now = Date.now();
    if (now - usedAt >= TOUCH_AFTER_MS || usedAt > now) await this.touch(key);
  }

  /** Marks the entry used now (the pruning order). */
  async touch(key: string): Promise<void> {
    const now = new Date();
    await fs.utimes(this.entryPath(key), now, now).catch(() => undefined);
  }

  /** Writes the entry; not flushed: after a power loss an entry may be empty, which reads as a miss. */
  async write(key: string, entry: unknown): Promise<void> {
    await this.ensureIgnored();
    const file = this.entryPath(key);
    await this.guard.checkReal(file, this.name, path.relative(this.dir, file));
    await writeFileAtomic(file, JSON.stringify(entry), { sync: false });
  }

  private async ensureIgnored(): Promise<void> {
    if (this.ignored) return;
    const file = path.join(this.dir, '.gitignore');
    try {
      await fs.access(file);
    } catch {
      await writeFileAtomic(file, `# Batch Prompt ${this.label}\n*\n`);
    }
    this.ignored = true;
  }

  /** Every entry with its size and last use, oldest first. */
  private async entries(): Promise<{ file: string; bytes: number; usedAt: number }[]> {
    const out: { file: string; bytes: number; usedAt: number }[] = [];
    for (const name of await listFiles(this.dir)) {
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
