// Reading and damaging run folders on disk, for the tests of runs, resumes and secrets.
import { promises as fs } from 'fs';
import * as path from 'path';

/** The paths below `dir` (files and folders, relative, sorted). */
export async function listTree(dir: string): Promise<string[]> {
  return (await fs.readdir(dir, { recursive: true })).map(String).sort();
}

/** Every file below `dir` with its text (paths relative to `dir`): to check that nothing holds a secret. */
export async function readTree(dir: string): Promise<{ file: string; text: string }[]> {
  const out: { file: string; text: string }[] = [];
  for (const f of await fs.readdir(dir, { recursive: true })) {
    const p = path.join(dir, String(f));
    if ((await fs.stat(p)).isFile()) out.push({ file: String(f), text: await fs.readFile(p, 'utf8') });
  }
  return out;
}

/**
 * Makes a run folder look interrupted: forgets the last `n` records of run.jsonl and their chunk
 * outputs, as if the process died before writing them. Returns the ids of the chunks forgotten.
 */
export async function forgetLastRecords(dir: string, n: number): Promise<string[]> {
  const lines = (await fs.readFile(path.join(dir, 'run.jsonl'), 'utf8')).trim().split('\n');
  const lost = lines.slice(-n).map((l) => (JSON.parse(l) as { chunkId: string }).chunkId);
  await fs.writeFile(path.join(dir, 'run.jsonl'), `${lines.slice(0, -n).join('\n')}\n`);
  for (const id of lost) await fs.rm(path.join(dir, 'chunks', `${id}.out`), { force: true });
  return lost;
}
