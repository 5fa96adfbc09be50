import * as path from 'path';
import * as vscode from 'vscode';
import type { ChatModel } from '../../core/execute/model';
import type { Tokenizer } from '../../core/plan/tokenizer';
import { readReduceState } from '../../core/reduce/journal';
import { reduceRun, unfinishedReduce, type ReduceResult } from '../../core/reduce/reduce';
import { reduceSpecOfText, ReduceSpecError, type ReduceSpec } from '../../core/reduce/spec';
import { ReduceRefusedError } from '../../core/reduce/tree';
import { parameterOverrides, resendRefusal, tokenizerOf } from '../../core/session/prepare';
import { endpointsOf, type RunEndpoint } from '../../core/session/run';
import { UnsafePathError, UntrustedRootError } from '../../core/store/pathGuard';
import type { Prices } from '../../core/store/report';
import { peekSummary, runFolders } from '../../core/store/runFolders';
import { writeRunReport } from '../../core/store/runReport';
import { checkRunFolder, RunLockedError, type RunMeta } from '../../core/store/runStore';
import { Commands } from '../base/ids';
import { registerCommand } from '../base/lifecycle';
import type { Log } from '../base/log';
import { showError, showErrorWithActions, showInfo, showWarning, showWithActions } from '../base/messages';
import { readSettingsReporting, readUserModels } from '../base/settings';
import type { Settings } from '../base/settingsSchema';
import type { LiveResults } from '../live/liveResults';
import { MissingKeyError, type ModelChoice, type ModelService } from '../run/models';
import { refusalMessage } from '../run/recordedEndpoints';
import type { ResultCacheFolder } from '../run/resultCacheFolder';
import { logRunEvent } from '../run/runLog';
import { pricesOf, runSettingsOf } from '../run/runPlanning';
import { CHOOSE_MODEL, type RunBasis, type RunService } from '../run/runService';
import { editorRunCounts } from '../run/planServices';
import type { Services } from '../services';
import { CombineProgress } from './combineProgress';
import { LiveAnswerModel } from './liveAnswer';
import { pickReducePrompt } from './reducePrompts';

/** What a caller (a test, a keybinding) may pass to skip the question: the combining prompt. */
export interface CombineArgs {
  prompt?: string;
}

/** What "Combine Results…" resolves to (tests read it). */
export interface CombineOutcome {
  status: ReduceResult['status'] | 'refused';
  /** The answer file (absolute), when there is one. */
  answerFile?: string;
  /** Results not in the answer (named at its top). */
  notIncluded: number;
  message?: string;
}

/** What a reduce is sent with: the chosen model (and its endpoints), the run's tokenizer, the prices. */
interface ReduceModel {
  model: ChatModel;
  endpoints?: RunEndpoint[];
  tokenizer: Tokenizer;
  prices: Prices;
  settings: Settings;
}

/** Run folders the picker lists. */
const LISTED = 30;

/**
 * The editor's reduce (#16): **Combine Results…** on any finished run (a run folder given as a Uri or a
 * path, else picked), and the combine after a run whose prompt file has `reduce:` / `reduceFile:`.
 * The combining prompt is picked or typed; the model is the run's, matched as a resume matches it
 * (the user's own endpoints, or the Language Model API: never the folder's URL); the progress is a
 * cancellable notification; the answer opens beside the report, which links it. A reduce that was
 * interrupted is finished by the same command, its finished groups not sent again.
 */
export class ReduceService {
  constructor(
    private readonly runs: RunService,
    private readonly models: ModelService,
    private readonly live: LiveResults,
    private readonly log: Log,
    private readonly state: vscode.Memento,
    private readonly cache: ResultCacheFolder,
  ) {}

