import * as vscode from 'vscode';
import type { EndpointConfig, ProviderKind } from '../../providers/endpoint';
import { createModel, defaultBaseUrl, isLoopbackUrl, needsApiKey } from '../../providers/factory';
import { endpointIdOf, fetchModelList, type ListedModel } from '../../providers/modelList';
import { Commands } from '../base/ids';
import { registerCommand } from '../base/lifecycle';
import { Actions, askModal, openSettings, showMessage, showWithActions } from '../base/messages';
import { readSettings } from '../base/settings';
import { modelIdProblem, normalizeModels, SETTINGS_SECTION } from '../base/settingsSchema';
import type { Services } from '../services';

/** The providers offered, each with the base URL prefilled. */
const PROVIDERS: { label: string; detail: string; provider: ProviderKind; baseUrl: string }[] = [
  { label: 'OpenAI', detail: 'api.openai.com (needs an API key)', provider: 'openai', baseUrl: defaultBaseUrl('openai')! },
  { label: 'OpenAI-compatible server', detail: 'LM Studio, vLLM, llama.cpp, LiteLLM… (on this machine no key is needed)', provider: 'openai', baseUrl: 'http://127.0.0.1:1234/v1' },
  { label: 'Ollama', detail: 'an Ollama server (no key)', provider: 'ollama', baseUrl: defaultBaseUrl('ollama')! },
  { label: 'Anthropic', detail: 'api.anthropic.com (needs an API key)', provider: 'anthropic', baseUrl: defaultBaseUrl('anthropic')! },
  { label: 'Azure OpenAI', detail: 'your resource https://NAME.openai.azure.com; the model is the deployment name', provider: 'azure', baseUrl: 'https://NAME.openai.azure.com' },
];

const TYPE_MODEL = '$(edit) Type a model name…';

/** What "Add Model…" wrote (tests read it); undefined when the user stopped on the way. */
export interface AddedModel {
  entry: EndpointConfig;
  keyStored: boolean;
  tested: boolean;
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !!u.hostname;
  } catch {
    return false;
  }
}

/**
 * "Add Model…": provider → base URL (the provider's default prefilled) → the model, picked from the
 * server's own list or typed → the key (skipped for an endpoint that needs none: Ollama, an
 * OpenAI-compatible server on this machine) → one tiny test request → the entry in the *user* settings'
 * `batchPrompt.models` (a repository's settings cannot add endpoints that receive keys). The key goes to
 * secret storage, bound to the endpoint (keyBinding.ts). A remote server lists its models only to a
 * key holder, so there the key is asked before the list.
 *
 * Also: invalid entries of `batchPrompt.models` are reported once per change of the setting, each
 * named with its real problem, with "Open Settings".
 */
