import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PassThrough } from 'stream';
import { main } from '../../src/cli/main';
import { testCacheHome } from './tempWorkspace';

/** The built command line (`npm test` builds it before the unit tier). */
/** The repository root: the first folder above this bundle (out/test/…) that holds package.json. */
function repoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const CLI = path.join(repoRoot(__dirname), 'dist', 'cli.js');

export interface CliResult {
  code: number | null;
  /** The signal that ended the process (a SIGKILL in the resume tests), or null. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export { testCacheHome };

/** The environment a test CLI gets besides what a test adds: its own user cache folder (`testCacheHome`), no key. */
export function testCliEnv(cwd: string): Record<string, string> {
  const home = testCacheHome(cwd);
  return { XDG_CACHE_HOME: home, LOCALAPPDATA: home };
}

/**
 * Runs `batch-prompt ARGS` in `cwd` with only PATH, a user cache folder of its own (`testCacheHome`)
 * and `env` in its environment (so no key leaks in from the developer's shell); `onStart` gets the
 * child, to signal it.
 */
export function runCli(args: string[], cwd: string, env: Record<string, string> = {}, onStart?: (child: ChildProcess) => void): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...testCliEnv(cwd), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    onStart?.(child);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** `batch-prompt ARGS` in this process (no build needed, no key in the environment), its output collected. */
export async function inProcessCli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await main(args, { stdout, stderr, env: testCliEnv(cwd), cwd });
  return { code, stdout: out, stderr: err };
}
