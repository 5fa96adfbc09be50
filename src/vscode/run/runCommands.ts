import * as vscode from 'vscode';
import { sameEndpoint } from '../../providers/endpointTrust';
import { needsApiKey } from '../../providers/factory';
import { askGlob } from './fileSelection';
import { isProductPath } from './runsFolder';
import { Commands } from '../base/ids';
import { registerCommand } from '../base/lifecycle';
import { Actions, openSettings, showInfo, showMessage, showWithActions } from '../base/messages';

const SET_ANYWAY = 'Set a Key Anyway';
import { promptOf, type RunArgs } from './prompts';
import { registerClearCache } from './resultCacheFolder';
import { StatusBarController } from './statusBar';
import type { KeyedEndpoint } from '../base/keyBinding';
import { readSettings, readUserModels } from '../base/settings';
import type { Services } from '../services';

/**
 * The run feature: the commands that start, cancel and inspect runs, the key commands, "Clear Cache"
 * (the cache runs and estimates read), and the status-bar item.
 */
export function registerRun(context: vscode.ExtensionContext, { runs, keys, models, log, cache }: Services): void {
  registerClearCache(context, cache, log);
  context.subscriptions.push(
    new StatusBarController(runs),
    registerCommand(Commands.runOnFiles, async (args?: RunArgs) => {
      const glob = args?.glob ?? (await askGlob(readSettings().defaultInclude));
      if (!glob) return undefined;
      return runs.start({ glob, prompt: promptOf(args), modelId: args?.modelId });
    }),
    // From the Explorer: (clicked, all selected). Folders expand recursively.
    registerCommand(Commands.runOnSelection, async (clicked?: vscode.Uri, selected?: vscode.Uri[], args?: RunArgs) => {
      const uris = selected?.length ? selected : clicked ? [clicked] : [];
      if (!uris.length) return vscode.commands.executeCommand(Commands.runOnFiles);
      if (uris.every((u) => isProductPath(u, readSettings()))) return refuseProductFiles(uris[0]);
      return runs.start({ uris, prompt: promptOf(args), modelId: args?.modelId });
    }),
    registerCommand(Commands.runOnFile, async (uri?: vscode.Uri, args?: RunArgs) => {
      const target = uri instanceof vscode.Uri ? uri : vscode.window.activeTextEditor?.document.uri;
      if (!target) {
        showInfo('Open a file first, or use "Run Prompt on Files…".');
        return undefined;
      }
      if (isProductPath(target, readSettings())) return refuseProductFiles(target);
      return runs.start({ uris: [target], prompt: promptOf(args), modelId: args?.modelId });
    }),
    registerCommand(Commands.runLast, () => runs.runLast()),
    registerCommand(Commands.cancelRun, () => {
      if (runs.active.size === 0) {
        showInfo('Batch Prompt is not running.');
        return;
      }
      runs.cancelAll();
    }),
    registerCommand(Commands.showLog, () => log.show()),
    registerCommand(Commands.openResults, (dir?: vscode.Uri) => runs.openResults(dir instanceof vscode.Uri ? dir : undefined)),
    registerCommand(Commands.showRunActions, async () => {
      type Action = vscode.QuickPickItem & { id: string; args?: unknown[] };
      const items: Action[] = runs.active.size
        ? [{ label: '$(debug-stop) Cancel Run', id: Commands.cancelRun }, { label: '$(output) Show Log', id: Commands.showLog }]
        : [
            { label: '$(file-text) Open Results', id: Commands.openResults },
            // The features' own (an edit run: review its proposals), after the results they belong to.
            ...(await runs.runActions()).map((a) => ({ label: a.label, description: a.description, id: a.command, args: a.args })),
            { label: '$(output) Show Log', id: Commands.showLog },
            { label: '$(debug-rerun) Run Last Prompt Again', id: Commands.runLast },
          ];
      const picked = await vscode.window.showQuickPick(items, { title: 'Batch Prompt' });
      if (picked) await vscode.commands.executeCommand(picked.id, ...(picked.args ?? []));
    }),
    // The endpoint is named by its id (the entry in effect with that id) or, where the caller knows it, by
    // the endpoint itself (a user-level entry a workspace entry with the same id hides): keys are bound
    // to provider and origin, so the right entry must be asked for.
    registerCommand(Commands.setApiKey, async (endpointId?: string | KeyedEndpoint) => {
      const endpoint = await pickEndpoint(endpointId, 'Set the API key of which endpoint?');
      if (!endpoint) return false;
      // An endpoint that works without a key (Ollama, an OpenAI-compatible server on this machine) is not
      // asked for one; a server that wants one anyway can still be given it.
      if (!needsApiKey(endpoint)) {
        const answer = await showMessage('info', `Batch Prompt: "${endpoint.id}" (${endpoint.provider} at ${endpoint.baseUrl ?? 'its default address'}) needs no API key. Set one anyway (for a local server started with a key)?`, SET_ANYWAY);
        if (answer !== SET_ANYWAY) return false;
      }
      const stored = await keys.prompt(endpoint);
      if (stored) showInfo(`Batch Prompt: API key stored for "${endpoint.id}".`);
      return stored;
    }),
    registerCommand(Commands.clearApiKey, async (endpointId?: string | KeyedEndpoint) => {
      const endpoint = await pickEndpoint(endpointId, 'Clear the API key of which endpoint?');
      if (!endpoint) return false;
      await keys.delete(endpoint);
      showInfo(`Batch Prompt: API key of "${endpoint.id}" cleared.`);
      return true;
    }),
    registerCommand(Commands.showVersion, () => {
      const version = String(context.extension.packageJSON.version ?? 'unknown');
      showInfo(`Batch Prompt ${version}`);
      return version;
    }),
  );

  async function pickEndpoint(id: string | KeyedEndpoint | undefined, title: string) {
    const endpoints = (await models.choices(readSettings())).flatMap((c) => (c.endpoint ? [c.endpoint] : []));
    if (typeof id === 'string') {
      const found = endpoints.find((e) => e.id === id);
      if (found) return found;
    } else if (id && typeof id === 'object') {
      // Only an entry the settings hold: an argument never makes up an endpoint.
      const found = [...endpoints, ...readUserModels()].find((e) => e.id === id.id && sameEndpoint(e, id));
      if (found) return found;
    }
    if (endpoints.length === 0) {
      await showWithActions('info', 'Batch Prompt: no endpoint is configured. Add one with "Add Model…" (or in the setting "batchPrompt.models"); its key is then stored here.', { 'Add Model…': () => vscode.commands.executeCommand(Commands.addModel), [Actions.openSettings]: openSettings('batchPrompt.models') });
      return undefined;
    }
    if (endpoints.length === 1) return endpoints[0];
    const picked = await vscode.window.showQuickPick(endpoints.map((e) => ({ label: e.id, description: `${e.provider} · ${e.model}`, e })), { title });
    return picked?.e;
  }
}

/**
 * The Explorer's or the editor's run commands on Batch Prompt's own results (`.batch-prompt`, the runs
 * folder): said at once, before a prompt or a model is asked for (a run never reads them).
 */
function refuseProductFiles(uri: vscode.Uri): undefined {
  showInfo(`Batch Prompt: ${vscode.workspace.asRelativePath(uri)} is in Batch Prompt's own results folder; runs never read it. Pick files or folders outside it (open a run's report.md to read its results).`);
  return undefined;
}
