import { promises as fs } from 'fs';
import * as path from 'path';

let counter = 0;

/**
 * Writes a file atomically: a temporary file beside it, flushed, then renamed over the target, so a
 * reader (or a crash) never sees half a file. Creates the parent folder. `sync: false` skips the
 * flush: a killed process still leaves the old or the new file, but a power loss may leave an empty
 * one (for caches, where a bad entry is a miss).
 */
export async function writeFileAtomic(file: string, data: string, options: { sync?: boolean } = {}): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${++counter}`;
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(data, 'utf8');
    if (options.sync !== false) await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

const TEMP_RE = /\.tmp-(\d+)-\d+$/;

/** Whether `name` is one of `writeFileAtomic`'s temporary files, and the id of the process that made it. */
export function tempFileOwner(name: string): number | undefined {
  const m = TEMP_RE.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Whether a process with this id runs on this machine (a zombie counts until it is reaped). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files a killed writer left under `dir` (recursively). With `all`, every one
 * (the caller owns the folder); otherwise only those of processes no longer alive. Returns how many.
 */
export async function removeStaleTempFiles(dir: string, options: { all?: boolean } = {}): Promise<number> {
  let names: string[];
  try {
    names = (await fs.readdir(dir, { recursive: true })).map(String);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  let removed = 0;
  for (const name of names) {
    const pid = tempFileOwner(path.basename(name));
    if (pid === undefined || (!options.all && processAlive(pid))) continue;
    await fs.rm(path.join(dir, name), { force: true });
    removed++;
  }
  return removed;
}
