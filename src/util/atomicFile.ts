import { promises as fs } from 'fs';
import * as path from 'path';

let counter = 0;

/**
 * Writes a file atomically: a temporary file beside it, flushed, then renamed over the target, so a
 * reader (or a crash) never sees half a file. Creates the parent folder. `sync: false` skips the
 * flush: a killed process still leaves the old or the new file, but a power loss may leave an empty
 * one (for caches, where a bad entry is a miss).
 */
export async function writeFileAtomic(file: string, data: string, options: { sync?: boolean; mode?: number } = {}): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${++counter}`;
  const handle = await fs.open(tmp, 'w');
  try {
    // `mode`: the permissions the file gets (a rewritten source file keeps its own, an executable bit included).
    if (options.mode !== undefined) await handle.chmod(options.mode);
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
  const names = await listFiles(dir);
  let removed = 0;
  for (const name of names) {
    const pid = tempFileOwner(path.basename(name));
    if (pid === undefined || (!options.all && processAlive(pid))) continue;
    await fs.rm(path.join(dir, name), { force: true });
    removed++;
  }
  return removed;
}

/**
 * Paths (relative to `dir`, platform separators) of the files under `dir`, recursively, without
 * following links: `readdir`'s `recursive` follows a linked folder, and a folder planted with a link
 * to elsewhere must not make a cleanup delete files there. Links themselves are listed. A missing
 * `dir` lists nothing.
 */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries: import('fs').Dirent[];
    try {
      entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || (rel && code === 'ENOTDIR')) return;
      throw e;
    }
    for (const e of entries) {
      const child = rel ? path.join(rel, e.name) : e.name;
      if (e.isDirectory()) await walk(child);
      else out.push(child);
    }
  };
  await walk('');
  return out;
}
