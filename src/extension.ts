import * as vscode from 'vscode';
import { Log } from './vscode/base/log';
import { KeyStore } from './vscode/base/secrets';
import { readUserModels } from './vscode/base/settings';
import { registerEstimate } from './vscode/estimate/estimateCommand';
import { registerFailures, type FailuresApi } from './vscode/failures/failuresView';
import { registerFindings, type FindingsService } from './vscode/findings/findings';
import { registerProposedEdits, type ProposedEditsService } from './vscode/edits/proposedEdits';
import { registerJobs, type BatchJobService } from './vscode/jobs/batchJobs';
import { LiveResults, registerLiveResults } from './vscode/live/liveResults';
import { registerCombine } from './vscode/reduce/combine';
import { registerResume } from './vscode/resume/resume';
import { ModelService } from './vscode/run/models';
import { ResultCacheFolder } from './vscode/run/resultCacheFolder';
import { registerPlanning } from './vscode/run/planServices';
import { registerRun } from './vscode/run/runCommands';
import { RunService } from './vscode/run/runService';
import { storageRunsFolder } from './vscode/run/runsFolder';
import { setNumberLocale } from './util/format';
import { registerRunsView, type RunsApi } from './vscode/runs/runsView';
import { registerAddModel } from './vscode/models/addModel';
import type { Services } from './vscode/services';

/** What `activate` returns: handles for the integration tests (the Failed Chunks model, the log's tail). */
export interface BatchPromptApi {
  failures: FailuresApi;
  log: Pick<Log, 'recent'>;
  batchJobs: Pick<BatchJobService, 'jobs' | 'stopPolling' | 'resumePolling' | 'limits'>;
  /** The Problems panel's findings: `forget` + `restore` is what a window reload does to them. */
  findings: Pick<FindingsService, 'forget' | 'restore'>;
  /** An edit run's review (#15): the WorkspaceEdit "Review Proposed Edits" hands to VS Code, without applying it. */
  edits: Pick<ProposedEditsService, 'buildReview' | 'newestEditRun'>;
  /** The Runs view (#18). */
  runsView: RunsApi;
}

/** Builds the services and calls each feature's register function. Nothing else happens here. */
export function activate(context: vscode.ExtensionContext): BatchPromptApi {
  // One number format in every text (#18): VS Code's display language.
  setNumberLocale(vscode.env.language);
  const log = new Log();
  const keys = new KeyStore(context.secrets, log, () => readUserModels());
  const models = new ModelService(context.workspaceState, keys, log);
  const cache = ResultCacheFolder.of(context);
  registerPlanning(context);
  const live = new LiveResults();
  const runs = new RunService(context.workspaceState, context.globalState, models, log, cache, live, storageRunsFolder(context));
  context.subscriptions.push(log, live, runs);
  const services: Services = { log, keys, models, cache, live, runs };

  registerRun(context, services);
  registerLiveResults(context, services);
  registerEstimate(context, services);
  registerResume(context, services);
  const batchJobs = registerJobs(context, services);
  const failures = registerFailures(context, services);
  const findings = registerFindings(context, services);
  const edits = registerProposedEdits(context, services);
  registerCombine(context, services);
  const runsView = registerRunsView(context, services, { onRunDeleted: () => failures.model.reload() });
  registerAddModel(context, services);
  return { failures, log, batchJobs, findings, edits, runsView };
}

export function deactivate(): void {
  // Everything is owned by context.subscriptions.
}
