// The editor's run lifecycle: asking (files, prompt, model), progress and messages around the shared
// session code (core/session: parameters, model info, tokenizer, refusals) and the engine.
// Over 400 lines for a reason: start, retry/resume and the tracking of the active runs (cancel, status
// bar, finished and recorded events, Open Results) share one piece of state, the active runs; split
// apart, each part would need the same state passed around. What the CLI shares lives in core/session.
import { promises as fs } from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { BatchPromptError } from '../../core/execute/errors';
import { isOutside, UnsafePathError } from '../../core/store/pathGuard';
import type { ChunkOutcome, RunEvent } from '../../core/execute/events';
import type { ChatModel } from '../../core/execute/model';
import type { Plan } from '../../core/plan/plan';
import { ProgressTracker } from '../../core/execute/progress';
import { formatDuration } from '../../util/format';
import { describeEndpoints, droppedEndpointsNote, type Prices } from '../../core/store/report';
import type { ResultCache } from '../../core/store/resultCache';
import { REPORT_FILE, writeRunReport } from '../../core/store/runReport';
import { describeOutcome } from '../../core/store/passes';
import { endpointsOf, newRunId, retryChunks, runPlan, runPlanning, smallestWindow, type RunEndpoint, type RunParameters } from '../../core/session/run';
import { describePlanCounts } from '../../core/plan/parallelPlan';
import { sharedChunkPool } from '../../core/plan/chunkPool';
import { runLockHolder, RunStore, type EndpointInfo, type RunMeta, type RunSummary } from '../../core/store/runStore';
import { getTokenizer, type Tokenizer } from '../../core/plan/tokenizer';
import { parameterOverrides, resendRefusal, runParameters, tokenizerOf } from '../../core/session/prepare';
import { ensureRunsFolder } from '../../core/store/runFolders';
import { readSelection, RunRoots, selectFiles, type ReadResult } from './fileSelection';
import { editorPlanServices, editorRunCounts } from './planServices';
import { resultsInStorage } from './runsFolder';
import { EndpointDropNotices, SHOW_LOG } from './endpointNotices';
import { Commands, ContextKeys } from '../base/ids';
import { Disposable, toDisposable } from '../base/lifecycle';
import { Actions, askModal, showError, showErrorWithActions, showInfo, showWarning, showWithActions } from '../base/messages';
import type { LiveResults } from '../live/liveResults';
import type { Log } from '../base/log';
import { MissingKeyError, type ModelChoice, type ModelService } from './models';
import { pickPrompt, type ChosenPrompt } from './prompts';
import { logRunEvent } from './runLog';
import { budgetNote, editorBudget } from './spendCap';
import { confirmRun, describeSkipped, hasFolder, matchingFiles, modelInfoOf, planFiles, pricesOf, realPathOf, runSettingsOf } from './runPlanning';
import { refusalMessage } from './recordedEndpoints';
import { readSettingsReporting, readUserModels } from '../base/settings';
import type { Settings } from '../base/settingsSchema';
import type { ResultCacheFolder } from './resultCacheFolder';

/** What to run: files (or a glob), and optionally the prompt and model already chosen. */
export interface RunRequest {
  uris?: vscode.Uri[];
  glob?: string;
  prompt?: ChosenPrompt;
  modelId?: string;
  /** What it is for (default a run): "Run Last Prompt Again" does the same again. */
  mode?: 'run' | 'batch-job';
}

/** A run (or retry) in progress. */
export interface ActiveRun {
  readonly id: string;
  readonly dir: vscode.Uri;
  readonly label: string;
  readonly tracker: ProgressTracker;
  readonly controller: AbortController;
  readonly startedAt: number;
  /** Start times of recent requests, for requests per minute. */
  readonly starts: number[];
}

/** What a run needs before its files are planned: the files chosen, the prompt, the model and the settings. */
export interface ChosenRun {
  request: RunRequest;
  uris: vscode.Uri[];
  prompt: ChosenPrompt;
  choice: ModelChoice;
  model: ChatModel;
  modelInfo: RunMeta['model'];
  /** Every endpoint of a several-endpoint choice (the first is `model`); undefined for one. */
  endpoints?: RunEndpoint[];
  tokenizer: Tokenizer;
  roots: RunRoots;
  parameters: RunParameters;
  prices: Prices;
  settings: Settings;
}

/** What `prepare` gathered: enough to send the plan (a run, or a provider batch job). */
export interface PreparedRun extends ChosenRun {
  plan: Plan;
  dir: vscode.Uri;
}

