import * as vscode from 'vscode';
import type { ChatModel } from '../core/model';
import type { Tokenizer } from '../core/tokenizer';
import type { EndpointConfig } from '../providers/endpoint';
import { createModel, defaultBaseUrl, needsApiKey } from '../providers/factory';
import { LanguageModelApiModel, listLanguageModels, LM_API_PREFIX } from '../providers/languageModelApi';
import type { Log } from './log';
import type { KeyStore } from './secrets';
import type { Settings } from './settingsSchema';

/** One model the user can run on: a configured endpoint, or a model of VS Code's Language Model API. */
export interface ModelChoice {
  id: string;
  label: string;
  description: string;
  endpoint?: EndpointConfig;
  chat?: vscode.LanguageModelChat;
}

const LAST_MODEL_KEY = 'batchPrompt.lastModel';

/** Thrown when the chosen endpoint needs a key it does not have: the caller offers "Set API Key". */
export class MissingKeyError extends Error {
  constructor(readonly endpoint: EndpointConfig) {
    super(`No API key is set for the endpoint "${endpoint.id}" (${endpoint.provider}).`);
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
      const open = 'Open Settings';
      const answer = await vscode.window.showErrorMessage(
        'Batch Prompt has no model to use. Add an endpoint (OpenAI, Azure, Anthropic, Ollama, LM Studio…) in the setting "batchPrompt.models", start Ollama on this machine, or install a chat model extension such as GitHub Copilot.',
        open,
      );
      if (answer === open) await vscode.commands.executeCommand('workbench.action.openSettings', 'batchPrompt.models');
      return undefined;
    }
    const last = preferred ?? this.workspaceState.get<string>(LAST_MODEL_KEY);
    const match = (c: ModelChoice) => !!last && (c.id === last || c.endpoint?.model === last || c.chat?.family === last || c.chat?.id === last);
    const sorted = [...choices.filter(match), ...choices.filter((c) => !match(c))];
    const picked = sorted.length === 1 ? sorted[0] : await vscode.window.showQuickPick(
      sorted.map((c) => ({ label: c.label, description: c.description, choice: c })),
      { title: 'Batch Prompt: choose a model', placeHolder: 'Model to send the chunks to', matchOnDescription: true },
    ).then((i) => i?.choice);
    if (picked) await this.workspaceState.update(LAST_MODEL_KEY, picked.id);
    return picked;
  }

  /** The choice with this id (a run's recorded model), if it is still offered. */
  async find(settings: Settings, id: string): Promise<ModelChoice | undefined> {
    return (await this.choices(settings)).find((c) => c.id === id);
  }

  /**
   * The chat model of a choice, with its key from secret storage and a connection pool of
   * `connections` sockets (the run's concurrency). @throws MissingKeyError
   */
  async resolve(choice: ModelChoice, tokenizer: Tokenizer, connections?: number): Promise<ChatModel> {
    if (choice.chat) return new LanguageModelApiModel(choice.chat);
    const endpoint = choice.endpoint!;
    const key = await this.keys.get(endpoint.id);
    if (!key && needsApiKey(endpoint)) throw new MissingKeyError(endpoint);
    return createModel(endpoint, key, { tokenCounter: (t) => tokenizer.count(t), connections });
  }
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
