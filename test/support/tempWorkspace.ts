// Temporary workspaces on disk for the unit tests of runs, plans, jobs and the CLI.
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';

/** A workspace's files: path (with `/`, folders created as needed) to text or bytes. */
export type TreeFiles = Readonly<Record<string, string | Uint8Array>>;

/** Writes `files` below `dir`, creating their folders. */
export async function writeFiles(dir: string, files: TreeFiles): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, ...rel.split('/'));
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, content);
  }
}

/**
 * A fresh temporary folder for each test of the enclosing mocha `describe`, holding `files`, removed
 * after the test; its path goes to `onDir` before each test (as `useServer` passes its URL).
 */
export function useWorkspace(prefix: string, files: TreeFiles, onDir: (dir: string) => void): void {
  let dir = '';
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
    await writeFiles(dir, files);
    onDir(dir);
  });
  afterEach(() => Promise.all([dir, testCacheHome(dir)].map((d) => fs.rm(d, { recursive: true, force: true }))));
}

/**
 * The user cache folder a test CLI gets (`XDG_CACHE_HOME`, `LOCALAPPDATA`): beside its working folder,
 * never the developer's own `~/.cache`, and the same for every call in one working folder; removed with
 * a `useWorkspace` folder.
 */
export function testCacheHome(cwd: string): string {
  return `${path.resolve(cwd)}.user-cache`;
}

/** The files of `SourceFile`-like entries, as a tree to write. */
export function treeOf(files: readonly { path: string; text: string }[]): TreeFiles {
  return Object.fromEntries(files.map((f) => [f.path, f.text]));
}
