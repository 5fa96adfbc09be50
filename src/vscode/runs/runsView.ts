import { promises as fs } from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { formatCost } from '../../core/store/report';
import { formatDuration } from '../../util/format';
import { Commands, Views } from '../base/ids';
import { Disposable, registerCommand } from '../base/lifecycle';
import { askModal, showInfo, showWarning } from '../base/messages';
import { readUserModels } from '../base/settings';
import type { Services } from '../services';
import { isRunFolderOf, readRuns, type RunEntry, type RunState } from './runsModel';

/** What `activate()` hands to tests about the Runs view. */
export interface RunsApi {
  readonly provider: RunsTreeDataProvider;
  readonly view: vscode.TreeView<RunEntry>;
  /** Resolves once the rows were read again (after a change on disk or a run's end). */
  refreshed(): Promise<void>;
}

/** Refreshes wait this long so that a burst of changes (a run's progress, a watcher's events) reads once. */
const REFRESH_DELAY_MS = 200;
/** How often a visible Runs view looks at the run folders' names (see `look` in `registerRunsView`). */
const POLL_MS = 3000;

const ICONS: Record<RunState, vscode.ThemeIcon> = {
  running: new vscode.ThemeIcon('sync~spin'),
  succeeded: new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed')),
  cached: new vscode.ThemeIcon('database'),
  failed: new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground')),
  canceled: new vscode.ThemeIcon('circle-slash'),
  interrupted: new vscode.ThemeIcon('debug-disconnect'),
};

export class RunsTreeDataProvider extends Disposable implements vscode.TreeDataProvider<RunEntry> {
  private readonly changed = this._register(new vscode.EventEmitter<RunEntry | undefined>());
  readonly onDidChangeTreeData = this.changed.event;
  private rows?: Promise<RunEntry[]>;

  constructor(private readonly read: () => Promise<RunEntry[]>) {
    super();
  }

  /** Reads the run folders again on the next `getChildren`. */
  refresh(): void {
    this.rows = undefined;
    this.changed.fire(undefined);
  }

  getChildren(node?: RunEntry): Promise<RunEntry[]> {
    if (node) return Promise.resolve([]);
    this.rows ??= this.read().catch(() => []);
    return this.rows;
  }

  getTreeItem(run: RunEntry): vscode.TreeItem {
    // Short label (the time), the rest in the description and the tooltip: the row is never cut off on its label.
    const item = new vscode.TreeItem(timeOf(run), vscode.TreeItemCollapsibleState.None);
    item.id = run.id;
    item.iconPath = ICONS[run.state];
    item.description = [run.status, run.modelId, run.cost !== undefined ? formatCost(run.cost) : undefined].filter(Boolean).join(' · ');
    item.contextValue = contextOf(run);
    item.tooltip = tooltipOf(run);
    item.command = run.state === 'running' ? undefined : { command: Commands.runsOpenReport, title: 'Open Report', arguments: [run] };
    item.accessibilityInformation = { label: `Run ${run.id}: ${item.description}` };
    return item;
  }
}

/** `run` plus flags the manifest's menus match on: `finished`, `unfinished` (chunks to send again), `edit`. */
function contextOf(run: RunEntry): string {
  const flags = ['run'];
  if (run.state !== 'running') flags.push('finished');
  if (run.unfinished > 0 && run.state !== 'running') flags.push('unfinished');
  if (run.edit) flags.push('edit');
  if (run.state !== 'running' && run.counts.succeeded > 0) flags.push('combinable');
  return flags.join(' ');
}

function tooltipOf(run: RunEntry): vscode.MarkdownString {
  const tip = new vscode.MarkdownString();
  tip.appendMarkdown('**Run** ').appendText(run.id).appendMarkdown('  \n');
  tip.appendMarkdown('Status: ').appendText(run.status).appendMarkdown('  \n');
  if (run.promptLabel) tip.appendMarkdown('Prompt: ').appendText(run.promptLabel).appendMarkdown('  \n');
  if (run.modelId) tip.appendMarkdown('Model: ').appendText(run.modelId).appendMarkdown('  \n');
  if (run.createdAt) tip.appendMarkdown('Started: ').appendText(new Date(run.createdAt).toLocaleString()).appendMarkdown('  \n');
  const c = run.counts;
  if (run.state !== 'running') {
    const parts = [`${c.succeeded} succeeded`, c.cached ? `${c.cached} from cache` : '', c.failed ? `${c.failed} failed` : '', c.canceled ? `${c.canceled} canceled` : ''].filter(Boolean);
    tip.appendText(`${c.total.toLocaleString()} chunks: ${parts.join(', ')}`).appendMarkdown('  \n');
  }
  if (run.durationMs !== undefined) tip.appendMarkdown('Duration: ').appendText(formatDuration(run.durationMs)).appendMarkdown('  \n');
  if (run.inputTokens !== undefined) tip.appendMarkdown('Tokens: ').appendText(`${run.inputTokens.toLocaleString()} input, ${(run.outputTokens ?? 0).toLocaleString()} output`).appendMarkdown('  \n');
  if (run.inputTokens !== undefined) tip.appendMarkdown('Cost: ').appendText(formatCost(run.cost)).appendMarkdown('  \n');
  tip.appendMarkdown('Folder: ').appendText(run.dir);
  return tip;
}

