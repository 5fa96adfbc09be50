import { BATCH_PROVIDERS, type BatchApi, type BatchLimits, type BatchProviderKind } from '../../core/jobs/job';
import { ConfigError } from '../../core/execute/errors';
import { AnthropicBatchApi } from './anthropicBatch';
import type { EndpointConfig } from '../endpoint';
import { needsApiKey, OPENAI_DEFAULT_BASE_URL } from '../factory';
import { OpenAIBatchApi } from './openaiBatch';

/** Why an endpoint (or a Language Model API model, `vscode-lm`) cannot take a batch job; undefined when it can. */
export function batchUnsupportedReason(provider: string | undefined, label: string): string | undefined {
  if (BATCH_PROVIDERS.includes(provider as BatchProviderKind)) return undefined;
  const why =
    provider === 'ollama'
      ? 'Ollama has no batch service'
      : provider === 'vscode-lm'
        ? "VS Code's Language Model API has no batch service"
        : provider === 'azure'
          ? "Azure OpenAI's batch API (global-batch deployments) is not supported yet"
          : `the provider "${provider ?? 'unknown'}" has no batch service Batch Prompt supports`;
  return `${label}: ${why}. Batch jobs work with OpenAI and Anthropic endpoints; use "Run Prompt on Files…" for this model.`;
}

/**
 * The batch service of an endpoint. Throws `ConfigError` for a provider without one, or a missing key
 * (the message never holds the key).
 */
export function createBatchApi(config: EndpointConfig, apiKey: string | undefined, options: { temperature?: number; limits?: Partial<BatchLimits> } = {}): BatchApi {
  const reason = batchUnsupportedReason(config.provider, `The endpoint "${config.id}"`);
  if (reason) throw new ConfigError(reason);
  const key = apiKey || undefined;
  if (needsApiKey(config) && !key) throw new ConfigError(`The ${config.provider} endpoint "${config.id}" needs an API key; set one, then try again.`);
  if (config.provider === 'anthropic') {
    return new AnthropicBatchApi({ baseUrl: config.baseUrl, model: config.model, apiKey: key, maxOutputTokens: config.maxOutputTokens, headers: config.headers, temperature: options.temperature, limits: options.limits });
  }
  return new OpenAIBatchApi({ baseUrl: config.baseUrl ?? OPENAI_DEFAULT_BASE_URL, model: config.model, apiKey: key, headers: config.headers, temperature: options.temperature, limits: options.limits });
}
