import * as path from 'path';
import * as vscode from 'vscode';
import { isOutside } from '../../core/store/pathGuard';
import type { Settings } from '../base/settingsSchema';

/**
 * Where the product's own files are, and how the editor keeps them out of the user's way (#18).
 *
 * Two means together, because neither covers everything alone:
 * - `search.exclude` gets `**\/.batch-prompt` by default (package.json `configurationDefaults`): Quick Open
 *   and Search leave the folder out, while the Explorer still shows it, so the report a notification
 *   opens stays reachable (`files.exclude` would hide the reports too). VS Code merges the user's own
 *   `search.exclude` with this default, so a user's excludes keep it.
 * - the extension's own file lists (glob counts, the files of a run, prompt-file discovery, the Explorer's
 *   selection commands) add the runs folder itself (`runsExcludes`, `isProductPath`): they pass an exclude
 *   to `findFiles`, which replaces the settings, and `batchPrompt.outputDirectory` may name another folder.
 */

/** The product's folder in a workspace (its default runs folder is `.batch-prompt/runs`). */
export const PRODUCT_FOLDER = '.batch-prompt';

/** `batchPrompt.outputDirectory` empty: results are kept in the extension's storage, not in the workspace. */
export function resultsInStorage(settings: Pick<Settings, 'outputDirectory'>): boolean {
  return !settings.outputDirectory.trim();
}

/** The extension's storage folder for runs (this workspace's, or the global one), when VS Code gives one on disk. */
export function storageRunsFolder(context: Pick<vscode.ExtensionContext, 'storageUri' | 'globalStorageUri'>): string | undefined {
  const storage = context.storageUri ?? context.globalStorageUri;
  return storage.scheme === 'file' ? path.join(storage.fsPath, 'runs') : undefined;
}

/** The runs folder under the workspace folder `base`, or undefined when results are kept in storage. */
export function workspaceRunsFolder(base: string, settings: Pick<Settings, 'outputDirectory'>): string | undefined {
  return resultsInStorage(settings) ? undefined : path.resolve(base, settings.outputDirectory);
}

/** Globs, relative to a workspace folder, of the product's files: `.batch-prompt` and the runs folder. */
export function runsExcludes(settings: Pick<Settings, 'outputDirectory'>): string[] {
  const out = [`**/${PRODUCT_FOLDER}/**`];
  const dir = settings.outputDirectory.trim().replace(/\\/g, '/').replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  // A folder whose name holds glob characters is left to `isProductPath` (the run's reading drops it).
  if (dir && dir !== '.' && !path.isAbsolute(dir) && !isOutside(dir) && !/[*?[\]{},]/.test(dir) && !dir.split('/').includes(PRODUCT_FOLDER)) out.push(`${dir}/**`);
  return out;
}

/** True when `uri` is one of the product's files in the workspace: under a `.batch-prompt` folder or the runs folder. */
export function isProductPath(uri: vscode.Uri, settings: Pick<Settings, 'outputDirectory'>): boolean {
  const folder = vscode.workspace.getWorkspaceFolder(uri);
  if (!folder || uri.scheme !== 'file') return false;
  const rel = path.relative(folder.uri.fsPath, uri.fsPath);
  if (rel.split(path.sep).includes(PRODUCT_FOLDER)) return true;
  const primary = vscode.workspace.workspaceFolders?.[0];
  const runs = primary && workspaceRunsFolder(primary.uri.fsPath, settings);
  // A runs folder that is the workspace folder itself would make every file a product file.
  if (!runs || path.relative(runs, primary.uri.fsPath) === '' || !isOutside(path.relative(runs, primary.uri.fsPath))) return false;
  const inRuns = path.relative(runs, uri.fsPath);
  return !isOutside(inRuns);
}
