import * as vscode from 'vscode';
import { sameEndpoint } from '../../providers/endpointTrust';
import { findByGlob } from './fileSelection';
import { Commands } from '../base/ids';
import type { Log } from '../base/log';
import type { ModelService } from './models';
import type { ChosenPrompt } from './prompts';
import type { RunService } from './runService';
import type { KeyedEndpoint } from '../base/keyBinding';
import type { KeyStore } from '../base/secrets';
import { readSettings, readUserModels } from '../base/settings';

/** Arguments a caller (a test, a keybinding) may pass to skip the questions. */
export interface RunArgs {
  glob?: string;
  prompt?: string;
  modelId?: string;
}

function promptOf(args?: RunArgs): ChosenPrompt | undefined {
  return args?.prompt ? { text: args.prompt, label: args.prompt.split('\n')[0].slice(0, 60) } : undefined;
}

/** Registers the commands that start, cancel and inspect runs, and the key commands. */
export function registerRunCommands(context: vscode.ExtensionContext, runs: RunService, keys: KeyStore, models: ModelService, log: Log): void {
  const register = (id: string, fn: (...args: never[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));

  register(Commands.runOnFiles, async (args?: RunArgs) => {
    const glob = args?.glob ?? (await askGlob(readSettings().defaultInclude));
    if (!glob) return undefined;
    return runs.start({ glob, prompt: promptOf(args), modelId: args?.modelId });
  });
  // From the Explorer: (clicked, all selected). Folders expand recursively.
  register(Commands.runOnSelection, async (clicked?: vscode.Uri, selected?: vscode.Uri[], args?: RunArgs) => {
    const uris = selected?.length ? selected : clicked ? [clicked] : [];
    if (!uris.length) return vscode.commands.executeCommand(Commands.runOnFiles);
    return runs.start({ uris, prompt: promptOf(args), modelId: args?.modelId });
  });
  register(Commands.runOnFile, async (uri?: vscode.Uri, args?: RunArgs) => {
    const target = uri instanceof vscode.Uri ? uri : vscode.window.activeTextEditor?.document.uri;
    if (!target) {
      void vscode.window.showInformationMessage('Open a file first, or use "Run Prompt on Files…".');
      return undefined;
    }
    return runs.start({ uris: [target], prompt: promptOf(args), modelId: args?.modelId });
  });
  register(Commands.runLast, () => runs.runLast());
  register(Commands.cancelRun, () => {
    if (runs.active.size === 0) {
      void vscode.window.showInformationMessage('Batch Prompt is not running.');
      return;
    }
    runs.cancelAll();
  });
  register(Commands.estimateRun, (args?: RunArgs) => runs.estimate({ glob: args?.glob, prompt: promptOf(args), modelId: args?.modelId }));
  register(Commands.showLog, () => log.show());
  register(Commands.openResults, (dir?: vscode.Uri) => runs.openResults(dir instanceof vscode.Uri ? dir : undefined));
  register(Commands.showRunActions, async () => {
    type Action = vscode.QuickPickItem & { id: string };
    const items: Action[] = runs.active.size
      ? [{ label: '$(debug-stop) Cancel Run', id: Commands.cancelRun }, { label: '$(output) Show Log', id: Commands.showLog }]
      : [{ label: '$(file-text) Open Results', id: Commands.openResults }, { label: '$(output) Show Log', id: Commands.showLog }, { label: '$(debug-rerun) Run Last Prompt Again', id: Commands.runLast }];
    const picked = await vscode.window.showQuickPick(items, { title: 'Batch Prompt' });
    if (picked) await vscode.commands.executeCommand(picked.id);
  });
  // The endpoint is named by its id (the entry in effect with that id) or, where the caller knows it, by
  // the endpoint itself (a user-level entry a workspace entry with the same id hides): keys are bound
  // to provider and origin, so the right entry must be asked for.
  register(Commands.setApiKey, async (endpointId?: string | KeyedEndpoint) => {
    const endpoint = await pickEndpoint(endpointId, 'Set the API key of which endpoint?');
    if (!endpoint) return false;
    const stored = await keys.prompt(endpoint);
    if (stored) void vscode.window.showInformationMessage(`Batch Prompt: API key stored for "${endpoint.id}".`);
    return stored;
  });
  register(Commands.clearApiKey, async (endpointId?: string | KeyedEndpoint) => {
    const endpoint = await pickEndpoint(endpointId, 'Clear the API key of which endpoint?');
    if (!endpoint) return false;
    await keys.delete(endpoint);
    void vscode.window.showInformationMessage(`Batch Prompt: API key of "${endpoint.id}" cleared.`);
    return true;
  });
  register(Commands.showVersion, () => {
    const version = String(context.extension.packageJSON.version ?? 'unknown');
    void vscode.window.showInformationMessage(`Batch Prompt ${version}`);
    return version;
  });

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
      const open = 'Open Settings';
      if ((await vscode.window.showInformationMessage('Batch Prompt: no endpoint is configured. Add one to the setting "batchPrompt.models"; its key is then stored here.', open)) === open) {
        await vscode.commands.executeCommand('workbench.action.openSettings', 'batchPrompt.models');
      }
      return undefined;
    }
    if (endpoints.length === 1) return endpoints[0];
    const picked = await vscode.window.showQuickPick(endpoints.map((e) => ({ label: e.id, description: `${e.provider} · ${e.model}`, e })), { title });
    return picked?.e;
  }
}

/** Asks for a glob, showing live how many files match before the user confirms. */
export async function askGlob(initial: string, title = 'Batch Prompt: run on files'): Promise<string | undefined> {
  const box = vscode.window.createInputBox();
  box.title = title;
  box.value = initial;
  box.placeholder = 'Glob of workspace files, for example src/**/*.ts';
  box.ignoreFocusOut = true;
  let seq = 0;
  let count = 0;
  const update = async () => {
    const mine = ++seq;
    const value = box.value.trim();
    if (!value) {
      box.prompt = 'Type a glob.';
      return;
    }
    box.busy = true;
    const cts = new vscode.CancellationTokenSource();
    try {
      count = (await findByGlob(value, cts.token)).length;
      if (mine === seq) box.prompt = `${count} file${count === 1 ? '' : 's'} match (files.exclude and search.exclude apply). Press Enter to continue.`;
    } finally {
      cts.dispose();
      if (mine === seq) box.busy = false;
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new Promise<string | undefined>((resolve) => {
    box.onDidChangeValue(() => {
      clearTimeout(timer);
      timer = setTimeout(() => void update(), 200);
    });
    box.onDidAccept(() => {
      if (!box.value.trim()) return;
      resolve(box.value.trim());
      box.hide();
    });
    box.onDidHide(() => {
      clearTimeout(timer);
      resolve(undefined);
      box.dispose();
    });
    box.show();
    void update();
  });
}