  /** The command: the run folder `arg` (Uri or path; else picked), the prompt of `args` (else picked). */
  async command(arg?: unknown, args?: CombineArgs): Promise<CombineOutcome | undefined> {
    const dir = arg instanceof vscode.Uri ? arg : typeof arg === 'string' && arg ? vscode.Uri.file(arg) : await this.pickRun();
    if (!dir) return undefined;
    const name = path.basename(dir.fsPath);
    let meta: RunMeta;
    try {
      meta = await checkRunFolder(dir.fsPath);
    } catch (e) {
      return this.refuse(`${name} cannot be combined: ${UnsafePathError.is(e) ? e.message : `it is not a run folder (${e instanceof Error ? e.message : String(e)})`}`);
    }
    if ([...this.runs.active].some((r) => r.dir.fsPath === dir.fsPath)) return this.refuse(`${name} is still running; combine its results when it has finished.`, 'warning');
    const job = await resendRefusal(dir.fsPath);
    if (job) return this.refuse(`${name} is batch job ${job.job.jobId} at ${job.job.provider}, not collected yet; its results are combined once collected.`, 'warning');
    // An interrupted reduce is offered first: finished, it sends only the groups that have no answer.
    const interrupted = (await unfinishedReduce(dir.fsPath).catch(() => false)) ? (await readReduceState(dir.fsPath).catch(() => undefined))?.prompt : undefined;
    let spec: ReduceSpec | undefined;
    if (args?.prompt !== undefined) {
      try {
        spec = reduceSpecOfText(args.prompt, 'given to Combine Results');
      } catch (e) {
        if (!ReduceSpecError.is(e)) throw e;
        return this.refuse(`${e.message} Nothing was sent.`);
      }
    } else {
      const choice = await pickReducePrompt(this.state, interrupted);
      if (!choice) return undefined;
      spec = 'spec' in choice ? choice.spec : undefined;
    }
    const found = await this.models.forRecorded(endpointsOf(meta), readUserModels());
    if (!found.choice) {
      // A run folder never chooses an endpoint: with none of the user's matching, the user picks one (never awaited).
      const text = this.log.redact(`${refusalMessage(`The run folder ${name}`, found.unmatched)} To combine its results, choose one of your models.`);
      this.log.warn(text);
      void showWithActions('error', `Batch Prompt: ${text}`, {
        [CHOOSE_MODEL]: async () => {
          const picked = await this.models.pick({ ...this.settings(), models: readUserModels() });
          if (picked) await this.withChoice(dir, meta, spec, picked);
        },
      });
      return { status: 'refused', notIncluded: 0, message: text };
    }
    return this.withChoice(dir, meta, spec, found.choice);
  }

  /** After a run whose prompt asks for a reduce: combines it on the run's own model. */
  afterRun(p: RunBasis): Promise<CombineOutcome> {
    return this.reduce(p.dir, p.prompt.reduce, { model: p.model, endpoints: p.endpoints, tokenizer: p.tokenizer, prices: p.prices, settings: p.settings });
  }

  private async withChoice(dir: vscode.Uri, meta: RunMeta, spec: ReduceSpec | undefined, choice: ModelChoice): Promise<CombineOutcome | undefined> {
    const settings = this.settings();
    const tokenizer = tokenizerOf(meta);
    try {
      const endpoints = await this.models.resolveEndpoints(choice, tokenizer, true, settings.maxConcurrency);
      const model = endpoints?.[0].model ?? (await this.models.resolve(choice, tokenizer, settings.maxConcurrency));
      return await this.reduce(dir, spec, { model, endpoints, tokenizer, prices: pricesOf(choice), settings });
    } catch (e) {
      if (!(e instanceof MissingKeyError)) throw e;
      this.log.warn(e.message);
      void showErrorWithActions(`Batch Prompt: ${e.message} Nothing was combined.`, { setKey: { endpoint: e.endpoint } });
      return { status: 'refused', notIncluded: 0, message: e.message };
    }
  }

