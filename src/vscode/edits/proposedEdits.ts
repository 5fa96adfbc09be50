import * as path from 'path';
import * as vscode from 'vscode';
import { proposedNameOf } from '../../core/output/names';
import { CHANGED_SINCE_RUN, DELETED_SINCE_RUN, PROPOSED_DIR, proposedFileOf, proposedText, ProposalsError, readProposals, type ProposalEntry, type ProposalManifest } from '../../core/output/edits';
import { hashText } from '../../core/plan/plan';
import { checkRunRoot, isInside, UnsafePathError, UntrustedRootError } from '../../core/store/pathGuard';
import { peekRunMeta, runFolders } from '../../core/store/runFolders';
import { checkRunFolder, type RunMeta } from '../../core/store/runStore';
import { Commands } from '../base/ids';
import { registerCommand } from '../base/lifecycle';
import type { Log } from '../base/log';
import { showError, showInfo, showWithActions } from '../base/messages';
import { RunRoots } from '../run/fileSelection';
import type { FinishNote, RunAction, RunService } from '../run/runService';
import type { Services } from '../services';
import { hunkDescription, hunksOf, reviewLabel, reviewProblem, suspiciousOf } from './editsModel';

export const REVIEW_EDITS = 'Review Proposed Edits';
/** Run folders looked through for the newest edit run. */
const LOOKS_AT = 50;

/** A file of the run the review does not offer, and why (changed since the run, failed chunks, …). */
export interface NotOffered {
  path: string;
  reason: string;
}

/** One replace of a review, as put in its WorkspaceEdit (kept for tests: the edit does not show its metadata). */
export interface ReviewChange {
  uri: vscode.Uri;
  range: vscode.Range;
  newText: string;
  metadata: vscode.WorkspaceEditEntryMetadata;
}

/**
 * What a review offers: one WorkspaceEdit with a replace per hunk, each needing confirmation. VS Code's
 * Refactor Preview shows such changes unticked: the user ticks the files (or changes) to take.
 */
export interface ReviewPlan {
  runId: string;
  edit: vscode.WorkspaceEdit;
  changes: ReviewChange[];
  offered: { path: string; uri: vscode.Uri; hunks: number }[];
  notOffered: NotOffered[];
}

/** What "Review Proposed Edits" resolves to (tests read it): whether the edit was applied, and the plan. */
export interface ReviewOutcome {
  applied: boolean;
  runId: string;
  offered: string[];
  notOffered: NotOffered[];
}

interface OpenedRun {
  dir: vscode.Uri;
  meta: RunMeta;
  manifest: ProposalManifest;
  roots: RunRoots;
}

/**
 * An edit run's proposals in the editor (#15): **Review Proposed Edits** applies one WorkspaceEdit whose
 * replaces (one per hunk) need confirmation, so that VS Code's Refactor Preview opens with a checkbox
 * per file and per change; accepting applies the chosen ones as one undoable edit and leaves the
 * documents dirty. **Open Diff** shows a file against its proposal. Everything is read from the run
 * folder (untrusted: checked whole), so proposals survive a window reload; a file whose content is no
 * longer the one the run planned (sha256) is never offered.
 */
export class ProposedEditsService {
  constructor(
    private readonly runs: Pick<RunService, 'runsRoot' | 'lastFinished'>,
    private readonly log: Log,
  ) {}

  /** The newest run folder of an edit run that has its proposals (the last finished run first, when it is one). */
  async newestEditRun(): Promise<vscode.Uri | undefined> {
    const last = this.runs.lastFinished?.dir;
    if (last && (await isEditRun(last.fsPath))) return last;
    const root = this.runs.runsRoot(undefined, undefined, true);
    if (!root) return undefined;
    for (const dir of await runFolders(root.fsPath, LOOKS_AT)) if (await isEditRun(dir)) return vscode.Uri.file(dir);
    return undefined;
  }

  /** Opens the run `arg` (a Uri or a path; default: the newest edit run), or tells the user why not. */
  private async open(arg: unknown): Promise<OpenedRun | undefined> {
    const dir = arg instanceof vscode.Uri ? arg : typeof arg === 'string' && arg ? vscode.Uri.file(arg) : await this.newestEditRun();
    if (!dir) {
      showInfo('Batch Prompt: no edit run in this workspace yet. Run a prompt whose output is edit (the prompt picker\'s "Type a rewrite prompt (edit files)…", or a prompt file with "output: edit").');
      return undefined;
    }
    const name = path.basename(dir.fsPath);
    let meta: RunMeta;
    try {
      meta = await checkRunFolder(dir.fsPath);
    } catch (e) {
      showError(`Batch Prompt: ${name} cannot be reviewed: ${UnsafePathError.is(e) ? e.message : `it is not a run folder (${e instanceof Error ? e.message : String(e)})`}`);
      return undefined;
    }
    if (meta.output?.kind !== 'edit') {
      showError(`Batch Prompt: ${name} is not an edit run (its output is ${meta.output?.kind ?? 'text'}); only an edit run has proposed edits.`);
      return undefined;
    }
    const roots = RunRoots.current();
    try {
      if (!roots.primary) throw new UntrustedRootError(String(meta.root), [], 'Open the folder the run was made in.');
      await checkRunRoot(meta.root, [roots.primary.uri.fsPath], 'Open the folder the run was made in to review its edits.');
    } catch (e) {
      if (!UntrustedRootError.is(e)) throw e;
      showError(`Batch Prompt: ${name}: ${e.message}`);
      return undefined;
    }
    try {
      return { dir, meta, manifest: await readProposals(dir.fsPath), roots };
    } catch (e) {
      const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
      showError(`Batch Prompt: ${name} ${missing ? 'has no proposals yet (the run did not finish): resume it, then review.' : `cannot be reviewed: ${ProposalsError.is(e) || UnsafePathError.is(e) ? e.message : String(e)}`}`);
      return undefined;
    }
  }