function timeOf(run: RunEntry): string {
  const d = run.createdAt ? new Date(run.createdAt) : undefined;
  if (!d || Number.isNaN(d.getTime())) return run.id;
  return d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function uriOf(run: unknown): vscode.Uri | undefined {
  if (run instanceof vscode.Uri) return run;
  const dir = (run as Partial<RunEntry> | undefined)?.dir;
  return typeof dir === 'string' ? vscode.Uri.file(dir) : undefined;
}

/**
 * Registers the Runs view (the run folders, newest first, with status, model, time and cost) and its
 * actions. It reads the folders when it is first shown and again when they change: a file watcher on the
 * runs folder (runs of the CLI, deletions) and the run service's events (this window's runs and retries).
 */
export function registerRunsView(context: vscode.ExtensionContext, { runs }: Services, options: { onRunDeleted?: () => unknown } = {}): RunsApi {
  const live = (dir: string) => {
    const run = [...runs.active].find((a) => a.dir.fsPath === dir);
    return run ? { done: run.tracker.done, total: run.tracker.total } : undefined;
  };
  const prices = (id: string) => readUserModels().find((m) => m.id === id);
  const read = async () => {
    const root = runs.runsRoot(undefined, undefined, true);
    return root ? readRuns(root.fsPath, { live, prices }) : [];
  };
  const provider = new RunsTreeDataProvider(read);
  const view = vscode.window.createTreeView(Views.runs, { treeDataProvider: provider });

  let timer: ReturnType<typeof setTimeout> | undefined;
  let waiting: (() => void)[] = [];
  const schedule = () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      provider.refresh();
      const done = waiting;
      waiting = [];
      void provider.getChildren().then(() => done.forEach((d) => d()));
    }, REFRESH_DELAY_MS);
  };

  let watchers: vscode.FileSystemWatcher[] = [];
  /** The run folders' names when last looked at (`look`), and whether the runs folder existed when the watchers were made. */
  let names: string | undefined;
  let watchedExisting = false;
  const watch = (root = runs.runsRoot(undefined, undefined, true)) => {
    for (const w of watchers) w.dispose();
    watchedExisting = false;
    if (root) void fs.stat(root.fsPath).then((st) => (watchedExisting = st.isDirectory()), () => undefined);
    // Two watchers. The run folders made or deleted (a CLI's run, a folder removed by hand): a pattern
    // of one level is watched on its own, without files.watcherExclude, even inside the workspace, so a
    // folder copied in whole is reported at once; a recursive pattern there only filters the workspace's
    // recursive watcher, which missed such a folder about one time in five (the Runs view's test). And
    // each run's run.json / summary.json, for runs of other windows going on.
    watchers = root ? [new vscode.RelativePattern(root, '*'), new vscode.RelativePattern(root, '*/{run.json,summary.json}')].map((p) => vscode.workspace.createFileSystemWatcher(p)) : [];
    for (const w of watchers) {
      w.onDidCreate(schedule);
      w.onDidChange(schedule);
      w.onDidDelete((uri) => {
        schedule();
        // A run folder deleted (here or by hand): the Unfinished Chunks view forgets it too.
        if (root && path.dirname(uri.fsPath) === root.fsPath) void options.onRunDeleted?.();
      });
    }
  };
  watch();

  // A safety net while the view is visible: the run folders' names, every few seconds (one readdir).
  // File watchers can miss a run folder copied in whole (the Runs view's test saw it about one run in
  // ten), and watch nothing where the runs folder did not exist yet when they were made: then they are
  // made again once it does.
  const look = async () => {
    const root = runs.runsRoot(undefined, undefined, true);
    if (!root) return;
    const now = await fs.readdir(root.fsPath).then((n) => `${root.fsPath}\n${n.sort().join('\n')}`, () => `${root.fsPath} (none)`);
    if (!watchedExisting && !now.endsWith(' (none)')) watch(root);
    if (names !== undefined && now !== names) schedule();
    names = now;
  };
  let poll: ReturnType<typeof setInterval> | undefined;
  const follow = () => {
    clearInterval(poll);
    poll = view.visible ? setInterval(() => void look(), POLL_MS) : undefined;
    if (view.visible) void look();
  };
  follow();

  context.subscriptions.push(
    view.onDidChangeVisibility(() => {
      // Shown again: what changed while it was hidden is read now.
      if (view.visible) schedule();
      follow();
    }),
    { dispose: () => clearInterval(poll) },
    provider,
    view,
    {
      dispose: () => {
        clearTimeout(timer);
        for (const w of watchers) w.dispose();
      },
    },
    runs.onDidChange(schedule),
    runs.onDidFinish(schedule),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('batchPrompt.outputDirectory')) watch();
      if (e.affectsConfiguration('batchPrompt.outputDirectory') || e.affectsConfiguration('batchPrompt.models')) schedule();
    }),
    vscode.workspace.onDidChangeWorkspaceFolders(() => {
      watch();
      schedule();
    }),
    registerCommand(Commands.runsRefresh, () => schedule()),
    registerCommand(Commands.runsOpenReport, (run?: RunEntry) => runs.openResults(uriOf(run ?? view.selection[0]))),
    registerCommand(Commands.runsOpenOutputs, (run?: RunEntry) => openOutputs(run ?? view.selection[0])),
    registerCommand(Commands.runsResume, (run?: RunEntry) => withRun(run, (u) => runs.resume(u))),
    registerCommand(Commands.runsRetryFailed, (run?: RunEntry) => withRun(run, (u) => runs.retry(u))),
    registerCommand(Commands.runsReviewEdits, (run?: RunEntry) => withRun(run, (u) => vscode.commands.executeCommand(Commands.reviewEdits, u))),
    registerCommand(Commands.runsDelete, (run?: RunEntry) => deleteRun(run ?? view.selection[0])),
    registerCommand(Commands.runsCombine, (run?: RunEntry) => withRun(run, (u) => vscode.commands.executeCommand(Commands.combineResults, u))),
    registerCommand(Commands.runsActions, (run?: RunEntry) => actions(run ?? view.selection[0])),
  );
  return {
    provider,
    view,
    refreshed: () =>
      new Promise<void>((resolve) => {
        waiting.push(resolve);
        schedule();
      }),
  };

  function withRun<T>(run: RunEntry | undefined, act: (dir: vscode.Uri) => T): T | undefined {
    const dir = uriOf(run ?? view.selection[0]);
    if (!dir) {
      showInfo('Batch Prompt: choose a run in the Runs view first.');
      return undefined;
    }
    return act(dir);
  }

  async function openOutputs(run?: RunEntry): Promise<void> {
    const dir = uriOf(run);
    if (!dir) return;
    const outputs = vscode.Uri.joinPath(dir, 'outputs');
    try {
      await vscode.workspace.fs.stat(outputs);
    } catch {
      showInfo(`Batch Prompt: run ${run?.id ?? ''} has no outputs folder (no file finished).`);
      return;
    }
    await vscode.commands.executeCommand('revealInExplorer', outputs);
  }

  /** Deletes a run folder after a modal question; never a running one, never anything but a folder right under the runs folder. */
  async function deleteRun(run?: RunEntry): Promise<boolean> {
    const root = runs.runsRoot(undefined, undefined, true);
    if (!run || !root) return false;
    if (live(run.dir) || run.state === 'running') {
      showWarning(`Batch Prompt: run ${run.id} is still going on; cancel it before deleting it.`);
      return false;
    }
    if (!isRunFolderOf(root.fsPath, run.dir)) {
      showWarning(`Batch Prompt: ${run.dir} is not a run folder of ${root.fsPath}; nothing deleted.`);
      return false;
    }
    const ok = await askModal('warning', `Delete run ${run.id}?`, `Its folder (outputs, report, journal) is deleted: ${run.dir}`, 'Delete');
    if (!ok) return false;
    // A link is removed as a link: nothing it points to is touched.
    const stat = await fs.lstat(run.dir).catch(() => undefined);
    if (!stat) return false;
    if (stat.isSymbolicLink() || !stat.isDirectory()) await fs.unlink(run.dir);
    else await fs.rm(run.dir, { recursive: true, force: true });
    schedule();
    await options.onRunDeleted?.();
    return true;
  }

  /** Every action of a run in one list. */
  async function actions(run?: RunEntry): Promise<void> {
    if (!run) return;
    type Item = vscode.QuickPickItem & { run: () => unknown };
    const items: Item[] = [];
    if (run.state !== 'running') items.push({ label: '$(file-text) Open Report', run: () => vscode.commands.executeCommand(Commands.runsOpenReport, run) });
    items.push({ label: '$(folder-opened) Open Outputs Folder', run: () => openOutputs(run) });
    if (run.unfinished > 0 && run.state === 'interrupted') items.push({ label: '$(debug-continue) Resume', run: () => vscode.commands.executeCommand(Commands.runsResume, run) });
    if (run.unfinished > 0 && run.state !== 'running') items.push({ label: '$(refresh) Retry Failed', description: `${run.unfinished} chunk${run.unfinished === 1 ? '' : 's'}`, run: () => vscode.commands.executeCommand(Commands.runsRetryFailed, run) });
    if (run.counts.succeeded > 0 && run.state !== 'running') items.push({ label: '$(merge) Combine Results…', run: () => vscode.commands.executeCommand(Commands.runsCombine, run) });
    if (run.edit) items.push({ label: '$(diff-multiple) Review Edits', run: () => vscode.commands.executeCommand(Commands.runsReviewEdits, run) });
    if (run.state !== 'running') items.push({ label: '$(trash) Delete Run', run: () => deleteRun(run) });
    const picked = await vscode.window.showQuickPick(items, { title: `Batch Prompt: run ${run.id}` });
    await picked?.run();
  }
}
