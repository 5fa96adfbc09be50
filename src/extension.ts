import * as vscode from 'vscode';
import { registerFailuresView, type FailuresApi } from './vscode/failuresView';
import { Log } from './vscode/log';
import { ModelService } from './vscode/models';
import { registerRunCommands } from './vscode/runCommands';
import { RunService } from './vscode/runService';
import { KeyStore } from './vscode/secrets';
import { StatusBarController } from './vscode/statusBar';

/** Builds the services and calls each feature's register function. Nothing else happens here. */
export function activate(context: vscode.ExtensionContext): { failures: FailuresApi } {
  const log = new Log();
  const keys = new KeyStore(context.secrets, log);
  const models = new ModelService(context.workspaceState, keys, log);
  const runs = new RunService(context.workspaceState, context.globalState, models, log);
  context.subscriptions.push(log, runs, new StatusBarController(runs));
  registerRunCommands(context, runs, keys, models, log);
  return { failures: registerFailuresView(context, runs) };
}

export function deactivate(): void {
  // Everything is owned by context.subscriptions.
}
