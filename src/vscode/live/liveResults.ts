import * as vscode from 'vscode';
import type { ChunkOutcome, RunEvent } from '../../core/execute/events';
import type { ExecutorOptions } from '../../core/execute/executor';
import type { ChunkRef } from '../../core/plan/types';
import { DeferredLiveFeed, fileNameOf, LiveResultsModel, shouldStream, type StreamMode } from './liveResultsModel';
import { renderChunkOutput } from '../../core/output/artifacts';
import { isStructured, type OutputSpec } from '../../core/output/spec';

/** The scheme of the read-only live results documents. */
export const LIVE_SCHEME = 'batch-prompt-live';
/** Most often a live document is redrawn: tokens arrive far faster than anyone reads. */
const REFRESH_MS = 100;
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
 * The window's one live results document (`batch-prompt-live:/<run id>/<title>.md`, the tab named after
 * the run), showing a small run's replies as the tokens arrive, redrawn at most every 100 ms. The next
 * run reuses it: its tab replaces the last run's, in the same place. A retry or resume of the run on
 * show streams into the same document, so a chunk that failed shows its new outcome.
 */
export class LiveResults implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  /** The document on show: its run's chunks (absent when it shows only a combined answer) and answer. */
  private current?: { runId: string; uri: vscode.Uri; title: string; model?: LiveResultsModel; answer?: { render(): string } };
  private readonly timers = new Set<NodeJS.Timeout>();

  provideTextDocumentContent(uri: vscode.Uri): string {
    const c = this.current;
    if (!c || uri.toString() !== c.uri.toString()) return 'This live view has ended; the run folder holds the results.';
    const head = c.model ? c.model.render() : `# ${c.title}\n`;
    return c.answer ? `${head}\n${c.answer.render()}` : head;
  }

  /** The live document on show (its run's), if any. */
  get document(): { runId: string; uri: vscode.Uri } | undefined {
    return this.current && { runId: this.current.runId, uri: this.current.uri };
  }

  /**
   * Opens the live document of a run that is about to start, when `mode` says this run streams (see
   * `shouldStream`); otherwise undefined and the run is not streamed. The same `runId` as the document
   * on show (a retry, a resume) reuses it with `chunks` waiting again, `pass` saying what this pass is.
   */
  async open(mode: StreamMode, requests: number, runId: string, title: string, chunks: readonly ChunkRef[], output?: OutputSpec, pass?: string): Promise<LiveSession | undefined> {
    if (!shouldStream(mode, requests)) return undefined;
    let uri: vscode.Uri;
    let model: LiveResultsModel;
    const previous = this.current;
    if (previous?.model && previous.runId === runId) {
      ({ uri, model } = previous as { uri: vscode.Uri; model: LiveResultsModel });
      previous.answer = undefined;
      model.restart(chunks, pass ?? `retry of ${chunks.length} chunk${chunks.length === 1 ? '' : 's'}`);
      this.changed.fire(uri);
    } else {
      uri = liveUri(runId, title);
      model = new LiveResultsModel(title, chunks, output && isStructured(output) ? (c, text) => renderChunkOutput(output, c, text) : undefined);
      this.current = { runId, uri, title, model };
    }
    const { draw, later } = this.redraws(uri);
    await showLive(uri);
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
   * The live document of a run that sends while it plans (#17): opened once its plan is complete, when
   * `mode` says a run of its size streams, with what the run said until then; undefined for `never`.
   */
  whilePlanning(mode: StreamMode): (Omit<LiveSession, 'uri'> & { planned(requests: number, runId: string, title: string, chunks: readonly ChunkRef[], output?: OutputSpec): Promise<void> }) | undefined {
    if (mode === 'never') return undefined;
    const feed = new DeferredLiveFeed(mode);
    let session: LiveSession | undefined;
    return {
      onEvent: feed.onEvent,
      onOutcome: feed.onOutcome,
      onText: feed.onText,
      planned: (requests, runId, title, chunks, output) => feed.planned(requests, async () => (session = await this.open(mode, requests, runId, title, chunks, output))),
      finish: () => session?.finish(),
    };
  }

  /**
   * Streams a reduce's combined answer (#16) into run `runId`'s live document, after its chunks when the
   * run streamed in this window, else in a new one titled `title`; undefined when `mode` is never.
   * Returns the redraw (throttled) and the final draw.
   */
  async openAnswer(mode: StreamMode, runId: string, title: string, answer: { render(): string }): Promise<{ redraw(): void; finish(): void } | undefined> {
    if (!shouldStream(mode, 1)) return undefined;
    let uri: vscode.Uri;
    if (this.current?.runId === runId) {
      uri = this.current.uri;
      this.current.answer = answer;
    } else {
      uri = liveUri(runId, title);
      this.current = { runId, uri, title, answer };
    }
    const { draw, later } = this.redraws(uri);
    await showLive(uri);
    draw();
    return { redraw: later, finish: draw };
  }

  /** Redraws of `uri`: `draw` now (dropping a pending one), `later` at most every REFRESH_MS. */
  private redraws(uri: vscode.Uri): { draw(): void; later(): void } {
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
    return { draw, later };
  }

  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.changed.dispose();
    this.current = undefined;
  }
}

function liveUri(runId: string, title: string): vscode.Uri {
  return vscode.Uri.from({ scheme: LIVE_SCHEME, path: `/${runId}/${fileNameOf(title)}.md` });
}

/** Shows live document `uri` where the last one was; the last run's tab gives its place (one per window). */
async function showLive(uri: vscode.Uri): Promise<void> {
  const stale = liveTabs().filter((t) => t.uri.toString() !== uri.toString());
  const column = liveTabs()[0]?.column ?? vscode.ViewColumn.Beside;
  await vscode.window.showTextDocument(uri, { preview: false, preserveFocus: true, viewColumn: column }).then(undefined, () => undefined);
  if (stale.length) await vscode.window.tabGroups.close(stale.map((t) => t.tab), true).then(undefined, () => undefined);
}

/** The open tabs of live documents, with their column. */
function liveTabs(): { tab: vscode.Tab; uri: vscode.Uri; column: vscode.ViewColumn }[] {
  const out: { tab: vscode.Tab; uri: vscode.Uri; column: vscode.ViewColumn }[] = [];
  for (const group of vscode.window.tabGroups.all) {
    for (const tab of group.tabs) {
      if (tab.input instanceof vscode.TabInputText && tab.input.uri.scheme === LIVE_SCHEME) out.push({ tab, uri: tab.input.uri, column: group.viewColumn });
    }
  }
  return out;
}

/**
 * The live results feature: makes the documents the run service opens (`services.live`) readable.
 * (Typed by shape, not by `Services`: services.ts imports this module.)
 */
export function registerLiveResults(context: vscode.ExtensionContext, { live }: { live: LiveResults }): void {
  context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(LIVE_SCHEME, live));
}
