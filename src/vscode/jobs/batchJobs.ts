import * as path from 'path';
import * as vscode from 'vscode';
import { watchJob, type CollectResult } from '../../core/jobs/collect';
import { BatchTooLargeError, cancelJob, describeCounts, readJob, submitJob, type BatchApi, type BatchLimits, type JobRecord } from '../../core/jobs/job';
import { BatchPromptError } from '../../core/execute/errors';
import { batchJobCap } from '../run/spendCap';
import { batchUnsupportedReason, createBatchApi } from '../../providers/batch/batchApi';
import type { EndpointConfig } from '../../providers/endpoint';
import { Commands } from '../base/ids';
import { Disposable, registerCommand } from '../base/lifecycle';
import type { Log } from '../base/log';
import { Actions, openSettings, showError, showErrorWithActions, showInfo, showWithActions } from '../base/messages';
import { askGlob } from '../run/fileSelection';
import { promptOf, type ChosenPrompt, type RunArgs } from '../run/prompts';
import type { RunService } from '../run/runService';
import type { KeyedEndpoint } from '../base/keyBinding';
import { refusalMessage } from '../run/recordedEndpoints';
import type { KeyStore } from '../base/secrets';
import { readSettings, readUserModels } from '../base/settings';
import type { Services } from '../services';
import { endpointOfEntry, jobMismatch, SubmittedJobs, type SubmittedJob } from './submittedJobs';

/** Between two polls of a job (batch jobs take minutes to hours; the providers suggest about a minute). */
export const DEFAULT_POLL_INTERVAL_MS = 30_000;

/** A job this window polls. */
interface Watched {
  dir: vscode.Uri;
  job: JobRecord;
  /** What this profile recorded when it submitted the job: the only source of its endpoint. */
  entry: SubmittedJob;
  controller: AbortController;
  /** Ends the current wait at once (Check Now, after a cancel). */
  wake?: () => void;
}

/**
 * Provider batch jobs in the editor: "Submit as Batch Job…" (the same questions as Run Prompt on
 * Files, through `RunService.prepare`), a status-bar item while jobs run, polling in the background
 * that survives a window reload (the jobs this profile submitted, recorded in its global state, are
 * polled again at activation: never a `job.json` merely present in the workspace), cancel, and the
 * usual notification and Failed Chunks entries once results are collected. The key is read from
 * secret storage at each poll and never kept; it goes only to the user's endpoint the job was
 * submitted to (submittedJobs.ts).
 */
export class BatchJobService extends Disposable {
  private readonly watched = new Map<string, Watched>();
  private readonly item: vscode.StatusBarItem;
  /** Overrides of the providers' documented job limits (integration tests inject small ones). */
  limits?: Partial<BatchLimits>;

  constructor(
    private readonly runs: RunService,
    private readonly keys: KeyStore,
    private readonly log: Log,
    private readonly submitted: SubmittedJobs,
    private readonly pollIntervalMs = DEFAULT_POLL_INTERVAL_MS,
  ) {
    super();
    this.item = this._register(vscode.window.createStatusBarItem('batchPrompt.batchJobs', vscode.StatusBarAlignment.Left, 9));
    this.item.name = 'Batch Prompt: batch jobs';
    this.item.command = Commands.showBatchJobActions;
  }

  override dispose(): void {
    this.stopPolling();
    super.dispose();
  }

  /** Stops polling (as a closed window does); the jobs go on at the provider and `resumePolling` takes them up again. */
  stopPolling(): void {
    for (const w of this.watched.values()) w.controller.abort();
    this.watched.clear();
    this.render();
  }

  /** The jobs being polled (for the commands and tests). */
  jobs(): { dir: vscode.Uri; job: JobRecord }[] {
    return [...this.watched.values()].map(({ dir, job }) => ({ dir, job }));
  }

