import { createHash } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { LocatedFinding } from '../../core/output/kind';
import { isInside, relativePathProblem } from '../../core/store/pathGuard';
import { peekRunMeta, runFolders } from '../../core/store/runFolders';
import { Commands } from '../base/ids';
import { Disposable, registerCommand } from '../base/lifecycle';
import type { Log } from '../base/log';
import { RunRoots } from '../run/fileSelection';
import type { FinishNote, RunService } from '../run/runService';
import type { Services } from '../services';
import { countsText, FINDINGS_FILE, parseFindings, placeFindings, replaceCovered, type DiagnosticData } from './findingsModel';

/** The one name of the collection and the source of its diagnostics. */
export const FINDINGS_SOURCE = 'Batch Prompt';
export const SHOW_PROBLEMS = 'Show Problems';
/** The findings run that was the newest when the user cleared the findings: a reload does not bring it back. */
const CLEARED_KEY = 'batchPrompt.findingsCleared';
interface ClearedMark {
  runId: string;
  /** sha256 of its findings file then. */
  sha256: string;
}
/** Run folders a restore looks through for the newest findings run. */
const RESTORE_LOOKS_AT = 50;

/** What loading a findings run found. */
export interface LoadedFindings {
  /** The findings shown (after the staleness check). */
  shown: number;
  /** The end-of-run line ("12 errors, 30 warnings in 41 files"), of the findings as recorded. */
  text: string;
}

/**
 * Findings runs in the Problems panel (#14): one `DiagnosticCollection` whose source is "Batch
 * Prompt". A findings run that ends (a run, a retry, a resume, a collected batch job) replaces the
 * diagnostics of the files it covered, adds its counts to the end-of-run notification with "Show
 * Problems"; at activation the newest findings run of the workspace's run folders is shown again
 * (a window reload loses the collection). "Clear Findings" empties it, and a reload does not bring
 * back what was cleared.
 */
export class FindingsService extends Disposable {
  readonly collection = this._register(vscode.languages.createDiagnosticCollection(FINDINGS_SOURCE));
  /** Bumped by every load and clear: a restore that finds it changed meanwhile leaves the panel as it is. */
  private generation = 0;

  constructor(
    private readonly runs: Pick<RunService, 'runsRoot'>,
    private readonly state: vscode.Memento,
    private readonly log: Log,
  ) {
    super();
  }

  /**
   * Shows the findings of the run folder `dir` in place of the diagnostics of the files it covered.
   * Undefined (nothing changed) when it is not a findings run, or has no findings file yet.
   */
  async load(dir: vscode.Uri, generation = ++this.generation): Promise<LoadedFindings | undefined> {
    const meta = await peekRunMeta(dir.fsPath);
    if (meta?.output?.kind !== 'findings' || !Array.isArray(meta.files)) return undefined;
    let text: string;
    try {
      text = await fs.readFile(path.join(dir.fsPath, FINDINGS_FILE), 'utf8');
    } catch {
      return undefined;
    }
    const where = `${path.basename(dir.fsPath)}/${FINDINGS_FILE}`;
    const roots = RunRoots.current();
    if (!roots.primary || typeof meta.root !== 'string' || path.resolve(meta.root) !== path.resolve(roots.primary.uri.fsPath)) {
      this.log.warn(`Findings of ${where} not shown: the run's root ${JSON.stringify(meta.root)} is not this workspace's folder.`);
      return undefined;
    }
    const parsed = parseFindings(text);
    if (parsed.skipped.length) {
      const first = parsed.skipped.slice(0, 3).map((s) => `line ${s.line} (${s.reason})`).join(', ');
      this.log.warn(`${where}: ${parsed.skipped.length} malformed line${parsed.skipped.length === 1 ? '' : 's'} left out: ${first}${parsed.skipped.length > 3 ? ', …' : ''}.`);
    }
    // The files the run covered (run.json), each at its place in the workspace; anything else is not shown.
    const covered = new Map<string, { uri: vscode.Uri; hash: string | undefined }>();
    for (const f of meta.files) {
      const uri = f && typeof f === 'object' ? this.uriOf(roots, f.path) : undefined;
      if (uri) covered.set(f.path, { uri, hash: typeof f.hash === 'string' ? f.hash : undefined });
    }
    const byPath = new Map<string, LocatedFinding[]>();
    let outside = 0;
    for (const f of parsed.findings) {
      if (!covered.has(f.path)) {
        outside++;
        continue;
      }
      byPath.set(f.path, [...(byPath.get(f.path) ?? []), f]);
    }
    if (outside) this.log.warn(`${where}: ${outside} finding${outside === 1 ? '' : 's'} on files the run did not cover (or outside the workspace) left out.`);
    const next = new Map<string, DiagnosticData[]>();
    for (const [p, findings] of byPath) {
      const file = covered.get(p)!;
      next.set(file.uri.toString(), placeFindings(findings, file.hash, await this.readText(file.uri)));
    }
    if (generation !== this.generation) return undefined;
    this.apply([...covered.values()].map((c) => c.uri.toString()), next);
    const shown = [...next.values()].reduce((n, d) => n + d.length, 0);
    this.log.info(`Findings of ${path.basename(dir.fsPath)}: ${parsed.findings.length - outside} recorded, ${shown} shown in the Problems panel.`);
    return { shown, text: countsText(parsed.findings.filter((f) => covered.has(f.path)), covered.size) };
  }

