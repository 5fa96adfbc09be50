import * as vscode from 'vscode';
import { unfinishedRuns, type UnfinishedRun } from '../../core/store/runFolders';
import type { RunSummary } from '../../core/store/runStore';
import { Commands } from '../base/ids';
import { registerCommand } from '../base/lifecycle';
import { showInfo, showWithActions } from '../base/messages';
import type { Services } from '../services';

const OFFERED_KEY = 'batchPrompt.resumeOffered';

function firstLine(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > 60 ? `${line.slice(0, 60)}…` : line;
}

function describe(r: UnfinishedRun): string {
  return `${r.succeeded} of ${r.chunks} chunks done${r.interrupted ? ', interrupted' : ''}`;
}

/**
 * "Resume Run" (a run folder given, or picked among the unfinished ones); and, once
 * the extension is active, an offer to resume a run that a crash or a closed window interrupted. The
 * offer adds no activation event: the 6 MB bundle is not loaded in every window just to look. It
 * comes when the extension activates for another reason (the Batch Prompt view restored, a command).
 */
export function registerResume(context: vscode.ExtensionContext, { runs, log }: Services): void {
  context.subscriptions.push(
    registerCommand(Commands.resumeRun, async (dir?: vscode.Uri): Promise<RunSummary | undefined> => {
      const target = dir instanceof vscode.Uri ? dir : await pick();
      return target ? runs.resume(target) : undefined;
    }),
  );

  async function pick(): Promise<vscode.Uri | undefined> {
    const root = runs.runsRoot();
    if (!root) return undefined;
    const found = (await unfinishedRuns(root.fsPath)).filter((r) => !isActive(r.dir));
    if (found.length === 0) {
      showInfo('Batch Prompt: every run in the output folder has finished; nothing to resume.');
      return undefined;
    }
    const items = found.map((r) => ({
      label: r.runId,
      description: `${describe(r)}${r.lockedBy ? ` · running in process ${r.lockedBy}` : ''}`,
      detail: `${r.modelId} · ${firstLine(r.prompt)}`,
      r,
    }));
    const picked = await vscode.window.showQuickPick(items, { title: 'Batch Prompt: resume which run?', placeHolder: 'Chunks that succeeded are not sent again', matchOnDetail: true });
    return picked && vscode.Uri.file(picked.r.dir);
  }

  function isActive(dir: string): boolean {
    return [...runs.active].some((a) => a.dir.fsPath === dir);
  }

  /** Offers once per run folder to resume the newest interrupted run (no summary, no live writer). */
  async function offer(): Promise<void> {
    const root = runs.runsRoot(undefined, undefined, true);
    if (!root) return;
    const offered = context.workspaceState.get<string[]>(OFFERED_KEY, []);
    const candidates = (await unfinishedRuns(root.fsPath, { limit: 10, interruptedOnly: true })).filter((r) => !r.lockedBy && !isActive(r.dir) && !offered.includes(r.runId));
    const r = candidates[0];
    if (!r) return;
    await context.workspaceState.update(OFFERED_KEY, [...offered.slice(-50), ...candidates.map((c) => c.runId)]);
    const others = candidates.length > 1 ? ` (and ${candidates.length - 1} more: see "Batch Prompt: Resume Run")` : '';
    await showWithActions('info', `Batch Prompt: run ${r.runId} was interrupted, ${r.succeeded} of ${r.chunks} chunks done${others}. Resume it? Chunks that succeeded are not sent again.`, { Resume: () => runs.resume(vscode.Uri.file(r.dir)) });
  }

  // Tests drive resumes themselves; an unsolicited notification would only get in their way.
  if (context.extensionMode !== vscode.ExtensionMode.Test) {
    void offer().catch((e: unknown) => log.warn(`Could not look for interrupted runs: ${String(e)}`));
  }
}
