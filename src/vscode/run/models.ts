import * as vscode from 'vscode';
import type { ChatModel } from '../../core/execute/model';
import type { RunEndpoint } from '../../core/session/run';
import { isEncodingLoaded, type Tokenizer } from '../../core/plan/tokenizer';
import type { EndpointInfo } from '../../core/store/runStore';
import type { EndpointConfig } from '../../providers/endpoint';
import { createModel, defaultBaseUrl, needsApiKey } from '../../providers/factory';
import { LanguageModelApiModel, listLanguageModels, LM_API_PREFIX } from '../../providers/languageModelApi';
import { describeIdentity } from '../base/keyBinding';
import type { Log } from '../base/log';
import { Commands } from '../base/ids';
import { Actions, openSettings, showWithActions } from '../base/messages';
import { readSettings } from '../base/settings';
import { describeRecorded, matchRecorded } from './recordedEndpoints';
import type { KeyStore } from '../base/secrets';
import type { Settings } from '../base/settingsSchema';
import { endpointInfoOf } from '../../core/session/prepare';

/** One model the user can run on: a configured endpoint, or a model of VS Code's Language Model API. */
export interface ModelChoice {
  id: string;
  label: string;
  description: string;
  /** The configured endpoint (of a several-endpoint choice: the first, the primary). */
  endpoint?: EndpointConfig;
  chat?: vscode.LanguageModelChat;
  /** A run spread over several configured endpoints (id: their ids joined by "+"). */
  endpoints?: EndpointConfig[];
}

/** Joins endpoint ids into a several-endpoint choice's id (endpoint ids never hold a "+"). */
const SEVERAL_SEPARATOR = '+';
const SEVERAL_ITEM_ID = 'batchPrompt.severalEndpoints';

const LAST_MODEL_KEY = 'batchPrompt.lastModel';
const ADD_MODEL_ITEM_ID = 'batchPrompt.addModelItem';
/** The title of "Add Model…" where the picker and the no-model message offer it. */
export const ADD_MODEL = 'Add Model…';

/** Thrown when the chosen endpoint needs a key it does not have: the caller offers "Set API Key". */
export class MissingKeyError extends Error {
  constructor(readonly endpoint: EndpointConfig) {
    super(`No API key is set for the endpoint "${endpoint.id}" (${describeIdentity(endpoint)}).`);
  }
}

export class ModelService {
  constructor(
    private readonly workspaceState: vscode.Memento,
    private readonly keys: KeyStore,
    private readonly log: Log,
  ) {}

  /**
   * Configured endpoints, then the Language Model API's chat models; with no endpoint configured, also
   * the models of a local Ollama if one answers.
   */
  async choices(settings: Settings): Promise<ModelChoice[]> {
    const endpoints = settings.models.length ? settings.models : await localOllamaEndpoints(this.log);
    const out: ModelChoice[] = endpoints.map((e) => ({
      id: e.id,
      label: e.id,
      description: `${e.provider} · ${e.model}${e.baseUrl ? ` · ${hostOf(e.baseUrl)}` : ''}`,
      endpoint: e,
    }));
    for (const chat of await listLanguageModels()) {
      out.push({ id: `${LM_API_PREFIX}${chat.id}`, label: chat.name, description: `${chat.vendor} · ${chat.family} · ${Math.round(chat.maxInputTokens / 1000)}K input tokens`, chat });
    }
    return out;
  }

