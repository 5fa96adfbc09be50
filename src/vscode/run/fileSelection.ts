import * as path from 'path';
import * as vscode from 'vscode';
import { collectFiles, filterGitignored, type KnownFiles, type SkippedFile } from '../../core/input/files';
import { isOutside } from '../../core/store/pathGuard';
import type { FileReader } from '../../core/plan/plan';
import type { PlanInput } from '../../core/plan/types';
import { selectionGlob } from '../../core/input/glob';
import { countOf } from '../../util/format';
import { readSettings } from '../base/settings';
import type { Settings } from '../base/settingsSchema';
import { runsExcludes, workspaceRunsFolder } from './runsFolder';

/** Where a run's files live: run-relative paths map back to workspace URIs (multi-root aware). */
export class RunRoots {
  constructor(private readonly folders: readonly vscode.WorkspaceFolder[]) {}

  static current(): RunRoots {
    return new RunRoots(vscode.workspace.workspaceFolders ?? []);
  }

  /** The folder paths are recorded against: the first workspace folder. */
  get primary(): vscode.WorkspaceFolder | undefined {
    return this.folders[0];
  }

  private get multi(): boolean {
    return this.folders.length > 1;
  }

  /** Run-relative path of a workspace file ("folder/rel" in a multi-root workspace); undefined outside. */
  pathOf(uri: vscode.Uri): string | undefined {
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    if (!folder || !this.folders.includes(folder)) return undefined;
    const native = path.relative(folder.uri.fsPath, uri.fsPath);
    if (!native || isOutside(native)) return undefined;
    const rel = native.split(path.sep).join('/');
    return this.multi ? `${folder.name}/${rel}` : rel;
  }

  uriOf(runPath: string): vscode.Uri | undefined {
    if (!this.multi) return this.primary ? vscode.Uri.joinPath(this.primary.uri, ...runPath.split('/')) : undefined;
    const [name, ...rest] = runPath.split('/');
    const folder = this.folders.find((f) => f.name === name);
    return folder ? vscode.Uri.joinPath(folder.uri, ...rest) : undefined;
  }

  /** Reads run-relative paths through VS Code's file system. */
  reader(): FileReader {
    return async (p) => {
      const uri = this.uriOf(p);
      if (!uri) throw Object.assign(new Error(`${p} is not in this workspace`), { code: 'ENOENT' });
      try {
        return new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
      } catch (e) {
        if (e instanceof vscode.FileSystemError && e.code === 'FileNotFound') throw Object.assign(new Error(e.message), { code: 'ENOENT' });
        throw e;
      }
    };
  }
}

/**
 * `files.exclude` and `search.exclude` as one glob for `findFiles` (entries set to true), with `extra`
 * (by default the product's own folders, `runsExcludes`): an exclude given to `findFiles` replaces the
 * settings, so they are all named here.
 */
export function excludeGlob(scope?: vscode.ConfigurationScope, extra: readonly string[] = runsExcludes(readSettings())): string | undefined {
  const patterns = new Set<string>(extra);
  for (const section of ['files', 'search']) {
    const value = vscode.workspace.getConfiguration(section, scope).get<Record<string, unknown>>('exclude') ?? {};
    for (const [glob, on] of Object.entries(value)) if (on === true) patterns.add(glob);
  }
  return patterns.size ? `{${[...patterns].join(',')}}` : undefined;
}

/** Workspace files matching `include` (a glob, or a folder: see `resolveGlob`), honouring `files.exclude` and `search.exclude`, never the runs folder. */
export async function findByGlob(include: string, token?: vscode.CancellationToken): Promise<vscode.Uri[]> {
  return vscode.workspace.findFiles(await resolveGlob(include), excludeGlob(), undefined, token);
}

/** The glob a typed selection means (`selectionGlob`): `src`, a folder of a workspace folder, means `src/**`. */
export function resolveGlob(typed: string): Promise<string> {
  return selectionGlob(typed, async (rel) => {
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      try {
        if ((await vscode.workspace.fs.stat(vscode.Uri.joinPath(folder.uri, ...rel.split('/')))).type & vscode.FileType.Directory) return true;
      } catch {
        // Not in this folder.
      }
    }
    return false;
  });
}

/** Files of a selection: files as they are, folders expanded recursively (excludes honoured). */
export async function expandSelection(uris: readonly vscode.Uri[], token?: vscode.CancellationToken): Promise<vscode.Uri[]> {
  const out = new Map<string, vscode.Uri>();
  for (const uri of uris) {
    let stat: vscode.FileStat;
    try {
      stat = await vscode.workspace.fs.stat(uri);
    } catch {
      continue;
    }
    if (stat.type & vscode.FileType.Directory) {
      for (const f of await vscode.workspace.findFiles(new vscode.RelativePattern(uri, '**/*'), excludeGlob(uri), undefined, token)) out.set(f.toString(), f);
    } else {
      out.set(uri.toString(), uri);
    }
  }
  return [...out.values()];
}

export interface ReadResult {
  skipped: SkippedFile[];
  /** Files that are not in the workspace (never read). */
  outside: number;
  /** Files left out by `.gitignore`. */
  gitignored: number;
}

/** The files of a selection a run may read: run-relative paths by workspace folder (sorted), and what was left out unread. */
export interface Selection {
  folders: { folder: vscode.WorkspaceFolder; /** Relative to the folder, `/`-separated, sorted. */ paths: string[] }[];
  /** Files that are not in the workspace (never read). */
  outside: number;
  /** Files left out by `.gitignore`. */
  gitignored: number;
}

