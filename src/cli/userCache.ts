import * as os from 'os';
import * as path from 'path';
import { PlanCache } from '../core/plan/planCache';
import { ResultCache } from '../core/store/resultCache';
import type { Io } from './io';
import type { CliOptions } from './options';

/**
 * The user's own cache folder for Batch Prompt, never under the working folder (a cloned repository
 * could otherwise ship "model answers" that a run takes without asking the model):
 * `$XDG_CACHE_HOME/batch-prompt` (when set to an absolute path, as the XDG spec asks), else
 * `~/.cache/batch-prompt`; on Windows `%LOCALAPPDATA%\batch-prompt`, else
 * `~\AppData\Local\batch-prompt`. Pure: the environment, platform and home folder are given.
 */
export function userCacheDir(env: Readonly<Record<string, string | undefined>>, platform: NodeJS.Platform, homedir: string): string {
  if (platform === 'win32') {
    const local = env.LOCALAPPDATA;
    return path.win32.join(local && path.win32.isAbsolute(local) ? local : path.win32.join(homedir, 'AppData', 'Local'), 'batch-prompt');
  }
  const xdg = env.XDG_CACHE_HOME;
  return path.posix.join(xdg && path.posix.isAbsolute(xdg) ? xdg : path.posix.join(homedir, '.cache'), 'batch-prompt');
}

/**
 * The CLI's default result cache: `results` under `userCacheDir` (the folder's other tenants, such as
 * the test host that scripts/setup-vscode-host.sh builds, keep their own subfolders).
 */
export function defaultResultCacheDir(env: Readonly<Record<string, string | undefined>>, platform: NodeJS.Platform, homedir: string): string {
  const root = userCacheDir(env, platform, homedir);
  return platform === 'win32' ? path.win32.join(root, 'results') : path.posix.join(root, 'results');
}

/** The result cache: `--cache-dir`, else the user's cache folder (never the working folder: see above); undefined with `--no-cache`. */
export function cacheOf(opts: Pick<CliOptions, 'useCache' | 'cacheDir'>, io: Pick<Io, 'cwd' | 'env'>): ResultCache | undefined {
  if (!opts.useCache) return undefined;
  return new ResultCache(opts.cacheDir !== undefined ? path.resolve(io.cwd, opts.cacheDir) : defaultResultCacheDir(io.env, process.platform, os.homedir()));
}

/**
 * The CLI's plan cache (#17): `plans` under `userCacheDir` (files' chunk boundaries and counts by
 * content hash; never text). Used unless `--no-cache`.
 */
export function planCacheOf(io: Pick<Io, 'env'>): PlanCache {
  const root = userCacheDir(io.env, process.platform, os.homedir());
  return new PlanCache(process.platform === 'win32' ? path.win32.join(root, 'plans') : path.posix.join(root, 'plans'));
}
