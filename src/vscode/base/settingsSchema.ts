import type { EndpointConfig, ProviderKind } from '../../providers/endpoint';
import { PROVIDER_KINDS } from '../../providers/endpoint';
import { STREAM_MODES, type StreamMode } from '../live/liveResultsModel';

/** Every setting the extension reads, typed. No `vscode` import: unit-tested against the manifest. */
export interface Settings {
  models: EndpointConfig[];
  chunkTokens: number;
  overlapTokens: number;
  chunksPerBatch: number;
  maxBatchTokens: number;
  maxConcurrency: number;
  maxRetries: number;
  requestTimeoutSeconds: number;
  dropEndpointAfterFailures: number;
  dropEndpointAfterWaitSeconds: number;
  requestsPerMinute: number;
  tokensPerMinute: number;
  outputDirectory: string;
  defaultInclude: string;
  respectGitignore: boolean;
  maxFileSizeKB: number;
  confirmAbove: number;
  allowParallelRuns: boolean;
  useCache: boolean;
  stream: StreamMode;
  /** Spend cap in dollars per run (#17), 0: none. Needs the model's prices. */
  maxCostPerRun: number;
  /** Spend cap in tokens (input plus output) per run (#17), 0: none. */
  maxTokensPerRun: number;
}

export const SETTINGS_SECTION = 'batchPrompt';

/** Bounds of the per-endpoint limits an entry of `batchPrompt.models` may set; must equal its item schema in package.json. */
export const ENDPOINT_LIMITS_SCHEMA = {
  maxConcurrency: { min: 1, max: 64 },
  requestsPerMinute: { min: 1 },
  tokensPerMinute: { min: 1 },
} as const satisfies Record<string, { min: number; max?: number }>;

/** Defaults and bounds; must equal `contributes.configuration` (a test checks it). */
export const SETTINGS_SCHEMA: { [K in keyof Settings]: { default: Settings[K]; min?: number; max?: number; enum?: readonly Settings[K][]; emptyMeans?: Settings[K] } } = {
  models: { default: [] },
  chunkTokens: { default: 8192, min: 256, max: 262144 },
  overlapTokens: { default: 100, min: 0, max: 4096 },
  chunksPerBatch: { default: 4, min: 1, max: 32 },
  maxBatchTokens: { default: 32768, min: 1024, max: 2000000 },
  maxConcurrency: { default: 4, min: 1, max: 64 },
  maxRetries: { default: 3, min: 0, max: 10 },
  requestTimeoutSeconds: { default: 120, min: 5, max: 3600 },
  dropEndpointAfterFailures: { default: 3, min: 1, max: 100 },
  dropEndpointAfterWaitSeconds: { default: 60, min: 1, max: 86400 },
  requestsPerMinute: { default: 0, min: 0 },
  tokensPerMinute: { default: 0, min: 0 },
  // Empty (#18): results in the extension's storage, outside the workspace (see vscode/run/runsFolder.ts).
  outputDirectory: { default: '.batch-prompt/runs', emptyMeans: '' },
  defaultInclude: { default: '**/*' },
  respectGitignore: { default: true },
  maxFileSizeKB: { default: 1024, min: 1, max: 102400 },
  confirmAbove: { default: 10, min: 0 },
  allowParallelRuns: { default: false },
  useCache: { default: true },
  stream: { default: 'auto', enum: STREAM_MODES },
  maxCostPerRun: { default: 0, min: 0 },
  maxTokensPerRun: { default: 0, min: 0 },
};

/**
 * The spend caps (#17): restricted, but in an untrusted workspace the LOWER of the user's and the
 * workspace's values (0 is no cap) rather than the user's alone: a workspace may lower a cap or set one,
 * never raise or remove it.
 */
export const CAP_SETTINGS: readonly (keyof Settings)[] = ['maxCostPerRun', 'maxTokensPerRun'];

export const SETTING_KEYS = Object.keys(SETTINGS_SCHEMA) as (keyof Settings)[];