  /** Asks which model to use (the last choice, or the prompt file's, first); remembered per workspace. */
  async pick(settings: Settings, preferred?: string): Promise<ModelChoice | undefined> {
    const choices = await this.choices(settings);
    if (choices.length === 0) {
      let added = false;
      await showWithActions(
        'error',
        'Batch Prompt has no model to use. Add one (OpenAI, Azure, Anthropic, Ollama, LM Studio…) with "Add Model…", start Ollama on this machine, or install a chat model extension such as GitHub Copilot.',
        { [ADD_MODEL]: async () => (added = !!(await vscode.commands.executeCommand(Commands.addModel))), [Actions.openSettings]: openSettings('batchPrompt.models') },
      );
      // The model just added is the one to run on.
      return added ? this.pick({ ...settings, models: readSettings().models }, preferred) : undefined;
    }
    const last = preferred ?? this.workspaceState.get<string>(LAST_MODEL_KEY);
    const match = (c: ModelChoice) => !!last && (c.id === last || c.endpoint?.model === last || c.chat?.family === last || c.chat?.id === last);
    const sorted = [...choices.filter(match), ...choices.filter((c) => !match(c))];
    const configured = choices.filter((c) => c.endpoint);
    const several: ModelChoice = { id: SEVERAL_ITEM_ID, label: '$(layers) Several endpoints…', description: 'spread the run over endpoints you choose, each within its own limits' };
    const offered = configured.length > 1 ? [...sorted, several] : sorted;
    const add: ModelChoice = { id: ADD_MODEL_ITEM_ID, label: `$(add) ${ADD_MODEL}`, description: 'an endpoint from its server\'s list of models, tested, saved in your user settings' };
    let picked = offered.length === 1 ? offered[0] : await vscode.window.showQuickPick(
      [...offered, add].map((c) => ({ label: c.label, description: c.description, choice: c })),
      { title: 'Batch Prompt: choose a model', placeHolder: 'Model to send the chunks to', matchOnDescription: true },
    ).then((i) => i?.choice);
    if (picked === several) picked = await this.pickSeveral(configured, last);
    if (picked === add) {
      const added = (await vscode.commands.executeCommand(Commands.addModel)) as { entry?: EndpointConfig } | undefined;
      const models = readSettings().models;
      const entry = added?.entry && models.find((m) => m.id === added.entry!.id);
      picked = entry ? { id: entry.id, label: entry.id, description: `${entry.provider} · ${entry.model}`, endpoint: entry } : undefined;
    }
    if (picked) await this.workspaceState.update(LAST_MODEL_KEY, picked.id);
    return picked;
  }

  /** Asks which configured endpoints share the run (the first ticked is the primary). */
  private async pickSeveral(configured: ModelChoice[], last: string | undefined): Promise<ModelChoice | undefined> {
    const before = new Set(last?.split(SEVERAL_SEPARATOR) ?? []);
    const items = configured.map((c) => ({ label: c.label, description: c.description, picked: before.has(c.id), choice: c }));
    const ticked = await vscode.window.showQuickPick(items, { title: 'Batch Prompt: endpoints for this run', placeHolder: 'Tick two or more endpoints serving the same prompt; each needs its key', canPickMany: true, matchOnDescription: true });
    if (!ticked?.length) return undefined;
    return severalChoice(ticked.map((t) => t.choice));
  }

  /** The choice with this id (a run's recorded model, or "a+b" for several endpoints), if it is still offered. */
  async find(settings: Settings, id: string): Promise<ModelChoice | undefined> {
    const choices = await this.choices(settings);
    if (!id.includes(SEVERAL_SEPARATOR)) return choices.find((c) => c.id === id);
    // A retry goes on with the endpoints still configured.
    const parts = id.split(SEVERAL_SEPARATOR).flatMap((p) => choices.filter((c) => c.id === p && c.endpoint));
    for (const p of id.split(SEVERAL_SEPARATOR)) if (!parts.some((c) => c.id === p)) this.log.warn(`The endpoint "${p}" of the run is not configured any more; going on without it.`);
    return parts.length ? severalChoice(parts) : undefined;
  }

  /**
   * The choice a run folder goes on with (resume, retry): its recorded endpoints matched, by provider
   * and base URL origin, against the user's endpoints (`userModels`: the user-level batchPrompt.models;
   * with none, a local Ollama's models, as `choices` offers), or its Language Model API model. The
   * folder's own URL is never used. Recorded endpoints without a match are left out (with a warning)
   * while one remains; with none left, `choice` is undefined and `unmatched` says what was refused.
   */
  async forRecorded(recorded: readonly EndpointInfo[], userModels: EndpointConfig[]): Promise<{ choice?: ModelChoice; unmatched: EndpointInfo[] }> {
    const lm = recorded.filter((r) => r.provider === 'vscode-lm');
    if (lm.length) {
      const chat = (await listLanguageModels()).find((c) => `${LM_API_PREFIX}${c.id}` === lm[0].id);
      return chat ? { choice: { id: lm[0].id, label: chat.name, description: `${chat.vendor} · ${chat.family}`, chat }, unmatched: [] } : { unmatched: [...recorded] };
    }
    const configured = userModels.length ? userModels : await localOllamaEndpoints(this.log);
    const { matched, unmatched } = matchRecorded(recorded, configured);
    if (!matched.length) return { unmatched };
    for (const r of unmatched) this.log.warn(`The run's endpoint "${r.id}" (${describeRecorded(r)}) is not among your endpoints; going on without it.`);
    const parts = matched.map((e) => ({ id: e.id, label: e.id, description: `${e.provider} · ${e.model}`, endpoint: e }));
    return { choice: severalChoice(parts), unmatched };
  }

