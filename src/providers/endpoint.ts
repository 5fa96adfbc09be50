import type { EndpointLimits } from '../core/execute/endpointPool';

/**
 * One configured model endpoint (setting `batchPrompt.models`, or the CLI's options). Never holds a key.
 * Its limits (`maxConcurrency`, `requestsPerMinute`, `tokensPerMinute`) apply when a run spreads over
 * several endpoints, or runs on this one alone; left out, the run's settings apply.
 */
export interface EndpointConfig extends EndpointLimits {
  /** Stable id: keys are stored per id, runs record it. */
  id: string;
  provider: ProviderKind;
  /** Required for `openai` and `azure`; defaults per provider otherwise. */
  baseUrl?: string;
  /** Model name (Azure: the deployment name). */
  model: string;
  contextWindow?: number;
  maxOutputTokens?: number;
  /** Extra headers sent with every request to this endpoint. */
  headers?: Record<string, string>;
  /** Prices in dollars per million tokens, for estimates. */
  inputCostPerMTok?: number;
  outputCostPerMTok?: number;
  /** Azure OpenAI only: the `api-version` query parameter. */
  apiVersion?: string;
}

export type ProviderKind = 'openai' | 'azure' | 'anthropic' | 'ollama';

export const PROVIDER_KINDS: readonly ProviderKind[] = ['openai', 'azure', 'anthropic', 'ollama'];
