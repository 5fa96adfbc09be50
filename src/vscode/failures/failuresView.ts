import * as path from 'path';
import * as vscode from 'vscode';
import type { RunSummary } from '../../core/store/runStore';
import { expandedNodes, FailuresModel, groupByReason, shortReason, type FailedChunk, type FailedFile, type FailedRun, type FailureCounts, type ReasonGroup } from './failuresModel';
import { RunRoots } from '../run/fileSelection';
import { Commands, Views } from '../base/ids';
import { Disposable, registerCommand } from '../base/lifecycle';
import { showInfo, showWarning } from '../base/messages';
import type { Services } from '../services';
import { lineRange } from '../../util/format';

/** A row of the Unfinished Chunks tree: run → reason → file → chunk. `contextValue` is the kind (the manifest's menus match on it). */
export type FailureNode =
  | { kind: 'run'; run: FailedRun }
  | { kind: 'reason'; group: ReasonGroup; run: FailedRun }
  | { kind: 'file'; file: FailedFile; run: FailedRun; reason: string }
  | { kind: 'chunk'; chunk: FailedChunk };

/** What `activate()` hands to tests (and to other extensions) about this view. */
export interface FailuresApi {
  readonly model: FailuresModel;
  readonly provider: FailuresTreeDataProvider;
  readonly view: vscode.TreeView<FailureNode>;
}

/** Tree refreshes wait this long so that a burst of outcomes redraws once. */
const REFRESH_DELAY_MS = 50;

/**
 * Renders the failures model: run → reason → file → chunk, with only about 50 rows expanded at first
 * (`expandedNodes`): a big run shows collapsed. Reading the first level loads the model (lazily).
 */
