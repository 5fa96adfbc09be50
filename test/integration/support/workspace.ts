// The workspace folder of the test run (a fresh folder per run, see scripts/vscode-host/server.js) and
// small fixture trees written into it by the tests themselves.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { RunRecord, RunSummary } from '../../../src/core/store/runStore';

export function workspaceRoot(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the test run opens a workspace folder');
  return folder.uri.fsPath;
}

/** Default `batchPrompt.outputDirectory` under the workspace. */
export const RUNS_DIR = '.batch-prompt/runs';

export type Tree = Record<string, string | Uint8Array>;

/** Writes `files` (paths relative to `rel`, forward slashes) into a fresh folder `rel` of the workspace. */
export function writeTree(rel: string, files: Tree): vscode.Uri {
  const dir = path.join(workspaceRoot(), rel);
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, ...name.split('/'));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
  return vscode.Uri.file(dir);
}

export function removeTree(rel: string): void {
  fs.rmSync(path.join(workspaceRoot(), rel), { recursive: true, force: true });
}

/** Every file under `dir`, relative, forward slashes, sorted; [] when it does not exist. */
export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** The run folders under the workspace's default output directory. */
export function runFolders(): string[] {
  const dir = path.join(workspaceRoot(), RUNS_DIR);
  // Folders only: the runs folder also holds its own .gitignore.
  return fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort() : [];
}

/** A finished run's folder and its files, read from disk. */
export class RunFolder {
  constructor(readonly dir: string) {}

  static of(summary: RunSummary, outputDirectory = RUNS_DIR): RunFolder {
    return new RunFolder(path.join(workspaceRoot(), outputDirectory, summary.runId));
  }

  files(): string[] {
    return listFiles(this.dir);
  }

  read(rel: string): string {
    return fs.readFileSync(path.join(this.dir, ...rel.split('/')), 'utf8');
  }

  summary(): RunSummary {
    return JSON.parse(this.read('summary.json')) as RunSummary;
  }

  records(): RunRecord[] {
    return this.read('run.jsonl')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as RunRecord);
  }

  /** The output of an input file (its run-relative path), as written under `outputs/`. */
  output(inputPath: string): string {
    return this.read(`outputs/${inputPath}.md`);
  }
}