/** A run that ended, as the step after it (a reduce) needs it. */
export type RunBasis = Pick<PreparedRun, 'dir' | 'prompt' | 'model' | 'endpoints' | 'tokenizer' | 'prices' | 'settings'>;

export interface FinishedRun {
  dir: vscode.Uri;
  summary: RunSummary;
}

/** What a feature adds to a run's end-of-run notification (a findings run: its counts, "Show Problems"). */
export interface FinishNote {
  text: string;
  actions: Record<string, () => unknown>;
}

/** An item a feature adds to "Run Actions…" (an edit run: "Review Proposed Edits"). */
export interface RunAction {
  label: string;
  description?: string;
  command: string;
  args?: unknown[];
}

/** Gives a finished run's note, or undefined; may do its own work first (the findings are shown). */
export type FinishNoteProvider = (dir: vscode.Uri, summary: RunSummary) => Promise<FinishNote | undefined>;

const LAST_RUN_KEY = 'batchPrompt.lastRun';

/** The button of a refused run folder that continues it on one of the user's models. */
export const CHOOSE_MODEL = 'Choose a Model…';

/**
 * Runs prompts over files: asks for what is missing (files, prompt, model), plans, confirms, runs with a
 * cancellable progress notification, writes the report, and tells the status bar and the Failed Chunks
 * view through its events. One run at a time per window unless `allowParallelRuns`.
 */
export class RunService extends Disposable {
  private readonly changed = this._register(new vscode.EventEmitter<ActiveRun | undefined>());
  private readonly finished = this._register(new vscode.EventEmitter<FinishedRun>());
  private readonly recorded = this._register(new vscode.EventEmitter<{ dir: vscode.Uri; outcome: ChunkOutcome }>());
  /** Fires on progress of any run (throttled by the listeners themselves) and when runs start or end. */
  readonly onDidChange = this.changed.event;
  readonly onDidFinish = this.finished.event;
  readonly onDidRecord = this.recorded.event;
  readonly active = new Set<ActiveRun>();
  /** The last finished run, for "Open Results". */
  lastFinished?: FinishedRun;
  private readonly noteProviders = new Set<FinishNoteProvider>();
  private readonly actionProviders = new Set<() => Promise<RunAction[]>>();

  constructor(
    private readonly workspaceState: vscode.Memento,
    private readonly globalState: vscode.Memento,
    private readonly models: ModelService,
    private readonly log: Log,
    /** The result cache (in VS Code's storage for the workspace). */
    private readonly results?: ResultCacheFolder,
    /** Live results documents of streamed runs (setting `batchPrompt.stream`). */
    private readonly live?: LiveResults,
    /** Where runs go when `batchPrompt.outputDirectory` is empty: the extension's storage (`storageRunsFolder`). */
    private readonly storageRuns?: string,
  ) {
    super();
  }

  override dispose(): void {
    this.cancelAll();
    super.dispose();
  }

  cancelAll(): void {
    for (const run of this.active) run.controller.abort();
  }

  /**
   * Adds a provider of end-of-run notes, asked (and awaited) once a run has written its report and
   * before its command resolves, so that what it shows (the Problems panel) is in place by then.
   */
  addFinishNote(provider: FinishNoteProvider): vscode.Disposable {
    this.noteProviders.add(provider);
    return toDisposable(() => this.noteProviders.delete(provider));
  }

  /** Adds a provider of "Run Actions…" items, asked when the list opens and no run is going. */
  addRunActions(provider: () => Promise<RunAction[]>): vscode.Disposable {
    this.actionProviders.add(provider);
    return toDisposable(() => this.actionProviders.delete(provider));
  }