/**
 * Settings a workspace may not set while it is untrusted (package.json
 * `capabilities.untrustedWorkspaces.restrictedConfigurations` lists exactly these; README's "Untrusted
 * workspaces" gives the reason of each): every one that chooses where requests and keys go or where
 * files are written, widens what is read or sent, raises how much or how fast it is sent, or removes a
 * confirmation. The others only shape requests the user confirms (chunk sizes, packing), how long a
 * reply is waited for, or how replies are shown.
 */
export const RESTRICTED_SETTINGS: readonly (keyof Settings)[] = [
  'models',
  'outputDirectory',
  'respectGitignore',
  'defaultInclude',
  'maxFileSizeKB',
  'confirmAbove',
  'allowParallelRuns',
  'useCache',
  'dropEndpointAfterFailures',
  'dropEndpointAfterWaitSeconds',
  'maxConcurrency',
  'requestsPerMinute',
  'tokensPerMinute',
  'maxRetries',
  'maxCostPerRun',
  'maxTokensPerRun',
];

/** What `WorkspaceConfiguration.inspect` returns, in the part this needs. */
export interface InspectedSetting {
  defaultValue?: unknown;
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

/**
 * The raw getter `normalizeSettings` reads through. In an untrusted workspace a restricted setting is
 * the user's value (or the default): its workspace and folder values are never looked at.
 */
export function settingsReader(trusted: boolean, get: (key: string) => unknown, inspect: (key: string) => InspectedSetting | undefined): (key: string) => unknown {
  if (trusted) return get;
  const restricted = new Set<string>(RESTRICTED_SETTINGS);
  return (key) => {
    if (!restricted.has(key)) return get(key);
    const i = inspect(key);
    if (CAP_SETTINGS.includes(key as keyof Settings)) {
      const caps = [i?.globalValue, i?.workspaceValue, i?.workspaceFolderValue].filter((v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0);
      return caps.length ? Math.min(...caps) : i?.defaultValue;
    }
    return i?.globalValue !== undefined ? i.globalValue : i?.defaultValue;
  };
}

/**
 * Builds typed settings from a raw getter (VS Code's `WorkspaceConfiguration.get`): numbers outside
 * their bounds are clamped, wrong types fall back to the default, invalid model entries are dropped and
 * reported through `problems`.
 */
export function normalizeSettings(get: (key: string) => unknown, problems: string[] = []): Settings {
  const out = {} as Record<keyof Settings, unknown>;
  for (const key of SETTING_KEYS) {
    const spec = SETTINGS_SCHEMA[key];
    const raw = get(key);
    const def = spec.default;
    if (key === 'models') {
      out.models = normalizeModels(raw, problems);
    } else if (typeof def === 'number') {
      // Dollars keep their cents; every other number is whole.
      let n = typeof raw === 'number' && Number.isFinite(raw) ? (key === 'maxCostPerRun' ? raw : Math.round(raw)) : def;
      if (spec.min !== undefined) n = Math.max(spec.min, n);
      if (spec.max !== undefined) n = Math.min(spec.max, n);
      out[key] = n;
    } else if (typeof def === 'boolean') {
      out[key] = typeof raw === 'boolean' ? raw : def;
    } else if (spec.enum) {
      out[key] = (spec.enum as readonly unknown[]).includes(raw) ? raw : def;
    } else {
      out[key] = typeof raw === 'string' && raw.trim() !== '' ? raw.trim() : typeof raw === 'string' && spec.emptyMeans !== undefined ? spec.emptyMeans : def;
    }
  }
  return out as unknown as Settings;
}

export function normalizeModels(raw: unknown, problems: string[]): EndpointConfig[] {
  if (!Array.isArray(raw)) return [];
  const seen = new Set<string>();
  const models: EndpointConfig[] = [];
  for (const [i, entry] of raw.entries()) {
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) {
      problems.push(`batchPrompt.models[${i}]: not an object ({ "id", "provider", "model" }).`);
      continue;
    }
    const e = entry as Record<string, unknown>;
    const where = `batchPrompt.models[${i}]`;
    const idProblem = modelIdProblem(e.id);
    if (idProblem) {
      // Name the entry by what it has, since it has no usable id.
      const what = [e.provider, e.model].filter((v) => typeof v === 'string' && v).join(' · ');
      problems.push(`${where}${what ? ` (${what})` : ''}: ${idProblem}.`);
      continue;
    }
    if (typeof e.id !== 'string') continue;
    if (seen.has(e.id)) {
      problems.push(`${where}: the id "${e.id}" is used twice; the first entry wins.`);
      continue;
    }
    if (!PROVIDER_KINDS.includes(e.provider as ProviderKind)) {
      problems.push(`${where} (${e.id}): "provider" must be one of ${PROVIDER_KINDS.join(', ')}.`);
      continue;
    }
    if (typeof e.model !== 'string' || !e.model) {
      problems.push(`${where} (${e.id}): "model" is missing.`);
      continue;
    }
    if (e.baseUrl !== undefined && (typeof e.baseUrl !== 'string' || !isHttpUrl(e.baseUrl))) {
      problems.push(`${where} (${e.id}): "baseUrl" must be an http(s) URL.`);
      continue;
    }
    if (e.provider === 'azure' && !e.baseUrl) {
      problems.push(`${where} (${e.id}): Azure needs "baseUrl" (https://NAME.openai.azure.com).`);
      continue;
    }
    seen.add(e.id);
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);
    const headers = e.headers && typeof e.headers === 'object' ? Object.fromEntries(Object.entries(e.headers as Record<string, unknown>).filter(([, v]) => typeof v === 'string')) as Record<string, string> : undefined;
    const limits: Record<string, number> = {};
    for (const [key, bounds] of Object.entries(ENDPOINT_LIMITS_SCHEMA) as [keyof typeof ENDPOINT_LIMITS_SCHEMA, { min: number; max?: number }][]) {
      if (e[key] === undefined) continue;
      const n = e[key];
      if (typeof n !== 'number' || !Number.isInteger(n) || n < bounds.min || (bounds.max !== undefined && n > bounds.max)) {
        problems.push(`${where} (${e.id}): "${key}" must be a whole number from ${bounds.min}${bounds.max ? ` to ${bounds.max}` : ''}; the run's setting applies instead.`);
        continue;
      }
      limits[key] = n;
    }
    models.push({
      id: e.id,
      provider: e.provider as ProviderKind,
      model: e.model,
      ...(typeof e.baseUrl === 'string' ? { baseUrl: e.baseUrl } : {}),
      ...(num(e.contextWindow) ? { contextWindow: num(e.contextWindow) } : {}),
      ...(num(e.maxOutputTokens) ? { maxOutputTokens: num(e.maxOutputTokens) } : {}),
      ...(headers ? { headers } : {}),
      ...(num(e.inputCostPerMTok) !== undefined ? { inputCostPerMTok: num(e.inputCostPerMTok) } : {}),
      ...(num(e.outputCostPerMTok) !== undefined ? { outputCostPerMTok: num(e.outputCostPerMTok) } : {}),
      ...(typeof e.apiVersion === 'string' ? { apiVersion: e.apiVersion } : {}),
      ...limits,
    });
  }
  return models;
}

/** What is wrong with an endpoint's id (undefined when nothing): "missing id" for an entry without one. */
export function modelIdProblem(id: unknown): string | undefined {
  if (id === undefined || id === null || id === '') return 'missing id (add "id": a name of your choice, e.g. "gpt-4o-mini")';
  if (typeof id !== 'string') return `"id" must be a string, not ${typeof id === 'object' ? 'an object' : `a ${typeof id}`}`;
  if (!/^[A-Za-z0-9._-]+$/.test(id)) return `the id "${id}" may hold only letters, digits, ".", "_" or "-"`;
  return undefined;
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}
