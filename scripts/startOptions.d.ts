// Types of scripts/startOptions.js (plain JS, run by `npm start` without a build) for its unit tests.

export type StartProvider = 'openai' | 'anthropic' | 'ollama';

export interface StartEndpoint {
  id: string;
  provider: StartProvider;
  baseUrl: string;
  model: string;
}

export interface StartArgs {
  help: boolean;
  fresh: boolean;
  /** `--sample-model`: the canned fake model (scripts/sampleModel.js). */
  sampleModel?: true;
  port?: number;
  endpoint?: StartEndpoint;
}

export interface OllamaProbe {
  answered: boolean;
  models: string[];
}

export interface ModelsChoice {
  source: 'endpoint' | 'user-settings' | 'ollama' | 'language-model-api';
  models: StartEndpoint[];
  lines: string[];
}

export const PROVIDERS: readonly StartProvider[];
export const KEY_ENV: Readonly<Record<'openai' | 'anthropic', string>>;
export const DEFAULT_BASE_URLS: Readonly<Record<StartProvider, string>>;
export const DEFAULT_PORT: number;
export const OLLAMA_URL: string;
export const USAGE: string;
export const LARGE_FILE_PATH: string;
export class UsageError extends Error {}
export function parseStartArgs(argv: string[]): StartArgs;
export function inferProvider(baseUrl: string): StartProvider;
export function endpointId(provider: string, baseUrl: string): string;
export function isLoopbackUrl(url: string): boolean;
export function needsApiKey(endpoint: { provider: string; baseUrl?: string }): boolean;
export function chooseModels(input: { endpoint?: StartEndpoint; env: Record<string, string | undefined>; ollama: OllamaProbe; userEndpoints?: number }): ModelsChoice;
export function parseJsonc(text: string): unknown;
export function updateUserSettings(
  current: Record<string, unknown>,
  opts: { baseline: Record<string, unknown>; models: object[]; previous?: object[] },
): { settings: Record<string, unknown>; userEndpoints: number };
export function planWorkspaceSync(
  sample: Record<string, string>,
  copy: Record<string, string | undefined>,
  recorded: Record<string, string>,
): { copy: string[]; kept: string[]; recorded: Record<string, string> };
export function vsixContentId(zip: Buffer): string;
export function generateLargeFile(): { path: string; text: string };
