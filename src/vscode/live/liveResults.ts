import * as vscode from 'vscode';
import type { ChunkOutcome, RunEvent } from '../../core/execute/events';
import type { ExecutorOptions } from '../../core/execute/executor';
import type { ChunkRef } from '../../core/plan/types';
import { LiveResultsModel, shouldStream, type StreamMode } from './liveResultsModel';
import { renderChunkOutput } from '../../core/output/artifacts';
import { isStructured, type OutputSpec } from '../../core/output/spec';

/** The scheme of the read-only live results documents. */
export const LIVE_SCHEME = 'batch-prompt-live';
/** Most often a live document is redrawn: tokens arrive far faster than anyone reads. */
const REFRESH_MS = 100;
/** Live documents kept after their run (readable until closed); older ones are forgotten. */
const KEEP = 5;

/** What a run streaming into a live document feeds it. */
export interface LiveSession {
  readonly uri: vscode.Uri;
  onEvent(e: RunEvent): void;
  onOutcome(o: ChunkOutcome): void;
  onText: NonNullable<ExecutorOptions['onText']>;
  /** Draws the last state now and stops the refresh timer. */
  finish(): void;
}

/**
 * Read-only documents (`batch-prompt-live:/<run id>/live results.md`) that show a small run's replies
 * as the tokens arrive: one content provider, one model per run, redrawn at most every 100 ms.
 */
export class LiveResults implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly models = new Map<string, Pick<LiveResultsModel, 'render'>>();
  private readonly timers = new Set<NodeJS.Timeout>();

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.models.get(uri.toString())?.render() ?? 'This live view has ended; the run folder holds the results.';
  }

  /**
   * Opens the live document of a run that is about to start, when `mode` says this run streams (see
   * `shouldStream`); otherwise undefined and the run is not streamed.
   */
  async open(mode: StreamMode, requests: number, runId: string, title: string, chunks: readonly ChunkRef[], output?: OutputSpec): Promise<LiveSession | undefined> {
    if (!shouldStream(mode, requests)) return undefined;
    const uri = vscode.Uri.from({ scheme: LIVE_SCHEME, path: `/${runId}/live results.md` });
    const key = uri.toString();
    const model = new LiveResultsModel(title, chunks, output && isStructured(output) ? (c, text) => renderChunkOutput(output, c, text) : undefined);
    this.models.set(key, model);
    while (this.models.size > KEEP) this.models.delete(this.models.keys().next().value!);
    let timer: NodeJS.Timeout | undefined;
    const draw = () => {
      if (timer) {
        clearTimeout(timer);
        this.timers.delete(timer);
        timer = undefined;
      }
      this.changed.fire(uri);
    };
    const later = () => {
      if (timer) return;
      timer = setTimeout(draw, REFRESH_MS);
      this.timers.add(timer);
    };
    await vscode.window.showTextDocument(uri, { preview: false, preserveFocus: true, viewColumn: vscode.ViewColumn.Beside }).then(undefined, () => undefined);
    return {
      uri,
      onEvent: (e) => {
        model.applyEvent(e);
        later();
      },
      onOutcome: (o) => {
        model.applyOutcome(o);
        later();
      },
      onText: (batchId, chunkIds, delta) => {
        model.applyText(batchId, chunkIds, delta);
        later();
      },
      finish: draw,
    };
  }

  /**
   * Streams a reduce's combined answer (#16) into run `runId`'s live document, after its chunks when the
   * run streamed in this window, else in a new one titled `title`; undefined when `mode` is never.
   * Returns the redraw (throttled) and the final draw.
   */
  async openAnswer(mode: StreamMode, runId: string, title: string, answer: { render(): string }): Promise<{ redraw(): void; finish(): void } | undefined> {
    if (!shouldStream(mode, 1)) return undefined;
    const uri = vscode.Uri.from({ scheme: LIVE_SCHEME, path: `/${runId}/live results.md` });
    const key = uri.toString();
    const before = this.models.get(key);
    this.models.set(key, { render: () => `${before?.render() ?? `# ${title}\n`}\n${answer.render()}` });
    let timer: NodeJS.Timeout | undefined;
    const draw = () => {
      if (timer) {
        clearTimeout(timer);
        this.timers.delete(timer);
        timer = undefined;
      }
      this.changed.fire(uri);
    };
    await vscode.window.showTextDocument(uri, { preview: false, preserveFocus: true, viewColumn: vscode.ViewColumn.Beside }).then(undefined, () => undefined);
    draw();
    return {
      redraw: () => {
        if (timer) return;
        timer = setTimeout(draw, REFRESH_MS);
        this.timers.add(timer);
      },
      finish: draw,
    };
  }

  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.changed.dispose();
    this.models.clear();
  }
}

/**
 * The live results feature: makes the documents the run service opens (`services.live`) readable.
 * (Typed by shape, not by `Services`: services.ts imports this module.)
 */
export function registerLiveResults(context: vscode.ExtensionContext, { live }: { live: LiveResults }): void {
  context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(LIVE_SCHEME, live));
}
