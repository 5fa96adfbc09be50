import { promises as fs } from 'fs';

/** The parsed JSON of `file`, or undefined when it is missing, unreadable or not JSON (never throws). */
export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
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