  /**
   * The review of run `dir`: every proposed file whose content is still the planned one, one replace per
   * hunk with its confirmation metadata; the other files with why they are not offered. Undefined after
   * telling the user why the run cannot be reviewed.
   */
  async buildReview(dir?: unknown): Promise<ReviewPlan | undefined> {
    const run = await this.open(dir);
    if (!run) return undefined;
    const { meta, manifest, roots } = run;
    const edit = new vscode.WorkspaceEdit();
    const changes: ReviewChange[] = [];
    const offered: ReviewPlan['offered'] = [];
    const notOffered: NotOffered[] = [];
    for (const entry of manifest.files) {
      if (entry.status === 'unchanged') continue;
      if (entry.status !== 'proposed') {
        notOffered.push({ path: entry.path, reason: entry.reason ?? entry.status });
        continue;
      }
      const current = await this.currentOf(entry, roots);
      if ('reason' in current) {
        notOffered.push({ path: entry.path, reason: current.reason });
        continue;
      }
      const { uri, text } = current;
      let proposal: string;
      try {
        proposal = await proposedText(run.dir.fsPath, entry.path);
      } catch (e) {
        notOffered.push({ path: entry.path, reason: UnsafePathError.is(e) ? e.message : `its proposal (${PROPOSED_DIR}/${proposedNameOf(entry.path)}) cannot be read: resume the run to write it again` });
        continue;
      }
      const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
      const problem = reviewProblem(text, document?.getText());
      if (problem) {
        notOffered.push({ path: entry.path, reason: problem });
        continue;
      }
      const hunks = hunksOf(text, proposal);
      for (const h of hunks) {
        const suspicious = suspiciousOf(entry, h);
        const change: ReviewChange = {
          uri,
          range: new vscode.Range(h.start.line, h.start.character, h.end.line, h.end.character),
          newText: h.newText,
          metadata: { needsConfirmation: true, label: reviewLabel(meta.runId, suspicious.length > 0), description: hunkDescription(entry.path, h, suspicious) },
        };
        edit.replace(change.uri, change.range, change.newText, change.metadata);
        changes.push(change);
      }
      if (hunks.length) offered.push({ path: entry.path, uri, hunks: hunks.length });
    }
    return { runId: meta.runId, edit, changes, offered, notOffered };
  }

  /** The file of `entry` in the workspace, with its text now when it still has the planned sha256, else why not. */
  private async currentOf(entry: ProposalEntry, roots: RunRoots): Promise<{ uri: vscode.Uri; text: string } | { reason: string }> {
    const uri = roots.uriOf(entry.path);
    const folder = uri && vscode.workspace.getWorkspaceFolder(uri);
    if (!uri || !folder || !isInside(folder.uri.fsPath, uri.fsPath)) return { reason: 'not in this workspace' };
    let text: string;
    try {
      // As the planner read it: UTF-8 with a BOM kept (it is part of the planned sha256).
      text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(await vscode.workspace.fs.readFile(uri));
    } catch (e) {
      return { reason: e instanceof vscode.FileSystemError && e.code === 'FileNotFound' ? DELETED_SINCE_RUN : `cannot be read (${e instanceof Error ? e.message : String(e)})` };
    }
    return hashText(text) === entry.hash ? { uri, text } : { reason: CHANGED_SINCE_RUN };
  }

