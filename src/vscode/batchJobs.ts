import { promises as fs } from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { watchJob, type CollectResult } from '../core/batchCollect';
import { BatchTooLargeError, cancelJob, describeCounts, pendingJob, submitJob, type BatchApi, type BatchLimits, type JobRecord } from '../core/batchJob';
import { BatchPromptError } from '../core/errors';
import { runFolders } from '../core/runFolders';
import { RUN_FILE, type RunMeta } from '../core/runStore';
import { batchUnsupportedReason, createBatchApi } from '../providers/batchApi';
import type { EndpointConfig, ProviderKind } from '../providers/endpoint';
import { Commands } from './ids';
import type { Log } from './log';
import type { ModelService } from './models';
import { askGlob, type RunArgs } from './runCommands';
import type { ChosenPrompt } from './prompts';
import type { RunService } from './runService';
import type { KeyStore } from './secrets';
import { readSettings } from './settings';

/** Between two polls of a job (batch jobs take minutes to hours; the providers suggest about a minute). */
export const DEFAULT_POLL_INTERVAL_MS = 30_000;

/** A job this window polls. */
interface Watched {
  dir: vscode.Uri;
  job: JobRecord;
  controller: AbortController;
  /** Ends the current wait at once (Check Now, after a cancel). */
  wake?: () => void;
}

/**
 * Provider batch jobs in the editor: "Submit as Batch Job…" (the same questions as Run Prompt on
 * Files, through `RunService.prepare`), a status-bar item while jobs run, polling in the background
 * that survives a window reload (every uncollected job of the workspace's run folders is polled again
 * at activation), cancel, and the usual notification and Failed Chunks entries once results are
 * collected. The key is read from secret storage at each poll and never kept.
 */
export class BatchJobService implements vscode.Disposable {
  private readonly watched = new Map<string, Watched>();
  private readonly item: vscode.StatusBarItem;
  /** Overrides of the providers' documented job limits (integration tests inject small ones). */
  limits?: Partial<BatchLimits>;

  constructor(
    private readonly runs: RunService,
    private readonly models: ModelService,
    private readonly keys: KeyStore,
    private readonly log: Log,
    private readonly pollIntervalMs = DEFAULT_POLL_INTERVAL_MS,
  ) {
    this.item = vscode.window.createStatusBarItem('batchPrompt.batchJobs', vscode.StatusBarAlignment.Left, 9);
    this.item.name = 'Batch Prompt: batch jobs';
    this.item.command = Commands.showBatchJobActions;
  }

