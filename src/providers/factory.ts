import { ConfigError } from '../core/execute/errors';
import type { ChatModel } from '../core/execute/model';
import { ANTHROPIC_DEFAULT_BASE_URL, AnthropicModel } from './anthropic';
import type { EndpointConfig, ProviderKind } from './endpoint';
import { OLLAMA_DEFAULT_BASE_URL, OllamaModel } from './ollama';
import { OpenAICompatibleModel } from './openaiCompatible';
import { connectionPool } from './http/pool';

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

export interface CreateModelOptions {
  /** The run's token counter; Ollama sizes `num_ctx` and judges truncation with it. */
  tokenCounter?: (text: string) => number | undefined;
  temperature?: number;
  /**
   * Connections kept open to the endpoint: the run's concurrency (its ceiling, since adaptive
   * concurrency only lowers it). Default `DEFAULT_POOL_CONNECTIONS`.
   */
  connections?: number;
}

/** The base URL a provider uses when the endpoint names none; undefined for Azure (each resource has its own). */
export function defaultBaseUrl(provider: ProviderKind): string | undefined {
  switch (provider) {
    case 'openai':
      return OPENAI_DEFAULT_BASE_URL;
    case 'anthropic':
      return ANTHROPIC_DEFAULT_BASE_URL;
    case 'ollama':
      return OLLAMA_DEFAULT_BASE_URL;
    case 'azure':
      return undefined;
  }
}

/** True for localhost, `*.localhost`, 127.0.0.0/8 and ::1. */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  host = host.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Whether the endpoint cannot work without a key: OpenAI, Azure and Anthropic need one, except an
 * `openai` endpoint on this machine (LM Studio, vLLM, llama.cpp), where it is optional; Ollama never.
 */
export function needsApiKey(config: Pick<EndpointConfig, 'provider' | 'baseUrl'>): boolean {
  switch (config.provider) {
    case 'ollama':
      return false;
    case 'openai':
      return !isLoopbackUrl(config.baseUrl ?? OPENAI_DEFAULT_BASE_URL);
    case 'azure':
    case 'anthropic':
      return true;
  }
}

/**
 * The `ChatModel` of an endpoint. Throws `ConfigError` (fatal, before any request) for an Azure
 * endpoint without a base URL, an unknown provider, or a missing key the provider needs; the message
 * never holds the key.
 */
export function createModel(config: EndpointConfig, apiKey: string | undefined, options: CreateModelOptions = {}): ChatModel {
  const key = apiKey || undefined;
  if (needsApiKey(config) && !key) throw new ConfigError(`The ${config.provider} endpoint "${config.id}" needs an API key; set one, then run again.`);
  const common = {
    id: config.id,
    model: config.model,
    contextWindow: config.contextWindow,
    maxOutputTokens: config.maxOutputTokens,
    headers: config.headers,
    temperature: options.temperature,
    // One keep-alive pool per endpoint: no socket is opened per request.
    pool: connectionPool(options.connections),
  };
  switch (config.provider) {
    case 'openai':
      return new OpenAICompatibleModel({ ...common, baseUrl: config.baseUrl ?? OPENAI_DEFAULT_BASE_URL, apiKey: key });
    case 'azure':
      if (!config.baseUrl) throw new ConfigError(`The azure endpoint "${config.id}" needs its resource URL as base URL (https://<resource>.openai.azure.com).`);
      return new OpenAICompatibleModel({ ...common, provider: 'azure', baseUrl: config.baseUrl, apiKey: key, apiVersion: config.apiVersion });
    case 'anthropic':
      return new AnthropicModel({ ...common, baseUrl: config.baseUrl, apiKey: key });
    case 'ollama':
      return new OllamaModel({ ...common, baseUrl: config.baseUrl, tokenCounter: options.tokenCounter });
    default:
      throw new ConfigError(`Unknown provider "${String((config as { provider: unknown }).provider)}"; use openai, azure, anthropic or ollama.`);
  }
}