/**
 * The files among `uris` a run may read (see `readFiles`), not read yet: `.gitignore` honoured when the
 * setting says so; nothing outside the workspace, nor anything in the runs folder (earlier results).
 */
export async function selectFiles(uris: readonly vscode.Uri[], roots: RunRoots, settings: Settings): Promise<Selection> {
  const byFolder = new Map<vscode.WorkspaceFolder, string[]>();
  let outside = 0;
  const runsDir = roots.primary ? workspaceRunsFolder(roots.primary.uri.fsPath, settings) : undefined;
  for (const uri of uris) {
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    if (uri.scheme !== 'file' || !folder || roots.pathOf(uri) === undefined) {
      outside++;
      continue;
    }
    if (runsDir && isInside(runsDir, uri.fsPath)) continue;
    const list = byFolder.get(folder) ?? [];
    list.push(path.relative(folder.uri.fsPath, uri.fsPath).split(path.sep).join('/'));
    byFolder.set(folder, list);
  }
  const folders: Selection['folders'] = [];
  let gitignored = 0;
  for (const [folder, rels] of byFolder) {
    const kept = settings.respectGitignore ? await filterGitignored(folder.uri.fsPath, rels) : rels;
    gitignored += rels.length - kept.length;
    folders.push({ folder, paths: kept.sort() });
  }
  return { folders, outside, gitignored };
}

/**
 * Reads the text files of a selection one at a time into `onFile` (run-relative paths): binary, empty
 * and oversized files are skipped and listed.
 */
export async function readSelection(selection: Selection, settings: Settings, onFile: (f: PlanInput) => void | Promise<void>, signal?: AbortSignal, known?: KnownFiles): Promise<ReadResult> {
  const skipped: SkippedFile[] = [];
  for (const { folder, paths } of selection.folders) {
    const prefix = (vscode.workspace.workspaceFolders?.length ?? 0) > 1 ? `${folder.name}/` : '';
    const result = await collectFiles(paths, {
      cwd: folder.uri.fsPath,
      maxFileBytes: settings.maxFileSizeKB * 1024,
      respectGitignore: false,
      signal,
      ...(known ? { known } : {}),
      onFile: (f) => onFile({ ...f, path: prefix + f.path }),
    });
    skipped.push(...result.skipped.map((s) => ({ ...s, path: prefix + s.path })));
  }
  return { skipped, outside: selection.outside, gitignored: selection.gitignored };
}

/**
 * Reads the text files among `uris` one at a time into `onFile` (run-relative paths): binary, empty and
 * oversized files are skipped and listed; `.gitignore` is honoured when the setting says so; nothing
 * outside the workspace is read, nor anything in the runs folder (`outputDirectory`: earlier results).
 */
export async function readFiles(uris: readonly vscode.Uri[], roots: RunRoots, settings: Settings, onFile: (f: PlanInput) => void | Promise<void>, signal?: AbortSignal, known?: KnownFiles): Promise<ReadResult> {
  return readSelection(await selectFiles(uris, roots, settings), settings, onFile, signal, known);
}

/** Strictly under `dir` (not `dir` itself). */
function isInside(dir: string, file: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && !isOutside(rel);
}

/**
 * Asks for a glob, saying live what Enter will do ("Enter: run on 12 files"); with no file matching,
 * Enter does nothing and the box says to type another. `verb`: what Enter does to the files.
 */
export async function askGlob(initial: string, title = 'Batch Prompt: run on files', verb = 'run on'): Promise<string | undefined> {
  const box = vscode.window.createInputBox();
  box.title = title;
  box.value = initial;
  box.placeholder = 'Glob of workspace files (src/**/*.ts), or a folder (src)';
  box.ignoreFocusOut = true;
  let seq = 0;
  /** The count of the value it was made for: Enter waits for the current value's. */
  let counted: { value: string; count: number } | undefined;
  let accepting = false;
  const accept = () => {
    const value = box.value.trim();
    if (!value || !counted || counted.value !== value) {
      accepting = !!value;
      return;
    }
    accepting = false;
    if (counted.count === 0) return;
    resolve(value);
    box.hide();
  };
  let resolve: (value: string | undefined) => void = () => undefined;
  const update = async () => {
    const mine = ++seq;
    const value = box.value.trim();
    counted = undefined;
    if (!value) {
      box.prompt = 'Type a glob (src/**/*.ts) or a folder (src).';
      return;
    }
    box.busy = true;
    box.prompt = 'Counting files…';
    const cts = new vscode.CancellationTokenSource();
    try {
      const glob = await resolveGlob(value);
      const count = (await findByGlob(value, cts.token)).length;
      if (mine !== seq) return;
      counted = { value, count };
      const folder = glob !== value ? ` in ${glob.replace(/\/\*\*$/, '') || 'the workspace'} (${glob})` : '';
      box.prompt = count === 0 ? `0 files match${folder} — type another glob.` : `Enter: ${verb} ${countOf(count, 'file')}${folder}. files.exclude and search.exclude apply.`;
      if (accepting) accept();
    } finally {
      cts.dispose();
      if (mine === seq) box.busy = false;
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new Promise<string | undefined>((done) => {
    resolve = done;
    box.onDidChangeValue(() => {
      clearTimeout(timer);
      accepting = false;
      counted = undefined;
      timer = setTimeout(() => void update(), 200);
    });
    box.onDidAccept(accept);
    box.onDidHide(() => {
      clearTimeout(timer);
      done(undefined);
      box.dispose();
    });
    box.show();
    void update();
  });
}