  dispose(): void {
    this.stopPolling();
    this.item.dispose();
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
    const glob = args?.uris ? undefined : (args?.glob ?? (await askGlob(readSettings().defaultInclude, 'Batch Prompt: submit as a batch job')));
    if (!args?.uris && !glob) return undefined;
    const prompt = typeof args?.prompt === 'string' ? { text: args.prompt, label: args.prompt.split('\n')[0].slice(0, 60) } : args?.prompt;
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
          modelInfo: prepared.modelInfo,
          tokenizer: prepared.tokenizer,
          parameters: prepared.parameters,
          api,
          endpointId: endpoint.id,
          maxOutputTokens: endpoint.maxOutputTokens,
          chunksPerBatchName: 'batchPrompt.chunksPerBatch',
          signal: controller.signal,
        });
      });
    } catch (e) {
      if (BatchTooLargeError.isTooLarge(e)) {
        this.reportTooLarge(e);
        return undefined;
      }
      this.reportError(`the batch job was not submitted: ${messageOf(e)}`, endpoint.id, e);
      return undefined;
    }
    if (!result.job) {
      if (result.refused) this.log.error(`No batch job was created: ${result.refused.message}`);
      if (result.summary) this.runs.announceFinished(dir, result.summary);
      return undefined;
    }
    const job = result.job;
    this.log.info(`Batch job ${job.jobId} (${job.provider}) submitted: ${job.requests.length} requests, results in ${dir.fsPath}`);
    void vscode.window.showInformationMessage(`Batch Prompt: batch job submitted (${job.requests.length} requests to ${prepared.choice.label}). Results are collected when it ends, usually within 24 h; progress is in the status bar.`);
    this.watch(dir, job);
    return job;
  }

  /** Polls every uncollected job in the workspace's run folders (after a reload or a restart). */
  async resumePolling(): Promise<number> {
    const root = this.runs.runsRoot(undefined, undefined, true);
    if (!root) return 0;
    let n = 0;
    for (const dir of await runFolders(root.fsPath, 200)) {
      const job = await pendingJob(dir);
      if (!job || this.watched.has(dir)) continue;
      this.log.info(`Batch job ${job.jobId} (${job.provider}) in ${path.basename(dir)}: polling again.`);
      this.watch(vscode.Uri.file(dir), job);
      n++;
    }
    return n;
  }

  /** Cancels a job at the provider (asked which when several run); polling goes on and collects what finished. */
  async cancel(dir?: vscode.Uri): Promise<JobRecord | undefined> {
    const target = dir ? this.watched.get(dir.fsPath) : await this.pick('Cancel which batch job?');
    if (!target) {
      if (this.watched.size === 0) void vscode.window.showInformationMessage('Batch Prompt: no batch job is running.');
      return undefined;
    }
    try {
      const job = await cancelJob(target.dir.fsPath, await this.apiFor(await this.endpointOf(target.dir.fsPath, target.job)));
      target.job = job;
      this.log.info(`Batch job ${job.jobId}: cancel requested (${job.state.providerStatus}).`);
      target.wake?.();
      this.render();
      return job;
    } catch (e) {
      this.reportError(`could not cancel batch job ${target.job.jobId}: ${messageOf(e)}`, target.job.endpointId, e);
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

  private watch(dir: vscode.Uri, job: JobRecord): void {
    const w: Watched = { dir, job, controller: new AbortController() };
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
    void watchJob(dir.fsPath, async () => this.apiFor(await this.endpointOf(dir.fsPath, w.job)), {
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
        this.reportError(`polling batch job ${w.job.jobId} stopped: ${messageOf(e)} It goes on at the provider; it is polled again when the window reloads.`, w.job.endpointId, e);
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

  /** The job's endpoint: the configured one (for its headers) when it still exists, else what run.json recorded. */
  private async endpointOf(dir: string, job: JobRecord): Promise<EndpointConfig> {
    const configured = (await this.models.find(readSettings(), job.endpointId))?.endpoint;
    if (configured) return configured;
    const meta = JSON.parse(await fs.readFile(path.join(dir, RUN_FILE), 'utf8')) as RunMeta;
    return { id: job.endpointId, provider: job.provider as ProviderKind, baseUrl: meta.model.baseUrl, model: meta.model.model ?? '', maxOutputTokens: meta.model.maxOutputTokens };
  }

  /** A batch API with the key read now from secret storage (throws ConfigError without one). */
  private async apiFor(endpoint: EndpointConfig): Promise<BatchApi> {
    return createBatchApi(endpoint, await this.keys.get(endpoint.id), { limits: this.limits });
  }

  /** A job over the provider's limits (nothing sent, nothing written): the message says what to change, with the setting one click away. */
  private reportTooLarge(e: BatchTooLargeError): void {
    this.log.warn(e.message);
    const settings = 'Open Settings';
    void vscode.window.showErrorMessage(`Batch Prompt: ${e.message}`, ...(e.measure === 'requests' ? [settings] : [])).then(async (answer) => {
      if (answer === settings) await vscode.commands.executeCommand('workbench.action.openSettings', 'batchPrompt.chunksPerBatch');
    });
  }

  /** Shows an error with "Open Log", and "Set API Key" when a key is missing or refused. */
  private reportError(message: string, endpointId: string, e: unknown): void {
    const text = this.log.redact(message);
    this.log.error(text);
    const setKey = 'Set API Key';
    const open = 'Open Log';
    const keyProblem = BatchPromptError.isAny(e) && (e.kind === 'auth' || e.kind === 'config');
    void vscode.window.showErrorMessage(`Batch Prompt: ${text}`, ...(keyProblem ? [setKey, open] : [open])).then(async (answer) => {
      if (answer === setKey) await vscode.commands.executeCommand(Commands.setApiKey, endpointId);
      else if (answer === open) this.log.show();
    });
  }
}

function messageOf(e: unknown): string {
  return BatchPromptError.isAny(e) || e instanceof Error ? e.message : String(e);
}

/** Registers the batch-job commands and polls the jobs left running by an earlier window. */
export function registerBatchJobs(context: vscode.ExtensionContext, runs: RunService, models: ModelService, keys: KeyStore, log: Log, pollIntervalMs?: number): BatchJobService {
  const service = new BatchJobService(runs, models, keys, log, pollIntervalMs);
  context.subscriptions.push(service);
  const register = (id: string, fn: (...args: never[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  register(Commands.submitBatchJob, (args?: Parameters<BatchJobService['submit']>[0]) => service.submit(args));
  register(Commands.cancelBatchJob, (dir?: vscode.Uri) => service.cancel(dir instanceof vscode.Uri ? dir : undefined));
  register(Commands.showBatchJobActions, () => service.showActions());
  void service.resumePolling().catch((e: unknown) => log.warn(`Could not look for batch jobs to poll: ${messageOf(e)}`));
  return service;
}