export class FailuresTreeDataProvider extends Disposable implements vscode.TreeDataProvider<FailureNode> {
  private readonly changed = this._register(new vscode.EventEmitter<FailureNode | undefined>());
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly model: FailuresModel) {
    super();
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  private expanded?: { runs: readonly FailedRun[]; keys: Set<string> };

  async getChildren(node?: FailureNode): Promise<FailureNode[]> {
    if (!node) {
      await this.model.ensureLoaded();
      return this.model.runs().map((run) => ({ kind: 'run', run }));
    }
    if (node.kind === 'run') return groupByReason(node.run).map((group) => ({ kind: 'reason', group, run: node.run }));
    if (node.kind === 'reason') return node.group.files.map((file) => ({ kind: 'file', file, run: node.run, reason: node.group.reason }));
    if (node.kind === 'file') return node.file.chunks.map((chunk) => ({ kind: 'chunk', chunk }));
    return [];
  }

  getTreeItem(node: FailureNode): vscode.TreeItem {
    if (node.kind === 'chunk') return chunkItem(node);
    const runs = this.model.runs();
    if (this.expanded?.runs !== runs) this.expanded = { runs, keys: expandedNodes(runs) };
    const open = (key: string) => (this.expanded!.keys.has(key) ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
    if (node.kind === 'run') return runItem(node.run, open(`run:${node.run.id}`));
    if (node.kind === 'reason') return reasonItem(node.group, open(`reason:${node.run.id}/${node.group.reason}`));
    return fileItem(node.file, node.run, node.reason, open(`file:${node.run.id}/${node.reason}/${node.file.path}`));
  }
}

function runItem(run: FailedRun, state: vscode.TreeItemCollapsibleState): vscode.TreeItem {
  // A short label (the time): the counts and the model in the description, the prompt in the tooltip.
  const item = new vscode.TreeItem(timeOf(run), state);
  item.id = run.id;
  item.contextValue = 'run';
  item.iconPath = new vscode.ThemeIcon('history');
  item.description = [describeCounts(run.counts), run.model?.id].filter(Boolean).join(' · ');
  const tip = new vscode.MarkdownString();
  tip.appendMarkdown('**Run** ').appendText(run.id).appendMarkdown('  \n');
  if (run.createdAt) tip.appendMarkdown('Started: ').appendText(new Date(run.createdAt).toLocaleString()).appendMarkdown('  \n');
  if (run.model) tip.appendMarkdown('Model: ').appendText([run.model.id, run.model.provider, run.model.model].filter(Boolean).join(' · ')).appendMarkdown('  \n');
  if (run.promptLabel) tip.appendMarkdown('Prompt: ').appendText(run.promptLabel).appendMarkdown('  \n');
  tip.appendMarkdown(`${describeCounts(run.counts)}  \n`).appendMarkdown('Folder: ').appendText(run.dir);
  item.tooltip = tip;
  return item;
}

function reasonItem(group: ReasonGroup, state: vscode.TreeItemCollapsibleState): vscode.TreeItem {
  const item = new vscode.TreeItem(group.reason, state);
  item.id = `${group.runId}/reason/${group.reason}`;
  item.contextValue = 'reason';
  item.iconPath = group.status === 'failed' ? new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground')) : new vscode.ThemeIcon(group.status === 'canceled' ? 'circle-slash' : 'debug-disconnect');
  const files = group.files.length;
  item.description = `${group.chunks.toLocaleString()} chunk${group.chunks === 1 ? '' : 's'} in ${files.toLocaleString()} file${files === 1 ? '' : 's'}`;
  item.tooltip = `${group.reason}: ${item.description}${group.status === 'canceled' ? ' (canceled, not failed: Retry sends them)' : ''}`;
  return item;
}

function fileItem(file: FailedFile, run: FailedRun, reason: string, state: vscode.TreeItemCollapsibleState): vscode.TreeItem {
  const item = new vscode.TreeItem(file.path, state);
  item.id = `${file.runId}/${reason}/${file.path}`;
  item.contextValue = 'file';
  const uri = fileUri(file.path, run.root);
  if (uri) item.resourceUri = uri; // the file icon of the theme
  item.description = `${file.chunks.length} chunk${file.chunks.length === 1 ? '' : 's'}`;
  item.tooltip = `${file.path}: ${file.chunks.length} chunk${file.chunks.length === 1 ? '' : 's'} to retry`;
  return item;
}

function chunkItem(node: FailureNode & { kind: 'chunk' }): vscode.TreeItem {
  const c = node.chunk;
  const item = new vscode.TreeItem(lineRange(c.startLine, c.endLine), vscode.TreeItemCollapsibleState.None);
  item.id = `${c.runId}/${c.path}#${c.chunkId}`;
  item.contextValue = 'chunk';
  item.description = shortReason(c);
  item.iconPath = c.status === 'failed' ? new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground')) : new vscode.ThemeIcon(c.status === 'canceled' ? 'circle-slash' : 'debug-disconnect');
  item.tooltip = chunkTooltip(c);
  item.command = { command: Commands.revealChunk, title: 'Reveal Chunk', arguments: [node] };
  return item;
}

function chunkTooltip(c: FailedChunk): vscode.MarkdownString {
  const tip = new vscode.MarkdownString();
  const status = c.status === 'failed' ? 'Failed' : c.status === 'canceled' ? 'Canceled' : 'Interrupted';
  tip.appendMarkdown(`**${status}**`).appendText(` · ${c.path}, ${lineRange(c.startLine, c.endLine)} (chunk ${c.chunkId})`).appendMarkdown('\n\n');
  if (c.status === 'interrupted') {
    tip.appendText('The run ended without an outcome for this chunk (the window was closed or the extension stopped), or it is still running in another window.');
  } else {
    if (c.error) tip.appendMarkdown(`\`${c.error.kind}\` after ${c.attempts} attempt${c.attempts === 1 ? '' : 's'}:`).appendCodeblock(c.error.message, 'text');
    if (c.at) tip.appendText(`Recorded ${new Date(c.at).toLocaleString()}`);
  }
  return tip;
}

function describeCounts({ failed, canceled, interrupted }: FailureCounts): string {
  return [failed && `${failed} failed`, canceled && `${canceled} canceled`, interrupted && `${interrupted} interrupted`].filter(Boolean).join(', ');
}

function timeOf(run: FailedRun): string {
  if (!run.createdAt) return run.id;
  const d = new Date(run.createdAt);
  return Number.isNaN(d.getTime()) ? run.id : d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** The workspace file of a run-relative path (multi-root aware), else the path under the run's root. */
function fileUri(runPath: string, root: string | undefined): vscode.Uri | undefined {
  return RunRoots.current().uriOf(runPath) ?? (root ? vscode.Uri.file(path.join(root, ...runPath.split('/'))) : undefined);
}

/**
 * Registers the Failed Chunks view and its commands (retry, retry all, clear, reveal). The model is
 * read from the run folders only when the view first asks for its rows, or when a run ends with
 * failures, never at activation.
 */
export function registerFailures(context: vscode.ExtensionContext, { runs }: Services): FailuresApi {
  const activeDirs = () => new Set([...runs.active].map((r) => r.dir.fsPath));
  const model = new FailuresModel({
    runsRoot: () => runs.runsRoot()?.fsPath,
    state: context.workspaceState,
    isActive: (dir) => activeDirs().has(dir),
  });
  const provider = new FailuresTreeDataProvider(model);
  const view = vscode.window.createTreeView(Views.failures, { treeDataProvider: provider, showCollapseAll: true });

  let timer: ReturnType<typeof setTimeout> | undefined;
  const redraw = () => {
    timer = undefined;
    provider.refresh();
    const n = model.counts();
    view.badge = n.total ? { value: n.total, tooltip: `Chunks to retry: ${describeCounts(n)}` } : undefined;
  };
  let running = activeDirs();
  context.subscriptions.push(
    model,
    provider,
    view,
    { dispose: () => clearTimeout(timer) },
    model.onDidChange(() => (timer ??= setTimeout(redraw, REFRESH_DELAY_MS))),
    runs.onDidRecord(({ dir, outcome }) => model.applyOutcome(dir.fsPath, outcome)),
    runs.onDidFinish(({ dir, summary }) => {
      if (model.state !== 'unloaded') void model.refreshRun(dir.fsPath);
      else if (summary.failed + summary.canceled > 0) void model.ensureLoaded(); // for the badge
    }),
    runs.onDidChange(() => {
      // A run that stopped without a summary (it threw) leaves unrecorded chunks: read it again.
      const now = activeDirs();
      for (const dir of running) if (!now.has(dir)) void model.refreshRun(dir);
      running = now;
    }),
    registerCommand(Commands.retry, (node?: FailureNode) => retry(node)),
    registerCommand(Commands.retryAll, () => retryAll()),
    registerCommand(Commands.clearFailures, async (node?: FailureNode) => {
      await model.ensureLoaded();
      await model.clear(node?.kind === 'run' ? [node.run.id] : undefined);
    }),
    registerCommand(Commands.revealChunk, (node?: FailureNode) => reveal(node)),
  );
  return { model, provider, view };

  async function retry(node?: FailureNode): Promise<RunSummary | undefined> {
    const target = node ?? view.selection[0];
    if (!target) {
      showInfo('Batch Prompt: choose a run, a reason, a file or a chunk in the Unfinished Chunks view to retry.');
      return undefined;
    }
    if (target.kind === 'run') return runs.retry(vscode.Uri.file(target.run.dir)); // every unfinished chunk of the run
    if (target.kind === 'reason') return runs.retry(vscode.Uri.file(target.group.dir), target.group.files.flatMap((f) => f.chunks.map((c) => c.chunkId)));
    if (target.kind === 'file') return runs.retry(vscode.Uri.file(target.file.dir), target.file.chunks.map((c) => c.chunkId));
    return runs.retry(vscode.Uri.file(target.chunk.dir), [target.chunk.chunkId]);
  }

  async function retryAll(): Promise<RunSummary[]> {
    await model.ensureLoaded();
    const list = model.runs();
    if (list.length === 0) {
      showInfo('Batch Prompt: no unfinished chunks to retry.');
      return [];
    }
    const summaries: RunSummary[] = [];
    // One run after another: each retry is a run of its own (progress, report, one at a time).
    for (const run of list) {
      const summary = await runs.retry(vscode.Uri.file(run.dir));
      if (!summary) continue;
      summaries.push(summary);
      // Canceled by the user, or stopped by an error no retry fixes: do not go on with the next runs.
      if (summary.fatal || summary.canceled > 0) break;
    }
    return summaries;
  }

  async function reveal(node?: FailureNode): Promise<vscode.TextEditor | undefined> {
    const target = node ?? view.selection[0];
    if (target?.kind !== 'chunk') return undefined;
    const c = target.chunk;
    const run = model.runs().find((r) => r.id === c.runId);
    const uri = fileUri(c.path, run?.root);
    let doc: vscode.TextDocument;
    try {
      if (!uri) throw new Error('not in this workspace');
      doc = await vscode.workspace.openTextDocument(uri);
    } catch {
      showWarning(`Batch Prompt: cannot open ${c.path}; it was moved or deleted since the run.`);
      return undefined;
    }
    // Offsets are exact while the file is unchanged; past its end (the file shrank), use the lines.
    const range =
      c.end <= doc.offsetAt(doc.lineAt(doc.lineCount - 1).range.end)
        ? new vscode.Range(doc.positionAt(c.start), doc.positionAt(c.end))
        : new vscode.Range(Math.max(0, c.startLine - 1), 0, Math.max(0, c.endLine - 1), Number.MAX_SAFE_INTEGER);
    const editor = await vscode.window.showTextDocument(doc, { selection: doc.validateRange(range), preview: true });
    editor.revealRange(editor.selection, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    return editor;
  }
}
