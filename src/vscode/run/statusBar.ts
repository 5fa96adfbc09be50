import * as vscode from 'vscode';
import { formatDuration } from '../../util/format';
import { Commands } from '../base/ids';
import { Disposable } from '../base/lifecycle';
import type { ActiveRun, FinishedRun, RunService } from './runService';
import { describeOutcome, describePass } from '../../core/store/passes';

/** How long the outcome of a finished run stays in the status bar. */
const SHOW_OUTCOME_MS = 15_000;

/**
 * The status-bar item: counts and a spinner while runs go on (tooltip: tokens, requests per minute,
 * concurrency), the outcome briefly after. A click offers Cancel and Show Log (or Open Results).
 */
export class StatusBarController extends Disposable {
  private readonly item: vscode.StatusBarItem;
  private hideTimer?: ReturnType<typeof setTimeout>;
  private redrawTimer?: ReturnType<typeof setTimeout>;
  private lastDraw = 0;

  constructor(private readonly runs: RunService) {
    super();
    this.item = this._register(vscode.window.createStatusBarItem('batchPrompt.status', vscode.StatusBarAlignment.Left, 10));
    this.item.name = 'Batch Prompt';
    this.item.command = Commands.showRunActions;
    this._register(runs.onDidChange((run) => this.onChange(run)));
    this._register(runs.onDidFinish((f) => this.showOutcome(f)));
  }

  private onChange(run: ActiveRun | undefined): void {
    const now = Date.now();
    // Progress events can come in bursts: redraw at most ten times a second, and once more after the
    // burst, so that its last count shows.
    if (run && now - this.lastDraw < 100) {
      this.redrawTimer ??= setTimeout(() => {
        this.redrawTimer = undefined;
        this.onChange(undefined);
      }, 100 - (now - this.lastDraw));
      return;
    }
    clearTimeout(this.redrawTimer);
    this.redrawTimer = undefined;
    this.lastDraw = now;
    const active = [...this.runs.active];
    if (active.length === 0) return;
    clearTimeout(this.hideTimer);
    const t = active[0].tracker;
    const more = active.length > 1 ? ` (+${active.length - 1} runs)` : '';
    this.item.text = `$(sync~spin) Batch Prompt ${t.brief()}${more}`;
    const tip = new vscode.MarkdownString(undefined, true);
    for (const r of active) {
      const rpm = r.tracker.requestsPerMinute();
      tip.appendMarkdown(`**${escape(r.label)}**: ${escape(r.tracker.describe())}  \n`);
      tip.appendMarkdown(`Tokens: ${r.tracker.inputTokens} in / ${r.tracker.outputTokens} out · ${rpm === undefined ? 'requests/min: measuring' : `${rpm} requests/min (last minute)`} · concurrency ${r.tracker.concurrency} · running ${formatDuration(now - r.startedAt)}  \n`);
    }
    tip.appendMarkdown('\nClick to cancel or show the log.');
    this.item.tooltip = tip;
    this.item.backgroundColor = undefined;
    this.item.show();
  }

  private showOutcome({ summary }: FinishedRun): void {
    if (this.runs.active.size > 0) return;
    const bad = summary.failed + summary.canceled;
    const counts = [summary.failed && `${summary.failed} failed`, summary.canceled && `${summary.canceled} canceled`].filter(Boolean).join(', ');
    const cached = summary.cached ? ` (${summary.cached} from the cache)` : '';
    // A retry or resume says its own outcome first ("retried 1 chunk: succeeded").
    const pass = summary.pass && summary.pass.kind !== 'run' ? `${describePass(summary.pass)} · ` : '';
    this.item.text = summary.fatal ? `$(error) Batch Prompt stopped` : bad ? `$(warning) Batch Prompt: ${pass}${counts}` : `$(check) Batch Prompt: ${pass}${summary.succeeded} done${cached}`;
    this.item.tooltip = `${describeOutcome(summary)}. Click for the results.`;
    this.item.backgroundColor = summary.fatal || summary.failed ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.show();
    clearTimeout(this.hideTimer);
    this.hideTimer = setTimeout(() => {
      if (this.runs.active.size === 0) this.item.hide();
    }, SHOW_OUTCOME_MS);
  }

  override dispose(): void {
    clearTimeout(this.hideTimer);
    clearTimeout(this.redrawTimer);
    super.dispose();
  }
}

function escape(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|]/g, '\\$&');
}