  /**
   * "Review Proposed Edits": builds the review and hands it to VS Code, whose Refactor Preview asks for
   * each file and change; resolves once the user applied or discarded it. Files not offered are listed.
   */
  async review(dir?: unknown): Promise<ReviewOutcome | undefined> {
    const plan = await this.buildReview(dir);
    if (!plan) return undefined;
    const outcome = { runId: plan.runId, offered: plan.offered.map((o) => o.path), notOffered: plan.notOffered };
    if (plan.notOffered.length) {
      for (const n of plan.notOffered) this.log.info(`Review of ${plan.runId}: ${n.path} not offered: ${n.reason}`);
      const listed = plan.notOffered.slice(0, 5).map((n) => `${n.path} (${n.reason})`).join('; ');
      void showWithActions('warning', `Batch Prompt: ${plan.notOffered.length} file${plan.notOffered.length === 1 ? '' : 's'} of ${plan.runId} not offered for review: ${listed}${plan.notOffered.length > 5 ? '; …' : ''}.`, { 'Show Log': () => this.log.show() });
    }
    if (!plan.offered.length) {
      showInfo(`Batch Prompt: ${plan.runId} has no proposed edit to review${plan.notOffered.length ? ' (see the files not offered)' : ''}.`);
      return { applied: false, ...outcome };
    }
    this.log.info(`Review of ${plan.runId}: ${plan.offered.length} file(s), ${plan.offered.reduce((n, o) => n + o.hunks, 0)} change(s) offered in the Refactor Preview.`);
    // Not `isRefactoring`: with it VS Code saves the files it changed (files.refactoring.autoSave, on by
    // default); a review leaves the documents dirty for the user to read and save.
    const applied = await vscode.workspace.applyEdit(plan.edit);
    return { applied, ...outcome };
  }

  /** "Open Diff": a proposed file of the run (asked for unless given) against the file as it is now. */
  async openDiff(dir?: unknown, file?: unknown): Promise<boolean> {
    const run = await this.open(dir);
    if (!run) return false;
    const proposed = run.manifest.files.filter((f) => f.status === 'proposed');
    if (!proposed.length) {
      showInfo(`Batch Prompt: ${run.meta.runId} has no proposed file.`);
      return false;
    }
    let entry = typeof file === 'string' ? proposed.find((f) => f.path === file) : undefined;
    if (!entry) {
      const items = await Promise.all(
        proposed.map(async (f) => {
          const current = await this.currentOf(f, run.roots);
          return { label: f.path, description: 'reason' in current ? current.reason : f.suspicious?.length ? 'suspicious parts: check them' : undefined, entry: f };
        }),
      );
      entry = (await vscode.window.showQuickPick(items, { title: `Batch Prompt: open the diff of a proposed file (${run.meta.runId})`, matchOnDescription: true }))?.entry;
    }
    if (!entry) return false;
    const uri = run.roots.uriOf(entry.path);
    try {
      // Through the path guard: a link planted in the run folder that leads out of it is refused.
      await proposedText(run.dir.fsPath, entry.path);
    } catch (e) {
      showError(`Batch Prompt: the proposal of ${entry.path} cannot be read: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
    if (!uri) return false;
    const right = vscode.Uri.file(await proposedFileOf(run.dir.fsPath, entry.path));
    await vscode.commands.executeCommand('vscode.diff', uri, right, `${entry.path} ↔ proposed (${run.meta.runId})`);
    return true;
  }

  /** The end-of-run note of an edit run: how many files have a proposal, with "Review Proposed Edits". */
  async finishNote(dir: vscode.Uri): Promise<FinishNote | undefined> {
    if (!(await isEditRun(dir.fsPath))) return undefined;
    const manifest = await readProposals(dir.fsPath);
    const n = manifest.files.filter((f) => f.status === 'proposed').length;
    if (!n) return { text: 'No edit proposed', actions: {} };
    return { text: `${n} file${n === 1 ? '' : 's'} with proposed edits (nothing written yet)`, actions: { [REVIEW_EDITS]: () => vscode.commands.executeCommand(Commands.reviewEdits, dir) } };
  }

  /** Run Actions' items when the workspace has an edit run. */
  async runActions(): Promise<RunAction[]> {
    const dir = await this.newestEditRun();
    if (!dir) return [];
    const name = path.basename(dir.fsPath);
    return [
      { label: `$(diff-multiple) ${REVIEW_EDITS}`, description: name, command: Commands.reviewEdits, args: [dir] },
      { label: '$(diff) Open Diff of a Proposed Edit…', description: name, command: Commands.openEditDiff, args: [dir] },
    ];
  }
}

/** True when `dir` is an edit run that has written its proposals. */
async function isEditRun(dir: string): Promise<boolean> {
  const meta = await peekRunMeta(dir);
  if (meta?.output?.kind !== 'edit') return false;
  return readProposals(dir).then(() => true, () => false);
}

/** The edits feature: the two commands, the end-of-run note and the Run Actions items. */
export function registerProposedEdits(context: vscode.ExtensionContext, { runs, log }: Services): ProposedEditsService {
  const service = new ProposedEditsService(runs, log);
  context.subscriptions.push(
    runs.addFinishNote((dir) => service.finishNote(dir)),
    runs.addRunActions(() => service.runActions()),
    registerCommand(Commands.reviewEdits, (dir?: unknown) => service.review(dir)),
    registerCommand(Commands.openEditDiff, (dir?: unknown, file?: unknown) => service.openDiff(dir, file)),
  );
  return service;
}
