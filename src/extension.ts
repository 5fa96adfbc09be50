import * as path from 'path';
import * as vscode from 'vscode';
import { registerBatchJobs, type BatchJobService } from './vscode/jobs/batchJobs';
import { registerFailuresView, type FailuresApi } from './vscode/failures/failuresView';
import { registerEstimateDocuments } from './vscode/estimate/estimateDocuments';
import { registerLiveResults } from './vscode/live/liveResults';
import { Log } from './vscode/base/log';
import { ModelService } from './vscode/run/models';
import { registerResume } from './vscode/resume/resume';
import { registerRunCommands } from './vscode/run/runCommands';
import { RunService } from './vscode/run/runService';
import { KeyStore } from './vscode/base/secrets';
import { readUserModels } from './vscode/base/settings';
import { StatusBarController } from './vscode/run/statusBar';

/** Builds the services and calls each feature's register function. Nothing else happens here. */
/** What `activate` returns: handles for the integration tests (the Failed Chunks model, the log's tail). */
export interface BatchPromptApi {
  failures: FailuresApi;
  log: Pick<Log, 'recent'>;
  batchJobs: Pick<BatchJobService, 'jobs' | 'stopPolling' | 'resumePolling' | 'limits'>;
}

export function activate(context: vscode.ExtensionContext): BatchPromptApi {
  const log = new Log();
  const keys = new KeyStore(context.secrets, log, () => readUserModels());
  const models = new ModelService(context.workspaceState, keys, log);
  // The result cache lives in VS Code's storage for this workspace: never inside the workspace, where
  // a run could read it as input or a commit could pick it up.
  const storage = context.storageUri ?? context.globalStorageUri;
  const cacheDir = storage.scheme === 'file' ? path.join(storage.fsPath, 'cache') : undefined;
  const runs = new RunService(context.workspaceState, context.globalState, models, log, cacheDir, registerLiveResults(context), registerEstimateDocuments(context));
  context.subscriptions.push(log, runs, new StatusBarController(runs));
  registerRunCommands(context, runs, keys, models, log);
  registerResume(context, runs, log);
  // Tests poll their fake batch server every 200 ms; real jobs every 30 s.
  const batchJobs = registerBatchJobs(context, runs, keys, log, context.extensionMode === vscode.ExtensionMode.Test ? 200 : undefined);
  return { failures: registerFailuresView(context, runs), log, batchJobs };
}

export function deactivate(): void {
  // Everything is owned by context.subscriptions.
}