  /**
   * The endpoints of a run on several endpoints, or on one whose entry sets its own limits, each with its
   * key from secret storage; undefined for any other choice (the run uses `resolve`'s model alone).
   * With `skipUnavailable` (a retry or resume), an endpoint without its key is left out while another remains.
   * Each endpoint's connection pool holds its own `maxConcurrency`, else `connections` sockets.
   * @throws MissingKeyError for the first endpoint without its key
   */
  async resolveEndpoints(choice: ModelChoice, tokenizer: Tokenizer, skipUnavailable = false, connections?: number): Promise<RunEndpoint[] | undefined> {
    const list = choice.endpoints ?? (choice.endpoint ? [choice.endpoint] : []);
    const limited = list.some((e) => e.maxConcurrency || e.requestsPerMinute || e.tokensPerMinute);
    if (list.length === 0 || (list.length === 1 && !limited)) return undefined;
    const out: RunEndpoint[] = [];
    let missing: MissingKeyError | undefined;
    for (const e of list) {
      try {
        out.push({ model: await this.resolve({ id: e.id, label: e.id, description: '', endpoint: e }, tokenizer, e.maxConcurrency ?? connections), info: endpointInfoOf(e), ...(e.inputCostPerMTok !== undefined || e.outputCostPerMTok !== undefined ? { prices: { inputCostPerMTok: e.inputCostPerMTok, outputCostPerMTok: e.outputCostPerMTok } } : {}) });
      } catch (err) {
        if (!(err instanceof MissingKeyError) || !skipUnavailable) throw err;
        missing ??= err;
        this.log.warn(`${err.message} Going on without it.`);
      }
    }
    if (out.length === 0 && missing) throw missing;
    return out;
  }

  /**
   * The chat model of a choice, with its key from secret storage and a connection pool of
   * `connections` sockets (the run's concurrency). @throws MissingKeyError
   */
  async resolve(choice: ModelChoice, tokenizer: Tokenizer, connections?: number): Promise<ChatModel> {
    if (choice.chat) return new LanguageModelApiModel(choice.chat);
    const endpoint = choice.endpoint!;
    const key = await this.keys.get(endpoint);
    if (!key && needsApiKey(endpoint)) throw new MissingKeyError(endpoint);
    // Requests of a run carry their counts (made off this thread); any other text is counted here only
    // when the encoding is loaded already: this thread, every extension's, never loads it (the heuristic instead).
    return createModel(endpoint, key, { tokenCounter: (t) => (isEncodingLoaded(tokenizer) ? tokenizer.count(t) : undefined), connections });
  }
}

/** A choice spreading the run over `parts` (configured endpoints), the first being the primary. */
function severalChoice(parts: ModelChoice[]): ModelChoice {
  if (parts.length === 1) return parts[0];
  return {
    id: parts.map((p) => p.id).join(SEVERAL_SEPARATOR),
    label: parts.map((p) => p.label).join(' + '),
    description: `${parts.length} endpoints`,
    endpoint: parts[0].endpoint,
    endpoints: parts.map((p) => p.endpoint!),
  };
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** Models of an Ollama answering on this machine (asked with a short timeout), as endpoints. */
async function localOllamaEndpoints(log: Log): Promise<EndpointConfig[]> {
  const baseUrl = defaultBaseUrl('ollama')!;
  try {
    const res = await fetch(`${baseUrl}/api/tags`, { signal: AbortSignal.timeout(800) });
    if (!res.ok) return [];
    const body = (await res.json()) as { models?: { name?: string }[] };
    return (body.models ?? []).filter((m) => m.name).map((m) => ({ id: `ollama-${m.name!.replace(/[^A-Za-z0-9._-]/g, '-')}`, provider: 'ollama' as const, model: m.name!, baseUrl }));
  } catch {
    log.trace(`No Ollama answers at ${baseUrl}.`);
    return [];
  }
}