export function registerAddModel(context: vscode.ExtensionContext, { keys, log }: Services): void {
  let reported = '';
  const reportInvalid = () => {
    const problems: string[] = [];
    normalizeModels(vscode.workspace.getConfiguration(SETTINGS_SECTION).get('models'), problems);
    const key = problems.join('\n');
    if (key === reported) return;
    reported = key;
    if (!problems.length) return;
    for (const p of problems) log.warn(`Setting ignored: ${p}`);
    const first = problems[0];
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more: see the log)` : '';
    void showWithActions('warning', `Batch Prompt: an entry of batchPrompt.models is left out: ${first}${more}`, { [Actions.openSettings]: openSettings('batchPrompt.models') });
  };
  // Not in tests' way at activation unless a test set bad entries; a change is always reported.
  reportInvalid();
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(`${SETTINGS_SECTION}.models`)) reportInvalid();
    }),
    registerCommand(Commands.addModel, () => addModel()),
  );

  async function addModel(): Promise<AddedModel | undefined> {
    const picked = await vscode.window.showQuickPick(
      PROVIDERS.map((p) => ({ label: p.label, detail: p.detail, p })),
      { title: 'Add Model (1/4): provider', placeHolder: 'Where the model runs', ignoreFocusOut: true },
    );
    if (!picked) return undefined;
    const provider = picked.p.provider;
    const baseUrl = (
      await vscode.window.showInputBox({
        title: 'Add Model (2/4): base URL',
        prompt: provider === 'ollama' ? 'The server root (/api/chat is appended)' : provider === 'anthropic' ? 'The server root (/v1/messages is appended)' : provider === 'azure' ? 'Your Azure OpenAI resource' : 'The API base (/chat/completions is appended)',
        value: picked.p.baseUrl,
        ignoreFocusOut: true,
        validateInput: (v) => (isHttpUrl(v.trim()) ? undefined : 'An http:// or https:// URL'),
      })
    )
      ?.trim()
      .replace(/\/+$/, '');
    if (!baseUrl) return undefined;

    const keyNeeded = needsApiKey({ provider, baseUrl });
    let key: string | undefined;
    const askKey = async (why: string) => {
      const typed = await vscode.window.showInputBox({
        title: 'Add Model (4/4): API key',
        prompt: `${why} Sent only to ${new URL(baseUrl).origin}; stored in VS Code's secret storage, never in settings.`,
        password: true,
        ignoreFocusOut: true,
        validateInput: (v) => (v.trim().length < 8 ? 'That looks too short for an API key.' : undefined),
      });
      return typed?.trim() || undefined;
    };
    // A remote server lists its models only to a key holder: ask first there.
    if (keyNeeded && provider !== 'azure') {
      key = await askKey(`The ${picked.label} key (its model list needs it).`);
      if (!key) return undefined;
    }

    let listed: ListedModel[] = [];
    let listProblem: string | undefined;
    if (provider !== 'azure') {
      try {
        listed = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Batch Prompt: asking ${baseUrl} for its models…` }, () => fetchModelList(provider, baseUrl, key));
      } catch (e) {
        listProblem = log.redact((e as Error).message);
        log.warn(`Add Model: the model list could not be read: ${listProblem}`);
      }
    }
    let model: string | undefined;
    if (listed.length) {
      const choice = await vscode.window.showQuickPick(
        [...listed.map((m) => ({ label: m.id, description: m.label })), { label: TYPE_MODEL, description: 'a model the list does not show' }],
        { title: `Add Model (3/4): model (${listed.length} on the server)`, placeHolder: 'The model to send the chunks to', ignoreFocusOut: true, matchOnDescription: true },
      );
      if (!choice) return undefined;
      if (choice.label !== TYPE_MODEL) model = choice.label;
    }
    model ??= (
      await vscode.window.showInputBox({
        title: 'Add Model (3/4): model',
        prompt: provider === 'azure' ? 'The deployment name' : listProblem ? `The server's list could not be read (${listProblem}); type the model name` : 'The model name as the server knows it',
        ignoreFocusOut: true,
        validateInput: (v) => (v.trim() ? undefined : 'A model name'),
      })
    )?.trim();
    if (!model) return undefined;

    const rawModels = vscode.workspace.getConfiguration(SETTINGS_SECTION).inspect<unknown[]>('models')?.globalValue;
    const existing = Array.isArray(rawModels) ? rawModels : [];
    const taken = [...existing.map((e) => (e as { id?: unknown })?.id).filter((id): id is string => typeof id === 'string'), ...readSettings().models.map((m) => m.id)];
    const id = (
      await vscode.window.showInputBox({
        title: 'Add Model: name of the entry',
        prompt: 'The id you pick this model by (letters, digits, ".", "_", "-")',
        value: endpointIdOf(model, taken),
        ignoreFocusOut: true,
        validateInput: (v) => modelIdProblem(v.trim()) ?? (taken.includes(v.trim()) ? `"${v.trim()}" is already an entry of batchPrompt.models` : undefined),
      })
    )?.trim();
    if (!id) return undefined;
    const entry: EndpointConfig = { id, provider, model, baseUrl };

    // Azure's list was not asked; its key comes now. Other endpoints that need a key have it already.
    if (keyNeeded && !key) {
      key = await askKey(`The key of your Azure OpenAI resource.`);
      if (!key) return undefined;
    }

    // One tiny request: the endpoint answers with this model (and this key) before anything is saved.
    let tested = false;
    let failure: string | undefined;
    try {
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Batch Prompt: testing ${id}…` }, async () => {
        if (key) log.addSecret(key);
        const chat = createModel(entry, key);
        await chat.complete({ messages: [{ role: 'user', content: 'Reply with the single word OK.' }], maxOutputTokens: 8 }, { signal: AbortSignal.timeout(60_000) });
      });
      tested = true;
    } catch (e) {
      failure = log.redact(e instanceof Error ? e.message : String(e));
      log.warn(`Add Model: the test request to ${id} failed: ${failure}`);
    }
    if (!tested && !(await askModal('warning', `The test request to ${id} (${provider} at ${baseUrl}, model ${model}) failed: ${failure}`, 'Save the entry anyway? You can fix it later in the setting batchPrompt.models.', 'Save Anyway'))) {
      return undefined;
    }

    const written: Record<string, unknown> = { id, provider, model, ...(provider === 'ollama' && baseUrl === defaultBaseUrl('ollama') ? {} : { baseUrl }) };
    await vscode.workspace.getConfiguration(SETTINGS_SECTION).update('models', [...existing, written], vscode.ConfigurationTarget.Global);
    const keyStored = key ? await keys.set(entry, key) : false;
    const where = isLoopbackUrl(baseUrl) ? 'on this machine' : new URL(baseUrl).host;
    void showMessage('info', `Batch Prompt: added the model "${id}" (${model} ${where}${tested ? ', answered the test request' : ', untested'}) to your user settings.${keyStored ? ' Its key is in the secret storage.' : ''}`);
    return { entry, keyStored, tested };
  }
}
