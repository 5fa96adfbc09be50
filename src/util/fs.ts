import { promises as fs, readFile as readFileWithCallback } from 'fs';

/**
 * The bytes of `file`, read by the callback `readFile`: for many small files several times cheaper
 * than `fs.promises.readFile`, whose every step is a promise of its own (`npm run bench -- planning`).
 */
export function readBytes(file: string, signal?: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => readFileWithCallback(file, { signal }, (error, data) => (error ? reject(error) : resolve(data))));
}

/** The parsed JSON of `file`, or undefined when it is missing, unreadable or not JSON (never throws). */
export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse((await readBytes(file)).toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

/** True when `file` exists (and can be seen by this process). */
export function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