  /** Runs the reduce (`spec` undefined: finishes the recorded one) with its progress, then shows the answer. */
  async reduce(dir: vscode.Uri, spec: ReduceSpec | undefined, m: ReduceModel): Promise<CombineOutcome> {
    const name = path.basename(dir.fsPath);
    const progress = new CombineProgress();
    const answer = new LiveAnswerModel(spec?.output ? 'answer.json' : 'answer.md');
    const controller = new AbortController();
    const { maxConcurrency, maxRetries, requestTimeoutSeconds, dropAfterFailures, dropAfterWaitSeconds } = runSettingsOf(m.settings);
    const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    let result: ReduceResult;
    try {
      result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Batch Prompt: ${name}`, cancellable: true }, async (p, token) => {
        token.onCancellationRequested(() => controller.abort());
        let reported = 0;
        const report = () => {
          const pct = progress.percent();
          p.report({ message: progress.describe(), increment: pct >= reported ? pct - reported : undefined });
          reported = pct;
        };
        report();
        let live: Awaited<ReturnType<LiveResults['openAnswer']>>;
        try {
          return await reduceRun(dir.fsPath, {
            ...(spec ? { prompt: spec.prompt, ...(spec.output ? { output: spec.output } : {}) } : {}),
            model: m.model,
            ...(m.endpoints?.length ? { endpoints: m.endpoints } : {}),
            tokenizer: m.tokenizer,
            // Counted in the planning workers: this thread, every extension's, never loads the encoding.
            measure: editorRunCounts(m.tokenizer),
            parameters: parameterOverrides({ maxConcurrency, maxRetries, requestTimeoutSeconds, dropAfterFailures, dropAfterWaitSeconds }),
            // Read only through the workspace folders: a run folder naming another root is refused.
            roots: { allowed: folders, hint: 'Open the folder the run was made in to combine its results.' },
            cache: this.cache.forSettings(m.settings),
            signal: controller.signal,
            onEvent: (e) => {
              progress.onEvent(e);
              answer.onEvent(e);
              live?.redraw();
              logRunEvent(this.log, e, m.model);
              if (e.type === 'chunk-finished' || e.type === 'batch-started') report();
            },
            onLevel: (level, groups, final) => {
              progress.onLevel(level, groups, final);
              answer.onLevel(level, groups, final);
              this.log.info(`Combine ${name}: level ${level}, ${groups} group${groups === 1 ? '' : 's'}${final ? ' (the final answer)' : ''}`);
              reported = 0;
              report();
              // The final answer streams into the run's live document (batchPrompt.stream).
              if (final && !live) {
                void this.live.openAnswer(m.settings.stream, name, `combined answer · ${name}`, answer).then((l) => {
                  live = l;
                  l?.redraw();
                });
              }
            },
            onText: (batchId, chunkIds, delta) => {
              answer.onText(batchId, chunkIds, delta);
              live?.redraw();
            },
          });
        } finally {
          live?.finish();
        }
      });
    } catch (e) {
      if (ReduceRefusedError.isRefusal(e) || RunLockedError.is(e) || UntrustedRootError.is(e) || UnsafePathError.is(e)) return this.refuse(`${name}: ${e.message}`);
      const message = e instanceof Error ? e.message : String(e);
      this.log.error(`Combine ${name} failed: ${e instanceof Error ? (e.stack ?? message) : message}`);
      void showErrorWithActions(`Batch Prompt: the combine of ${name} stopped: ${this.log.redact(message)}`, { log: this.log });
      return { status: 'failed', notIncluded: 0, message };
    }
    const s = result.shape;
    this.log.info(`Combine ${name} ${result.status}: ${s.levels.length} level(s), ${s.requests} requests, ${s.inputTokens} input / ${s.outputTokens} output tokens.`);
    if (result.status === 'interrupted') {
      const text = controller.signal.aborted
        ? `the combine of ${name} was canceled. Run "Combine Results…" on it again to finish it: finished groups are not sent again.`
        : `the combine of ${name} stopped: ${this.log.redact(result.message ?? 'interrupted')} Run "Combine Results…" on it again to finish it.`;
      if (controller.signal.aborted) showInfo(`Batch Prompt: ${text}`);
      else void showErrorWithActions(`Batch Prompt: ${text}`, { log: this.log });
      return { status: 'interrupted', notIncluded: 0, message: result.message };
    }
    // The report links the answer (or says why there is none) and shows the tree's shape.
    await writeRunReport(dir.fsPath, m.prices).catch((e: unknown) => this.log.error(`Could not write the report of ${name}: ${String(e)}`));
    if (result.status === 'failed') {
      void showWithActions('error', `Batch Prompt: ${this.log.redact(result.message ?? 'the combine failed')}`, { 'Open Results': () => this.runs.openResults(dir) });
      return { status: 'failed', notIncluded: result.notIncluded.length, message: result.message };
    }
    await this.show(dir, result.answerFile!);
    const missing = result.notIncluded.length;
    const text = `Batch Prompt: combined answer of ${name}, from ${s.inputs} result${s.inputs === 1 ? '' : 's'} in ${s.levels.length} level${s.levels.length === 1 ? '' : 's'} (${s.requests} request${s.requests === 1 ? '' : 's'}).`;
    if (missing) showWarning(`${text} ${missing} result${missing === 1 ? ' is' : 's are'} not included (named at the top of the answer and in the report).`);
    else showInfo(text);
    return { status: 'succeeded', answerFile: result.answerFile, notIncluded: missing };
  }

  /** The report, then the answer beside it. */
  private async show(dir: vscode.Uri, answerFile: string): Promise<void> {
    await this.runs.openResults(dir).then(undefined, (e: unknown) => this.log.warn(`Could not open the report: ${String(e)}`));
    // The report's preview follows the active Markdown editor: it is locked to the report (a no-op when the
    // report opened as text), and the answer opens without taking the focus.
    await vscode.commands.executeCommand('markdown.preview.toggleLock').then(undefined, () => undefined);
    await vscode.window.showTextDocument(vscode.Uri.file(answerFile), { viewColumn: vscode.ViewColumn.Beside, preview: false, preserveFocus: true });
  }

  /** Asks which run to combine: the newest first, each with how many chunks succeeded and whether it has an answer. */
  private async pickRun(): Promise<vscode.Uri | undefined> {
    const root = this.runs.runsRoot();
    if (!root) return undefined;
    const items: (vscode.QuickPickItem & { dir: string })[] = [];
    const last = this.runs.lastFinished?.dir.fsPath;
    const dirs = await runFolders(root.fsPath, LISTED);
    if (last && dirs.includes(last)) dirs.unshift(...dirs.splice(dirs.indexOf(last), 1));
    for (const dir of dirs) {
      const summary = await peekSummary(dir);
      if (!summary || typeof summary.succeeded !== 'number') continue;
      const state = await readReduceState(dir).catch(() => undefined);
      const combined = state?.answer?.status === 'succeeded' ? ' · combined' : state && !state.answer ? ' · combine interrupted' : '';
      const total = summary.succeeded + (summary.failed ?? 0) + (summary.canceled ?? 0);
      items.push({ label: path.basename(dir), description: `${summary.succeeded} of ${total} chunks succeeded${combined}`, detail: summary.status === 'succeeded' ? undefined : `status: ${summary.status}`, dir });
    }
    if (!items.length) {
      showInfo('Batch Prompt: no finished run in the output folder yet. Run a prompt on files first, then combine its results.');
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(items, { title: 'Batch Prompt: combine the results of which run?', placeHolder: 'Every successful result is combined into one answer (answer.md beside the report)' });
    return picked && vscode.Uri.file(picked.dir);
  }

  private refuse(text: string, kind: 'error' | 'warning' = 'error'): CombineOutcome {
    const shown = `Batch Prompt: ${this.log.redact(text)}`;
    if (kind === 'error') showError(shown);
    else showWarning(shown);
    return { status: 'refused', notIncluded: 0, message: text };
  }

  private settings(): Settings {
    return readSettingsReporting(this.log);
  }
}

/** The combine feature: "Combine Results…", and the combine after a run whose prompt asks for one. */
export function registerCombine(context: vscode.ExtensionContext, { runs, models, live, log, cache }: Services): ReduceService {
  const service = new ReduceService(runs, models, live, log, context.globalState, cache);
  context.subscriptions.push(
    registerCommand(Commands.combineResults, (arg?: unknown, args?: CombineArgs) => service.command(arg, args)),
    runs.setReducer((p) => service.afterRun(p)),
  );
  return service;
}