  /** The features' "Run Actions…" items; a provider that fails is logged and left out. */
  async runActions(): Promise<RunAction[]> {
    const all: RunAction[] = [];
    for (const provider of this.actionProviders) {
      try {
        all.push(...(await provider()));
      } catch (e) {
        this.log.error(`Could not list run actions: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return all;
  }

  /** The notes of a finished run; a provider that fails is logged and left out. */
  private async finishNotes(dir: vscode.Uri, summary: RunSummary): Promise<FinishNote[]> {
    const notes: FinishNote[] = [];
    for (const provider of this.noteProviders) {
      try {
        const note = await provider(dir, summary);
        if (note) notes.push(note);
      } catch (e) {
        this.log.error(`Could not finish ${path.basename(dir.fsPath)}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return notes;
  }

  /**
   * Sets the step run after a run whose prompt asks for a reduce (#16, a prompt file's `reduce:`): the
   * editor's combine, awaited before `start` resolves. Not run after a canceled or stopped run.
   */
  setReducer(reducer: (p: RunBasis, summary: RunSummary) => Promise<unknown>): vscode.Disposable {
    this.reducer = reducer;
    return toDisposable(() => (this.reducer = undefined));
  }
  private reducer?: (p: RunBasis, summary: RunSummary) => Promise<unknown>;

  /** Runs a prompt over files; resolves when the run ends (undefined when the user stopped before it began). */
  async start(request: RunRequest): Promise<RunSummary | undefined> {
    if (!(await this.mayStart())) return undefined;
    const c = await this.choose(request);
    if (!c) return undefined;
    // One workspace folder: sent as it is planned (#17), the confirmation asked once the plan is complete.
    // Several: planned first (a resume of a run still planned finds its files by paths of one folder).
    let ran: { summary: RunSummary; dir: vscode.Uri } | undefined;
    if ((vscode.workspace.workspaceFolders?.length ?? 0) === 1) ran = await this.runWhilePlanning(c);
    else {
      const p = await this.planChosen(c);
      const summary = p && (await this.runPrepared(p));
      ran = p && summary && { summary, dir: p.dir };
    }
    // A prompt with a reduce (#16) is combined over what succeeded, as the CLI does; not after a cancel or a fatal error.
    if (ran && c.prompt.reduce && ran.summary.status !== 'canceled' && !ran.summary.fatal) await this.reducer?.({ ...c, dir: ran.dir }, ran.summary);
    return ran?.summary;
  }

  /**
   * Plans and sends at once (core/session `runPlanning`): fewer than `batchPrompt.confirmAbove` requests
   * leave while the files are planned; from there on sending waits for the complete plan, and for the
   * confirmation when it is that large. Declined before anything was sent, the run leaves no folder.
   */
  private async runWhilePlanning(c: ChosenRun): Promise<{ summary: RunSummary; dir: vscode.Uri } | undefined> {
    const { settings, roots } = c;
    const { budget, refused } = editorBudget(settings, c.prices, c.model, c.endpoints);
    if (refused) {
      showError(`Batch Prompt: ${refused}`);
      return undefined;
    }
    const runsRoot = this.runsRoot(settings, roots);
    if (!runsRoot) return undefined;
    await ensureRunsFolder(runsRoot.fsPath);
    await this.rememberLast(c);
    const dir = vscode.Uri.joinPath(runsRoot, newRunId());
    const selection = await selectFiles(c.uris, roots, settings);
    let read: ReadResult = { skipped: [], outside: selection.outside, gitignored: selection.gitignored };
    let plan: Plan | undefined;
    let quiet = false;
    const summary = await this.track(dir, c.prompt.label, undefined, c.prices, c.model, async (run, onEvent) => {
      const live = this.live?.whilePlanning(settings.stream);
      const sent = new Set<string>();
      const result = await runPlanning({
        planning: { inputs: selection.folders[0]?.paths ?? [], respectGitignore: false, maxFileBytes: settings.maxFileSizeKB * 1024 },
        files: async (add, known) => void (read = await readSelection(selection, settings, add, run.controller.signal, known)),
        planServices: editorPlanServices(settings.useCache),
        root: roots.primary!.uri.fsPath,
        read: roots.reader(),
        dir: dir.fsPath,
        prompt: c.prompt.text,
        model: c.model,
        modelInfo: c.modelInfo,
        endpoints: c.endpoints,
        tokenizer: c.tokenizer,
        measure: editorRunCounts(c.tokenizer),
        parameters: c.parameters,
        cache: this.cache(settings),
        ...(budget ? { budget } : {}),
        ...(c.prompt.output ? { output: c.prompt.output } : {}),
        signal: run.controller.signal,
        holdAt: settings.confirmAbove,
        planned: async (p) => {
          await live?.planned(p.totals.requests, run.id, `${c.prompt.label} · ${run.id}`, p.files.flatMap((f) => f.chunks), c.prompt.output);
          return confirmRun(p, read, settings, c.prices, c.choice, sent.size);
        },
        onEvent: (e) => {
          if (e.type === 'batch-started') sent.add(e.batchId);
          live?.onEvent(e);
          onEvent(e);
        },
        onText: live?.onText,
        onOutcome: (outcome) => (live?.onOutcome(outcome), this.recorded.fire({ dir, outcome })),
      }).finally(() => live?.finish());
      plan = result.plan;
      quiet = run.controller.signal.aborted;
      this.log.info(`Planning: ${describePlanCounts(result.planCounts, sharedChunkPool().size)}.`);
      if (result.declined && result.summary && sent.size === 0 && result.summary.succeeded === 0) {
        // Nothing was sent: as before a run that was not confirmed, no folder is left.
        quiet = true;
        await fs.rm(dir.fsPath, { recursive: true, force: true }).catch(() => undefined);
        return undefined;
      }
      return result.summary;
    });
    if (!summary) {
      if (plan && plan.totals.chunks === 0 && !quiet) showWarning(`Batch Prompt: nothing to send. ${describeSkipped(read, plan)}`);
      return undefined;
    }
    return { summary, dir };
  }

  private async runPrepared(p: PreparedRun): Promise<RunSummary | undefined> {
    const { budget, refused } = editorBudget(p.settings, p.prices, p.model, p.endpoints);
    if (refused) {
      showError(`Batch Prompt: ${refused}`);
      return undefined;
    }
    return this.track(p.dir, p.prompt.label, p.plan.totals.chunks, p.prices, p.model, async (run, onEvent) => {
      // A small run streams into a live document (batchPrompt.stream); a large one keeps whole replies.
      // The window's one live document, named after this run (the last run's gives it its place).
      const live = await this.live?.open(p.settings.stream, p.plan.totals.requests, run.id, `${p.prompt.label} · ${run.id}`, p.plan.batches.flatMap((b) => b.chunks), p.prompt.output);
      const { summary } = await runPlan(p.plan, {
        root: p.roots.primary!.uri.fsPath,
        read: p.roots.reader(),
        dir: p.dir.fsPath,
        prompt: p.prompt.text,
        model: p.model,
        modelInfo: p.modelInfo,
        endpoints: p.endpoints,
        tokenizer: p.tokenizer,
        measure: editorRunCounts(p.tokenizer),
        parameters: p.parameters,
        cache: this.cache(p.settings),
        ...(budget ? { budget } : {}),
        ...(p.prompt.output ? { output: p.prompt.output } : {}),
        signal: run.controller.signal,
        onEvent: live ? (e) => (live.onEvent(e), onEvent(e)) : onEvent,
        onText: live?.onText,
        onOutcome: (outcome) => (live?.onOutcome(outcome), this.recorded.fire({ dir: p.dir, outcome })),
      }).finally(() => live?.finish());
      return summary;
    });
  }

  /**
   * The steps of `start` before anything is sent: files, prompt and model asked for when missing,
   * the plan, the confirmation, the run folder's place. `accept` may refuse the chosen model (a reason
   * shown as an error) before its key is asked for. Undefined when the user stopped or was told why not.
   */
  async prepare(request: RunRequest, accept?: (choice: ModelChoice) => string | undefined): Promise<PreparedRun | undefined> {
    const c = await this.choose(request, accept);
    return c && this.planChosen(c);
  }

  /** The steps of `prepare` before the plan: files, prompt and model (asked for when missing). */
  private async choose(request: RunRequest, accept?: (choice: ModelChoice) => string | undefined): Promise<ChosenRun | undefined> {
    const settings = this.settings();
    const roots = RunRoots.current();
    if (!hasFolder(roots)) return undefined;
    const uris = await matchingFiles(request.uris, request.glob ?? settings.defaultInclude);
    if (!uris) return undefined;
    const prompt = request.prompt ?? (await pickPrompt(this.globalState));
    if (!prompt) return undefined;
    const choice = request.modelId ? await this.models.find(settings, request.modelId) : await this.models.pick(settings, prompt.model);
    if (!choice) {
      if (request.modelId) showError(`Batch Prompt: the model "${request.modelId}" is no longer offered; run with another model.`);
      return undefined;
    }
    const refused = accept?.(choice);
    if (refused) {
      showError(`Batch Prompt: ${refused}`);
      return undefined;
    }
    const tokenizer = getTokenizer();
    // A several-endpoint choice builds each model (and its connection pool) once; its first is the run's model.
    const endpoints = await this.resolveEndpoints(choice, tokenizer);
    if (endpoints === null) return undefined;
    const model = endpoints?.[0].model ?? (await this.resolveModel(choice, tokenizer));
    if (!model) return undefined;
    return { request, uris, prompt, choice, model, modelInfo: modelInfoOf(choice), endpoints: endpoints ?? undefined, tokenizer, roots, parameters: runParameters(runSettingsOf(settings)), prices: pricesOf(choice), settings };
  }

  /** Plans a chosen run whole, asks before a large one, and places its folder (a batch job; a run over several workspace folders). */
  private async planChosen(c: ChosenRun): Promise<PreparedRun | undefined> {
    const { settings, roots, prompt, choice, endpoints, model } = c;
    const planned = await planFiles(c.uris, roots, settings, prompt.text, endpoints ? smallestWindow(endpoints.map((e) => e.model)) : model, prompt.output);
    if (!planned) return undefined;
    const { plan, read } = planned;
    this.log.info(`Planning: ${planned.chunkedWhere}.`);
    if (plan.totals.chunks === 0) {
      showWarning(`Batch Prompt: nothing to send. ${describeSkipped(read, plan)}`);
      return undefined;
    }
    if (!(await confirmRun(plan, read, settings, c.prices, choice))) return undefined;
    const runsRoot = this.runsRoot(settings, roots);
    if (!runsRoot) return undefined;
    // Created with its own .gitignore (`*`): results are not the user's source.
    await ensureRunsFolder(runsRoot.fsPath);
    await this.rememberLast(c);
    return { ...c, plan, dir: vscode.Uri.joinPath(runsRoot, newRunId()) };
  }

  /** What "Run Last Prompt Again" does again. */
  private rememberLast(c: ChosenRun): Thenable<void> {
    const { request } = c;
    return this.workspaceState.update(LAST_RUN_KEY, { uris: request.uris?.map((u) => u.toString()), glob: request.glob, prompt: c.prompt, modelId: c.choice.id, mode: request.mode });
  }

  /**
   * Tells the status bar, the Failed Chunks view and "Open Results" about a run that ended outside
   * `track` (a batch job collected), with the usual notification.
   */
  announceFinished(dir: vscode.Uri, summary: RunSummary): void {
    this.lastFinished = { dir, summary };
    this.finished.fire({ dir, summary });
    void this.finishNotes(dir, summary).then((notes) => this.announce(dir, summary, notes));
  }

  /** Does the last request again (same files or glob, prompt and model), the same way: a run, or a batch job submitted again. */
  async runLast(): Promise<unknown> {
    const last = this.workspaceState.get<{ uris?: string[]; glob?: string; prompt: ChosenPrompt; modelId: string; mode?: RunRequest['mode'] }>(LAST_RUN_KEY);
    if (!last) {
      showInfo('Batch Prompt has not run in this workspace yet. Use "Run Prompt on Files…" first.');
      return undefined;
    }
    const request = { uris: last.uris?.map((u) => vscode.Uri.parse(u)), glob: last.glob, prompt: last.prompt, modelId: last.modelId };
    if (last.mode === 'batch-job') return vscode.commands.executeCommand(Commands.submitBatchJob, request);
    return this.start(request);
  }

  /**
   * Continues a run that was interrupted (a crash, a window reload) or that has chunks not succeeded,
   * from its folder: what succeeded is not sent again. Refused while another process writes it.
   */
  async resume(dir: vscode.Uri): Promise<RunSummary | undefined> {
    const holder = await runLockHolder(dir.fsPath);
    if (holder || [...this.active].some((r) => r.dir.fsPath === dir.fsPath)) {
      showWarning(`Batch Prompt: ${path.basename(dir.fsPath)} is still running${holder && holder.pid !== process.pid ? ` in process ${holder.pid}` : ''}; it cannot be resumed meanwhile.`);
      return undefined;
    }
    const refused = await resendRefusal(dir.fsPath);
    if (refused) {
      showWarning(`Batch Prompt: ${path.basename(dir.fsPath)} is batch job ${refused.job.jobId} at ${refused.job.provider}, not collected yet; its results are collected when it ends (resuming would send its chunks twice).`);
      return undefined;
    }
    return this.retry(dir, undefined, 'resume');
  }

  private cache(settings: Settings): ResultCache | undefined {
    return this.results?.forSettings(settings);
  }

  /** Sends again a run's chunks that did not succeed (or the ones named), with the run's model. */
  async retry(dir: vscode.Uri, chunkIds?: readonly string[], mode: 'retry' | 'resume' = 'retry', chosen?: ModelChoice): Promise<RunSummary | undefined> {
    if (!(await this.mayStart())) return undefined;
    let store: RunStore;
    try {
      store = await RunStore.open(dir.fsPath);
    } catch (e) {
      // A folder naming paths outside itself is refused with what and where (the path guard's message).
      showError(UnsafePathError.is(e) ? `Batch Prompt: ${dir.fsPath}: ${e.message}` : `Batch Prompt: ${dir.fsPath} is not a run folder any more.`);
      return undefined;
    }
    const settings = this.settings();
    // A run folder never chooses an endpoint or a key: its recorded endpoints (all of a several-endpoint
    // run) are matched by provider and origin against the user's own; the user's entries are used.
    const found = chosen ? { choice: chosen, unmatched: [] } : await this.models.forRecorded(endpointsOf(store.meta), readUserModels());
    const choice = found.choice;
    if (!choice) {
      this.offerOwnModel(dir, chunkIds, mode, path.basename(dir.fsPath), found.unmatched);
      return undefined;
    }
    const tokenizer = tokenizerOf(store.meta);
    const endpoints = await this.resolveEndpoints(choice, tokenizer, true);
    if (endpoints === null) return undefined;
    const model = endpoints?.[0].model ?? (await this.resolveModel(choice, tokenizer));
    if (!model) return undefined;
    const unfinished = store.unfinishedChunks().filter((c) => !chunkIds || chunkIds.includes(c.id));
    const pending = unfinished.length;
    // A resume with nothing left to send still repairs the folder and writes its summary.
    if (pending === 0 && mode === 'retry') return undefined;
    const roots = RunRoots.current();
    const { maxConcurrency, maxRetries, requestTimeoutSeconds, dropAfterFailures, dropAfterWaitSeconds } = runSettingsOf(settings);
    // The cap counts the run's whole spend: what its folder records as spent before counts toward it.
    const { budget, refused } = editorBudget(settings, pricesOf(choice), model, endpoints);
    if (refused) {
      showError(`Batch Prompt: ${refused}`);
      return undefined;
    }
    return this.track(dir, `${mode} of ${store.meta.runId}`, pending, pricesOf(choice), model, async (run, onEvent) => {
      // A small retry streams into the window's live document: the run's own when it is on show, so that
      // a chunk that said "failed" shows its new outcome (at most one request per chunk: `pending` bounds them).
      const live = pending ? await this.live?.open(settings.stream, pending, store.meta.runId, `${mode} · ${store.meta.runId}`, unfinished, store.meta.output, `${mode} of ${pending} chunk${pending === 1 ? '' : 's'}`) : undefined;
      const { summary } = await retryChunks(dir.fsPath, {
        model,
        endpoints,
        tokenizer,
        measure: editorRunCounts(tokenizer),
        read: roots.reader(),
        chunkIds,
        pass: mode,
        cache: this.cache(settings),
        parameters: parameterOverrides({ maxConcurrency, maxRetries, requestTimeoutSeconds, dropAfterFailures, dropAfterWaitSeconds }),
        signal: run.controller.signal,
        ...(budget ? { budget } : {}),
        onEvent: live ? (e) => (live.onEvent(e), onEvent(e)) : onEvent,
        onText: live?.onText,
        onOutcome: (outcome) => (live?.onOutcome(outcome), this.recorded.fire({ dir, outcome })),
      }).finally(() => live?.finish());
      return summary;
    });
  }

  /**
   * Refuses a run folder whose endpoints are not the user's (nothing is sent), naming each recorded
   * origin; "Choose a Model…" continues the run on one of the user's models. Never waited for (nobody
   * may click it): the command resolves at once, the continuation runs on its own.
   */
  private offerOwnModel(dir: vscode.Uri, chunkIds: readonly string[] | undefined, mode: 'retry' | 'resume', folder: string, unmatched: EndpointInfo[]): void {
    const text = this.log.redact(`${refusalMessage(`The run folder ${folder}`, unmatched)} To ${mode} it, choose one of your models.`);
    this.log.warn(text);
    void showWithActions('error', `Batch Prompt: ${text}`, {
      [CHOOSE_MODEL]: async () => {
        const picked = await this.models.pick({ ...this.settings(), models: readUserModels() });
        if (picked) await this.retry(dir, chunkIds, mode, picked);
      },
    });
  }

  /** Opens a run's report (the last run's by default). */
  async openResults(dir?: vscode.Uri): Promise<void> {
    const target = dir ?? this.lastFinished?.dir ?? (await this.latestRunDir());
    if (!target) {
      showInfo('Batch Prompt has no results yet in this workspace.');
      return;
    }
    const report = vscode.Uri.joinPath(target, REPORT_FILE);
    try {
      await vscode.workspace.fs.stat(report);
    } catch {
      await writeRunReport(target.fsPath);
    }
    await vscode.commands.executeCommand('markdown.showPreview', report).then(undefined, async () => {
      await vscode.window.showTextDocument(report);
    });
  }

  /**
   * The folder runs are written to (and read from: report, resume, failed chunks, findings, edits); refuses
   * (with a message, unless `quiet`) one that escapes the workspace. `batchPrompt.outputDirectory` empty:
   * the extension's storage for this workspace.
   */
  runsRoot(settings: Settings = this.settings(), roots = RunRoots.current(), quiet = false): vscode.Uri | undefined {
    const folder = roots.primary;
    if (!folder) return undefined;
    if (resultsInStorage(settings)) {
      if (this.storageRuns) return vscode.Uri.file(this.storageRuns);
      if (!quiet) showError('Batch Prompt: batchPrompt.outputDirectory is empty (results in the extension\'s storage), but VS Code gives this window no storage folder on disk; set batchPrompt.outputDirectory to a folder of the workspace.');
      return undefined;
    }
    const base = folder.uri.fsPath;
    const target = path.resolve(base, settings.outputDirectory);
    // Real paths: a folder of the workspace that links elsewhere is outside too.
    const rel = path.relative(realPathOf(base), realPathOf(target));
    if (isOutside(rel)) {
      if (quiet) return undefined;
      showError(`Batch Prompt: the output folder "${settings.outputDirectory}" is outside the workspace; set batchPrompt.outputDirectory to a folder inside it.`);
      return undefined;
    }
    return vscode.Uri.file(target);
  }

  private settings(): Settings {
    return readSettingsReporting(this.log);
  }

  private async mayStart(): Promise<boolean> {
    if (this.active.size === 0 || this.settings().allowParallelRuns) return true;
    const run = [...this.active][0];
    return askModal('warning', `Batch Prompt is already running (${run.tracker.describe()}). Start another run at the same time?`, 'Set batchPrompt.allowParallelRuns to skip this question.', 'Start Another');
  }

  /** The choice's chat model, or undefined after telling the user why not (a missing key offers "Set API Key"). */
  private async resolveModel(choice: ModelChoice, tokenizer: Tokenizer): Promise<ChatModel | undefined> {
    try {
      return await this.models.resolve(choice, tokenizer, this.settings().maxConcurrency);
    } catch (e) {
      this.reportStartError(e);
      return undefined;
    }
  }

  /** The choice's endpoints when it has several (see ModelService.resolveEndpoints); null after telling the user why not. */
  private async resolveEndpoints(choice: ModelChoice, tokenizer: Tokenizer, skipUnavailable = false): Promise<RunEndpoint[] | undefined | null> {
    try {
      return await this.models.resolveEndpoints(choice, tokenizer, skipUnavailable, this.settings().maxConcurrency);
    } catch (e) {
      this.reportStartError(e);
      return null;
    }
  }

  /** Tells the user why the run could not start; never waits for the message (nobody may click it). */
  private reportStartError(e: unknown): void {
    if (e instanceof MissingKeyError) {
      this.log.warn(e.message);
      void showErrorWithActions(`Batch Prompt: ${e.message} The run did not start.`, { setKey: { endpoint: e.endpoint } });
      return;
    }
    const message = e instanceof Error ? e.message : String(e);
    this.log.error(`Could not start: ${message}`);
    void this.showError(message);
  }

  private showError(message: string): Promise<void> {
    return showErrorWithActions(`Batch Prompt: ${this.log.redact(message)}`, { log: this.log });
  }

  /** Runs `work` with the progress notification, the events, the log and the final report. */
  private async track(dir: vscode.Uri, label: string, chunks: number | undefined, prices: Prices, model: ChatModel, work: (run: ActiveRun, onEvent: (e: RunEvent) => void) => Promise<RunSummary | undefined>): Promise<RunSummary | undefined> {
    const run: ActiveRun = { id: path.basename(dir.fsPath), dir, label, tracker: new ProgressTracker(), controller: new AbortController(), startedAt: Date.now(), starts: [] };
    this.active.add(run);
    await vscode.commands.executeCommand('setContext', ContextKeys.running, true);
    this.changed.fire(run);
    this.log.info(`Run ${run.id} (${label}): ${chunks === undefined ? 'sent as it is planned' : `${chunks} chunks`} on ${model.id}, results in ${dir.fsPath}`);
    const drops = new EndpointDropNotices();
    let summary: RunSummary | undefined;
    try {
      summary = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Batch Prompt', cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(() => run.controller.abort());
          let reported = 0;
          let planningDrawn = 0;
          const report = () => {
            const pct = run.tracker.total ? (run.tracker.done / run.tracker.total) * 100 : 0;
            progress.report({ message: run.tracker.describe(), increment: pct - reported });
            reported = pct;
          };
          // However it was canceled (this notification, the status bar, a closing window): "canceling…" until the result.
          const onAbort = () => {
            run.tracker.cancel();
            report();
            this.changed.fire(run);
          };
          if (run.controller.signal.aborted) onAbort();
          else run.controller.signal.addEventListener('abort', onAbort, { once: true });
          // Refreshes waits ("resuming in 12 s", "retrying … next in 4 s") and the ETA between batches.
          const timer = setInterval(() => {
            report();
            this.changed.fire(run);
          }, 1000);
          try {
            return await work(run, (e) => {
              run.tracker.update(e);
              logRunEvent(this.log, e, model);
              const dropped = drops.onEvent(e);
              // Never awaited: the run goes on while the warning is up.
              if (dropped) void showWithActions('warning', this.log.redact(dropped), { [SHOW_LOG]: () => this.log.show() });
              if (e.type === 'batch-started') {
                const now = Date.now();
                run.starts.push(now);
                while (run.starts.length && run.starts[0] < now - 60_000) run.starts.shift();
              }
              // A file planned: redrawn at most ten times a second (a large plan has thousands a second).
              if (e.type === 'planning') {
                const now = Date.now();
                if (now - planningDrawn < 100) return;
                planningDrawn = now;
              }
              // A batch's chunks are counted by their chunk-finished events, which come after its batch-finished.
              if (e.type === 'chunk-finished' || e.type === 'batch-finished' || e.type === 'waiting' || e.type === 'run-started' || e.type === 'retry-scheduled' || e.type === 'planning' || e.type === 'plan-finished') {
                report();
                this.changed.fire(run);
              }
            });
          } finally {
            clearInterval(timer);
          }
        },
      );
    } catch (e) {
      this.log.error(`Run ${run.id} failed: ${BatchPromptError.isAny(e) ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      void this.showError(`the run stopped: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.active.delete(run);
      await vscode.commands.executeCommand('setContext', ContextKeys.running, this.active.size > 0);
    }
    if (summary) {
      await writeRunReport(dir.fsPath, prices, summary).catch((e: unknown) => this.log.error(`Could not write the report: ${String(e)}`));
      this.lastFinished = { dir, summary };
      this.finished.fire({ dir, summary });
      this.log.info(`Run ${run.id} finished: ${summary.succeeded} succeeded${summary.cached ? ` (${summary.cached} from the cache)` : ''}, ${summary.failed} failed, ${summary.canceled} canceled in ${formatDuration(summary.durationMs)}; ${summary.inputTokens} input / ${summary.outputTokens} output tokens.`);
      for (const line of describeEndpoints(summary)) this.log.info(line);
      const notes = await this.finishNotes(dir, summary);
      void this.announce(dir, summary, notes);
    }
    this.changed.fire(undefined);
    return summary;
  }

  private async announce(dir: vscode.Uri, summary: RunSummary, notes: readonly FinishNote[] = []): Promise<void> {
    // A fatal summary says itself that no endpoint is left.
    const dropped = summary.fatal ? undefined : droppedEndpointsNote(summary);
    const noted = notes.map((n) => `${n.text}. `).join('');
    const noteActions = Object.assign({}, ...notes.map((n) => n.actions)) as Record<string, () => unknown>;
    const text = `Batch Prompt: ${noted}${describeOutcome(summary)}.${dropped ? ` ${this.log.redact(dropped)}` : ''}${budgetNote(summary)}`;
    const open = { ...noteActions, 'Open Results': () => this.openResults(dir) };
    if (summary.fatal) {
      await showWithActions('error', `${text} ${summary.fatal.message}`, { ...open, [Actions.openLog]: () => this.log.show() });
      return;
    }
    const failures: Record<string, () => unknown> = summary.failed + summary.canceled > 0 ? { 'Show Failures': () => vscode.commands.executeCommand('batchPrompt.failures.focus') } : {};
    await showWithActions(summary.failed ? 'warning' : 'info', text, { ...open, ...failures });
  }

  private async latestRunDir(): Promise<vscode.Uri | undefined> {
    const root = this.runsRoot();
    if (!root) return undefined;
    try {
      const entries = await vscode.workspace.fs.readDirectory(root);
      const dirs = entries.filter(([, t]) => t === vscode.FileType.Directory).map(([n]) => n).sort();
      return dirs.length ? vscode.Uri.joinPath(root, dirs[dirs.length - 1]) : undefined;
    } catch {
      return undefined;
    }
  }
}