  /**
   * Shows again the newest findings run in the workspace's run folders (after a window reload), unless
   * the user cleared the findings while it was the newest. Resolves to its folder, or undefined.
   */
  async restore(): Promise<vscode.Uri | undefined> {
    const generation = ++this.generation;
    const newest = await this.newestFindingsRun();
    if (!newest) return undefined;
    const cleared = this.state.get<ClearedMark>(CLEARED_KEY);
    if (cleared && cleared.runId === newest.runId && cleared.sha256 === newest.sha256) return undefined;
    const uri = vscode.Uri.file(newest.dir);
    return (await this.load(uri, generation)) ? uri : undefined;
  }

  /**
   * "Clear Findings": empties the Problems panel's Batch Prompt entries. The newest findings run (its
   * folder and the hash of its findings) is remembered, so that a reload does not show it again; a
   * newer run, or the same run's findings rewritten by a retry, shows.
   */
  async clear(): Promise<void> {
    this.forget();
    const newest = await this.newestFindingsRun();
    await this.state.update(CLEARED_KEY, newest ? ({ runId: newest.runId, sha256: newest.sha256 } satisfies ClearedMark) : undefined);
  }

  /** The newest run folder of a findings run that has its findings file, with that file's hash. */
  private async newestFindingsRun(): Promise<{ dir: string; runId: string; sha256: string } | undefined> {
    const root = this.runs.runsRoot(undefined, undefined, true);
    if (!root) return undefined;
    for (const dir of await runFolders(root.fsPath, RESTORE_LOOKS_AT)) {
      const meta = await peekRunMeta(dir);
      if (meta?.output?.kind !== 'findings') continue;
      const text = await fs.readFile(path.join(dir, FINDINGS_FILE)).catch(() => undefined);
      if (text) return { dir, runId: path.basename(dir), sha256: createHash('sha256').update(text).digest('hex') };
    }
    return undefined;
  }

  /** Empties the collection (what a window reload does to it). */
  forget(): void {
    this.generation++;
    this.collection.clear();
  }

  /** The end-of-run note of a findings run: its counts, with "Show Problems". */
  async finishNote(dir: vscode.Uri): Promise<FinishNote | undefined> {
    const loaded = await this.load(dir);
    if (!loaded) return undefined;
    return { text: loaded.text, actions: { [SHOW_PROBLEMS]: () => vscode.commands.executeCommand('workbench.actions.view.problems') } };
  }

  private apply(covered: readonly string[], next: ReadonlyMap<string, readonly DiagnosticData[]>): void {
    const current = new Map<string, readonly vscode.Diagnostic[]>();
    this.collection.forEach((uri, diagnostics) => void current.set(uri.toString(), diagnostics));
    const built = new Map([...next].map(([key, data]) => [key, data.map(toDiagnostic)] as const));
    const merged = replaceCovered(current, covered, built);
    for (const key of current.keys()) if (!merged.has(key)) this.collection.delete(vscode.Uri.parse(key));
    for (const [key, diagnostics] of merged) if (current.get(key) !== diagnostics) this.collection.set(vscode.Uri.parse(key), diagnostics);
  }

  /** A run-relative path's file in this workspace; undefined for a path that is unsafe or leads outside it. */
  private uriOf(roots: RunRoots, p: unknown): vscode.Uri | undefined {
    if (relativePathProblem(p)) return undefined;
    const uri = roots.uriOf(p as string);
    const folder = uri && vscode.workspace.getWorkspaceFolder(uri);
    return uri && folder && isInside(folder.uri.fsPath, uri.fsPath) ? uri : undefined;
  }

  /** The file's text now as the planner read it (UTF-8, a BOM kept), undefined when it cannot be read. */
  private async readText(uri: vscode.Uri): Promise<string | undefined> {
    try {
      return new TextDecoder('utf-8', { ignoreBOM: true }).decode(await vscode.workspace.fs.readFile(uri));
    } catch {
      return undefined;
    }
  }
}

function toDiagnostic(d: DiagnosticData): vscode.Diagnostic {
  const diagnostic = new vscode.Diagnostic(new vscode.Range(d.startLine, d.startCharacter, d.endLine, d.endCharacter), d.message, d.severity as vscode.DiagnosticSeverity);
  diagnostic.source = FINDINGS_SOURCE;
  if (d.code) diagnostic.code = d.code;
  return diagnostic;
}

/** The findings feature: the collection, "Clear Findings", the end-of-run counts and the restore at activation. */
export function registerFindings(context: vscode.ExtensionContext, { runs, log }: Services): FindingsService {
  const service = new FindingsService(runs, context.workspaceState, log);
  context.subscriptions.push(
    service,
    runs.addFinishNote((dir) => service.finishNote(dir)),
    registerCommand(Commands.clearFindings, () => service.clear()),
  );
  // Never awaited: activation does not wait for the run folders to be read.
  void service.restore().catch((e: unknown) => log.warn(`Could not show the findings of the last findings run again: ${String(e)}`));
  return service;
}