  /**
   * Plans like a run, then submits the batches as one provider job and starts polling it. The prompt
   * is text (command arguments) or a chosen prompt ("Run Last Prompt Again").
   */
  async submit(args?: Omit<RunArgs, 'prompt'> & { uris?: vscode.Uri[]; prompt?: string | ChosenPrompt }): Promise<JobRecord | undefined> {
    const glob = args?.uris ? undefined : (args?.glob ?? (await askGlob(readSettings().defaultInclude, 'Batch Prompt: submit as a batch job', 'submit')));
    if (!args?.uris && !glob) return undefined;
    const prompt = typeof args?.prompt === 'string' ? promptOf({ prompt: args.prompt, output: args.output }) : args?.prompt;
    const prepared = await this.runs.prepare(
      { uris: args?.uris, glob, prompt, modelId: args?.modelId, mode: 'batch-job' },
      (choice) =>
        (choice.endpoints?.length ?? 0) > 1
          ? `a batch job goes to one endpoint; "${choice.label}" names ${choice.endpoints!.length}. Pick one of them.`
          : batchUnsupportedReason(choice.endpoint?.provider ?? 'vscode-lm', `the model "${choice.label}"`),
    );
    if (!prepared) return undefined;
    const endpoint = prepared.choice.endpoint!;
    const { dir, plan } = prepared;
    // A spend cap: the job's worst case (every request's whole output limit) must fit before it is submitted.
    const capped = batchJobCap(prepared.settings, prepared.prices, plan.batches, endpoint.maxOutputTokens);
    if (capped.refused) {
      showError(`Batch Prompt: ${capped.refused}`);
      return undefined;
    }
    let result: Awaited<ReturnType<typeof submitJob>>;
    try {
      const api = await this.apiFor(endpoint);
      result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Batch Prompt: submitting ${plan.totals.requests} requests as a batch job`, cancellable: true }, (_p, token) => {
        const controller = new AbortController();
        token.onCancellationRequested(() => controller.abort());
        return submitJob(plan, {
          root: prepared.roots.primary!.uri.fsPath,
          read: prepared.roots.reader(),
          dir: dir.fsPath,
          prompt: prepared.prompt.text,
          ...(prepared.prompt.output ? { output: prepared.prompt.output } : {}),
          modelInfo: prepared.modelInfo,
          tokenizer: prepared.tokenizer,
          parameters: prepared.parameters,
          api,
          endpointId: endpoint.id,
          maxOutputTokens: capped.maxOutputTokens,
          chunksPerBatchName: 'batchPrompt.chunksPerBatch',
          signal: controller.signal,
        });
      });
    } catch (e) {
      if (BatchTooLargeError.isTooLarge(e)) {
        this.reportTooLarge(e);
        return undefined;
      }
      this.reportError(`the batch job was not submitted: ${messageOf(e)}`, endpoint, e);
      return undefined;
    }
    if (!result.job) {
      if (result.refused) this.log.error(`No batch job was created: ${result.refused.message}`);
      if (result.summary) this.runs.announceFinished(dir, result.summary);
      return undefined;
    }
    const job = result.job;
    this.log.info(`Batch job ${job.jobId} (${job.provider}) submitted: ${job.requests.length} requests, results in ${dir.fsPath}`);
    showInfo(`Batch Prompt: batch job submitted (${job.requests.length} requests to ${prepared.choice.label}). Results are collected when it ends, usually within 24 h; progress is in the status bar.`);
    const entry = await this.submitted.add(dir.fsPath, job, endpoint);
    this.watch(dir, job, entry);
    return job;
  }

  /**
   * Polls again the uncollected jobs this profile submitted from the workspace's output folder (after a
   * reload or a restart). An entry whose folder no longer holds that job (another job id or endpoint in
   * its job.json) is not polled; one whose folder is gone or whose job was collected meanwhile is forgotten.
   */
  async resumePolling(): Promise<number> {
    const root = this.runs.runsRoot(undefined, undefined, true);
    if (!root) return 0;
    let n = 0;
    for (const entry of this.submitted.in(root.fsPath)) {
      if (this.watched.has(entry.dir)) continue;
      let job: JobRecord | undefined;
      let unreadable = false;
      try {
        job = await readJob(entry.dir);
      } catch {
        unreadable = true;
      }
      // The folder is gone, or its job was collected (by another window): nothing left to poll.
      if ((!job && !unreadable) || (job?.collectedAt && !jobMismatch(entry, job))) {
        await this.submitted.remove(entry);
        continue;
      }
      // The folder now names another job or endpoint: not polled (the entry stays, should the folder come back).
      const mismatch = jobMismatch(entry, job);
      if (mismatch) {
        this.log.warn(`Batch job ${entry.jobId} is not polled: ${mismatch}. Nothing was sent.`);
        continue;
      }
      this.log.info(`Batch job ${entry.jobId} (${entry.jobProvider}) in ${path.basename(entry.dir)}: polling again.`);
      this.watch(vscode.Uri.file(entry.dir), job!, entry);
      n++;
    }
    return n;
  }

  /** Cancels a job at the provider (asked which when several run); polling goes on and collects what finished. */
  async cancel(dir?: vscode.Uri): Promise<JobRecord | undefined> {
    const target = dir ? this.watched.get(dir.fsPath) : await this.pick('Cancel which batch job?');
    if (!target) {
      if (this.watched.size === 0) showInfo('Batch Prompt: no batch job is running.');
      return undefined;
    }
    try {
      const job = await cancelJob(target.dir.fsPath, await this.apiOf(target));
      target.job = job;
      this.log.info(`Batch job ${job.jobId}: cancel requested (${job.state.providerStatus}).`);
      target.wake?.();
      this.render();
      return job;
    } catch (e) {
      this.reportError(`could not cancel batch job ${target.job.jobId}: ${messageOf(e)}`, endpointOfEntry(target.entry, readUserModels()), e);
      return undefined;
    }
  }

  /** The status item's actions: cancel, check now, log. */
  async showActions(): Promise<void> {
    type Action = vscode.QuickPickItem & { run: () => unknown };
    const items: Action[] = [
      { label: '$(debug-stop) Cancel Batch Job', run: () => this.cancel() },
      { label: '$(refresh) Check Now', run: () => this.watched.forEach((w) => w.wake?.()) },
      { label: '$(output) Show Log', run: () => this.log.show() },
    ];
    const picked = await vscode.window.showQuickPick(items, { title: 'Batch Prompt: batch jobs' });
    await picked?.run();
  }

  private watch(dir: vscode.Uri, job: JobRecord, entry: SubmittedJob): void {
    const w: Watched = { dir, job, entry, controller: new AbortController() };
    this.watched.set(dir.fsPath, w);
    this.render();
    const sleep = (ms: number, signal?: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', abort);
          w.wake = undefined;
        };
        const abort = () => (done(), reject(new Error('aborted')));
        const timer = setTimeout(() => (done(), resolve()), ms);
        w.wake = () => (done(), resolve());
        signal?.addEventListener('abort', abort, { once: true });
      });
    void watchJob(dir.fsPath, () => this.apiOf(w), {
      intervalMs: this.pollIntervalMs,
      signal: w.controller.signal,
      sleep,
      onJob: (j) => {
        w.job = j;
        this.render();
      },
      onPollError: (e) => this.log.warn(`Batch job ${w.job.jobId}: poll failed, trying again later: ${messageOf(e)}`),
    }).then(
      (result) => this.finish(w, result),
      (e: unknown) => {
        this.forget(w);
        if (w.controller.signal.aborted) return;
        this.reportError(`polling batch job ${w.job.jobId} stopped: ${messageOf(e)} It goes on at the provider; it is polled again when the window reloads.`, endpointOfEntry(w.entry, readUserModels()), e);
      },
    );
  }

  /** Drops a watcher, unless the folder is already polled by a newer one (stopPolling, then resumePolling). */
  private forget(w: Watched): void {
    if (this.watched.get(w.dir.fsPath) === w) this.watched.delete(w.dir.fsPath);
    this.render();
  }

  private finish(w: Watched, result: CollectResult | undefined): void {
    this.forget(w);
    if (!result || result.status === 'pending') return;
    void this.submitted.remove(w.entry);
    const s = result.summary;
    this.log.info(`Batch job ${result.job.jobId} collected: ${s.succeeded} succeeded, ${s.failed} failed, ${s.canceled} canceled; ${s.inputTokens} input / ${s.outputTokens} output tokens.`);
    if (result.status === 'collected') this.runs.announceFinished(w.dir, s);
  }

  private render(): void {
    const list = [...this.watched.values()];
    if (list.length === 0) {
      this.item.hide();
      return;
    }
    const first = list[0].job;
    const c = first.state.counts;
    const more = list.length > 1 ? ` (+${list.length - 1} jobs)` : '';
    this.item.text = `$(cloud-upload) Batch job ${c.succeeded + c.failed}/${c.total || first.requests.length}${first.cancelRequestedAt ? ' · canceling' : ''}${more}`;
    const tip = new vscode.MarkdownString();
    for (const w of list) {
      tip.appendMarkdown(`**${path.basename(w.dir.fsPath)}**: job \`${w.job.jobId}\` at ${w.job.provider}, ${w.job.state.providerStatus}, ${describeCounts(w.job.state.counts)} requests done  \n`);
    }
    tip.appendMarkdown('\nClick to cancel, check now or show the log.');
    this.item.tooltip = tip;
    this.item.show();
  }

  private async pick(title: string): Promise<Watched | undefined> {
    const list = [...this.watched.values()];
    if (list.length <= 1) return list[0];
    const picked = await vscode.window.showQuickPick(
      list.map((w) => ({ label: path.basename(w.dir.fsPath), description: `${w.job.provider} · ${w.job.state.providerStatus} · ${describeCounts(w.job.state.counts)}`, w })),
      { title },
    );
    return picked?.w;
  }

  /**
   * A batch API for a watched job, checked first: its folder's job.json must still name the job and
   * endpoint this profile submitted, and the endpoint it went to must be one of the user's (user-level
   * batchPrompt.models, matched by provider and origin). Never an endpoint built from the folder.
   */
  private async apiOf(w: Watched): Promise<BatchApi> {
    const mismatch = jobMismatch(w.entry, await readJob(w.dir.fsPath).catch(() => undefined));
    if (mismatch) throw new Error(`${mismatch}. Nothing was sent.`);
    const endpoint = endpointOfEntry(w.entry, readUserModels());
    if (!endpoint) {
      throw new Error(`${refusalMessage(`Batch job ${w.entry.jobId}`, [{ id: w.entry.endpointId, provider: w.entry.provider, baseUrl: w.entry.origin }])} Add that endpoint to your user settings' batchPrompt.models to collect it.`);
    }
    return this.apiFor(endpoint);
  }

  /** A batch API with the key read now from secret storage (throws ConfigError without one). */
  private async apiFor(endpoint: EndpointConfig): Promise<BatchApi> {
    return createBatchApi(endpoint, await this.keys.get(endpoint), { limits: this.limits });
  }

  /** A job over the provider's limits (nothing sent, nothing written): the message says what to change, with the setting one click away. */
  private reportTooLarge(e: BatchTooLargeError): void {
    this.log.warn(e.message);
    void showWithActions('error', `Batch Prompt: ${e.message}`, e.measure === 'requests' ? { [Actions.openSettings]: openSettings('batchPrompt.chunksPerBatch') } : {});
  }

  /** Shows an error with "Open Log", and "Set API Key" (for `endpoint`, when known) when a key is missing or refused. */
  private reportError(message: string, endpoint: KeyedEndpoint | undefined, e: unknown): void {
    const text = this.log.redact(message);
    this.log.error(text);
    const keyProblem = !!endpoint && BatchPromptError.isAny(e) && (e.kind === 'auth' || e.kind === 'config');
    void showErrorWithActions(`Batch Prompt: ${text}`, { setKey: keyProblem ? { endpoint } : undefined, log: this.log });
  }
}

function messageOf(e: unknown): string {
  return BatchPromptError.isAny(e) || e instanceof Error ? e.message : String(e);
}

/** The batch jobs feature: its commands and status item; polls the jobs left running by an earlier window. */
export function registerJobs(context: vscode.ExtensionContext, { runs, keys, log }: Services): BatchJobService {
  // Tests poll their fake batch server every 200 ms; real jobs every 30 s.
  const pollIntervalMs = context.extensionMode === vscode.ExtensionMode.Test ? 200 : undefined;
  const service = new BatchJobService(runs, keys, log, new SubmittedJobs(context.globalState), pollIntervalMs);
  context.subscriptions.push(
    service,
    registerCommand(Commands.submitBatchJob, (args?: Parameters<BatchJobService['submit']>[0]) => service.submit(args)),
    registerCommand(Commands.cancelBatchJob, (dir?: vscode.Uri) => service.cancel(dir instanceof vscode.Uri ? dir : undefined)),
    registerCommand(Commands.showBatchJobActions, () => service.showActions()),
  );
  void service.resumePolling().catch((e: unknown) => log.warn(`Could not look for batch jobs to poll: ${messageOf(e)}`));
  return service;
}

