import { promises as fs } from 'fs';
import * as path from 'path';

let counter = 0;

/**
 * Writes a file atomically: a temporary file beside it, flushed, then renamed over the target, so a
 * reader (or a crash) never sees half a file. Creates the parent folder.
 */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${++counter}`;
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(data, 'utf8');
    await handle.sync();
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
